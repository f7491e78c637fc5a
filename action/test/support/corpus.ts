// A lint report measured against MapServer's own verdicts, file by file: the confusion table the
// corpus tests print and assert on.
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { INTERNAL_ERROR, type LintReport } from '../../src/mapfiles/lint.js';
import type { Verdict } from './mapserver-verdicts.js';

/** Rules that judge whether MapServer loads a file; the others judge how the image serves it. */
const LOAD_RULES = new Set(['syntax', 'include', 'mapserver']);

export interface Confusion {
  mapfiles: number;
  loads: number;
  refused: number;
  /** Refused files with a load error (caught). */
  caught: string[];
  /** Files MapServer loads that got a load error. */
  falseErrors: string[];
  /** Files MapServer refuses that got no load error. */
  missed: string[];
  /** Files MapServer loads with an error of another rule (a secret, an error file...): kept apart. */
  policyErrors: string[];
  crashes: string[];
  /** Refused files whose MapServer message names a line that no error of ours names. */
  wrongLines: string[];
}

/** Every .map file below a folder, any case of the extension. */
export function mapfilesBelow(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (/\.map$/i.test(name)) out.push(path);
    }
  };
  walk(root);
  return out;
}

export function confusion(report: LintReport, root: string, verdicts: Record<string, Verdict>): Confusion {
  const table: Confusion = { mapfiles: 0, loads: 0, refused: 0, caught: [], falseErrors: [], missed: [], policyErrors: [], crashes: [], wrongLines: [] };
  for (const file of report.mapfiles) {
    const name = relative(root, file);
    const verdict = verdicts[name];
    if (!verdict) throw new Error(`no MapServer verdict for ${name}`);
    const errors = (report.byMapfile[file] ?? []).filter((f) => f.severity === 'error');
    if (errors.some((f) => f.message.startsWith(INTERNAL_ERROR))) table.crashes.push(name);
    const loadErrors = errors.filter((f) => LOAD_RULES.has(f.rule));
    table.mapfiles++;
    if (verdict.loads) {
      table.loads++;
      if (loadErrors.length > 0) table.falseErrors.push(`${name}: ${loadErrors[0]?.line}: ${loadErrors[0]?.message}`);
      else if (errors.length > 0) table.policyErrors.push(`${name}: ${errors[0]?.rule}`);
      continue;
    }
    table.refused++;
    if (loadErrors.length === 0) {
      table.missed.push(`${name}: ${verdict.says ?? ''}`);
      continue;
    }
    table.caught.push(name);
    const line = /\(line (\d+)\)/.exec(verdict.says ?? '')?.[1];
    if (line && !loadErrors.some((f) => f.line === Number(line))) table.wrongLines.push(`${name}: MapServer line ${line}, ours ${loadErrors.map((f) => f.line).join(',')}`);
  }
  return table;
}

export function formatConfusion(title: string, c: Confusion): string {
  return [
    `${title}: ${c.mapfiles} mapfiles, MapServer loads ${c.loads} and refuses ${c.refused}`,
    `  false errors (loads, we say it does not): ${c.falseErrors.length}`,
    `  missed errors (refused, we found no load error): ${c.missed.length}`,
    `  caught: ${c.caught.length} of ${c.refused}; wrong lines: ${c.wrongLines.length}; crashes: ${c.crashes.length}`,
    `  loads but a serving rule errs (secrets, error files...): ${c.policyErrors.length}`,
    ...[...c.falseErrors, ...c.missed, ...c.wrongLines, ...c.crashes, ...c.policyErrors].map((l) => `    ${l}`),
  ].join('\n');
}
