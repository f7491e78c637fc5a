import { endpointOverride } from '../endpoint.js';
import { bakeAmi, decideBake } from '../steps/bake.js';
import { resolveBaseAmi } from '../steps/base-ami.js';
import type { CommandContext } from '../context.js';

export async function bakeCommand(context: CommandContext): Promise<void> {
  const { reporter } = context;
  const baseAmiId = await resolveBaseAmi(context);
  reporter.setOutput('base-ami-id', baseAmiId);
  reporter.summaryRow('base AMI', baseAmiId);
  // An AMI baked from the same inputs is reused, unless force says otherwise.
  const decision = await decideBake(context, baseAmiId);
  reporter.info(`bake: ${decision.reason}`);
  if (decision.reuse) {
    reporter.setOutput('ami-id', decision.reuse);
    reporter.summaryRow('bake', decision.reason);
    return;
  }
  if (context.settings.dryRun) {
    reporter.summaryRow('bake', `would ${decision.reason} (dry-run: Packer not run)`);
    return;
  }
  const { amiId } = await bakeAmi(context, baseAmiId, { fingerprint: decision.fingerprint });
  reporter.setOutput('ami-id', amiId);
  const emulated = endpointOverride(context.env, 'EC2') ? ' (emulator: not provisioned)' : '';
  reporter.summaryRow('bake', `${amiId} with ${context.settings.mountDriver}${emulated}: ${decision.reason}`);
}
