// A CommandContext for running steps outside the action (tests, the benchmark): settings parsed from
// inputs like the action does, a reporter whose lines the caller can read, the real templates.
import { Writable } from 'node:stream';
import { createClients, type AwsClients } from '../../action/src/aws/clients.js';
import type { CommandContext } from '../../action/src/context.js';
import type { InputName } from '../../action/src/inputs.js';
import { TerminalReporter } from '../../action/src/reporter.js';
import { parseSettings } from '../../action/src/settings.js';

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
  // The deploy command needs an image by digest; the steps under test take it as an argument.
  const withImage: Partial<Record<InputName, string>> = values.command === 'deploy' && !values.image ? { ...values, image: DIGEST_IMAGE } : values;
  const settings = parseSettings((name) => withImage[name] ?? '', [], env);
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
