// A closed-loop HTTP load generator: `concurrency` workers on keep-alive connections to one loopback
// server, each sending its next request as soon as the previous answer is read. Bounded twice: by
// request count and by wall time, so a slow server cannot stall the benchmark.
import { Agent, request } from 'node:http';
import { summarise, type LoadSummary } from './stats.js';

export interface LoadOptions {
  /** http://127.0.0.1:port */
  baseUrl: string;
  /** Path and query; the workers take them in turn. */
  paths: readonly string[];
  concurrency: number;
  maxRequests: number;
  maxSeconds: number;
  /**
   * Seconds of uncounted load at the same concurrency before the clock starts: mod_fcgid starts
   * workers on demand, and the first seconds would measure its spawning instead of serving.
   */
  warmupSeconds?: number;
  /** A response is an error unless this accepts it (default: status 200). */
  accept?: (status: number, body: Buffer) => boolean;
  /** Per-request timeout (default 30 s). */
  timeoutMs?: number;
}

interface Answer {
  status: number;
  body: Buffer;
}

export function fetchOnce(agent: Agent, baseUrl: string, path: string, timeoutMs: number): Promise<Answer> {
  const url = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path, agent, method: 'GET', timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

export interface LoadResult extends LoadSummary {
  concurrency: number;
  /** The first error seen, to explain a non-zero error count. */
  firstError?: string;
}

export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  if (options.paths.length === 0) throw new Error('runLoad needs at least one path');
  const agent = new Agent({ keepAlive: true, maxSockets: options.concurrency });
  const accept = options.accept ?? ((status: number) => status === 200);
  const timeoutMs = options.timeoutMs ?? 30_000;
  let next = 0;
  const pathAt = (): string => options.paths[next++ % options.paths.length] as string;
  try {
    const warmupEnd = performance.now() + (options.warmupSeconds ?? 1.5) * 1000;
    await Promise.all(
      Array.from({ length: options.concurrency }, async () => {
        do await fetchOnce(agent, options.baseUrl, pathAt(), timeoutMs).catch(() => undefined);
        while (performance.now() < warmupEnd);
      }),
    );
    const latencies: number[] = [];
    let errors = 0;
    let sent = 0;
    let firstError: string | undefined;
    const started = performance.now();
    const deadline = started + options.maxSeconds * 1000;
    await Promise.all(
      Array.from({ length: options.concurrency }, async () => {
        while (sent < options.maxRequests && performance.now() < deadline) {
          sent += 1;
          const t0 = performance.now();
          try {
            const answer = await fetchOnce(agent, options.baseUrl, pathAt(), timeoutMs);
            if (accept(answer.status, answer.body)) latencies.push(performance.now() - t0);
            else {
              errors += 1;
              firstError ??= `HTTP ${answer.status}: ${answer.body.toString('utf8', 0, 200)}`;
            }
          } catch (error) {
            errors += 1;
            firstError ??= (error as Error).message;
          }
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    return { concurrency: options.concurrency, ...summarise(latencies, errors, seconds), ...(firstError ? { firstError } : {}) };
  } finally {
    agent.destroy();
  }
}
