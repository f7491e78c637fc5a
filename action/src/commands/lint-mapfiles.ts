// lint-mapfiles: findings go to standard output (text or JSON) so they can be piped; the counts
// and MapServer's status go to the log. In GitHub Actions each finding also becomes an annotation.
import { StepFailure } from '../errors.js';
import { lintInputPaths } from '../mapfiles/lint.js';
import { mirrorLintContext } from '../mapfiles/rules-mirror.js';
import { annotateFindings, formatJson, formatText, summaryLine } from '../mapfiles/lint-output.js';
import { checkoutRoot } from '../mapfiles/served.js';
import type { CommandContext } from '../context.js';

export async function lintMapfilesCommand(context: CommandContext): Promise<void> {
  const { settings, reporter, env } = context;
  const cwd = process.cwd();
  const report = await lintInputPaths({
    paths: settings.paths,
    mapfilesDir: settings.mapfilesDir,
    cwd,
    env,
    projectRoot: checkoutRoot(context),
    mapserver: settings.lintMapserver,
    image: settings.image,
    mirror: mirrorLintContext(settings),
  });
  if (settings.format === 'json') process.stdout.write(`${formatJson(report, cwd)}\n`);
  else {
    for (const line of formatText(report, cwd)) process.stdout.write(`${line}\n`);
    annotateFindings(report, env);
  }
  const summary = summaryLine(report);
  reporter.info(summary);
  reporter.summaryRow('lint-mapfiles', summary);
  if (report.errors > 0) {
    throw new StepFailure(`lint-mapfiles found ${report.errors} error${report.errors === 1 ? '' : 's'}`, { state: 'nothing was changed' });
  }
}
