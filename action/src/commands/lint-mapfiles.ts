// lint-mapfiles: findings go to standard output (text or JSON) so they can be piped; the counts
// and MapServer's status go to the log. In GitHub Actions each finding also becomes an annotation.
import * as core from '@actions/core';
import { InputError, StepFailure } from '../errors.js';
import { displayPath, formatJson, formatText, LintPathError, lintMapfiles, summaryLine, type LintReport } from '../mapfiles/lint.js';
import type { CommandContext } from './context.js';

export async function runLint(context: CommandContext, paths: readonly string[]): Promise<LintReport> {
  const { settings, env } = context;
  let projectRoot: string | undefined;
  try {
    projectRoot = context.root;
  } catch {
    projectRoot = undefined;
  }
  try {
    return await lintMapfiles({ paths, mapfilesDir: settings.mapfilesDir, cwd: process.cwd(), env, ...(projectRoot ? { projectRoot } : {}) });
  } catch (error) {
    if (error instanceof LintPathError) {
      throw new InputError([{ input: paths.length > 0 ? 'files or folders' : 'mapfiles-dir', message: `expected existing mapfiles or folders: ${error.message}` }]);
    }
    throw error;
  }
}

export function annotate(report: LintReport, env: NodeJS.ProcessEnv): void {
  if (env.GITHUB_ACTIONS !== 'true') return;
  const cwd = process.cwd();
  for (const f of report.findings) {
    const properties = { file: displayPath(f.file, cwd), startLine: f.line, title: `lint-mapfiles: ${f.rule}` };
    if (f.severity === 'error') core.error(f.message, properties);
    else core.warning(f.message, properties);
  }
}

export async function lintMapfilesCommand(context: CommandContext): Promise<void> {
  const { settings, reporter } = context;
  const report = await runLint(context, settings.paths);
  const cwd = process.cwd();
  if (settings.format === 'json') process.stdout.write(`${formatJson(report, cwd)}\n`);
  else {
    for (const line of formatText(report, cwd)) process.stdout.write(`${line}\n`);
    annotate(report, context.env);
  }
  const summary = summaryLine(report);
  reporter.info(summary);
  reporter.summaryRow('lint-mapfiles', summary);
  if (report.errors > 0) {
    throw new StepFailure(`lint-mapfiles found ${report.errors} error${report.errors === 1 ? '' : 's'}`, { state: 'nothing was changed' });
  }
}
