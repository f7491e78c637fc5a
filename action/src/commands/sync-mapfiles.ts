// sync-mapfiles: lint the folder (nothing is uploaded when any file has an error), compare it with
// bucket/prefix by checksum, then upload what is new or changed, fix s3fs owner/mode headers,
// and with `delete` remove objects whose files are gone. `dry-run` prints the plan only.
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { InputError, StepFailure } from '../errors.js';
import { formatText, summaryLine } from '../mapfiles/lint.js';
import {
  deleteObjects,
  describeAction,
  formatBytes,
  listRemote,
  planSync,
  readMetadata,
  refreshMetadata,
  scanLocal,
  uploadFile,
  type RemoteObject,
  type SyncAction,
  type Uploader,
} from '../mapfiles/sync.js';
import type { CommandContext } from './context.js';
import { annotate, runLint } from './lint-mapfiles.js';

export async function syncMapfilesCommand(context: CommandContext): Promise<void> {
  const { settings, reporter } = context;
  const bucket = settings.bucket as string;
  const dir = resolve(settings.mapfilesDir);
  const info = await stat(dir).catch(() => undefined);
  if (!info?.isDirectory()) {
    throw new InputError([{ input: 'mapfiles-dir', message: `expected a folder of mapfiles, got ${JSON.stringify(settings.mapfilesDir)} (${info ? 'not a folder' : 'not found'})` }]);
  }

  const report = await reporter.group('Lint the mapfiles', async () => {
    const result = await runLint(context, [dir]);
    for (const line of formatText(result, process.cwd())) reporter.info(line);
    annotate(result, context.env);
    reporter.info(summaryLine(result));
    return result;
  });
  reporter.summaryRow('lint', summaryLine(report));
  if (report.errors > 0) {
    throw new StepFailure(`lint found ${report.errors} error${report.errors === 1 ? '' : 's'} in ${settings.mapfilesDir}; fix them first`, {
      state: `nothing was uploaded or deleted in s3://${bucket}/${settings.bucketPrefix}`,
    });
  }

  const local = await scanLocal(dir);
  if (local.length === 0 && settings.delete) {
    throw new StepFailure(`${settings.mapfilesDir} holds no files: refusing to delete everything under s3://${bucket}/${settings.bucketPrefix}`, {
      state: 'nothing was changed',
    });
  }
  const s3 = context.clients.s3;
  const plan = await reporter.group(`Compare with s3://${bucket}/${settings.bucketPrefix}`, async () => {
    let remote: Map<string, RemoteObject>;
    try {
      remote = await listRemote(s3, bucket, settings.bucketPrefix);
      const prefix = settings.bucketPrefix;
      await readMetadata(s3, bucket, local.map((f) => `${prefix}${f.relPath}`).filter((k) => remote.has(k)), remote);
    } catch (error) {
      const name = (error as Error).name;
      if (name === 'NoSuchBucket') throw new StepFailure(`bucket ${bucket} does not exist`, { state: 'nothing was changed', cause: error });
      throw new StepFailure(`cannot read s3://${bucket}/${settings.bucketPrefix}: ${name}: ${(error as Error).message}`, { state: 'nothing was changed', cause: error });
    }
    const result = planSync(local, remote, { prefix: settings.bucketPrefix, deleteRemoved: settings.delete });
    const files = local.filter((f) => !f.folder).length;
    const folders = local.length - files;
    reporter.info(
      `${files} local file${files === 1 ? '' : 's'} in ${folders} subfolder${folders === 1 ? '' : 's'}, ${remote.size} object${remote.size === 1 ? '' : 's'} under the prefix: ` +
        `${count(result.actions, 'upload')} to upload, ${count(result.actions, 'metadata')} to fix headers, ${count(result.actions, 'delete')} to delete, ${result.unchanged} unchanged`,
    );
    return result;
  });

  const changes = plan.actions.length;
  if (settings.dryRun) {
    for (const action of plan.actions) reporter.info(`would ${describeAction(action, bucket)}`);
    if (!settings.delete) reporter.info('objects of removed files are kept (set delete to remove them)');
    reporter.setOutput('synced-files', String(fileCount(plan.actions)));
    reporter.summaryRow('sync-mapfiles', `dry run: ${changes} change${changes === 1 ? '' : 's'} planned, nothing changed`);
    return;
  }

  const up: Uploader = { s3, bucket, reporter };
  const done: SyncAction[] = [];
  const bytes = plan.actions.reduce((sum, a) => sum + (a.kind === 'upload' ? a.file.size : 0), 0);
  await reporter.group(`Sync ${changes} change${changes === 1 ? '' : 's'} (${formatBytes(bytes)} to upload)`, async () => {
    for (const action of plan.actions) {
      try {
        if (action.kind === 'upload') await uploadFile(up, action.file, action.key);
        else if (action.kind === 'metadata') await refreshMetadata(up, action.file, action.key);
      } catch (error) {
        throw new StepFailure(`${describeAction(action, bucket)} failed: ${(error as Error).name}: ${(error as Error).message}`, {
          state: stateAfter(done, plan.actions),
          cause: error,
        });
      }
      if (action.kind !== 'delete') {
        done.push(action);
        reporter.info(`${describeAction(action, bucket)}: done (${done.length}/${changes})`);
      }
    }
    const deletions = plan.actions.filter((a): a is Extract<SyncAction, { kind: 'delete' }> => a.kind === 'delete');
    if (deletions.length > 0) {
      try {
        await deleteObjects(up, deletions.map((d) => d.key));
      } catch (error) {
        throw new StepFailure(`deleting ${deletions.length} object(s) failed: ${(error as Error).message}`, { state: stateAfter(done, plan.actions), cause: error });
      }
      for (const d of deletions) {
        done.push(d);
        reporter.info(`${describeAction(d, bucket)}: done`);
      }
    }
  });
  reporter.setOutput('synced-files', String(fileCount(done)));
  reporter.summaryRow(
    'sync-mapfiles',
    `${count(done, 'upload')} uploaded, ${count(done, 'metadata')} headers fixed, ${count(done, 'delete')} deleted, ${plan.unchanged} unchanged`,
  );
}

/** synced-files counts files; folder objects are bookkeeping for s3fs. */
function fileCount(actions: readonly SyncAction[]): number {
  return actions.filter((a) => (a.kind === 'delete' ? !a.key.endsWith('/') : !a.file.folder)).length;
}

function count(actions: readonly SyncAction[], kind: SyncAction['kind']): number {
  return actions.filter((a) => a.kind === kind).length;
}

function stateAfter(done: readonly SyncAction[], all: readonly SyncAction[]): string {
  const uploaded = done.filter((a) => a.kind !== 'delete').map((a) => a.key);
  const shown = uploaded.slice(0, 10).join(', ') + (uploaded.length > 10 ? ', ...' : '');
  return `${done.length} of ${all.length} changes made${uploaded.length > 0 ? ` (${shown})` : ''}; ${count(done, 'delete') > 0 ? 'deletions done' : 'nothing deleted'}; run the sync again to finish`;
}
