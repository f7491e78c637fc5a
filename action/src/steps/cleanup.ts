// Cleanup: deregister AMIs this pipeline made beyond keep-amis (newest kept) and delete their
// snapshots (an orphaned snapshot is reported, not a failure: the AMI is gone). An AMI still referenced by the Auto Scaling group's launch template versions, the
// template's default or latest version, or any instance that is not terminated is always kept.
import { DescribeImagesCommand, DescribeInstancesCommand, type Image } from '@aws-sdk/client-ec2';
import { describeAutoScalingGroup, groupLaunchTemplate } from '../aws/auto-scaling.js';
import { findLaunchTemplate, launchTemplateVersions } from '../aws/launch-template.js';
import { deleteSnapshotWithRetry, deregisterWithSnapshots, leftOverSnapshots, snapshotsOf, type SnapshotRetry } from '../aws/snapshots.js';
import { MANAGED_TAG } from '../aws/tags.js';
import type { CommandContext } from '../context.js';
import { StepFailure } from '../errors.js';

export async function managedImages(ctx: CommandContext): Promise<Image[]> {
  const images: Image[] = [];
  let token: string | undefined;
  do {
    const page = await ctx.clients.ec2.send(
      new DescribeImagesCommand({ Owners: ['self'], Filters: [{ Name: `tag:${MANAGED_TAG}`, Values: ['true'] }], ...(token ? { NextToken: token } : {}) }),
    );
    images.push(...(page.Images ?? []));
    token = page.NextToken;
  } while (token);
  return images;
}

function buildTime(image: Image): number {
  const tagged = image.Tags?.find((t) => t.Key === 'mapserver-ecs:build-time')?.Value;
  const parsed = Date.parse(tagged ?? image.CreationDate ?? '');
  return Number.isNaN(parsed) ? 0 : parsed;
}

/** AMI ids referenced by the launch template and the Auto Scaling group, with why. */
async function referencedByTemplates(ctx: CommandContext): Promise<Map<string, string>> {
  const { settings } = ctx;
  const inUse = new Map<string, string>();
  const template = await findLaunchTemplate(ctx.clients.ec2, settings.launchTemplate);
  if (!template?.LaunchTemplateId) {
    ctx.reporter.info(`Launch template ${settings.launchTemplate} does not exist; no launch template references to keep`);
    return inUse;
  }
  const wanted = new Map<string, string>([
    ['$Default', 'the default launch template version'],
    ['$Latest', 'the latest launch template version'],
  ]);
  const group = await describeAutoScalingGroup(ctx);
  if (group) {
    const reference = groupLaunchTemplate(group);
    if (reference?.version) wanted.set(reference.version, `the launch template version of ${settings.autoScalingGroup}`);
    for (const instance of group.Instances ?? []) {
      const version = instance.LaunchTemplate?.Version;
      if (version && instance.LaunchTemplate?.LaunchTemplateId === template.LaunchTemplateId) {
        wanted.set(version, `launch template version ${version} of instance ${instance.InstanceId ?? '?'}`);
      }
    }
  }
  const versions = await launchTemplateVersions(ctx.clients.ec2, template.LaunchTemplateId, [...wanted.keys()]);
  // $Latest is not flagged in the answer: it is the highest version number.
  const latest = Math.max(0, ...versions.map((v) => v.VersionNumber ?? 0));
  for (const version of versions) {
    const ami = version.LaunchTemplateData?.ImageId;
    if (!ami || inUse.has(ami)) continue;
    const number = String(version.VersionNumber ?? '?');
    const why = version.DefaultVersion
      ? 'the default launch template version'
      : version.VersionNumber === latest
        ? 'the latest launch template version'
        : (wanted.get(number) ?? `launch template version ${number}`);
    inUse.set(ami, why);
  }
  return inUse;
}

async function referencedByInstances(ctx: CommandContext, amiIds: string[]): Promise<Map<string, string>> {
  const inUse = new Map<string, string>();
  if (amiIds.length === 0) return inUse;
  let token: string | undefined;
  do {
    const page = await ctx.clients.ec2.send(
      new DescribeInstancesCommand({
        Filters: [
          { Name: 'image-id', Values: amiIds },
          { Name: 'instance-state-name', Values: ['pending', 'running', 'shutting-down', 'stopping', 'stopped'] },
        ],
        ...(token ? { NextToken: token } : {}),
      }),
    );
    for (const reservation of page.Reservations ?? []) {
      for (const instance of reservation.Instances ?? []) {
        if (instance.ImageId && !inUse.has(instance.ImageId)) inUse.set(instance.ImageId, `instance ${instance.InstanceId ?? '?'} (${instance.State?.Name ?? '?'})`);
      }
    }
    token = page.NextToken;
  } while (token);
  return inUse;
}

export interface CleanupPlan {
  keep: Array<{ image: Image; why: string }>;
  remove: Image[];
}

export async function planCleanup(ctx: CommandContext): Promise<CleanupPlan> {
  const images = (await managedImages(ctx)).sort((a, b) => buildTime(b) - buildTime(a));
  const inUse = await referencedByTemplates(ctx);
  const byInstances = await referencedByInstances(
    ctx,
    images.map((i) => i.ImageId ?? '').filter((id) => id !== ''),
  );
  for (const [ami, why] of byInstances) if (!inUse.has(ami)) inUse.set(ami, why);
  const plan: CleanupPlan = { keep: [], remove: [] };
  images.forEach((image, index) => {
    const used = image.ImageId ? inUse.get(image.ImageId) : undefined;
    if (used) plan.keep.push({ image, why: `in use by ${used}` });
    else if (index < ctx.settings.keepAmis) plan.keep.push({ image, why: `among the newest ${ctx.settings.keepAmis}` });
    else plan.remove.push(image);
  });
  return plan;
}

export interface CleanupResult {
  deregistered: string[];
  /** Snapshots of deregistered AMIs that could not be deleted, each with why. */
  orphanedSnapshots: Array<{ snapshotId: string; reason: string }>;
  /** Snapshots an earlier cleanup left over, deleted now (or, with dry-run, to delete). */
  sweptSnapshots?: string[];
}

/** How cleanup waits on snapshots; tests shorten it. */
export interface CleanupTiming extends SnapshotRetry {
  /** Age from which a baked snapshot no AMI uses is left over (default a day). */
  leftOverAgeMs?: number;
  now?: () => number;
}

export async function cleanupAmis(ctx: CommandContext, timing: CleanupTiming = {}): Promise<CleanupResult> {
  const result = await deregisterOldAmis(ctx, timing);
  const swept = await sweepLeftOverSnapshots(ctx, timing);
  return swept.length > 0 ? { ...result, sweptSnapshots: swept } : result;
}

/** Snapshots earlier cleanups could not delete (still in use then): deleted now, a refusal only warned about. */
async function sweepLeftOverSnapshots(ctx: CommandContext, timing: CleanupTiming): Promise<string[]> {
  const { reporter, settings } = ctx;
  const left = await leftOverSnapshots(ctx.clients.ec2, (timing.now ?? Date.now)(), timing.leftOverAgeMs);
  if (left.length === 0 || settings.dryRun) {
    if (left.length > 0) reporter.info(`would delete snapshot(s) left over by earlier cleanups: ${left.join(', ')}`);
    return left;
  }
  const swept: string[] = [];
  for (const id of left) {
    const reason = await deleteSnapshotWithRetry(ctx.clients.ec2, id, { ...timing, attempts: 1 });
    if (reason) reporter.warn(`Snapshot ${id}, left over by an earlier cleanup, is still there (${reason})`);
    else swept.push(id);
  }
  if (swept.length > 0) reporter.info(`deleted snapshot(s) left over by earlier cleanups: ${swept.join(', ')}`);
  return swept;
}

async function deregisterOldAmis(ctx: CommandContext, retry: SnapshotRetry): Promise<CleanupResult> {
  const { reporter, settings } = ctx;
  const plan = await planCleanup(ctx);
  for (const { image, why } of plan.keep) reporter.info(`keep ${image.ImageId ?? '?'} ${image.Name ?? ''}: ${why}`);
  const ids = plan.remove.map((i) => i.ImageId ?? '').filter((id) => id !== '');
  if (plan.remove.length === 0) {
    reporter.info(`Nothing to clean up: ${plan.keep.length} managed AMI(s), keep-amis ${settings.keepAmis}`);
    return { deregistered: [], orphanedSnapshots: [] };
  }
  if (settings.dryRun) {
    for (const image of plan.remove) reporter.info(`would deregister ${image.ImageId ?? '?'} ${image.Name ?? ''} and delete ${snapshotsOf(image).join(', ') || 'no snapshots'}`);
    return { deregistered: ids, orphanedSnapshots: [] };
  }
  const done: string[] = [];
  const orphanedSnapshots: CleanupResult['orphanedSnapshots'] = [];
  for (const image of plan.remove) {
    const id = image.ImageId ?? '';
    let removed;
    try {
      removed = await deregisterWithSnapshots(ctx.clients.ec2, image, retry);
    } catch (error) {
      throw new StepFailure(`Cleanup failed at ${id}: ${(error as Error).message}`, {
        state: `deregistered: ${done.join(', ') || 'none'}; still registered: ${ids.filter((i) => !done.includes(i)).join(', ')}`,
        cause: error,
      });
    }
    done.push(id);
    const shared = removed.shared.length > 0 ? `; kept ${removed.shared.join(', ')} (used by another AMI)` : '';
    reporter.info(`deregistered ${id} ${image.Name ?? ''}; deleted ${removed.deleted.join(', ') || 'no snapshots'}${shared}`);
    for (const orphan of removed.orphaned) {
      reporter.warn(
        `Snapshot ${orphan.snapshotId} of deregistered ${id} is left over (${orphan.reason}): a cleanup a day or more from now deletes it, or delete it with aws ec2 delete-snapshot --snapshot-id ${orphan.snapshotId}`,
      );
    }
    orphanedSnapshots.push(...removed.orphaned);
  }
  return { deregistered: done, orphanedSnapshots };
}
