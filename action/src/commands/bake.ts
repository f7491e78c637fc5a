import { resolveBaseAmi } from '../steps/base-ami.js';
import { bakeAmi, emulatorEndpoint } from '../steps/bake.js';
import type { CommandContext } from './context.js';

export async function bakeCommand(context: CommandContext): Promise<void> {
  const { reporter } = context;
  const baseAmiId = await resolveBaseAmi(context);
  reporter.setOutput('base-ami-id', baseAmiId);
  reporter.summaryRow('base AMI', baseAmiId);
  const { amiId } = await bakeAmi(context, baseAmiId);
  reporter.setOutput('ami-id', amiId);
  const emulated = emulatorEndpoint(context.env) ? ' (emulator: not provisioned)' : '';
  reporter.summaryRow('bake', `${amiId} with ${context.settings.mountDriver}${emulated}`);
}
