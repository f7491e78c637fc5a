// Doubles for unit tests of the ECS steps: a fake clock, and an SDK transport that answers from a
// script. The context they run in is scripts/support/command-context.ts.
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
