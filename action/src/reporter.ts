// How steps talk to people: log groups, progress during waits, outputs and a summary. One
// implementation writes GitHub workflow commands and the job summary; the other plain terminal text.
import * as core from '@actions/core';
import { OUTPUTS, type OutputName } from './inputs.js';

export interface Reporter {
  info(message: string): void;
  warn(message: string): void;
  /** Runs fn inside a named, collapsible log group (GitHub) or under a heading (terminal). */
  group<T>(name: string, fn: () => Promise<T>): Promise<T>;
  /** One progress line of a wait: what is awaited, elapsed time, and the latest state. */
  progress(awaited: string, startedAt: number, state: string): void;
  setOutput(name: OutputName, value: string): void;
  /** Hides a value in every later log line. */
  mask(secret: string): void;
  /** Outputs set so far, in the order of OUTPUTS. */
  outputs(): Map<OutputName, string>;
  /** Adds a row to the run summary (step, result). */
  summaryRow(step: string, result: string): void;
  /** Writes the summary: the GitHub job summary, or a table on the terminal. */
  writeSummary(title: string): Promise<void>;
}

export function formatElapsed(ms: number): string {
  const total = Math.max(0, Math.round(ms / 1000));
  const minutes = Math.floor(total / 60);
  const seconds = total % 60;
  return minutes > 0 ? `${minutes}m${String(seconds).padStart(2, '0')}s` : `${seconds}s`;
}

abstract class BaseReporter implements Reporter {
  protected readonly values = new Map<OutputName, string>();
  protected readonly rows: Array<[string, string]> = [];
  protected readonly secrets: string[] = [];
  protected now: () => number = Date.now;

  abstract info(message: string): void;
  abstract warn(message: string): void;
  abstract group<T>(name: string, fn: () => Promise<T>): Promise<T>;
  abstract writeSummary(title: string): Promise<void>;

  progress(awaited: string, startedAt: number, state: string): void {
    this.info(`… waiting for ${awaited} (${formatElapsed(this.now() - startedAt)} elapsed): ${state}`);
  }

  setOutput(name: OutputName, value: string): void {
    this.values.set(name, value);
  }

  mask(secret: string): void {
    if (secret.length >= 4) this.secrets.push(secret);
  }

  outputs(): Map<OutputName, string> {
    const ordered = new Map<OutputName, string>();
    for (const { name } of OUTPUTS) {
      const value = this.values.get(name);
      if (value !== undefined) ordered.set(name, value);
    }
    return ordered;
  }

  summaryRow(step: string, result: string): void {
    this.rows.push([step, result]);
  }

  /** Outputs for the summary table: one spanning lines (release's plan) repeats the step rows. */
  protected summaryOutputs(): Array<[OutputName, string]> {
    return [...this.outputs()].filter(([, value]) => !value.includes('\n'));
  }

  protected redact(text: string): string {
    let out = text;
    for (const secret of this.secrets) out = out.split(secret).join('***');
    return out;
  }
}

export class GitHubReporter extends BaseReporter {
  /** The runner's environment: the job summary is written only where the runner offers one. */
  constructor(private readonly env: NodeJS.ProcessEnv) {
    super();
  }
  info(message: string): void {
    core.info(this.redact(message));
  }
  warn(message: string): void {
    core.warning(this.redact(message));
  }
  async group<T>(name: string, fn: () => Promise<T>): Promise<T> {
    return core.group(name, fn);
  }
  override mask(secret: string): void {
    super.mask(secret);
    core.setSecret(secret);
  }
  override setOutput(name: OutputName, value: string): void {
    super.setOutput(name, value);
    core.setOutput(name, value);
  }
  async writeSummary(title: string): Promise<void> {
    if (!this.env.GITHUB_STEP_SUMMARY) return;
    const outputs = this.summaryOutputs();
    core.summary.addHeading(title, 2);
    if (this.rows.length > 0) {
      core.summary.addTable([
        [
          { data: 'Step', header: true },
          { data: 'Result', header: true },
        ],
        ...this.rows.map(([step, result]) => [step, escapeHtml(this.redact(result))]),
      ]);
    }
    if (outputs.length > 0) {
      core.summary.addTable([
        [
          { data: 'Output', header: true },
          { data: 'Value', header: true },
        ],
        ...outputs.map(([name, value]) => [name ?? '', `<code>${escapeHtml(this.redact(value ?? ''))}</code>`]),
      ]);
    }
    await core.summary.write();
  }
}

export class TerminalReporter extends BaseReporter {
  private depth = 0;
  constructor(
    private readonly out: NodeJS.WritableStream = process.stderr,
    now: () => number = Date.now,
  ) {
    super();
    this.now = now;
  }
  private write(line: string): void {
    const indent = '  '.repeat(this.depth);
    for (const part of this.redact(line).split('\n')) this.out.write(`${indent}${part}\n`);
  }
  info(message: string): void {
    this.write(message);
  }
  warn(message: string): void {
    this.write(`warning: ${message}`);
  }
  async group<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const started = this.now();
    this.write(`==> ${name}`);
    this.depth += 1;
    try {
      const result = await fn();
      this.depth -= 1;
      this.write(`<== ${name} (${formatElapsed(this.now() - started)})`);
      return result;
    } catch (error) {
      this.depth -= 1;
      this.write(`<== ${name} failed after ${formatElapsed(this.now() - started)}`);
      throw error;
    }
  }
  async writeSummary(title: string): Promise<void> {
    const rows = [...this.rows, ...this.summaryOutputs()];
    if (rows.length === 0) return;
    const width = Math.max(...rows.map(([k]) => k.length));
    this.write(`\n${title}`);
    for (const [key, value] of rows) this.write(`  ${key.padEnd(width)}  ${value}`);
  }
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] ?? c);
}
