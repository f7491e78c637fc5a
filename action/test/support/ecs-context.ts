// A CommandContext for the ECS steps: settings parsed from inputs like the action does, a reporter
// whose lines the test can read, and the project's real templates.
import { Writable } from 'node:stream';
import { createClients, type AwsClients } from '../../src/aws/clients.js';
import type { CommandContext } from '../../src/context.js';
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

export interface ScriptedResponse {
  status: number;
  body: string;
  headers?: Record<string, string>;
}

/**
 * An SDK request handler that answers from a script instead of the network, so the whole client
 * middleware stack (serialising, signing, retries with backoff, parsing) runs in a unit test.
 * The last response repeats once the script runs out.
 */
export function scriptedHandler(responses: ScriptedResponse[]): { handle: (request: unknown) => Promise<{ response: unknown }>; requests: unknown[]; destroy(): void } {
  const requests: unknown[] = [];
  let index = 0;
  return {
    requests,
    async handle(request: unknown) {
      requests.push(request);
      const next = responses[Math.min(index, responses.length - 1)];
      index += 1;
      if (!next) throw new Error('scriptedHandler: no responses');
      const { Readable } = await import('node:stream');
      return {
        response: {
          statusCode: next.status,
          headers: { 'content-type': 'application/x-amz-json-1.1', ...next.headers },
          body: Readable.from([Buffer.from(next.body)]),
        },
      };
    },
    destroy() {},
  };
}
