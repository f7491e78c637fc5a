// CPU time and memory of one process, from /proc: how much the mirror costs the instance.
import { readFile } from 'node:fs/promises';

/** Linux reports process times in clock ticks of 1/100 s on every architecture it runs on here. */
const TICKS_PER_SECOND = 100;

/** User plus system CPU seconds the process has used so far. */
export async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which is in parentheses and may hold spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return (utime + stime) / TICKS_PER_SECOND;
}

/** Resident memory in MiB. */
export async function rssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? Number.NaN);
  return Number((kib / 1024).toFixed(1));
}

/** Percent of one core the process used while `during` ran. */
export async function cpuPercentDuring(pid: number, during: () => Promise<unknown>): Promise<{ percent: number; seconds: number }> {
  const before = await cpuSeconds(pid);
  const started = performance.now();
  await during();
  const seconds = (performance.now() - started) / 1000;
  const used = (await cpuSeconds(pid)) - before;
  return { percent: Number(((used / seconds) * 100).toFixed(2)), seconds: Number(seconds.toFixed(1)) };
}
