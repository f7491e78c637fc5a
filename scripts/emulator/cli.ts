// `npm run emulator` (through scripts/emulator.sh): the emulator in a process of its own, printing its
// endpoint, until a signal, or until whatever started it is gone.
//
// Usage: tsx scripts/emulator/cli.ts [--port N] [--moto-port N] [--verbose] [--fault-* ...]
import { readFileSync } from 'node:fs';
import { createFaultInjector, parseFaultArgs, type FaultOptions } from './faults.js';
import { CONTROL_PREFIX } from './proxy.js';
import { startEmulator } from './start.js';

const USAGE =
  'usage: emulator [--port N] [--moto-port N] [--verbose] [--fault-rate R --fault-seed N --fault-kinds K,K --fault-latency-ms N --fault-services S,S]';

function parseArgs(argv: string[]): { port: number; motoPort?: number; verbose: boolean; faults?: FaultOptions } {
  let port = 4566;
  let motoPort: number | undefined;
  let verbose = false;
  const faultArgs: string[] = [];
  for (let i = 0; i < argv.length; i += 1) {
    const flag = argv[i];
    const value = argv[i + 1];
    const number = (name: string): number => {
      if (!value || !/^\d{1,5}$/.test(value) || Number(value) > 65535) throw new Error(`${name} expects a port number from 0 to 65535, got ${value ?? 'nothing'}`);
      i += 1;
      return Number(value);
    };
    if (flag === '--port') port = number('--port');
    else if (flag === '--moto-port') motoPort = number('--moto-port');
    else if (flag === '--verbose') verbose = true;
    else if (flag?.startsWith('--fault-')) {
      faultArgs.push(flag, value ?? '');
      i += 1;
    } else if (flag === '--') continue;
    else throw new Error(`unknown argument ${flag ?? ''}; ${USAGE}`);
  }
  const faults = parseFaultArgs(faultArgs);
  return { port, verbose, ...(motoPort !== undefined ? { motoPort } : {}), ...(faults ? { faults } : {}) };
}

/** Whether this process leads its own session (field 6 of /proc/self/stat is the session id). */
function leadsOwnSession(): boolean {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[3]) === process.pid;
  } catch {
    return false;
  }
}

async function main(): Promise<void> {
  const { faults, ...args } = parseArgs(process.argv.slice(2));
  const emulator = await startEmulator({ ...args, ...(faults ? { faults: [createFaultInjector(faults).interceptor] } : {}) });
  if (faults) process.stderr.write(`emulator: injecting faults into ${faults.rate * 100}% of AWS requests (seed ${faults.seed ?? 1})\n`);
  process.stdout.write(`${emulator.endpoint}\n`);
  process.stderr.write(`emulator: AWS API on ${emulator.endpoint} (moto on ${emulator.motoEndpoint}); controls under ${emulator.endpoint}${CONTROL_PREFIX}; Ctrl-C stops it\n`);
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    emulator.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(signal, stop);
  // Started some other way than emulator.sh (no parent-death signal): stop once orphaned, so
  // moto_server and the ports never outlive whatever started the emulator; unless it leads a
  // session of its own (setsid), which is how a supervisor starts what should outlive it.
  if (!leadsOwnSession()) {
    const parent = process.ppid;
    setInterval(() => {
      if (process.ppid !== parent) stop();
    }, 500).unref();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`emulator: ${(error as Error).message}\n`);
  process.exit(1);
});
