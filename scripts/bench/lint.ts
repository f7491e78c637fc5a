// lint-mapfiles on MapServer's own regression suite (the vendored msautotest, 508 mapfiles): the
// whole folder with the image's MapServer, and with our own parser alone, each with the machine's
// load average, since the time is CPU-bound (one map2img start per mapfile) and shares the cores.
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { lintMapfiles } from '../../action/src/mapfiles/lint.js';
import { ensureImage, REPO_ROOT } from '../support/image.js';

export interface LintRun {
  mode: 'image' | 'parser alone';
  mapfiles: number;
  errors: number;
  seconds: number;
  /** 1-minute load average before and after the run. */
  load: [number, number];
}

export interface LintResult {
  folder: string;
  cpus: number;
  runs: LintRun[];
}

export async function measureLint(log: (line: string) => void): Promise<LintResult> {
  const folder = join(REPO_ROOT, 'action', 'test', 'fixtures', 'msautotest');
  const image = await ensureImage();
  const runs: LintRun[] = [];
  for (const mode of ['image', 'parser alone'] as const) {
    const before = loadavg()[0] ?? 0;
    const started = Date.now();
    const report = await lintMapfiles({ paths: [folder], mapfilesDir: folder, cwd: folder, env: process.env, projectRoot: REPO_ROOT, mapserver: mode === 'image' ? 'auto' : 'off', image });
    const run: LintRun = {
      mode,
      mapfiles: report.mapfiles.length,
      errors: report.errors,
      seconds: Math.round((Date.now() - started) / 100) / 10,
      load: [Math.round(before * 100) / 100, Math.round((loadavg()[0] ?? 0) * 100) / 100],
    };
    log(`  ${mode}: ${run.mapfiles} mapfiles in ${run.seconds} s (${run.errors} errors; load average ${run.load[0]} -> ${run.load[1]})`);
    runs.push(run);
  }
  return { folder, cpus: cpus().length, runs };
}
