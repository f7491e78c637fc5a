// roll: move the Auto Scaling group onto an AMI with a new launch template version and an instance refresh.
import { rollInstances } from '../steps/roll.js';
import type { CommandContext } from '../context.js';

export async function rollCommand(ctx: CommandContext): Promise<void> {
  // The settings require ami-id for roll before any command runs.
  const amiId = ctx.settings.amiId;
  if (!amiId) throw new Error('bug: the roll command started without ami-id');
  const rolled = await ctx.reporter.group('Roll the instances', () => rollInstances(ctx, amiId));
  ctx.reporter.setOutput('ami-id', amiId);
  ctx.reporter.setOutput('launch-template-version', rolled.launchTemplateVersion);
  if (rolled.unchanged) {
    ctx.reporter.summaryRow('roll', `unchanged: ${ctx.settings.autoScalingGroup} runs ${amiId} (launch template version ${rolled.launchTemplateVersion})`);
    return;
  }
  ctx.reporter.setOutput('instance-refresh-id', rolled.instanceRefreshId);
  ctx.reporter.summaryRow('roll', `${ctx.settings.autoScalingGroup} on ${amiId} (launch template version ${rolled.launchTemplateVersion}, refresh ${rolled.instanceRefreshId})`);
}
