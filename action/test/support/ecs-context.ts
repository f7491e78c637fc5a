// A CommandContext for the ECS steps: settings parsed from inputs like the action does, a reporter
// whose lines the test can read, and the project's real templates.
import { Writable } from 'node:stream';
import { createClients, type AwsClients } from '../../src/aws/clients.js';
import type { CommandContext } from '../../src/commands/context.js';
import type { InputName } from '../../src/inputs.js';
import { TerminalReporter } from '../../src/reporter.js';
import { parseSettings } from '../../src/settings.js';

export const DIGEST_IMAGE = `123456789012.dkr.ecr.us-east-1.amazonaws.com/mapserver@sha256:${'a'.repeat(64)}`;

export interface TestContext extends CommandContext {
  readonly reporter: TerminalReporter;
  /** Every line written so far. */
  log(): string;
}

export function testContext(
  values: Partial<Record<InputName, string>>,
  options: { clients?: AwsClients; env?: NodeJS.ProcessEnv; root?: string } = {},
): TestContext {
  let text = '';
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      text += chunk.toString();
      done();
    },
  });
  const env = options.env ?? { AWS_REGION: 'us-east-1' };
  const settings = parseSettings((name) => values[name] ?? '', [], env);
  const clients = options.clients ?? createClients(settings.region, env);
  return {
    settings,
    reporter: new TerminalReporter(sink),
    clients,
    root: options.root ?? process.cwd(),
    env,
    log: () => text,
  };
}

/** A sleep that returns at once and moves a fake clock, so waits and timeouts take no real time. */
export function fakeClock(start = 1_700_000_000_000): { now: () => number; sleep: (ms: number) => Promise<void> } {
  let current = start;
  return {
    now: () => current,
    sleep: async (ms: number) => {
      current += ms;
    },
  };
}
