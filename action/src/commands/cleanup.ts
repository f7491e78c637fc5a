// cleanup: deregister old AMIs beyond keep-amis and, for the mirror driver, delete the event queues of
// instances that have ended.
import { cleanupAmis } from '../steps/cleanup.js';
import { sweepMirrorQueues } from '../steps/mirror-events.js';
import type { CommandContext } from '../context.js';

export async function cleanupCommand(ctx: CommandContext): Promise<void> {
  const { deregistered, orphanedSnapshots, sweptSnapshots } = await ctx.reporter.group('Clean up old AMIs', () => cleanupAmis(ctx));
  ctx.reporter.setOutput('deregistered-amis', deregistered.join(','));
  const verb = ctx.settings.dryRun ? 'would deregister' : 'deregistered';
  ctx.reporter.summaryRow('cleanup', deregistered.length > 0 ? `${verb} ${deregistered.join(', ')}` : 'nothing to deregister');
  if (orphanedSnapshots.length > 0) ctx.reporter.summaryRow('cleanup', `snapshots left over (a later cleanup deletes them): ${orphanedSnapshots.map((o) => o.snapshotId).join(', ')}`);
  if (sweptSnapshots?.length) ctx.reporter.summaryRow('cleanup', `${ctx.settings.dryRun ? 'would delete' : 'deleted'} snapshots earlier cleanups left over: ${sweptSnapshots.join(', ')}`);
  if (ctx.settings.mountDriver === 'mirror') {
    const sweep = await ctx.reporter.group('Delete the event queues of ended instances', () => sweepMirrorQueues(ctx));
    const queueVerb = ctx.settings.dryRun ? 'would delete' : 'deleted';
    ctx.reporter.info(sweep.deleted.length > 0 ? `${queueVerb} ${sweep.deleted.length} queue(s): ${sweep.deleted.join(', ')}` : 'no queue of an ended instance');
    if (sweep.deleted.length > 0) ctx.reporter.summaryRow('cleanup', `${queueVerb} ${sweep.deleted.length} event queue(s) of ended instances`);
  }
}
