// `npm start` on a machine that lacks something: a taken port or no moto_server ends it at once,
// with one line giving the cause and the fix, before anything is installed, started or built.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../support/action-runner.js';

let stateDir: string;
let holder: Server;
let takenPort: number;

function start(env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn('npm', ['run', '--silent', 'start'], { cwd: repoRoot, env: { ...process.env, LOCAL_STACK_DIR: stateDir, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr, ms: Date.now() - started }));
  });
}

function expectOneLineRefusal(run: { code: number | null; stdout: string; stderr: string }): string {
  expect(run.code).toBe(1);
  expect(run.stdout).toBe('');
  const lines = run.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(run.stderr).not.toMatch(/\n\s+at |Traceback|==>/);
  return lines[0] ?? '';
}

beforeAll(async () => {
  stateDir = mkdtempSync(join(tmpdir(), 'local-stack-preflight-'));
  holder = createServer();
  takenPort = await new Promise<number>((resolve) => holder.listen(0, '127.0.0.1', () => resolve((holder.address() as { port: number }).port)));
});

afterAll(async () => {
  await new Promise((resolve) => holder.close(resolve));
  rmSync(stateDir, { recursive: true, force: true });
});

describe('npm start preflight', () => {
  it('names a taken port, what holds it and the variable that moves it', async () => {
    const run = await start({ LOCAL_STACK_WMS_PORT: String(takenPort) });
    const line = expectOneLineRefusal(run);
    expect(line).toBe(`local-stack: port ${takenPort} on 127.0.0.1 is taken by another program (node, pid ${process.pid}): stop it, or choose another port with LOCAL_STACK_WMS_PORT=<port> npm start`);
    // Before anything heavy: nothing was set up or started.
    expect(run.ms).toBeLessThan(15_000);
    expect(existsSync(join(stateDir, 'run'))).toBe(false);
  });

  it('says how to install moto_server when it is not on PATH', async () => {
    const run = await start({ PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' });
    const line = expectOneLineRefusal(run);
    expect(line).toMatch(/^local-stack: moto_server \(the AWS API emulator\) is not on PATH: install it with pip install 'moto\[server\]'/);
    expect(existsSync(join(stateDir, 'run'))).toBe(false);
  });
});
