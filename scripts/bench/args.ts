// Command-line flags of the benchmark.
import { resolve } from 'node:path';

export const PARTS = ['serving', 'freshness', 'pipeline', 'mirror-scale', 'lint'] as const;
export type Part = (typeof PARTS)[number];
/** mirror-scale uploads tens of thousands of keys: it runs only when asked for with --only. */
const DEFAULT_PARTS: Part[] = ['serving', 'freshness', 'pipeline', 'lint'];

export interface BenchArgs {
  out: string;
  quick: boolean;
  only: Part[];
  /** Storage variants to run (serving and freshness); undefined for all. */
  variants?: string[];
  /** mirror-scale: bucket sizes to measure (default 20000 and 100000; 2000 with --quick). */
  mirrorKeys?: number[];
}

export function parseBenchArgs(argv: string[]): BenchArgs {
  let out = '';
  let quick = false;
  let only: Part[] = [...DEFAULT_PARTS];
  let mirrorKeys: number[] | undefined;
  let variants: string[] | undefined;
  for (let i = 0; i < argv.length; i += 1) {
    const flag = argv[i];
    if (flag === '--') continue;
    if (flag === '--quick') quick = true;
    else if (flag === '--out') {
      out = argv[++i] ?? '';
      if (!out || out.startsWith('--')) throw new Error('--out expects a folder for results.json and the chart');
    } else if (flag === '--only') {
      const value = argv[++i] ?? '';
      const parts = value.split(',').filter(Boolean);
      const unknown = parts.filter((p) => !(PARTS as readonly string[]).includes(p));
      if (parts.length === 0 || unknown.length) throw new Error(`--only expects a comma-separated list of ${PARTS.join(', ')}, got '${value}'`);
      only = parts as Part[];
    } else if (flag === '--variants') {
      const value = argv[++i] ?? '';
      variants = value.split(',').filter(Boolean);
      if (variants.length === 0 || value.startsWith('--')) throw new Error(`--variants expects a comma-separated list of storage variants (local,mirror,s3fs-ours,...), got '${value}'`);
    } else if (flag === '--mirror-keys') {
      const value = argv[++i] ?? '';
      mirrorKeys = value.split(',').filter(Boolean).map(Number);
      if (mirrorKeys.length === 0 || mirrorKeys.some((n) => !Number.isInteger(n) || n < 1 || n > 1_000_000)) {
        throw new Error(`--mirror-keys expects comma-separated key counts from 1 to 1000000, got '${value}'`);
      }
    } else throw new Error(`unknown argument '${flag ?? ''}'; usage: bench --out DIR [--quick] [--only ${PARTS.join(',')}] [--variants local,mirror,...] [--mirror-keys 20000,100000]`);
  }
  if (!out) throw new Error('--out DIR is required: the folder for results.json and the chart');
  return { out: resolve(out), quick, only, ...(variants ? { variants } : {}), ...(mirrorKeys ? { mirrorKeys } : {}) };
}
