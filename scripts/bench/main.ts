// npm run bench -- --out DIR [--quick] [--only serving,freshness,pipeline]
// Serving throughput/latency per storage variant, freshness of edits, and the pipeline's time and
// AWS calls; prints a table, writes DIR/results.json and DIR/serving.png. Bounded in time.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseBenchArgs } from './args.js';
import { barChart } from './chart.js';
import { measureFreshness, type FreshnessResult } from './freshness.js';
import { measurePipeline, type PipelineResult } from './pipeline.js';
import { measureVariant, type ServingVariant } from './serving.js';
import { ratio } from './stats.js';
import { localCopy, productMount, seedMount, startWorld, syncedCopy, type MapfileFolder, type World } from './world.js';

/** Storage variants: the product's, the seed's, the limit, and what could reach the goals. */
interface VariantPlan {
  name: string;
  process: 'fastcgi' | 'cgi';
  storage: string;
  open(world: World): Promise<MapfileFolder>;
  /** Freshness edits (overwrites, new objects), 0 to skip; limit per edit in seconds. */
  freshness: [number, number, number];
}

function plans(quick: boolean): VariantPlan[] {
  const edits = (n: number): number => (quick ? Math.max(3, Math.round(n / 5)) : n);
  return [
    { name: 'local', process: 'fastcgi', storage: 'local disk (bind mount)', open: (w) => localCopy(w, 'local'), freshness: [0, 0, 0] },
    { name: 's3fs-ours', process: 'fastcgi', storage: 's3fs, product mount script', open: (w) => productMount(w, 's3fs-ours'), freshness: [edits(100), edits(100), 10] },
    { name: 's3fs-seed', process: 'fastcgi', storage: "s3fs, seed's options", open: (w) => seedMount(w, 's3fs-seed'), freshness: [edits(10), edits(10), 3] },
    {
      name: 's3fs-cache1s',
      process: 'fastcgi',
      storage: 's3fs, product script + 1 s stat and kernel caches',
      open: (w) => productMount(w, 's3fs-cache1s', 'max_stat_cache_size=1000,stat_cache_expire=1,attr_timeout=1,entry_timeout=1,negative_timeout=1'),
      freshness: [edits(25), edits(25), 10],
    },
    { name: 'synced-500ms', process: 'fastcgi', storage: 'local copy synced every 500 ms', open: (w) => syncedCopy(w, 'synced', 500), freshness: [edits(25), edits(25), 10] },
    { name: 'cgi-local', process: 'cgi', storage: 'local disk, one CGI process per request', open: (w) => localCopy(w, 'cgi'), freshness: [0, 0, 0] },
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
  if (args.only.includes('serving') || args.only.includes('freshness')) {
    const world = await startWorld();
    try {
      for (const plan of plans(args.quick)) {
        const wantsFreshness = args.only.includes('freshness') && plan.freshness[0] + plan.freshness[1] > 0;
        if (!args.only.includes('serving') && !wantsFreshness) continue;
        log(`${plan.name}: ${plan.storage}`);
        const folder = await plan.open(world);
        try {
          if (args.only.includes('serving')) variants.push(await measureVariant(world, folder, plan, budget, log));
          if (wantsFreshness) {
            freshness.push(await measureFreshness(world, folder, plan.name, { overwrite: plan.freshness[0], newObject: plan.freshness[1], limitSeconds: plan.freshness[2] }, log));
          }
        } finally {
          await folder.close();
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
    results.serving = {
      note: 'throughput ratios at concurrency 8, GetMap (the headline) and GetCapabilities; see variants for every point',
      s3fs_vs_local: s3fsVsLocal.GetMap,
      fastcgi_vs_cgi: fastcgiVsCgi.GetMap,
      ratios_at_concurrency_8: {
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
    const ours = freshness.find((f) => f.variant === 's3fs-ours');
    results.freshness = {
      note: 'seconds from PutObject returning to the first GetCapabilities answer with the new title; stale = probes sent more than 1 s after the PUT returned that still showed the old mapfile',
      max_seconds: ours?.max_seconds ?? null,
      p50_seconds: ours?.p50_seconds ?? null,
      stale: ours?.stale ?? null,
      edits: ours?.edits ?? 0,
      variants: freshness,
    };
  }
  let pipeline: PipelineResult | undefined;
  if (args.only.includes('pipeline')) {
    log('pipeline: CLI against the emulator');
    pipeline = await measurePipeline(log);
    results.pipeline = pipeline;
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
    const serving = results.serving as { s3fs_vs_local: number | null; fastcgi_vs_cgi: number | null };
    log(`s3fs_vs_local (GetMap, c=8): ${serving.s3fs_vs_local}   goal >= 0.9`);
    log(`fastcgi_vs_cgi (GetMap, c=8): ${serving.fastcgi_vs_cgi}   goal >= 20`);
  }
  if (freshness.length) {
    log('\nFreshness (seconds from PUT returned to first fresh answer)');
    log(`${'variant'.padEnd(14)} ${'edits'.padStart(6)} ${'p50 s'.padStart(8)} ${'max s'.padStart(8)} ${'stale'.padStart(6)} ${'unseen'.padStart(7)}`);
    for (const f of freshness) log(`${f.variant.padEnd(14)} ${String(f.edits).padStart(6)} ${String(f.p50_seconds).padStart(8)} ${String(f.max_seconds).padStart(8)} ${String(f.stale).padStart(6)} ${String(f.unseen).padStart(7)}`);
    log('goal: max <= 1 s and 0 stale (s3fs-ours)');
  }
  if (pipeline) {
    log('\nPipeline (CLI against the emulator)');
    for (const s of [...pipeline.steps, pipeline.release]) log(`${s.step.padEnd(10)} ${s.seconds.toFixed(2).padStart(7)} s ${String(s.aws_calls).padStart(5)} AWS calls`);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
