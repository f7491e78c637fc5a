// How a lint report is shown: `file:line: severity: message [rule]` lines as compilers print them,
// JSON, the one-line summary, and GitHub annotations when running in GitHub Actions.
import { relative } from 'node:path';
import * as core from '@actions/core';
import { isInside } from './folder.js';
import type { LintReport } from './lint.js';

/** Paths relative to the working folder when inside it, as compilers print them. */
export function displayPath(file: string, cwd: string): string {
  return isInside(file, cwd) ? relative(cwd, file) : file;
}

export function formatText(report: LintReport, cwd: string): string[] {
  return report.findings.map((f) => `${displayPath(f.file, cwd)}:${f.line}: ${f.severity}: ${f.message} [${f.rule}]`);
}

export function formatJson(report: LintReport, cwd: string): string {
  return JSON.stringify(
    {
      mapfiles: report.mapfiles.map((f) => displayPath(f, cwd)),
      sideFiles: report.sideFiles.map((f) => displayPath(f, cwd)),
      errors: report.errors,
      warnings: report.warnings,
      mapserver: report.mapserver,
      findings: report.findings.map((f) => ({ ...f, file: displayPath(f.file, cwd) })),
    },
    null,
    2,
  );
}

export function summaryLine(report: LintReport): string {
  const files = `${report.mapfiles.length} mapfile${report.mapfiles.length === 1 ? '' : 's'}`;
  const side = report.sideFiles.length > 0 ? ` and ${report.sideFiles.length} side file${report.sideFiles.length === 1 ? '' : 's'}` : '';
  const ms = mapServerLine(report);
  return `${report.errors} error${report.errors === 1 ? '' : 's'}, ${report.warnings} warning${report.warnings === 1 ? '' : 's'} in ${files}${side}; ${ms}`;
}

/** Which MapServer judged, and how it differs from the one that serves. */
export function mapServerLine({ mapserver }: LintReport): string {
  if (!mapserver.checked) return `MapServer's check skipped: ${mapserver.skipped}`;
  const version = mapserver.version ? ` ${mapserver.version}` : '';
  if (mapserver.image) return `the image's MapServer${version} (${mapserver.image}) loaded each mapfile from its own folder`;
  return `this machine's MapServer${version} (${mapserver.tool}) loaded each mapfile${mapserver.note ? `; note: ${mapserver.note}` : ''}`;
}

/** In GitHub Actions each finding also becomes an annotation on its file and line. */
export function annotateFindings(report: LintReport, env: NodeJS.ProcessEnv): void {
  if (env.GITHUB_ACTIONS !== 'true') return;
  const cwd = process.cwd();
  for (const f of report.findings) {
    const properties = { file: displayPath(f.file, cwd), startLine: f.line, title: `lint-mapfiles: ${f.rule}` };
    if (f.severity === 'error') core.error(f.message, properties);
    else core.warning(f.message, properties);
  }
}
