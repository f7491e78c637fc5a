import { cleanupAmis } from '../steps/cleanup.js';
import type { CommandContext } from './context.js';

export async function cleanupCommand(ctx: CommandContext): Promise<void> {
  const { deregistered } = await ctx.reporter.group('Clean up old AMIs', () => cleanupAmis(ctx));
  ctx.reporter.setOutput('deregistered-amis', deregistered.join(','));
  const verb = ctx.settings.dryRun ? 'would deregister' : 'deregistered';
  ctx.reporter.summaryRow('cleanup', deregistered.length > 0 ? `${verb} ${deregistered.join(', ')}` : 'nothing to deregister');
}
