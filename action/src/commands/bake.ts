// bake: the base AMI, then an AMI with the bucket mount, reused when one was baked from the same inputs.
import { followClusterArchitecture } from '../aws/launch-template.js';
import { endpointOverride } from '../endpoint.js';
import { bakeAmi, decideBake } from '../steps/bake.js';
import { resolveBaseAmi } from '../steps/base-ami.js';
import type { CommandContext } from '../context.js';

export async function bakeCommand(given: CommandContext): Promise<void> {
  const ctx = await followClusterArchitecture(given);
  const { reporter } = ctx;
  const baseAmiId = await resolveBaseAmi(ctx);
  reporter.setOutput('base-ami-id', baseAmiId);
  reporter.summaryRow('base AMI', baseAmiId);
  // An AMI baked from the same inputs is reused, unless force says otherwise.
  const decision = await decideBake(ctx, baseAmiId);
  reporter.info(`bake: ${decision.reason}`);
  if (decision.reuse) {
    reporter.setOutput('ami-id', decision.reuse);
    reporter.summaryRow('bake', decision.reason);
    return;
  }
  if (ctx.settings.dryRun) {
    reporter.summaryRow('bake', `would ${decision.reason} (dry-run: Packer not run)`);
    return;
  }
  const { amiId } = await bakeAmi(ctx, baseAmiId, { fingerprint: decision.fingerprint });
  reporter.setOutput('ami-id', amiId);
  const emulated = endpointOverride(ctx.env, 'EC2') ? ' (emulator: not provisioned)' : '';
  reporter.summaryRow('bake', `${amiId} with ${ctx.settings.mountDriver}${emulated}: ${decision.reason}`);
}
