// Roll: a new launch template version with the new AMI and freshly rendered user data, made default,
// then an instance refresh that launches before it terminates and rolls back on failure.
import { StartInstanceRefreshCommand, type AutoScalingGroup, type InstanceRefresh, type ScaleInProtectedInstances } from '@aws-sdk/client-auto-scaling';
import { createHash } from 'node:crypto';
import {
  CreateLaunchTemplateVersionCommand,
  ModifyLaunchTemplateCommand,
  type LaunchTemplate,
  type LaunchTemplateVersion,
  type RequestLaunchTemplateData,
} from '@aws-sdk/client-ec2';
import { describeAutoScalingGroup, describeInstanceRefreshes, groupLaunchTemplate, pinGroup } from '../aws/auto-scaling.js';
import { describeCapacityProvider } from '../aws/ecs.js';
import { launchFailureSuffix } from '../aws/lifecycle-hook.js';
import { findLaunchTemplate, launchTemplateChanges, launchTemplateData, launchTemplateVersions, mergeLaunchTemplateData } from '../aws/launch-template.js';
import { pollTiming, type WaitTiming } from '../aws/timing.js';
import type { CommandContext } from '../context.js';
import { StepFailure } from '../errors.js';
import { poll } from '../wait.js';
import { checkAmiFits } from './ami-fit.js';
import { loadUserData, toBase64 } from './user-data.js';

/** Refresh states in which Auto Scaling refuses (and we refuse) to start another one. */
export const ACTIVE_REFRESH_STATES = new Set(['Pending', 'InProgress', 'Cancelling', 'RollbackInProgress', 'Baking']);
const FAILED_REFRESH_STATES = new Set(['Failed', 'Cancelled', 'RollbackSuccessful', 'RollbackFailed']);

async function scaleInProtection(ctx: CommandContext, group: AutoScalingGroup): Promise<ScaleInProtectedInstances> {
  const provider = await describeCapacityProvider(ctx);
  const managed = provider?.autoScalingGroupProvider?.managedTerminationProtection === 'ENABLED';
  const protectedInstances = group.NewInstancesProtectedFromScaleIn === true || (group.Instances ?? []).some((i) => i.ProtectedFromScaleIn);
  // Protected instances are skipped by a refresh unless it is told to replace them.
  return managed || protectedInstances ? 'Refresh' : 'Ignore';
}

function pinnedVersion(version: string | undefined): boolean {
  return version !== undefined && /^\d+$/.test(version);
}

/**
 * The launch template data a roll to `amiId` makes: the current default's data (so settings made
 * outside this action survive) with the AMI, user data and settings on top. The description
 * carries a hash of the data, so a version made from the same data is recognised (an interrupted
 * roll run again, or a release with nothing changed).
 */
export async function desiredVersion(ctx: CommandContext, amiId: string, current: LaunchTemplateVersion | undefined): Promise<{ data: RequestLaunchTemplateData; description: string }> {
  const { settings } = ctx;
  const base = (current?.LaunchTemplateData ?? {}) as RequestLaunchTemplateData;
  const given = { instanceType: settings.instanceTypeGiven, instanceProfile: settings.instanceProfile !== undefined, securityGroups: settings.securityGroups.length > 0 };
  const instanceType = mergeLaunchTemplateData(base, launchTemplateData(settings, amiId, ''), given).InstanceType ?? settings.instanceType;
  // The user data starts the driver baked into the AMI, checked before anything changes.
  const onAmi = { ...settings, mountDriver: await checkAmiFits(ctx, amiId, instanceType) };
  const userData = toBase64(await loadUserData(ctx.root, onAmi));
  const data = mergeLaunchTemplateData(base, launchTemplateData(onAmi, amiId, userData), given);
  const description = `mapserver-ecs roll to ${amiId} (data ${createHash('sha256').update(JSON.stringify(data)).digest('hex').slice(0, 16)})`;
  return { data, description };
}

/** Instances of the group that do not run launch template `version` (those that report one). */
export function instancesToReplace(group: AutoScalingGroup, version: string | undefined): number {
  return (group.Instances ?? []).filter((i) => version === undefined || (i.LaunchTemplate?.Version !== undefined && i.LaunchTemplate.Version !== version)).length;
}

/** The group is pinned to `version` and no instance reports another one. */
function rolledOnto(group: AutoScalingGroup, version: string): boolean {
  return groupLaunchTemplate(group)?.version === version && instancesToReplace(group, version) === 0;
}

export interface RollDecision {
  unchanged: boolean;
  /** The roll cannot start (no group or template, or a refresh under way): a release stops before changing anything. */
  blocked?: boolean;
  /** The default launch template version, when unchanged. */
  launchTemplateVersion?: string;
  /** One line for the plan: "unchanged (...)", "3 instances to replace (...)". */
  reason: string;
}

/** Whether rolling onto `amiId` (undefined: an AMI still to be baked) changes anything, reading only. */
export async function decideRoll(ctx: CommandContext, amiId: string | undefined): Promise<RollDecision> {
  const { settings } = ctx;
  const group = await describeAutoScalingGroup(ctx);
  if (!group) return { unchanged: false, blocked: true, reason: `cannot roll: Auto Scaling group ${settings.autoScalingGroup} does not exist (run bootstrap first)` };
  const running = (await describeInstanceRefreshes(ctx)).find((r) => ACTIVE_REFRESH_STATES.has(r.Status ?? ''));
  if (running) return { unchanged: false, blocked: true, reason: `cannot roll yet: instance refresh ${running.InstanceRefreshId ?? '?'} is ${running.Status ?? 'running'}` };
  const template = await findLaunchTemplate(ctx.clients.ec2, settings.launchTemplate);
  if (!template?.LaunchTemplateId) return { unchanged: false, blocked: true, reason: `cannot roll: launch template ${settings.launchTemplate} does not exist (run bootstrap first)` };
  const [current] = await launchTemplateVersions(ctx.clients.ec2, template.LaunchTemplateId, ['$Default']);
  const all = (group.Instances ?? []).length;
  const plural = (n: number): string => `${n} instance${n === 1 ? '' : 's'}`;
  const from = current?.LaunchTemplateData?.ImageId;
  if (!amiId) return { unchanged: false, reason: `${plural(all)} to replace (new launch template version with the new AMI${from ? `, from ${from}` : ''})` };
  const { data, description } = await desiredVersion(ctx, amiId, current);
  const version = current?.VersionNumber !== undefined ? String(current.VersionNumber) : undefined;
  if (current?.VersionDescription === description && version) {
    if (rolledOnto(group, version)) return { unchanged: true, launchTemplateVersion: version, reason: `unchanged (launch template version ${version}, ${amiId}, ${plural(all)} on it)` };
    return { unchanged: false, reason: `${plural(Math.max(1, instancesToReplace(group, version)))} to replace (onto launch template version ${version}, ${amiId})` };
  }
  const changes = launchTemplateChanges((current?.LaunchTemplateData ?? {}) as RequestLaunchTemplateData, data);
  const what = [from && from !== amiId ? `${from} -> ${amiId}` : `${amiId}, user data or settings changed`, ...changes].join('; ');
  return { unchanged: false, reason: `${plural(all)} to replace (new launch template version: ${what})` };
}

export interface RollResult {
  launchTemplateVersion: string;
  instanceRefreshId: string;
  unchanged?: boolean;
}

export async function rollInstances(ctx: CommandContext, amiId: string, timing?: WaitTiming): Promise<RollResult> {
  const { settings, reporter } = ctx;
  const { group, template, pinned } = await checkRollCanStart(ctx);
  const [current] = await launchTemplateVersions(ctx.clients.ec2, template.LaunchTemplateId, ['$Default']);
  const { data, description } = await desiredVersion(ctx, amiId, current);
  // Already rolled: the default version holds this very data and every instance runs it.
  if (current?.VersionDescription === description && current.VersionNumber !== undefined && rolledOnto(group, String(current.VersionNumber))) {
    const version = String(current.VersionNumber);
    reporter.info(`Launch template ${settings.launchTemplate} version ${version} (${amiId}) is the default and every instance of ${settings.autoScalingGroup} runs it: nothing to roll`);
    return { launchTemplateVersion: version, instanceRefreshId: '', unchanged: true };
  }
  const protection = await scaleInProtection(ctx, group);
  const launchTemplateVersion = await makeDefaultVersion(ctx, template.LaunchTemplateId, data, description);
  reporter.info(`Launch template ${settings.launchTemplate} version ${launchTemplateVersion} (${amiId}) is now the default`);
  // AutoRollback needs the group on a numbered version, not $Latest/$Default.
  const previousDefault = current?.VersionNumber ?? template.DefaultVersionNumber;
  if (!pinned) await pinGroupForRollback(ctx, group, template.LaunchTemplateId, String(previousDefault ?? launchTemplateVersion));

  const leftIfRefreshFails = `launch template ${settings.launchTemplate} default version ${launchTemplateVersion}; Auto Scaling group ${settings.autoScalingGroup} kept its previous version`;
  // Scaling activities from here on tell which new instance abandoned its launch.
  const refreshStarted = new Date(Date.now() - 60_000);
  const instanceRefreshId = await startRefresh(ctx, template.LaunchTemplateId, launchTemplateVersion, protection, leftIfRefreshFails);
  const finished = await waitForRefresh(ctx, instanceRefreshId, leftIfRefreshFails, timing);
  if (finished.Status !== 'Successful') {
    const left = await restoreDefaultVersion(ctx, template.LaunchTemplateId, previousDefault, launchTemplateVersion, leftIfRefreshFails);
    const status = finished.Status ?? 'unknown';
    const launches = await launchFailureSuffix(ctx, refreshStarted);
    throw new StepFailure(`Instance refresh ${instanceRefreshId} of ${settings.autoScalingGroup} ended ${status}: ${finished.StatusReason ?? 'no reason given'}${launches}`, {
      state: status.startsWith('Rollback') ? `${left}; instances rolled back` : left,
    });
  }
  await pinGroupAfterRefresh(ctx, template.LaunchTemplateId, launchTemplateVersion);
  reporter.info(`Instance refresh ${instanceRefreshId} ${finished.Status ?? 'finished'}`);
  return { launchTemplateVersion, instanceRefreshId };
}

/** Everything that could refuse the roll, checked before anything changes. */
async function checkRollCanStart(ctx: CommandContext): Promise<{ group: AutoScalingGroup; template: LaunchTemplate & { LaunchTemplateId: string }; pinned: boolean }> {
  const { settings } = ctx;
  const unchanged = { state: 'nothing changed' };
  const group = await describeAutoScalingGroup(ctx);
  if (!group) throw new StepFailure(`Auto Scaling group ${settings.autoScalingGroup} does not exist; run the bootstrap command first`, unchanged);
  const running = (await describeInstanceRefreshes(ctx)).find((r) => ACTIVE_REFRESH_STATES.has(r.Status ?? ''));
  if (running) {
    throw new StepFailure(
      `Instance refresh ${running.InstanceRefreshId ?? '?'} of ${settings.autoScalingGroup} is ${running.Status ?? 'running'} (${running.PercentageComplete ?? 0}% done); wait for it or cancel it before rolling again`,
      unchanged,
    );
  }
  const template = await findLaunchTemplate(ctx.clients.ec2, settings.launchTemplate);
  const templateId = template?.LaunchTemplateId;
  if (!template || !templateId) throw new StepFailure(`Launch template ${settings.launchTemplate} does not exist; run the bootstrap command first`, unchanged);
  const reference = groupLaunchTemplate(group);
  if (reference && reference.id !== templateId && reference.name !== settings.launchTemplate) {
    throw new StepFailure(`Auto Scaling group ${settings.autoScalingGroup} uses launch template ${reference.name ?? reference.id ?? '?'}, not ${settings.launchTemplate}`, unchanged);
  }
  return { group, template: { ...template, LaunchTemplateId: templateId }, pinned: pinnedVersion(reference?.version) };
}

/** A launch template version with this data (the latest, when it holds it already), made the default. */
async function makeDefaultVersion(ctx: CommandContext, launchTemplateId: string, data: RequestLaunchTemplateData, description: string): Promise<string> {
  const { settings, reporter } = ctx;
  const ec2 = ctx.clients.ec2;
  const [latest] = await launchTemplateVersions(ec2, launchTemplateId, ['$Latest']);
  const reused = latest?.VersionDescription === description ? latest : undefined;
  if (reused) reporter.info(`Reusing launch template ${settings.launchTemplate} version ${reused.VersionNumber ?? '?'}: it holds the same data`);
  const created = reused
    ? { LaunchTemplateVersion: reused }
    : await ec2.send(new CreateLaunchTemplateVersionCommand({ LaunchTemplateId: launchTemplateId, VersionDescription: description, LaunchTemplateData: data }));
  const version = created.LaunchTemplateVersion?.VersionNumber;
  if (version === undefined) throw new StepFailure('CreateLaunchTemplateVersion returned no version number', { state: `launch template ${settings.launchTemplate} may have a new version` });
  await ec2.send(new ModifyLaunchTemplateCommand({ LaunchTemplateId: launchTemplateId, DefaultVersion: String(version) }));
  return String(version);
}

async function pinGroupForRollback(ctx: CommandContext, group: AutoScalingGroup, launchTemplateId: string, previous: string): Promise<void> {
  await pinGroup(ctx, group, launchTemplateId, previous);
  const was = groupLaunchTemplate(group)?.version ?? 'unset';
  ctx.reporter.info(`Pinned ${ctx.settings.autoScalingGroup} to launch template version ${previous} (was ${was}) so the refresh can roll back`);
}

/** A rolling refresh that launches before it terminates and rolls back on failure. */
async function startRefresh(ctx: CommandContext, launchTemplateId: string, version: string, protection: ScaleInProtectedInstances, leftIfRefreshFails: string): Promise<string> {
  const { settings } = ctx;
  const started = await ctx.clients.autoScaling.send(
    new StartInstanceRefreshCommand({
      AutoScalingGroupName: settings.autoScalingGroup,
      Strategy: 'Rolling',
      DesiredConfiguration: { LaunchTemplate: { LaunchTemplateId: launchTemplateId, Version: version } },
      Preferences: {
        MinHealthyPercentage: settings.minHealthyPercentage,
        MaxHealthyPercentage: settings.maxHealthyPercentage,
        InstanceWarmup: settings.instanceWarmup,
        SkipMatching: true,
        AutoRollback: true,
        ScaleInProtectedInstances: protection,
        StandbyInstances: 'Ignore',
      },
    }),
  );
  const instanceRefreshId = started.InstanceRefreshId;
  if (!instanceRefreshId) throw new StepFailure('StartInstanceRefresh returned no refresh id', { state: leftIfRefreshFails });
  ctx.reporter.info(
    `Started instance refresh ${instanceRefreshId} (healthy ${settings.minHealthyPercentage}-${settings.maxHealthyPercentage}%, warmup ${settings.instanceWarmup}s, protected instances: ${protection})`,
  );
  return instanceRefreshId;
}

async function waitForRefresh(ctx: CommandContext, instanceRefreshId: string, leftIfRefreshFails: string, timing?: WaitTiming): Promise<InstanceRefresh> {
  const { settings } = ctx;
  return poll<InstanceRefresh>(
    ctx.reporter,
    async () => {
      const refresh = (await describeInstanceRefreshes(ctx, [instanceRefreshId])).find((r) => r.InstanceRefreshId === instanceRefreshId);
      if (!refresh) return { state: 'not listed yet' };
      const status = refresh.Status ?? 'unknown';
      const state = `${status}, ${refresh.PercentageComplete ?? 0}% complete, ${refresh.InstancesToUpdate ?? '?'} instance(s) to update${refresh.StatusReason ? ` (${refresh.StatusReason})` : ''}`;
      if (status === 'Successful' || FAILED_REFRESH_STATES.has(status)) return { done: refresh, state };
      return { state };
    },
    {
      awaited: `instance refresh ${instanceRefreshId} of ${settings.autoScalingGroup}`,
      timeoutMs: settings.waitMinutes * 60_000,
      ...pollTiming(timing, 30_000),
      stateOnTimeout: `instance refresh ${instanceRefreshId} is still running and continues on its own; ${leftIfRefreshFails}`,
    },
  );
}

/**
 * After a failed refresh the group kept (or went back to) the previous version: make that the
 * default again, so the template does not point new launches at an AMI that just failed. Returns
 * what is left.
 */
async function restoreDefaultVersion(ctx: CommandContext, launchTemplateId: string, previousDefault: number | undefined, failedVersion: string, leftIfRefreshFails: string): Promise<string> {
  const { settings } = ctx;
  if (previousDefault === undefined) return leftIfRefreshFails;
  try {
    await ctx.clients.ec2.send(new ModifyLaunchTemplateCommand({ LaunchTemplateId: launchTemplateId, DefaultVersion: String(previousDefault) }));
    return `launch template ${settings.launchTemplate} default version back to ${previousDefault} (version ${failedVersion} kept, not default); Auto Scaling group ${settings.autoScalingGroup} kept its previous version`;
  } catch (error) {
    ctx.reporter.warn(`Could not make launch template version ${previousDefault} the default again: ${(error as Error).message}`);
    return leftIfRefreshFails;
  }
}

/** A successful refresh applies the desired configuration to the group; make sure it is pinned there. */
async function pinGroupAfterRefresh(ctx: CommandContext, launchTemplateId: string, version: string): Promise<void> {
  const after = await describeAutoScalingGroup(ctx);
  if (after && groupLaunchTemplate(after)?.version !== version) {
    await pinGroup(ctx, after, launchTemplateId, version);
    ctx.reporter.info(`Pinned ${ctx.settings.autoScalingGroup} to launch template version ${version}`);
  }
}
