// Runs the CLI from source in its own process, asynchronously (an emulator's proxy may run in the
// test's process), with only the given AWS environment: none of the caller's AWS_, GITHUB_ or INPUT_
// variables leak in.
import { spawn } from 'node:child_process';
import { repoRoot } from './action-runner.js';

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runCliFromSource(args: string[], env: Record<string, string>): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const base = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('AWS_') && !key.startsWith('GITHUB_') && !key.startsWith('INPUT_')));
    const child = spawn('npx', ['--no-install', 'tsx', 'action/src/index.ts', ...args], { cwd: repoRoot, env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}
