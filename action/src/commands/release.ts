// release: base AMI -> bake -> image -> deploy -> roll -> cleanup. Each step can be skipped; an
// ami-id or image input stands in for bake or image. Every way the plan cannot work is reported
// before the first step runs.
import { InputError, type InputProblem } from '../errors.js';
import type { ReleaseStep } from '../inputs.js';
import { bakeAmi } from '../steps/bake.js';
import { resolveBaseAmi } from '../steps/base-ami.js';
import { cleanupAmis } from '../steps/cleanup.js';
import { deployService } from '../steps/deploy.js';
import { buildAndPushImage } from '../steps/image.js';
import { rollInstances } from '../steps/roll.js';
import type { CommandContext } from './context.js';

export interface ReleasePlan {
  run: ReadonlySet<ReleaseStep>;
  notes: Map<ReleaseStep, string>;
}

export function planRelease(settings: CommandContext['settings']): ReleasePlan {
  const skip = settings.skipSteps;
  const run = new Set<ReleaseStep>();
  const notes = new Map<ReleaseStep, string>();
  const problems: InputProblem[] = [];
  const bakes = !settings.amiId && !skip.has('bake');
  if (settings.amiId) {
    notes.set('base-ami', 'not needed: ami-id given');
    notes.set('bake', `given: ${settings.amiId}`);
  } else if (skip.has('bake')) {
    notes.set('bake', 'skipped');
    notes.set('base-ami', skip.has('base-ami') ? 'skipped' : 'not needed: bake skipped');
  } else {
    run.add('bake');
    if (skip.has('base-ami')) {
      notes.set('base-ami', settings.baseAmiId ? `given: ${settings.baseAmiId}` : 'skipped');
      if (!settings.baseAmiId) problems.push({ input: 'base-ami-id', message: 'is required when the base-ami step is skipped and bake runs' });
    } else run.add('base-ami');
  }
  if (settings.image) notes.set('image', `given: ${settings.image}`);
  else if (skip.has('image')) notes.set('image', 'skipped');
  else run.add('image');
  for (const step of ['deploy', 'roll', 'cleanup'] as const) {
    if (skip.has(step)) notes.set(step, 'skipped');
    else run.add(step);
  }
  if (run.has('deploy') && !settings.image && !run.has('image')) {
    problems.push({ input: 'image', message: 'is required when the image step is skipped and deploy runs (or skip deploy too)' });
  }
  if (settings.image && run.has('deploy') && !settings.image.includes('@sha256:')) {
    problems.push({ input: 'image', message: `expected an image by digest (repository@sha256:<64 hex>) to deploy, got ${JSON.stringify(settings.image)}` });
  }
  if (run.has('roll') && !settings.amiId && !bakes) {
    problems.push({ input: 'ami-id', message: 'is required when the bake step is skipped and roll runs (or skip roll too)' });
  }
  if (problems.length > 0) throw new InputError(problems);
  return { run, notes };
}

export async function releaseCommand(ctx: CommandContext): Promise<void> {
  const { settings, reporter } = ctx;
  const plan = planRelease(settings);
  const note = (step: ReleaseStep): void => reporter.summaryRow(step, plan.notes.get(step) ?? 'skipped');
  const attempt = async <T>(step: ReleaseStep, title: string, fn: () => Promise<T>): Promise<T> => {
    try {
      return await reporter.group(title, fn);
    } catch (error) {
      reporter.summaryRow(step, `failed: ${(error as Error).message.split('\n')[0] ?? ''}`);
      throw error;
    }
  };

  let baseAmiId = settings.baseAmiId;
  if (plan.run.has('base-ami')) {
    baseAmiId = await attempt('base-ami', 'Resolve the base AMI', () => resolveBaseAmi(ctx));
    reporter.summaryRow('base-ami', baseAmiId);
  } else note('base-ami');
  if (baseAmiId) reporter.setOutput('base-ami-id', baseAmiId);

  let amiId = settings.amiId;
  if (plan.run.has('bake')) {
    const base = baseAmiId ?? '';
    amiId = (await attempt('bake', 'Bake the AMI', () => bakeAmi(ctx, base))).amiId;
    reporter.summaryRow('bake', amiId);
  } else note('bake');
  if (amiId) reporter.setOutput('ami-id', amiId);

  let imageUri = settings.image;
  if (plan.run.has('image')) {
    imageUri = (await attempt('image', 'Build and push the image', () => buildAndPushImage(ctx))).imageUri;
    reporter.summaryRow('image', imageUri);
  } else note('image');
  if (imageUri) reporter.setOutput('image-uri', imageUri);

  if (plan.run.has('deploy') && imageUri) {
    const image = imageUri;
    const { taskDefinitionArn } = await attempt('deploy', 'Deploy the service', () => deployService(ctx, image));
    reporter.setOutput('task-definition-arn', taskDefinitionArn);
    reporter.summaryRow('deploy', `${settings.service} runs ${taskDefinitionArn}`);
  } else note('deploy');

  if (plan.run.has('roll') && amiId) {
    const ami = amiId;
    const rolled = await attempt('roll', 'Roll the instances', () => rollInstances(ctx, ami));
    reporter.setOutput('launch-template-version', rolled.launchTemplateVersion);
    reporter.setOutput('instance-refresh-id', rolled.instanceRefreshId);
    reporter.summaryRow('roll', `launch template version ${rolled.launchTemplateVersion}, refresh ${rolled.instanceRefreshId}`);
  } else note('roll');

  if (plan.run.has('cleanup')) {
    const { deregistered } = await attempt('cleanup', 'Clean up old AMIs', () => cleanupAmis(ctx));
    reporter.setOutput('deregistered-amis', deregistered.join(','));
    reporter.summaryRow('cleanup', deregistered.length > 0 ? `${settings.dryRun ? 'would deregister' : 'deregistered'} ${deregistered.join(', ')}` : 'nothing to deregister');
  } else note('cleanup');
}
