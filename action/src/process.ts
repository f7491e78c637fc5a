// Packer, Docker, s3fs and MapServer run through this one helper: output streams to the reporter
// line by line, the last lines are kept, and a failure says which command failed and how.
import { execa } from 'execa';
import { StepFailure } from './errors.js';
import type { Reporter } from './reporter.js';

export interface RunOptions {
  cwd?: string;
  env?: Record<string, string | undefined>;
  /** Data written to the command's standard input. */
  input?: string;
  /** Stream each output line to the reporter (default true). */
  stream?: boolean;
  /** Lines kept for the failure message (default 20). */
  tailLines?: number;
  /** What the state is when this command fails, for the failure message. */
  stateOnFailure?: string;
  /** Prefix for streamed lines, such as "packer". */
  label?: string;
}

export interface RunResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

export async function run(reporter: Reporter, file: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const keep = options.tailLines ?? 20;
  const tail: string[] = [];
  const stream = options.stream ?? true;
  const label = options.label ? `${options.label}: ` : '';
  const onLine = (line: string): void => {
    tail.push(line);
    if (tail.length > keep) tail.shift();
    if (stream) reporter.info(`${label}${line}`);
  };
  const subprocess = execa(file, args, {
    cwd: options.cwd,
    env: options.env,
    input: options.input,
    reject: false,
    stripFinalNewline: true,
    buffer: true,
  });
  // One splitter per stream, so a partial line on one stream never merges with a line of the other.
  for (const stream of [subprocess.stdout, subprocess.stderr]) {
    const lines = lineSplitter(onLine);
    stream?.on('data', lines.push);
    stream?.on('end', lines.flush);
  }
  const result = await subprocess;
  if (result.failed) {
    const how = result.exitCode !== undefined ? `exited with code ${result.exitCode}` : (result.signal ? `was killed by ${result.signal}` : result.shortMessage);
    const lastLines = tail.length > 0 ? `\nLast lines:\n${tail.map((l) => `  ${l}`).join('\n')}` : '';
    throw new StepFailure(`${[file, ...args.slice(0, 3)].join(' ')}${args.length > 3 ? ' ...' : ''} ${how}${lastLines}`, {
      ...(options.stateOnFailure ? { state: options.stateOnFailure } : {}),
    });
  }
  return { stdout: String(result.stdout ?? ''), stderr: String(result.stderr ?? ''), exitCode: result.exitCode ?? 0 };
}

export function lineSplitter(onLine: (line: string) => void): { push(chunk: Buffer | string): void; flush(): void } {
  let pending = '';
  return {
    push(chunk) {
      pending += chunk.toString();
      const parts = pending.split(/\r?\n/);
      pending = parts.pop() ?? '';
      for (const part of parts) onLine(part);
    },
    flush() {
      if (pending !== '') onLine(pending);
      pending = '';
    },
  };
}
