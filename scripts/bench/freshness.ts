// Freshness: from the moment an S3 PUT returns to the first WMS answer that shows the edit. Each
// edit changes the mapfile's title, which GetCapabilities reports. Probes are sequential; a probe
// sent later than one second after the PUT returned that still shows the old title is "stale".
import { Agent } from 'node:http';
import { fetchOnce } from './load.js';
import { percentile } from './stats.js';
import { BENCH_MAP, PREFIX, benchMapfile, getCapabilitiesPath, startServer, type MapfileFolder, type World } from './world.js';

export interface FreshnessResult {
  variant: string;
  edits: number;
  overwrite_edits: number;
  new_object_edits: number;
  p50_seconds: number;
  max_seconds: number;
  stale: number;
  /** Edits never seen within the probe limit. */
  unseen: number;
}

const STALE_AFTER_MS = 1000;

export async function measureFreshness(world: World, folder: MapfileFolder, variant: string, edits: { overwrite: number; newObject: number; limitSeconds: number }, log: (line: string) => void): Promise<FreshnessResult> {
  const server = await startServer(world, folder.dir);
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const seconds: number[] = [];
  let stale = 0;
  let unseen = 0;
  const run = Date.now().toString(36);
  try {
    const probeUntilSeen = async (path: string, title: string): Promise<void> => {
      const putReturned = performance.now();
      for (;;) {
        const sent = performance.now();
        const answer = await fetchOnce(agent, server.baseUrl, path, 10_000).catch(() => undefined);
        const now = performance.now();
        if (answer?.status === 200 && answer.body.includes(`<Title>${title}</Title>`)) {
          seconds.push((now - putReturned) / 1000);
          return;
        }
        if (sent - putReturned > STALE_AFTER_MS) stale += 1;
        if (now - putReturned > edits.limitSeconds * 1000) {
          unseen += 1;
          return;
        }
      }
    };
    for (let i = 0; i < edits.overwrite; i += 1) {
      const title = `overwrite-${run}-${i}`;
      await world.put(`${PREFIX}${BENCH_MAP}`, benchMapfile(title));
      await probeUntilSeen(getCapabilitiesPath(), title);
    }
    for (let i = 0; i < edits.newObject; i += 1) {
      const name = `fresh-${run}-${i}`;
      // Ask for it first, so a negative cache (s3fs's or the kernel's) would have an entry to go stale.
      await fetchOnce(agent, server.baseUrl, getCapabilitiesPath(`/mapfiles/${name}.map`), 10_000).catch(() => undefined);
      await world.put(`${PREFIX}${name}.map`, benchMapfile(name));
      await probeUntilSeen(getCapabilitiesPath(`/mapfiles/${name}.map`), name);
    }
  } finally {
    agent.destroy();
    await server.stop();
  }
  const round = (n: number): number => (Number.isFinite(n) ? Number(n.toFixed(4)) : n);
  const result: FreshnessResult = {
    variant,
    edits: edits.overwrite + edits.newObject,
    overwrite_edits: edits.overwrite,
    new_object_edits: edits.newObject,
    p50_seconds: round(percentile(seconds, 50)),
    max_seconds: round(seconds.length ? Math.max(...seconds) : Number.NaN),
    stale,
    unseen,
  };
  log(`  ${variant.padEnd(18)} freshness over ${result.edits} edits: p50 ${result.p50_seconds} s, max ${result.max_seconds} s, stale ${stale}, unseen ${unseen}`);
  return result;
}
