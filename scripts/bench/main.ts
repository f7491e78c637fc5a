// npm run bench -- --out DIR [--quick] [--only serving,freshness,pipeline,mirror-scale,lint] [--variants local,mirror,...] [--mirror-keys N,...]
// Serving throughput/latency per storage variant, freshness of edits, and the pipeline's time and
// AWS calls; prints a table, writes DIR/results.json and DIR/serving.png. Bounded in time.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseBenchArgs } from './args.js';
import { barChart } from './chart.js';
import { cpuPercentDuring, rssMiB } from './cpu.js';
import { measureFreshness, type FreshnessPlan, type FreshnessResult } from './freshness.js';
import { measureMirrorScale, type MirrorScaleResult } from './mirror-scale.js';
import { measureLint } from './lint.js';
import { measurePipeline, type PipelineResult } from './pipeline.js';
import { compareInterleaved, measureVariant, type InterleavedComparison, type ServingVariant } from './serving.js';
import { ratio } from './stats.js';
import { localCopy, mirrorMount, productMount, seedMount, startWorld, syncedCopy, type MapfileFolder, type World } from './world.js';

/** Storage variants: the product's, the seed's, the limit, and what could reach the goals. */
interface VariantPlan {
  name: string;
  process: 'fastcgi' | 'cgi';
  storage: string;
  open(world: World): Promise<MapfileFolder>;
  /** Freshness edits, none to skip. */
  freshness?: FreshnessPlan;
}

/** The mirror's reconciliation interval in the benchmark: short, so the lost-events phase is quick. */
const BENCH_RECONCILE_SECONDS = 10;

function plans(quick: boolean): VariantPlan[] {
  const edits = (n: number): number => (quick ? Math.max(3, Math.round(n / 5)) : n);
  const fresh = (overwrite: number, newObject: number, deletes: number, limitSeconds: number, lostEvents = 0): FreshnessPlan => ({
    overwrite: edits(overwrite),
    newObject: edits(newObject),
    delete: deletes ? edits(deletes) : 0,
    limitSeconds,
    lostEvents: lostEvents ? edits(lostEvents) : 0,
  });
  return [
    { name: 'local', process: 'fastcgi', storage: 'local disk (bind mount)', open: (w) => localCopy(w, 'local') },
    {
      name: 'mirror',
      process: 'fastcgi',
      storage: 'mirror driver: local copy fed by S3 events + reconciliation',
      open: (w) => mirrorMount(w, 'mirror', BENCH_RECONCILE_SECONDS),
      freshness: fresh(100, 100, 20, 10, 10),
    },
    { name: 's3fs-ours', process: 'fastcgi', storage: 's3fs, product mount script', open: (w) => productMount(w, 's3fs-ours'), freshness: fresh(100, 100, 20, 10) },
    { name: 's3fs-seed', process: 'fastcgi', storage: "s3fs, seed's options", open: (w) => seedMount(w, 's3fs-seed'), freshness: fresh(10, 10, 0, 3) },
    {
      name: 's3fs-cache1s',
      process: 'fastcgi',
      storage: 's3fs, product script + 1 s stat and kernel caches',
      open: (w) => productMount(w, 's3fs-cache1s', 'max_stat_cache_size=1000,stat_cache_expire=1,attr_timeout=1,entry_timeout=1,negative_timeout=1'),
      freshness: fresh(25, 25, 0, 10),
    },
    { name: 'synced-500ms', process: 'fastcgi', storage: 'local copy synced every 500 ms', open: (w) => syncedCopy(w, 'synced', 500), freshness: fresh(25, 25, 0, 10) },
    { name: 'cgi-local', process: 'cgi', storage: 'local disk, one CGI process per request', open: (w) => localCopy(w, 'cgi') },
  ];
}

function throughputAt(variant: ServingVariant | undefined, kind: 'GetMap' | 'GetCapabilities', concurrency: number): number | undefined {
  return variant?.results[kind].find((r) => r.concurrency === concurrency)?.throughput;
}

async function main(): Promise<void> {
  const args = parseBenchArgs(process.argv.slice(2));
  mkdirSync(args.out, { recursive: true });
  const log = (line: string): void => void process.stdout.write(`${line}\n`);
  const started = Date.now();
  const budget = args.quick ? { concurrencies: [1, 8, 32], maxSeconds: 2, maxRequests: 2000 } : { concurrencies: [1, 8, 32], maxSeconds: 6, maxRequests: 20_000 };
  const results: Record<string, unknown> = {
    generated_at: new Date().toISOString(),
    mode: args.quick ? 'quick' : 'full',
    machine: { cpus: (await import('node:os')).cpus().length, note: 'load generator, emulator (moto behind a Node proxy), s3fs and MapServer share this machine' },
  };
  const variants: ServingVariant[] = [];
  const freshness: FreshnessResult[] = [];
  const mirrorCost: Record<string, number> = {};
  let interleaved: InterleavedComparison | undefined;
  if (args.only.includes('serving') || args.only.includes('freshness')) {
    const world = await startWorld();
    try {
      const all = plans(args.quick);
      const unknown = (args.variants ?? []).filter((name) => !all.some((plan) => plan.name === name));
      if (unknown.length > 0) throw new Error(`--variants: no variant named ${unknown.join(', ')}; expected some of ${all.map((p) => p.name).join(', ')}`);
      for (const plan of all.filter((p) => !args.variants || args.variants.includes(p.name))) {
        const wantsFreshness = args.only.includes('freshness') && plan.freshness !== undefined;
        if (!args.only.includes('serving') && !wantsFreshness) continue;
        log(`${plan.name}: ${plan.storage}`);
        const folder = await plan.open(world);
        try {
          const mirrorPid = folder.mirror ? await folder.mirror.pid() : undefined;
          if (mirrorPid !== undefined) {
            // The mirror's own cost while nothing changes: long polls, reconciliations, heartbeats.
            const idle = await cpuPercentDuring(mirrorPid, () => new Promise((r) => setTimeout(r, (args.quick ? 30 : 120) * 1000)));
            mirrorCost.idle_cpu_percent_of_one_core = idle.percent;
            mirrorCost.idle_seconds = idle.seconds;
            mirrorCost.rss_mib = await rssMiB(mirrorPid);
            log(`  mirror idle: ${idle.percent}% of one core over ${idle.seconds} s, RSS ${mirrorCost.rss_mib} MiB`);
          }
          if (args.only.includes('serving')) {
            if (mirrorPid !== undefined) {
              const serving = await cpuPercentDuring(mirrorPid, async () => variants.push(await measureVariant(world, folder, plan, budget, log)));
              mirrorCost.serving_cpu_percent_of_one_core = serving.percent;
              log(`  mirror while serving: ${serving.percent}% of one core over ${serving.seconds} s`);
            } else variants.push(await measureVariant(world, folder, plan, budget, log));
          }
          if (wantsFreshness && plan.freshness) freshness.push(await measureFreshness(world, folder, plan.name, plan.freshness, log));
        } finally {
          await folder.close();
        }
      }
      // The headline ratio: local disk and the mirror served side by side, load interleaved.
      const wanted = (name: string): boolean => !args.variants || args.variants.includes(name);
      if (args.only.includes('serving') && wanted('local') && wanted('mirror')) {
        log('mirror against local disk, interleaved');
        const local = await localCopy(world, 'local-ab');
        const mirror = await mirrorMount(world, 'mirror-ab', BENCH_RECONCILE_SECONDS);
        try {
          interleaved = await compareInterleaved(world, local, mirror, { concurrency: 8, slices: args.quick ? 3 : 8, sliceSeconds: args.quick ? 1 : 2 }, log);
        } finally {
          await mirror.close();
          await local.close();
        }
      }
    } finally {
      await world.close();
    }
  }
  if (args.only.includes('serving')) {
    const byName = (name: string): ServingVariant | undefined => variants.find((v) => v.name === name);
    const ratios = (a: string, b: string) => ({
      GetMap: ratio(throughputAt(byName(a), 'GetMap', 8), throughputAt(byName(b), 'GetMap', 8)),
      GetCapabilities: ratio(throughputAt(byName(a), 'GetCapabilities', 8), throughputAt(byName(b), 'GetCapabilities', 8)),
    });
    const s3fsVsLocal = ratios('s3fs-ours', 'local');
    const fastcgiVsCgi = ratios('local', 'cgi-local');
    // Interleaved when both ran (fair on a busy machine); otherwise from the separate runs.
    const mirrorVsLocal = interleaved
      ? { GetMap: interleaved.results.GetMap.ratio, GetCapabilities: interleaved.results.GetCapabilities.ratio }
      : ratios('mirror', 'local');
    results.serving = {
      note: 'throughput ratios at concurrency 8, GetMap (the headline) and GetCapabilities; see variants for every point',
      mirror_vs_local: mirrorVsLocal,
      s3fs_vs_local: s3fsVsLocal.GetMap,
      fastcgi_vs_cgi: fastcgiVsCgi.GetMap,
      mirror_vs_local_interleaved: interleaved ?? null,
      ratios_at_concurrency_8: {
        mirror_vs_local_separate_runs: ratios('mirror', 'local'),
        s3fs_vs_local: s3fsVsLocal,
        fastcgi_vs_cgi: fastcgiVsCgi,
        seed_s3fs_vs_local: ratios('s3fs-seed', 'local'),
        s3fs_cache1s_vs_local: ratios('s3fs-cache1s', 'local'),
        synced_vs_local: ratios('synced-500ms', 'local'),
      },
      variants,
    };
    const png = barChart(
      'WMS THROUGHPUT AT CONCURRENCY 8 (REQ/S, HIGHER IS BETTER)',
      'REQ/S',
      (['GetMap', 'GetCapabilities'] as const).map((kind) => ({ label: kind, bars: variants.map((v) => ({ label: v.name, value: throughputAt(v, kind, 8) ?? Number.NaN })) })),
    );
    writeFileSync(join(args.out, 'serving.png'), png);
  }
  if (args.only.includes('freshness')) {
    const ours = freshness.find((f) => f.variant === 'mirror');
    results.freshness = {
      note: 'seconds from PutObject/DeleteObject returning to the first GetCapabilities answer showing it; stale = probes sent more than 1 s after the change returned that still showed the old state; torn_or_empty = watcher answers during the run that were not a whole capabilities document; headline figures are the mirror driver',
      max_seconds: ours?.max_seconds ?? null,
      p50_seconds: ours?.p50_seconds ?? null,
      p99_seconds: ours?.p99_seconds ?? null,
      stale: ours?.stale ?? null,
      torn_or_empty: ours?.torn_or_empty ?? null,
      edits: ours?.edits ?? 0,
      lost_events: ours?.lost_events ?? null,
      variants: freshness,
    };
  }
  if (Object.keys(mirrorCost).length > 0) {
    results.mirror = { note: 'CPU of the mirror process (user + system) as a percent of one core, and its resident memory', ...mirrorCost };
  }
  if (args.only.includes('mirror-scale')) {
    const counts = args.mirrorKeys ?? (args.quick ? [2000] : [20_000, 100_000]);
    const scale: MirrorScaleResult[] = [];
    for (const keys of counts) {
      log(`mirror-scale: ${keys} keys`);
      scale.push(await measureMirrorScale(keys, `npm run bench -- --out ${args.out} --only mirror-scale --mirror-keys ${keys}`, log));
    }
    results.mirror_scale = { note: 'the mirror (booted by mapfiles-mount) on a bucket of small keys; goals at 20000 keys: first sync < 60 s, RSS < 120 MiB after sync and < 200 MiB peak, no-change reconciliation < 0.3 CPU s, new object < 1 s; at 100000: RSS < 300 MiB', runs: scale };
    log('\nMirror at scale');
    for (const r of scale) {
      log(`${String(r.keys).padStart(7)} keys: first sync ${r.first_sync_seconds} s (${r.first_sync_cpu_seconds} CPU s), RSS ${r.rss_mib_after_sync} MiB (peak ${r.rss_high_water_mib}), no-change reconciliation ${r.no_change_reconcile_cpu_seconds} CPU s (${r.no_change_reconcile_ms} ms), new object ${r.new_object_applied_seconds} s`);
      log(`${''.padStart(13)}measured by: ${r.command}`);
    }
  }
  let pipeline: PipelineResult | undefined;
  if (args.only.includes('pipeline')) {
    log('pipeline: CLI against the emulator');
    pipeline = await measurePipeline(log);
    results.pipeline = pipeline;
  }
  if (args.only.includes('lint')) {
    log('lint-mapfiles: the whole msautotest folder');
    results.lint = await measureLint(log);
  }
  results.seconds = Math.round((Date.now() - started) / 1000);
  writeFileSync(join(args.out, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  printTable(variants, freshness, pipeline, results, log);
  log(`wrote ${join(args.out, 'results.json')}${args.only.includes('serving') ? ` and ${join(args.out, 'serving.png')}` : ''} in ${String(results.seconds)} s`);
}

function printTable(variants: ServingVariant[], freshness: FreshnessResult[], pipeline: PipelineResult | undefined, results: Record<string, unknown>, log: (line: string) => void): void {
  if (variants.length) {
    log('\nServing (req/s; p50/p95/p99 ms)');
    log(`${'variant'.padEnd(14)} ${'request'.padEnd(16)} ${'c'.padStart(3)} ${'req/s'.padStart(8)} ${'p50'.padStart(8)} ${'p95'.padStart(8)} ${'p99'.padStart(8)} ${'errors'.padStart(6)}`);
    for (const v of variants) {
      for (const kind of ['GetMap', 'GetCapabilities'] as const) {
        for (const r of v.results[kind]) {
          log(`${v.name.padEnd(14)} ${kind.padEnd(16)} ${String(r.concurrency).padStart(3)} ${String(r.throughput).padStart(8)} ${String(r.p50_ms).padStart(8)} ${String(r.p95_ms).padStart(8)} ${String(r.p99_ms).padStart(8)} ${String(r.errors).padStart(6)}`);
        }
      }
    }
    const serving = results.serving as { s3fs_vs_local: number | null; fastcgi_vs_cgi: number | null; mirror_vs_local: { GetMap: number | null; GetCapabilities: number | null } };
    log(`mirror_vs_local (c=8): GetMap ${serving.mirror_vs_local.GetMap}, GetCapabilities ${serving.mirror_vs_local.GetCapabilities}   goal >= 0.9`);
    log(`s3fs_vs_local (GetMap, c=8): ${serving.s3fs_vs_local}`);
    log(`fastcgi_vs_cgi (GetMap, c=8): ${serving.fastcgi_vs_cgi}   goal >= 20`);
  }
  if (freshness.length) {
    log('\nFreshness (seconds from PUT returned to first fresh answer)');
    log(`${'variant'.padEnd(14)} ${'edits'.padStart(6)} ${'p50 s'.padStart(8)} ${'p99 s'.padStart(8)} ${'max s'.padStart(8)} ${'stale'.padStart(6)} ${'unseen'.padStart(7)} ${'torn'.padStart(6)}`);
    for (const f of freshness) {
      log(
        `${f.variant.padEnd(14)} ${String(f.edits).padStart(6)} ${String(f.p50_seconds).padStart(8)} ${String(f.p99_seconds).padStart(8)} ${String(f.max_seconds).padStart(8)} ${String(f.stale).padStart(6)} ${String(f.unseen).padStart(7)} ${String(f.torn_or_empty).padStart(6)}`,
      );
      if (f.lost_events) log(`${''.padEnd(14)} notifications off: max ${f.lost_events.max_seconds} s over ${f.lost_events.edits} edits (bound: ${f.lost_events.bound_seconds} s)`);
    }
    log('goal: max <= 1 s, 0 stale, 0 torn (mirror)');
  }
  if (results.mirror) {
    const cost = results.mirror as Record<string, number>;
    log(`\nMirror process: ${cost.idle_cpu_percent_of_one_core}% of one core idle, ${cost.serving_cpu_percent_of_one_core ?? '-'}% while serving, RSS ${cost.rss_mib} MiB   goal: idle < 2%`);
  }
  if (pipeline) {
    log('\nPipeline (CLI against the emulator)');
    for (const s of [...pipeline.steps, pipeline.release, pipeline.full_release, pipeline.noop_release]) log(`${s.step.padEnd(16)} ${s.seconds.toFixed(2).padStart(7)} s ${String(s.aws_calls).padStart(5)} AWS calls`);
    log(`no-op release: ${pipeline.noop_release.seconds.toFixed(2)} s and ${pipeline.noop_release.aws_calls} AWS calls, against ${pipeline.full_release.seconds.toFixed(2)} s and ${pipeline.full_release.aws_calls} for the full release   goal: < 10 s, < 15 calls`);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
