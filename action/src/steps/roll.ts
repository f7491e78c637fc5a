// Roll: a new launch template version with the new AMI and freshly rendered user data, made default,
// then an instance refresh that launches before it terminates and rolls back on failure.
import {
  DescribeAutoScalingGroupsCommand,
  DescribeInstanceRefreshesCommand,
  StartInstanceRefreshCommand,
  UpdateAutoScalingGroupCommand,
  type AutoScalingGroup,
  type InstanceRefresh,
  type ScaleInProtectedInstances,
} from '@aws-sdk/client-auto-scaling';
import { createHash } from 'node:crypto';
import { CreateLaunchTemplateVersionCommand, ModifyLaunchTemplateCommand, type LaunchTemplateVersion, type RequestLaunchTemplateData } from '@aws-sdk/client-ec2';
import { DescribeCapacityProvidersCommand } from '@aws-sdk/client-ecs';
import { findLaunchTemplate, launchTemplateData, launchTemplateVersions, METADATA_OPTIONS } from '../aws/launch-template.js';
import { pollTiming, type WaitTiming } from '../aws/timing.js';
import type { CommandContext } from '../context.js';
import { StepFailure } from '../errors.js';
import { poll } from '../wait.js';
import { loadUserData, toBase64 } from './user-data.js';

/** Refresh states in which Auto Scaling refuses (and we refuse) to start another one. */
export const ACTIVE_REFRESH_STATES = new Set(['Pending', 'InProgress', 'Cancelling', 'RollbackInProgress', 'Baking']);
const FAILED_REFRESH_STATES = new Set(['Failed', 'Cancelled', 'RollbackSuccessful', 'RollbackFailed']);

export async function describeAutoScalingGroup(ctx: CommandContext): Promise<AutoScalingGroup | undefined> {
  const response = await ctx.clients.autoScaling.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [ctx.settings.autoScalingGroup] }));
  return response.AutoScalingGroups?.find((g) => g.AutoScalingGroupName === ctx.settings.autoScalingGroup);
}

/** The launch template reference of a group, whether plain or inside a mixed instances policy. */
export function groupLaunchTemplate(group: AutoScalingGroup): { id?: string; name?: string; version?: string } | undefined {
  const spec = group.LaunchTemplate ?? group.MixedInstancesPolicy?.LaunchTemplate?.LaunchTemplateSpecification;
  if (!spec) return undefined;
  return { id: spec.LaunchTemplateId, name: spec.LaunchTemplateName, version: spec.Version };
}

async function refreshes(ctx: CommandContext, ids?: string[]): Promise<InstanceRefresh[]> {
  const response = await ctx.clients.autoScaling.send(
    new DescribeInstanceRefreshesCommand({ AutoScalingGroupName: ctx.settings.autoScalingGroup, ...(ids ? { InstanceRefreshIds: ids } : {}) }),
  );
  return response.InstanceRefreshes ?? [];
}

async function scaleInProtection(ctx: CommandContext, group: AutoScalingGroup): Promise<ScaleInProtectedInstances> {
  const response = await ctx.clients.ecs.send(new DescribeCapacityProvidersCommand({ capacityProviders: [ctx.settings.capacityProvider] }));
  const provider = response.capacityProviders?.find((p) => p.name === ctx.settings.capacityProvider);
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
  const userData = toBase64(await loadUserData(ctx.root, settings));
  const base = (current?.LaunchTemplateData ?? {}) as RequestLaunchTemplateData;
  const fromSettings = launchTemplateData(settings, amiId, userData);
  const data: RequestLaunchTemplateData = {
    ...base,
    ...fromSettings,
    ...(settings.instanceProfile ? {} : base.IamInstanceProfile ? { IamInstanceProfile: base.IamInstanceProfile } : {}),
    ...(settings.securityGroups.length > 0 ? {} : base.SecurityGroupIds ? { SecurityGroupIds: base.SecurityGroupIds } : {}),
    MetadataOptions: { ...base.MetadataOptions, ...METADATA_OPTIONS },
  };
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
  const running = (await refreshes(ctx)).find((r) => ACTIVE_REFRESH_STATES.has(r.Status ?? ''));
  if (running) return { unchanged: false, blocked: true, reason: `cannot roll yet: instance refresh ${running.InstanceRefreshId ?? '?'} is ${running.Status ?? 'running'}` };
  const template = await findLaunchTemplate(ctx.clients.ec2, settings.launchTemplate);
  if (!template?.LaunchTemplateId) return { unchanged: false, blocked: true, reason: `cannot roll: launch template ${settings.launchTemplate} does not exist (run bootstrap first)` };
  const [current] = await launchTemplateVersions(ctx.clients.ec2, template.LaunchTemplateId, ['$Default']);
  const all = (group.Instances ?? []).length;
  const plural = (n: number): string => `${n} instance${n === 1 ? '' : 's'}`;
  const from = current?.LaunchTemplateData?.ImageId;
  if (!amiId) return { unchanged: false, reason: `${plural(all)} to replace (new launch template version with the new AMI${from ? `, from ${from}` : ''})` };
  const { description } = await desiredVersion(ctx, amiId, current);
  const version = current?.VersionNumber !== undefined ? String(current.VersionNumber) : undefined;
  if (current?.VersionDescription === description && version) {
    if (rolledOnto(group, version)) return { unchanged: true, launchTemplateVersion: version, reason: `unchanged (launch template version ${version}, ${amiId}, ${plural(all)} on it)` };
    return { unchanged: false, reason: `${plural(Math.max(1, instancesToReplace(group, version)))} to replace (onto launch template version ${version}, ${amiId})` };
  }
  const what = from && from !== amiId ? `${from} -> ${amiId}` : `${amiId}, user data or settings changed`;
  return { unchanged: false, reason: `${plural(all)} to replace (new launch template version: ${what})` };
}

export async function rollInstances(ctx: CommandContext, amiId: string, timing?: WaitTiming): Promise<{ launchTemplateVersion: string; instanceRefreshId: string; unchanged?: boolean }> {
  const { settings, reporter } = ctx;
  const ec2 = ctx.clients.ec2;
  const autoScaling = ctx.clients.autoScaling;

  // Everything that could refuse the roll is checked before anything changes.
  const group = await describeAutoScalingGroup(ctx);
  if (!group) throw new StepFailure(`Auto Scaling group ${settings.autoScalingGroup} does not exist; run the bootstrap command first`, { state: 'nothing changed' });
  const running = (await refreshes(ctx)).find((r) => ACTIVE_REFRESH_STATES.has(r.Status ?? ''));
  if (running) {
    throw new StepFailure(
      `Instance refresh ${running.InstanceRefreshId ?? '?'} of ${settings.autoScalingGroup} is ${running.Status ?? 'running'} (${running.PercentageComplete ?? 0}% done); wait for it or cancel it before rolling again`,
      { state: 'nothing changed' },
    );
  }
  const template = await findLaunchTemplate(ec2, settings.launchTemplate);
  if (!template?.LaunchTemplateId) {
    throw new StepFailure(`Launch template ${settings.launchTemplate} does not exist; run the bootstrap command first`, { state: 'nothing changed' });
  }
  const reference = groupLaunchTemplate(group);
  if (reference && reference.id !== template.LaunchTemplateId && reference.name !== settings.launchTemplate) {
    throw new StepFailure(
      `Auto Scaling group ${settings.autoScalingGroup} uses launch template ${reference.name ?? reference.id ?? '?'}, not ${settings.launchTemplate}`,
      { state: 'nothing changed' },
    );
  }
  const [current] = await launchTemplateVersions(ec2, template.LaunchTemplateId, ['$Default']);
  const { data, description } = await desiredVersion(ctx, amiId, current);
  // Already rolled: the default version holds this very data and every instance runs it.
  if (current?.VersionDescription === description && current.VersionNumber !== undefined && rolledOnto(group, String(current.VersionNumber))) {
    const version = String(current.VersionNumber);
    reporter.info(`Launch template ${settings.launchTemplate} version ${version} (${amiId}) is the default and every instance of ${settings.autoScalingGroup} runs it: nothing to roll`);
    return { launchTemplateVersion: version, instanceRefreshId: '', unchanged: true };
  }
  const protection = await scaleInProtection(ctx, group);
  const [latest] = await launchTemplateVersions(ec2, template.LaunchTemplateId, ['$Latest']);
  const reused = latest?.VersionDescription === description ? latest : undefined;
  if (reused) reporter.info(`Reusing launch template ${settings.launchTemplate} version ${reused.VersionNumber ?? '?'}: it holds the same data`);
  const created = reused
    ? { LaunchTemplateVersion: reused }
    : await ec2.send(
        new CreateLaunchTemplateVersionCommand({
          LaunchTemplateId: template.LaunchTemplateId,
          VersionDescription: description,
          LaunchTemplateData: data,
        }),
      );
  const version = created.LaunchTemplateVersion?.VersionNumber;
  if (version === undefined) throw new StepFailure('CreateLaunchTemplateVersion returned no version number', { state: `launch template ${settings.launchTemplate} may have a new version` });
  const launchTemplateVersion = String(version);
  await ec2.send(new ModifyLaunchTemplateCommand({ LaunchTemplateId: template.LaunchTemplateId, DefaultVersion: launchTemplateVersion }));
  reporter.info(`Launch template ${settings.launchTemplate} version ${launchTemplateVersion} (${amiId}) is now the default`);

  // AutoRollback needs the group on a numbered version, not $Latest/$Default.
  if (!pinnedVersion(reference?.version)) {
    const previous = String(current?.VersionNumber ?? template.DefaultVersionNumber ?? version);
    await pinGroup(ctx, group, template.LaunchTemplateId, previous);
    reporter.info(`Pinned ${settings.autoScalingGroup} to launch template version ${previous} (was ${reference?.version ?? 'unset'}) so the refresh can roll back`);
  }

  const leftIfRefreshFails = `launch template ${settings.launchTemplate} default version ${launchTemplateVersion}; Auto Scaling group ${settings.autoScalingGroup} kept its previous version`;
  const started = await autoScaling.send(
    new StartInstanceRefreshCommand({
      AutoScalingGroupName: settings.autoScalingGroup,
      Strategy: 'Rolling',
      DesiredConfiguration: { LaunchTemplate: { LaunchTemplateId: template.LaunchTemplateId, Version: launchTemplateVersion } },
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
  reporter.info(
    `Started instance refresh ${instanceRefreshId} (healthy ${settings.minHealthyPercentage}-${settings.maxHealthyPercentage}%, warmup ${settings.instanceWarmup}s, protected instances: ${protection})`,
  );

  const finished = await poll<InstanceRefresh>(
    reporter,
    async () => {
      const refresh = (await refreshes(ctx, [instanceRefreshId])).find((r) => r.InstanceRefreshId === instanceRefreshId);
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

  const status = finished.Status ?? 'unknown';
  if (status !== 'Successful') {
    // The group kept (or went back to) the previous version: make that the default again, so the
    // template does not point new launches at an AMI that just failed.
    const previousDefault = current?.VersionNumber ?? template.DefaultVersionNumber;
    let left = leftIfRefreshFails;
    if (previousDefault !== undefined) {
      try {
        await ec2.send(new ModifyLaunchTemplateCommand({ LaunchTemplateId: template.LaunchTemplateId, DefaultVersion: String(previousDefault) }));
        left = `launch template ${settings.launchTemplate} default version back to ${previousDefault} (version ${launchTemplateVersion} kept, not default); Auto Scaling group ${settings.autoScalingGroup} kept its previous version`;
      } catch (error) {
        reporter.warn(`Could not make launch template version ${previousDefault} the default again: ${(error as Error).message}`);
      }
    }
    throw new StepFailure(`Instance refresh ${instanceRefreshId} of ${settings.autoScalingGroup} ended ${status}: ${finished.StatusReason ?? 'no reason given'}`, {
      state: status.startsWith('Rollback') ? `${left}; instances rolled back` : left,
    });
  }

  // A successful refresh applies the desired configuration to the group; make sure it is pinned there.
  const after = await describeAutoScalingGroup(ctx);
  const afterVersion = after ? groupLaunchTemplate(after)?.version : undefined;
  if (after && afterVersion !== launchTemplateVersion) {
    await pinGroup(ctx, after, template.LaunchTemplateId, launchTemplateVersion);
    reporter.info(`Pinned ${settings.autoScalingGroup} to launch template version ${launchTemplateVersion}`);
  }
  reporter.info(`Instance refresh ${instanceRefreshId} ${finished.Status ?? 'finished'}`);
  return { launchTemplateVersion, instanceRefreshId };
}

async function pinGroup(ctx: CommandContext, group: AutoScalingGroup, launchTemplateId: string, version: string): Promise<void> {
  const spec = { LaunchTemplateId: launchTemplateId, Version: version };
  const mixed = group.MixedInstancesPolicy;
  await ctx.clients.autoScaling.send(
    new UpdateAutoScalingGroupCommand(
      mixed?.LaunchTemplate
        ? {
            AutoScalingGroupName: ctx.settings.autoScalingGroup,
            MixedInstancesPolicy: { ...mixed, LaunchTemplate: { ...mixed.LaunchTemplate, LaunchTemplateSpecification: spec } },
          }
        : { AutoScalingGroupName: ctx.settings.autoScalingGroup, LaunchTemplate: spec },
    ),
  );
}
