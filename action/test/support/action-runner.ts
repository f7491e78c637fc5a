// Runs the action bundle exactly as the GitHub runner does: inputs as INPUT_<NAME> variables (name
// upper-cased, hyphens kept), outputs and the job summary through the GITHUB_OUTPUT and
// GITHUB_STEP_SUMMARY files, no arguments.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const repoRoot = new URL('../../../', import.meta.url).pathname;

export interface ActionRun {
  exitCode: number;
  stdout: string;
  stderr: string;
  outputs: Record<string, string>;
  summary: string;
}

/** Parses the runner's file command format: `name=value` or `name<<DELIMITER ... DELIMITER`. */
export function parseFileCommands(text: string): Record<string, string> {
  const result: Record<string, string> = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    const heredoc = /^([^=<]+)<<(.+)$/.exec(line);
    if (heredoc) {
      const [, name = '', delimiter] = heredoc;
      const value: string[] = [];
      for (i++; i < lines.length && lines[i] !== delimiter; i++) value.push(lines[i] ?? '');
      result[name] = value.join('\n');
    } else if (line.includes('=')) {
      const at = line.indexOf('=');
      result[line.slice(0, at)] = line.slice(at + 1);
    }
  }
  return result;
}

export function runActionBundle(
  inputs: Record<string, string>,
  options: { env?: Record<string, string>; bundle?: string; cwd?: string; timeoutMs?: number } = {},
): ActionRun {
  const dir = mkdtempSync(join(tmpdir(), 'action-run-'));
  const outputFile = join(dir, 'output');
  const summaryFile = join(dir, 'summary');
  writeFileSync(outputFile, '');
  writeFileSync(summaryFile, '');
  const inputEnv = Object.fromEntries(Object.entries(inputs).map(([name, value]) => [`INPUT_${name.toUpperCase()}`, value]));
  const baseEnv = Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !key.startsWith('INPUT_') && !key.startsWith('GITHUB_') && !key.startsWith('AWS_')),
  );
  try {
    const result = spawnSync(process.execPath, [options.bundle ?? join(repoRoot, 'action/dist/index.js')], {
      cwd: options.cwd ?? repoRoot,
      env: {
        ...baseEnv,
        GITHUB_ACTIONS: 'true',
        GITHUB_OUTPUT: outputFile,
        GITHUB_STEP_SUMMARY: summaryFile,
        RUNNER_TEMP: dir,
        ...inputEnv,
        ...options.env,
      },
      encoding: 'utf8',
      timeout: options.timeoutMs ?? 120_000,
    });
    return {
      exitCode: result.status ?? -1,
      stdout: result.stdout,
      stderr: result.stderr,
      outputs: parseFileCommands(readFileSync(outputFile, 'utf8')),
      summary: readFileSync(summaryFile, 'utf8'),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
