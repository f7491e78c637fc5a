// release: base AMI -> bake -> image -> deploy -> roll -> cleanup. Each step can be skipped; an
// ami-id or image input stands in for bake or image. Every way the plan cannot work is reported
// before the first step runs, and each step's decision (reuse or make, with the reason) is read
// before anything changes: --dry-run prints that plan and stops.
import { revisionName } from '../aws/ecs.js';
import { followClusterArchitecture } from '../aws/launch-template.js';
import type { CommandContext } from '../context.js';
import { InputError, StepFailure, type InputProblem } from '../errors.js';
import { RELEASE_STEPS, type ReleaseStep } from '../inputs.js';
import { bakeAmi, decideBake, type BakeDecision } from '../steps/bake.js';
import { resolveBaseAmi } from '../steps/base-ami.js';
import { cleanupAmis } from '../steps/cleanup.js';
import { decideDeploy, deployService, type DeployDecision } from '../steps/deploy.js';
import { buildAndPushImage, decideImage, type ImageDecision } from '../steps/image.js';
import { decideRoll, rollInstances, type RollDecision } from '../steps/roll.js';

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

type Attempt = <T>(step: ReleaseStep, title: string, fn: () => Promise<T>) => Promise<T>;

/** Each step's decision, read before anything changes; undefined for a step that does not run. */
interface Decisions {
  baseAmiId: string | undefined;
  bake?: BakeDecision;
  image?: ImageDecision;
  deploy?: DeployDecision;
  roll?: RollDecision;
}

export async function releaseCommand(given: CommandContext): Promise<void> {
  const ctx = await followClusterArchitecture(given);
  const { settings, reporter } = ctx;
  const plan = planRelease(settings);
  const attempt: Attempt = async (step, title, fn) => {
    try {
      return await reporter.group(title, fn);
    } catch (error) {
      reporter.summaryRow(step, `failed: ${(error as Error).message.split('\n')[0] ?? ''}`);
      throw error;
    }
  };
  const lines: StepPlan = new Map();
  for (const step of RELEASE_STEPS) if (!plan.run.has(step)) lines.set(step, plan.notes.get(step) ?? 'skipped');
  const decisions = await decideSteps(ctx, plan, lines, attempt);
  if (settings.dryRun) return reportDryRun(ctx, plan, lines, attempt);
  reporter.info(`Release plan:\n${indent(formatPlan(lines))}`);
  reporter.setOutput('plan', formatPlan(lines));
  // A roll that cannot start would fail after the bake, the build and the deployment: stop first.
  if (decisions.roll?.blocked) {
    reporter.summaryRow('roll', `failed: ${decisions.roll.reason}`);
    throw new StepFailure(`The release cannot roll the instances: ${decisions.roll.reason}`, { state: 'nothing changed' });
  }
  const results = await runSteps(ctx, plan, lines, decisions, attempt);
  reporter.setOutput('plan', formatPlan(results));
  const { bake, image, deploy, roll } = decisions;
  const changed = Boolean((bake && !bake.reuse) || (image && !image.reuse) || (deploy && !deploy.unchanged) || (roll && !roll.unchanged));
  if (!changed) reporter.info('Release changed nothing: the AMI, the image, the task definition and the instances were already current');
}

/**
 * The plan: every decision read from AWS and the checkout before anything changes. A step whose
 * inputs are unchanged is not run at all, so a release with nothing new makes no change.
 */
async function decideSteps(ctx: CommandContext, plan: ReleasePlan, lines: StepPlan, attempt: Attempt): Promise<Decisions> {
  const { settings } = ctx;
  const runs = (step: ReleaseStep): boolean => plan.run.has(step);
  let baseAmiId = settings.baseAmiId;
  if (runs('base-ami')) {
    baseAmiId = await attempt('base-ami', 'Resolve the base AMI', () => resolveBaseAmi(ctx));
    lines.set('base-ami', baseAmiId);
  }
  const bake = runs('bake') ? await attempt('bake', 'Plan: bake or reuse the AMI', () => decideBake(ctx, baseAmiId ?? '')) : undefined;
  if (bake) lines.set('bake', bake.reason);
  const image = runs('image') ? await attempt('image', 'Plan: build or reuse the image', () => decideImage(ctx)) : undefined;
  if (image) lines.set('image', image.reason);
  const plannedImage = image ? image.reuse : settings.image;
  const deploy = runs('deploy') ? await attempt('deploy', 'Plan: deploy', () => decideDeploy(ctx, plannedImage)) : undefined;
  if (deploy) lines.set('deploy', deploy.reason);
  const plannedAmi = bake ? bake.reuse : settings.amiId;
  const roll = runs('roll') ? await attempt('roll', 'Plan: roll', () => decideRoll(ctx, plannedAmi)) : undefined;
  if (roll) lines.set('roll', roll.reason);
  if (runs('cleanup')) lines.set('cleanup', `deregister AMIs beyond keep-amis ${settings.keepAmis} that nothing uses`);
  return { baseAmiId, bake, image, deploy, roll };
}

/** --dry-run: the plan (with the AMIs cleanup would deregister), printed and set as the plan output. */
async function reportDryRun(ctx: CommandContext, plan: ReleasePlan, lines: StepPlan, attempt: Attempt): Promise<void> {
  const { reporter } = ctx;
  if (plan.run.has('cleanup')) {
    const { deregistered } = await attempt('cleanup', 'Plan: clean up old AMIs', () => cleanupAmis(ctx));
    lines.set('cleanup', deregistered.length > 0 ? `would deregister ${deregistered.join(', ')}` : 'nothing to deregister');
  }
  reporter.info(`Release plan (dry-run: nothing changed):\n${indent(formatPlan(lines))}`);
  reporter.setOutput('plan', formatPlan(lines));
  for (const step of RELEASE_STEPS) reporter.summaryRow(step, lines.get(step) ?? 'skipped');
}

/** Runs the steps in order; returns what each did, one line each, for the log, the summary and the plan output. */
async function runSteps(ctx: CommandContext, plan: ReleasePlan, lines: StepPlan, decisions: Decisions, attempt: Attempt): Promise<StepPlan> {
  const { reporter } = ctx;
  const results: StepPlan = new Map(lines);
  const done = (step: ReleaseStep, text: string): void => {
    results.set(step, text);
    reporter.info(`${step}: ${text}`);
    reporter.summaryRow(step, text);
  };
  const planned = (step: ReleaseStep): string => lines.get(step) ?? 'skipped';
  const steps: Steps = { attempt, done, planned };
  if (decisions.baseAmiId) reporter.setOutput('base-ami-id', decisions.baseAmiId);
  done('base-ami', planned('base-ami'));
  const amiId = await reuseOrMake('bake', decisions.bake, ctx.settings.amiId, async (bake) => {
    const baked = await attempt('bake', 'Bake the AMI', () => bakeAmi(ctx, decisions.baseAmiId ?? '', { fingerprint: bake.fingerprint }));
    return { made: baked.amiId, verb: 'baked' };
  }, steps);
  if (amiId) reporter.setOutput('ami-id', amiId);
  const imageUri = await reuseOrMake('image', decisions.image, ctx.settings.image, async (image) => {
    const pushed = await attempt('image', 'Build and push the image', () => buildAndPushImage(ctx, undefined, image.fingerprint));
    return { made: pushed.imageUri, verb: 'pushed' };
  }, steps);
  if (imageUri) reporter.setOutput('image-uri', imageUri);
  await deployStep(ctx, decisions.deploy, imageUri, steps);
  await rollStep(ctx, decisions.roll, amiId, steps);
  if (plan.run.has('cleanup')) {
    const { deregistered, orphanedSnapshots } = await attempt('cleanup', 'Clean up old AMIs', () => cleanupAmis(ctx));
    reporter.setOutput('deregistered-amis', deregistered.join(','));
    const leftOver = orphanedSnapshots.length > 0 ? ` (snapshots left over, a later cleanup deletes them: ${orphanedSnapshots.map((o) => o.snapshotId).join(', ')})` : '';
    done('cleanup', `${deregistered.length > 0 ? `deregistered ${deregistered.join(', ')}` : 'nothing to deregister'}${leftOver}`);
  } else done('cleanup', planned('cleanup'));
  return results;
}

/** How a step is run (in a log group, its failure in the summary) and reported: done, or as planned. */
interface Steps {
  attempt: Attempt;
  done(step: ReleaseStep, text: string): void;
  planned(step: ReleaseStep): string;
}

/** What bake and image make (the AMI, the image): reused when unchanged, made now, or given as an input. */
async function reuseOrMake<D extends { reuse?: string; reason: string }>(
  step: 'bake' | 'image',
  decision: D | undefined,
  given: string | undefined,
  make: (decision: D) => Promise<{ made: string; verb: string }>,
  { done, planned }: Steps,
): Promise<string | undefined> {
  if (decision?.reuse) {
    done(step, decision.reason);
    return decision.reuse;
  }
  if (!decision) {
    done(step, planned(step));
    return given;
  }
  const { made, verb } = await make(decision);
  done(step, `${verb} ${made}: ${decision.reason}`);
  return made;
}

async function deployStep(ctx: CommandContext, deploy: DeployDecision | undefined, imageUri: string | undefined, { attempt, done, planned }: Steps): Promise<void> {
  const { settings, reporter } = ctx;
  if (deploy?.unchanged && deploy.taskDefinitionArn) {
    reporter.setOutput('task-definition-arn', deploy.taskDefinitionArn);
    return done('deploy', deploy.reason);
  }
  if (!deploy || !imageUri) return done('deploy', planned('deploy'));
  const deployed = await attempt('deploy', 'Deploy the service', () => deployService(ctx, imageUri));
  reporter.setOutput('task-definition-arn', deployed.taskDefinitionArn);
  done('deploy', deployed.unchanged ? `unchanged (${settings.service} runs ${revisionName(deployed.taskDefinitionArn)})` : `${settings.service} runs ${deployed.taskDefinitionArn} (${deploy.reason})`);
}

async function rollStep(ctx: CommandContext, roll: RollDecision | undefined, amiId: string | undefined, { attempt, done, planned }: Steps): Promise<void> {
  const { reporter } = ctx;
  if (roll?.unchanged && roll.launchTemplateVersion) {
    reporter.setOutput('launch-template-version', roll.launchTemplateVersion);
    return done('roll', roll.reason);
  }
  if (!roll || !amiId) return done('roll', planned('roll'));
  const rolled = await attempt('roll', 'Roll the instances', () => rollInstances(ctx, amiId));
  reporter.setOutput('launch-template-version', rolled.launchTemplateVersion);
  if (rolled.unchanged) return done('roll', `unchanged (launch template version ${rolled.launchTemplateVersion}, ${amiId})`);
  reporter.setOutput('instance-refresh-id', rolled.instanceRefreshId);
  done('roll', `launch template version ${rolled.launchTemplateVersion}, refresh ${rolled.instanceRefreshId} (${roll.reason})`);
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((line) => `  ${line}`)
    .join('\n');
}
