// moto_server, the AWS API emulator behind the proxy: which Python runs it (with the project's fix,
// scripts/emulator-moto.py), and starting it on a loopback port until it answers.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * moto_server through scripts/emulator-moto.py (moto plus a fix), run by the Python interpreter that
 * runs moto_server itself: its shebang, or python3 when moto_server is a wrapper (pyenv shims).
 */
export function motoLauncher(env: NodeJS.ProcessEnv = process.env): string[] {
  const script = fileURLToPath(new URL('../emulator-moto.py', import.meta.url));
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    const candidate = join(dir, 'moto_server');
    if (!existsSync(candidate)) continue;
    const shebang = /^#!\s*(?:\S*\/env\s+)?(\S*python[\d.]*)\s*$/.exec(readFileSync(candidate, 'utf8').split('\n', 1)[0] ?? '');
    return [shebang?.[1] ?? 'python3', script];
  }
  throw new Error('moto_server (the AWS API emulator) is not on PATH; run scripts/setup.sh');
}

export interface RunningMoto {
  endpoint: string;
  stop(): Promise<void>;
}

/** Starts moto_server on `port` of 127.0.0.1 and waits (30 s at most) until it answers. */
export async function startMoto(options: { port: number; command?: string; verbose?: boolean }): Promise<RunningMoto> {
  const endpoint = `http://127.0.0.1:${options.port}`;
  const [command, ...prefix] = options.command ? [options.command] : motoLauncher();
  const recordingFile = join(tmpdir(), `moto-recording-${options.port}-${randomUUID()}`);
  const child = spawn(command ?? 'moto_server', [...prefix, '-H', '127.0.0.1', '-p', String(options.port)], {
    stdio: ['ignore', 'ignore', options.verbose ? 'inherit' : 'pipe'],
    // Each emulator keeps its own call record; moto's default is a file in its working folder.
    env: { ...process.env, MOTO_ALLOW_NONEXISTENT_REGION: 'false', MOTO_RECORDER_FILEPATH: recordingFile },
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const spawnError = new Promise<never>((_, reject) => child.once('error', (e) => reject(new Error(`cannot start moto_server: ${e.message}`))));
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`moto_server exited with code ${child.exitCode}:\n${stderr}`);
    const ok = await Promise.race([
      fetch(`${endpoint}/moto-api/`).then(
        (r) => r.status < 500,
        () => false,
      ),
      spawnError,
    ]);
    if (ok) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`moto_server did not answer on ${endpoint} within 30 s:\n${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    endpoint,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(recordingFile, { force: true });
    },
  };
}
