// release: base AMI -> bake -> image -> deploy -> roll -> cleanup. Each step can be skipped; an
// ami-id or image input stands in for bake or image. Every way the plan cannot work is reported
// before the first step runs, and each step's decision (reuse or make, with the reason) is read
// before anything changes: --dry-run prints that plan and stops.
import { InputError, StepFailure, type InputProblem } from '../errors.js';
import { RELEASE_STEPS, type ReleaseStep } from '../inputs.js';
import { bakeAmi, decideBake } from '../steps/bake.js';
import { resolveBaseAmi } from '../steps/base-ami.js';
import { cleanupAmis } from '../steps/cleanup.js';
import { decideDeploy, deployService, revisionName } from '../steps/deploy.js';
import { buildAndPushImage, decideImage } from '../steps/image.js';
import { decideRoll, rollInstances } from '../steps/roll.js';
import type { CommandContext } from '../context.js';

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

/** One line per step: what the release will do and why, decided before anything changes. */
export type StepPlan = Map<ReleaseStep, string>;

export function formatPlan(lines: StepPlan): string {
  return RELEASE_STEPS.filter((step) => lines.has(step))
    .map((step) => `${step}: ${lines.get(step) ?? ''}`)
    .join('\n');
}

export async function releaseCommand(ctx: CommandContext): Promise<void> {
  const { settings, reporter } = ctx;
  const plan = planRelease(settings);
  const attempt = async <T>(step: ReleaseStep, title: string, fn: () => Promise<T>): Promise<T> => {
    try {
      return await reporter.group(title, fn);
    } catch (error) {
      reporter.summaryRow(step, `failed: ${(error as Error).message.split('\n')[0] ?? ''}`);
      throw error;
    }
  };

  // The plan: every decision read from AWS and the checkout before anything changes. A step whose
  // inputs are unchanged is not run at all, so a release with nothing new makes no change.
  const lines: StepPlan = new Map();
  for (const step of RELEASE_STEPS) if (!plan.run.has(step)) lines.set(step, plan.notes.get(step) ?? 'skipped');
  let baseAmiId = settings.baseAmiId;
  if (plan.run.has('base-ami')) {
    baseAmiId = await attempt('base-ami', 'Resolve the base AMI', () => resolveBaseAmi(ctx));
    lines.set('base-ami', baseAmiId);
  }
  const bake = plan.run.has('bake') ? await attempt('bake', 'Plan: bake or reuse the AMI', () => decideBake(ctx, baseAmiId ?? '')) : undefined;
  if (bake) lines.set('bake', bake.reason);
  const image = plan.run.has('image') ? await attempt('image', 'Plan: build or reuse the image', () => decideImage(ctx)) : undefined;
  if (image) lines.set('image', image.reason);
  const plannedImage = image ? image.reuse : settings.image;
  const deploy = plan.run.has('deploy')
    ? await attempt('deploy', 'Plan: deploy', () => decideDeploy(ctx, plannedImage))
    : undefined;
  if (deploy) lines.set('deploy', deploy.reason);
  const plannedAmi = bake ? bake.reuse : settings.amiId;
  const roll = plan.run.has('roll') ? await attempt('roll', 'Plan: roll', () => decideRoll(ctx, plannedAmi)) : undefined;
  if (roll) lines.set('roll', roll.reason);
  if (plan.run.has('cleanup')) lines.set('cleanup', `deregister AMIs beyond keep-amis ${settings.keepAmis} that nothing uses`);

  if (settings.dryRun) {
    if (plan.run.has('cleanup')) {
      const { deregistered } = await attempt('cleanup', 'Plan: clean up old AMIs', () => cleanupAmis(ctx));
      lines.set('cleanup', deregistered.length > 0 ? `would deregister ${deregistered.join(', ')}` : 'nothing to deregister');
    }
    reporter.info(`Release plan (dry-run: nothing changed):\n${indent(formatPlan(lines))}`);
    reporter.setOutput('plan', formatPlan(lines));
    for (const step of RELEASE_STEPS) reporter.summaryRow(step, lines.get(step) ?? 'skipped');
    return;
  }
  reporter.info(`Release plan:\n${indent(formatPlan(lines))}`);
  reporter.setOutput('plan', formatPlan(lines));
  // A roll that cannot start would fail after the bake, the build and the deployment: stop first.
  if (roll?.blocked) {
    reporter.summaryRow('roll', `failed: ${roll.reason}`);
    throw new StepFailure(`The release cannot roll the instances: ${roll.reason}`, { state: 'nothing changed' });
  }

  // What each step did, one line each, for the log, the summary and (at the end) the plan output.
  const results: StepPlan = new Map(lines);
  const done = (step: ReleaseStep, text: string): void => {
    results.set(step, text);
    reporter.info(`${step}: ${text}`);
    reporter.summaryRow(step, text);
  };
  if (baseAmiId) reporter.setOutput('base-ami-id', baseAmiId);
  done('base-ami', lines.get('base-ami') ?? 'skipped');

  let amiId = settings.amiId;
  if (bake?.reuse) {
    amiId = bake.reuse;
    done('bake', bake.reason);
  } else if (bake) {
    const base = baseAmiId ?? '';
    amiId = (await attempt('bake', 'Bake the AMI', () => bakeAmi(ctx, base, { fingerprint: bake.fingerprint }))).amiId;
    done('bake', `baked ${amiId}: ${bake.reason}`);
  } else done('bake', lines.get('bake') ?? 'skipped');
  if (amiId) reporter.setOutput('ami-id', amiId);

  let imageUri = settings.image;
  if (image?.reuse) {
    imageUri = image.reuse;
    done('image', image.reason);
  } else if (image) {
    imageUri = (await attempt('image', 'Build and push the image', () => buildAndPushImage(ctx, undefined, image.fingerprint))).imageUri;
    done('image', `pushed ${imageUri}: ${image.reason}`);
  } else done('image', lines.get('image') ?? 'skipped');
  if (imageUri) reporter.setOutput('image-uri', imageUri);

  if (deploy?.unchanged && deploy.taskDefinitionArn) {
    reporter.setOutput('task-definition-arn', deploy.taskDefinitionArn);
    done('deploy', deploy.reason);
  } else if (deploy && imageUri) {
    const uri = imageUri;
    const deployed = await attempt('deploy', 'Deploy the service', () => deployService(ctx, uri));
    reporter.setOutput('task-definition-arn', deployed.taskDefinitionArn);
    done('deploy', deployed.unchanged ? `unchanged (${settings.service} runs ${revisionName(deployed.taskDefinitionArn)})` : `${settings.service} runs ${deployed.taskDefinitionArn} (${deploy.reason})`);
  } else done('deploy', lines.get('deploy') ?? 'skipped');

  if (roll?.unchanged && roll.launchTemplateVersion) {
    reporter.setOutput('launch-template-version', roll.launchTemplateVersion);
    done('roll', roll.reason);
  } else if (roll && amiId) {
    const ami = amiId;
    const rolled = await attempt('roll', 'Roll the instances', () => rollInstances(ctx, ami));
    reporter.setOutput('launch-template-version', rolled.launchTemplateVersion);
    if (rolled.unchanged) done('roll', `unchanged (launch template version ${rolled.launchTemplateVersion}, ${ami})`);
    else {
      reporter.setOutput('instance-refresh-id', rolled.instanceRefreshId);
      done('roll', `launch template version ${rolled.launchTemplateVersion}, refresh ${rolled.instanceRefreshId} (${roll.reason})`);
    }
  } else done('roll', lines.get('roll') ?? 'skipped');

  if (plan.run.has('cleanup')) {
    const { deregistered } = await attempt('cleanup', 'Clean up old AMIs', () => cleanupAmis(ctx));
    reporter.setOutput('deregistered-amis', deregistered.join(','));
    done('cleanup', deregistered.length > 0 ? `deregistered ${deregistered.join(', ')}` : 'nothing to deregister');
  } else done('cleanup', lines.get('cleanup') ?? 'skipped');

  reporter.setOutput('plan', formatPlan(results));
  const changed = Boolean((bake && !bake.reuse) || (image && !image.reuse) || (deploy && !deploy.unchanged) || (roll && !roll.unchanged));
  if (!changed) reporter.info('Release changed nothing: the AMI, the image, the task definition and the instances were already current');
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((line) => `  ${line}`)
    .join('\n');
}
