// bootstrap: create whatever is missing around the service and say what was created or left alone.
import { bootstrap } from '../steps/bootstrap.js';
import type { CommandContext } from '../context.js';

export async function bootstrapCommand(ctx: CommandContext): Promise<void> {
  const result = await ctx.reporter.group('Bootstrap the cluster', () => bootstrap(ctx));
  const verb = ctx.settings.dryRun ? 'would create' : 'created';
  for (const item of result.created) ctx.reporter.summaryRow(`${item.kind} ${item.name}`, `${verb}${item.detail ? `: ${item.detail}` : ''}`);
  for (const item of result.unchanged) ctx.reporter.summaryRow(`${item.kind} ${item.name}`, 'exists, unchanged');
  for (const item of result.skipped) ctx.reporter.summaryRow(`${item.kind} ${item.name}`, `skipped: ${item.detail}`);
  if (result.created.length === 0) ctx.reporter.summaryRow('bootstrap', 'nothing changed');
}
