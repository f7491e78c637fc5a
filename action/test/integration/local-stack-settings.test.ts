// scripts/local-stack.sh refuses a bad setting with a clear message before it starts or creates
// anything.
import { describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = new URL('../../../', import.meta.url).pathname;

function up(env: Record<string, string>): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile('bash', ['scripts/local-stack.sh', 'up'], { cwd: root, env: { ...process.env, ...env }, timeout: 30_000 }, (error, _stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stderr: String(stderr) });
    });
  });
}

describe('local-stack.sh settings', () => {
  it.each(['4', '86401', 'soon', '-1', '1e3'])('refuses LOCAL_STACK_UNHEALTHY_GRACE_SECONDS=%j before creating anything', async (value) => {
    const parent = mkdtempSync(join(tmpdir(), 'local-stack-settings-'));
    const stateDir = join(parent, 'state');
    try {
      const run = await up({ LOCAL_STACK_DIR: stateDir, LOCAL_STACK_UNHEALTHY_GRACE_SECONDS: value });
      expect(run.code).toBe(2);
      expect(run.stderr).toContain(`local-stack: LOCAL_STACK_UNHEALTHY_GRACE_SECONDS must be a number of seconds from 5 to 86400, got '${value}'`);
      expect(existsSync(stateDir)).toBe(false);
    } finally {
      rmSync(parent, { recursive: true, force: true });
    }
  });
});
