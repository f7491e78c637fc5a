// sync-mapfiles: lint the folder (nothing is uploaded when any file has an error), compare it with
// bucket/prefix by checksum, then upload what is new or changed, fix s3fs owner/mode headers,
// and with `delete` remove objects whose files are gone. `dry-run` prints the plan only.
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { InputError, StepFailure } from '../errors.js';
import { lintInputPaths, type LintReport } from '../mapfiles/lint.js';
import { mirrorLintContext } from '../mapfiles/rules-mirror.js';
import { annotateFindings, formatText, summaryLine } from '../mapfiles/lint-output.js';
import { checkoutRoot } from '../mapfiles/served.js';
import { formatAction, formatBytes, formatPlanSummary, formatSyncResult, planSync, scanLocal, syncedFileCount, type SyncPlan } from '../mapfiles/sync.js';
import { applySyncPlan, readRemote } from '../mapfiles/sync-bucket.js';
import type { CommandContext } from '../context.js';

export async function syncMapfilesCommand(context: CommandContext): Promise<void> {
  const { settings, reporter } = context;
  const bucket = settings.bucket as string;
  const where = `s3://${bucket}/${settings.bucketPrefix}`;
  const dir = await mapfilesFolder(settings.mapfilesDir);
  const report = await reporter.group('Lint the mapfiles', () => lintFolder(context, dir));
  reporter.summaryRow('lint', summaryLine(report));
  if (report.errors > 0) {
    throw new StepFailure(`lint found ${report.errors} error${report.errors === 1 ? '' : 's'} in ${settings.mapfilesDir}; fix them first`, {
      state: `nothing was uploaded or deleted in ${where}`,
    });
  }

  const local = await scanLocal(dir);
  if (local.length === 0 && settings.delete) {
    throw new StepFailure(`${settings.mapfilesDir} holds no files: refusing to delete everything under ${where}`, { state: 'nothing was changed' });
  }
  const s3 = context.clients.s3;
  const plan = await reporter.group(`Compare with ${where}`, async () => {
    const remote = await readRemote(s3, bucket, settings.bucketPrefix, local);
    const result = planSync(local, remote, { prefix: settings.bucketPrefix, deleteRemoved: settings.delete });
    reporter.info(formatPlanSummary(local, remote.size, result));
    return result;
  });
  if (settings.dryRun) {
    reportDryRun(context, plan);
    return;
  }

  const changes = plan.actions.length;
  const bytes = plan.actions.reduce((sum, a) => sum + (a.kind === 'upload' ? a.file.size : 0), 0);
  const done = await reporter.group(`Sync ${changes} change${changes === 1 ? '' : 's'} (${formatBytes(bytes)} to upload)`, () =>
    applySyncPlan({ s3, bucket, reporter }, plan.actions),
  );
  reporter.setOutput('synced-files', String(syncedFileCount(done)));
  reporter.summaryRow('sync-mapfiles', formatSyncResult(done, plan.unchanged));
}

/** The mapfiles-dir input, resolved, when it is a folder. */
async function mapfilesFolder(mapfilesDir: string): Promise<string> {
  const dir = resolve(mapfilesDir);
  const info = await stat(dir).catch(() => undefined);
  if (!info?.isDirectory()) {
    throw new InputError([{ input: 'mapfiles-dir', message: `expected a folder of mapfiles, got ${JSON.stringify(mapfilesDir)} (${info ? 'not a folder' : 'not found'})` }]);
  }
  return dir;
}

/** Findings go to the log (and annotations) here: standard output stays free in a sync. */
async function lintFolder(context: CommandContext, dir: string): Promise<LintReport> {
  const { settings, reporter, env } = context;
  const report = await lintInputPaths({
    paths: [dir],
    mapfilesDir: settings.mapfilesDir,
    cwd: process.cwd(),
    env,
    projectRoot: checkoutRoot(context),
    mapserver: settings.lintMapserver,
    image: settings.image,
    mirror: mirrorLintContext(settings),
  });
  for (const line of formatText(report, process.cwd())) reporter.info(line);
  annotateFindings(report, env);
  reporter.info(summaryLine(report));
  return report;
}

function reportDryRun({ settings, reporter }: CommandContext, plan: SyncPlan): void {
  const changes = plan.actions.length;
  for (const action of plan.actions) reporter.info(`would ${formatAction(action, settings.bucket as string)}`);
  if (!settings.delete) reporter.info('objects of removed files are kept (set delete to remove them)');
  reporter.setOutput('synced-files', String(syncedFileCount(plan.actions)));
  reporter.summaryRow('sync-mapfiles', `dry run: ${changes} change${changes === 1 ? '' : 's'} planned, nothing changed`);
}
