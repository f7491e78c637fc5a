// Serving throughput and latency of our image per storage variant, request type and concurrency.
import { fetchOnce, runLoad, type LoadResult } from './load.js';
import { getCapabilitiesPath, getMapPath, startServer, type MapfileFolder, type World } from './world.js';
import { Agent } from 'node:http';

export type RequestKind = 'GetMap' | 'GetCapabilities';

export interface ServingVariant {
  name: string;
  /** How MapServer runs: FastCGI workers (our image) or one CGI process per request (the seed). */
  process: 'fastcgi' | 'cgi';
  storage: string;
  detail: string;
  results: Record<RequestKind, LoadResult[]>;
}

export interface ServingBudget {
  concurrencies: number[];
  maxSeconds: number;
  maxRequests: number;
}

function acceptFor(kind: RequestKind): (status: number, body: Buffer) => boolean {
  // A PNG signature, or the capabilities document: MapServer answers errors with status 200 too.
  if (kind === 'GetMap') return (status, body) => status === 200 && body.subarray(1, 4).toString('latin1') === 'PNG';
  return (status, body) => status === 200 && body.includes('<WMS_Capabilities');
}

export async function measureVariant(
  world: World,
  folder: MapfileFolder,
  variant: { name: string; process: 'fastcgi' | 'cgi'; storage: string },
  budget: ServingBudget,
  log: (line: string) => void,
): Promise<ServingVariant> {
  const server = await startServer(world, folder.dir, { cgi: variant.process === 'cgi' });
  try {
    // One answer of each kind must be right before anything is timed.
    const agent = new Agent();
    for (const [kind, path] of [['GetMap', getMapPath()], ['GetCapabilities', getCapabilitiesPath()]] as const) {
      const answer = await fetchOnce(agent, server.baseUrl, path, 30_000);
      if (!acceptFor(kind)(answer.status, answer.body)) {
        throw new Error(`${variant.name}: ${kind} answered HTTP ${answer.status}: ${answer.body.toString('utf8', 0, 300)}\n${await server.logs()}`);
      }
    }
    agent.destroy();
    const results: Record<RequestKind, LoadResult[]> = { GetMap: [], GetCapabilities: [] };
    for (const kind of ['GetMap', 'GetCapabilities'] as const) {
      const path = kind === 'GetMap' ? getMapPath() : getCapabilitiesPath();
      for (const concurrency of budget.concurrencies) {
        const result = await runLoad({ baseUrl: server.baseUrl, paths: [path], concurrency, maxRequests: budget.maxRequests, maxSeconds: budget.maxSeconds, accept: acceptFor(kind) });
        results[kind].push(result);
        log(
          `  ${variant.name.padEnd(18)} ${kind.padEnd(15)} c=${String(concurrency).padStart(2)}  ${String(result.throughput).padStart(7)} req/s  p50 ${result.p50_ms} ms  p95 ${result.p95_ms} ms  p99 ${result.p99_ms} ms${result.errors ? `  errors ${result.errors} (${result.firstError ?? ''})` : ''}`,
        );
      }
    }
    return { ...variant, detail: folder.detail, results };
  } finally {
    await server.stop();
  }
}

export interface InterleavedComparison {
  concurrency: number;
  slices: number;
  slice_seconds: number;
  /** Requests per second of each side, summed over its slices. */
  results: Record<RequestKind, { a: number; b: number; ratio: number | null }>;
}

/**
 * Throughput of two folders served side by side: both servers run at once and the load alternates
 * between them in short slices (a, b, a, b, ...), so whatever else the machine does in that time
 * falls on both sides alike. The fair way to say "b against a" on a shared 2-core machine.
 */
export async function compareInterleaved(
  world: World,
  a: MapfileFolder,
  b: MapfileFolder,
  options: { concurrency: number; slices: number; sliceSeconds: number },
  log: (line: string) => void,
): Promise<InterleavedComparison> {
  const servers = [await startServer(world, a.dir), await startServer(world, b.dir)] as const;
  try {
    const results = {} as InterleavedComparison['results'];
    for (const kind of ['GetMap', 'GetCapabilities'] as const) {
      const path = kind === 'GetMap' ? getMapPath() : getCapabilitiesPath();
      const totals = [
        { ok: 0, seconds: 0 },
        { ok: 0, seconds: 0 },
      ];
      for (let slice = 0; slice < options.slices; slice += 1) {
        for (const side of [0, 1] as const) {
          const result = await runLoad({
            baseUrl: servers[side].baseUrl,
            paths: [path],
            concurrency: options.concurrency,
            maxRequests: 1_000_000,
            maxSeconds: options.sliceSeconds,
            warmupSeconds: slice === 0 ? 1.5 : 0.2,
            accept: acceptFor(kind),
          });
          totals[side]!.ok += result.requests - result.errors;
          totals[side]!.seconds += result.seconds;
        }
      }
      const rate = (t: { ok: number; seconds: number }): number => Number((t.ok / t.seconds).toFixed(1));
      const [first, second] = [rate(totals[0]!), rate(totals[1]!)];
      results[kind] = { a: first, b: second, ratio: first > 0 ? Number((second / first).toFixed(3)) : null };
      log(`  interleaved ${kind.padEnd(15)} c=${options.concurrency}  a ${first} req/s, b ${second} req/s, b/a ${results[kind].ratio}`);
    }
    return { concurrency: options.concurrency, slices: options.slices, slice_seconds: options.sliceSeconds, results };
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
  }
}
