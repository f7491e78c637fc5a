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
