// Freshness: from the moment an S3 PUT or DELETE returns to the first WMS answer that shows it.
// Overwrites change the mapfile's title, which GetCapabilities reports; new objects are asked for
// before they exist (so a negative cache would go stale); deletes wait for MapServer's "cannot
// load" answer. Probes are sequential; a probe sent later than one second after the change
// returned that still shows the old state is "stale". Meanwhile a watcher keeps asking for the
// mapfile being overwritten: any answer that is not a whole capabilities document is "torn".
// With the mirror driver, a last phase switches the bucket's notifications off: every change must
// then still show within the reconciliation interval plus one fetch.
import { Agent } from 'node:http';
import { fetchOnce, runLoad } from './load.js';
import { percentile } from './stats.js';
import { BENCH_MAP, PREFIX, benchMapfile, getCapabilitiesPath, startServer, type MapfileFolder, type World } from './world.js';
import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import { BUCKET } from './world.js';

export interface LostEventsResult {
  reconcile_seconds: number;
  edits: number;
  max_seconds: number;
  /** The bound the issue sets: the interval plus one fetch (taken as one second). */
  bound_seconds: number;
  unseen: number;
}

export interface FreshnessResult {
  variant: string;
  edits: number;
  overwrite_edits: number;
  new_object_edits: number;
  delete_edits: number;
  p50_seconds: number;
  p99_seconds: number;
  max_seconds: number;
  stale: number;
  /** Edits never seen within the probe limit. */
  unseen: number;
  /** Answers to the watcher that were not a whole capabilities document (torn or empty reads). */
  watched_requests: number;
  torn_or_empty: number;
  lost_events?: LostEventsResult;
}

export interface FreshnessPlan {
  overwrite: number;
  newObject: number;
  delete: number;
  limitSeconds: number;
  /** mirror driver: edits made with notifications off. */
  lostEvents?: number;
}

const STALE_AFTER_MS = 1000;

const round = (n: number): number => (Number.isFinite(n) ? Number(n.toFixed(4)) : n);

/** MapServer's answer for a mapfile that is not there. */
const isMissingMap = (status: number, body: string): boolean => status !== 200 || /msLoadMap|Unable to access file|No such file/i.test(body);

export async function measureFreshness(world: World, folder: MapfileFolder, variant: string, edits: FreshnessPlan, log: (line: string) => void): Promise<FreshnessResult> {
  const server = await startServer(world, folder.dir);
  // mod_fcgid starts MapServer workers on demand, and a request that waits for one waits about a
  // second: start them before timing anything, as serving does.
  await runLoad({ baseUrl: server.baseUrl, paths: [getCapabilitiesPath()], concurrency: 4, maxRequests: 2000, maxSeconds: 3 });
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const seconds: number[] = [];
  let stale = 0;
  let unseen = 0;
  const run = Date.now().toString(36);

  // The watcher: one request at a time on its own connection, for the whole run.
  let watching = true;
  let watched = 0;
  let torn = 0;
  let firstTorn = '';
  const watcherAgent = new Agent({ keepAlive: true, maxSockets: 1 });
  const watcher = (async () => {
    while (watching) {
      const answer = await fetchOnce(watcherAgent, server.baseUrl, getCapabilitiesPath(), 10_000).catch((error: Error) => ({ status: 0, body: Buffer.from(error.message) }));
      watched += 1;
      if (answer.status !== 200 || !answer.body.includes('</WMS_Capabilities>')) {
        torn += 1;
        firstTorn ||= `HTTP ${answer.status}: ${answer.body.toString('utf8', 0, 200)}`;
      }
    }
  })();

  /** Probes until `seen` accepts an answer; returns seconds since the change returned, or NaN. */
  const probeUntil = async (path: string, seen: (status: number, body: string) => boolean, limitSeconds: number, since = performance.now()): Promise<number> => {
    for (;;) {
      const sent = performance.now();
      const answer = await fetchOnce(agent, server.baseUrl, path, 10_000).catch(() => undefined);
      const now = performance.now();
      if (answer && seen(answer.status, answer.body.toString('utf8'))) return (now - since) / 1000;
      if (sent - since > STALE_AFTER_MS) stale += 1;
      if (now - since > limitSeconds * 1000) return Number.NaN;
    }
  };
  const record = (value: number): void => {
    if (Number.isNaN(value)) unseen += 1;
    else seconds.push(value);
  };
  const hasTitle = (title: string) => (status: number, body: string) => status === 200 && body.includes(`<Title>${title}</Title>`);

  let lostEvents: LostEventsResult | undefined;
  try {
    for (let i = 0; i < edits.overwrite; i += 1) {
      const title = `overwrite-${run}-${i}`;
      await world.put(`${PREFIX}${BENCH_MAP}`, benchMapfile(title));
      record(await probeUntil(getCapabilitiesPath(), hasTitle(title), edits.limitSeconds));
    }
    const created: string[] = [];
    for (let i = 0; i < edits.newObject; i += 1) {
      const name = `fresh-${run}-${i}`;
      // Ask for it first, so a negative cache (s3fs's or the kernel's) would have an entry to go stale.
      await fetchOnce(agent, server.baseUrl, getCapabilitiesPath(`/mapfiles/${name}.map`), 10_000).catch(() => undefined);
      await world.put(`${PREFIX}${name}.map`, benchMapfile(name));
      record(await probeUntil(getCapabilitiesPath(`/mapfiles/${name}.map`), hasTitle(name), edits.limitSeconds));
      created.push(name);
    }
    for (const name of created.slice(0, edits.delete)) {
      await world.s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: `${PREFIX}${name}.map` }));
      record(await probeUntil(getCapabilitiesPath(`/mapfiles/${name}.map`), isMissingMap, edits.limitSeconds));
    }
    if (folder.mirror && edits.lostEvents) {
      const mirror = folder.mirror;
      const bound = mirror.reconcileSeconds + 1;
      await mirror.setEvents(false);
      const delays: number[] = [];
      let missed = 0;
      try {
        for (let i = 0; i < edits.lostEvents; i += 1) {
          const title = `lost-event-${run}-${i}`;
          await world.put(`${PREFIX}${BENCH_MAP}`, benchMapfile(title));
          const since = performance.now();
          // Not counted as stale: without events, waiting for the reconciliation is the point.
          const before = stale;
          const delay = await probeUntil(getCapabilitiesPath(), hasTitle(title), bound * 3, since);
          stale = before;
          if (Number.isNaN(delay)) missed += 1;
          else delays.push(delay);
        }
      } finally {
        await mirror.setEvents(true);
      }
      lostEvents = {
        reconcile_seconds: mirror.reconcileSeconds,
        edits: edits.lostEvents,
        max_seconds: round(delays.length ? Math.max(...delays) : Number.NaN),
        bound_seconds: bound,
        unseen: missed,
      };
    }
  } finally {
    watching = false;
    await watcher;
    agent.destroy();
    watcherAgent.destroy();
    await server.stop();
  }
  const result: FreshnessResult = {
    variant,
    edits: edits.overwrite + edits.newObject + Math.min(edits.delete, edits.newObject),
    overwrite_edits: edits.overwrite,
    new_object_edits: edits.newObject,
    delete_edits: Math.min(edits.delete, edits.newObject),
    p50_seconds: round(percentile(seconds, 50)),
    p99_seconds: round(percentile(seconds, 99)),
    max_seconds: round(seconds.length ? Math.max(...seconds) : Number.NaN),
    stale,
    unseen,
    watched_requests: watched,
    torn_or_empty: torn,
    ...(lostEvents ? { lost_events: lostEvents } : {}),
  };
  log(
    `  ${variant.padEnd(18)} freshness over ${result.edits} edits: p50 ${result.p50_seconds} s, p99 ${result.p99_seconds} s, max ${result.max_seconds} s, stale ${stale}, unseen ${unseen}, torn ${torn}/${watched}${firstTorn ? ` (first: ${firstTorn})` : ''}`,
  );
  if (lostEvents) log(`  ${variant.padEnd(18)} with notifications off: ${lostEvents.edits} edits, max ${lostEvents.max_seconds} s (bound ${lostEvents.bound_seconds} s), unseen ${lostEvents.unseen}`);
  return result;
}
