// What bootstrap reads before it creates anything: the bucket exists and answers, the mirror's
// notification will not overlap one the bucket has (S3 would refuse it halfway through), the image
// can make a service, and the AMI a new launch template starts from. A problem here changes nothing.
import { DescribeImagesCommand, DescribeSecurityGroupsCommand, DescribeSubnetsCommand } from '@aws-sdk/client-ec2';
import { describeAutoScalingGroup } from '../aws/auto-scaling.js';
import { awsErrorCode } from '../aws/errors.js';
import { GetBucketNotificationConfigurationCommand, HeadBucketCommand } from '@aws-sdk/client-s3';
import { describeService, findCluster } from '../aws/ecs.js';
import { findLaunchTemplate } from '../aws/launch-template.js';
import { describeRule, notificationRules, rulesOverlap, type NotificationRule } from '../aws/notifications.js';
import { MANAGED_TAG } from '../aws/tags.js';
import type { CommandContext } from '../context.js';
import { StepFailure } from '../errors.js';
import { MIRROR_NOTIFICATION_ID } from '../mirror/naming.js';
import { isImageByDigest } from '../values.js';
import type { MountDriver } from '../settings.js';
import { checkAmiFits, MOUNT_DRIVER_TAG } from './ami-fit.js';
import { MIRROR_EVENTS } from './mirror-events.js';

const UNCHANGED = { state: 'nothing changed' };

export interface BootstrapInputs {
  /** The AMI a launch template to be created starts from; undefined when the template exists. */
  amiId: string | undefined;
  /** The driver its instances start: the AMI's recorded one (with an existing template, mount-driver or mirror). */
  mountDriver: MountDriver;
}

export async function checkBeforeBootstrap(ctx: CommandContext): Promise<BootstrapInputs> {
  try {
    if (ctx.settings.bucket) await checkBucket(ctx, ctx.settings.bucket);
    await checkServiceImage(ctx);
    if (!(await describeAutoScalingGroup(ctx))) await checkNetwork(ctx, 'subnets');
    const inputs = await launchTemplateInputs(ctx);
    if (ctx.settings.bucket && inputs.mountDriver === 'mirror') await checkNotificationFits(ctx, ctx.settings.bucket);
    return inputs;
  } catch (error) {
    if (error instanceof StepFailure) throw error;
    throw new StepFailure(`Bootstrap could not read what it depends on: ${(error as Error).name}: ${(error as Error).message}`, { ...UNCHANGED, cause: error });
  }
}

async function launchTemplateInputs(ctx: CommandContext): Promise<BootstrapInputs> {
  const template = await findLaunchTemplate(ctx.clients.ec2, ctx.settings.launchTemplate);
  if (template) return { amiId: undefined, mountDriver: ctx.settings.mountDriver };
  await checkNetwork(ctx, 'security-groups');
  const amiId = ctx.settings.amiId ?? (await newestBakedAmi(ctx));
  return { amiId, mountDriver: await checkAmiFits(ctx, amiId, ctx.settings.instanceType) };
}

/** The subnets the group launches into, or the security groups its instances get, exist (before the group or template is made). */
async function checkNetwork(ctx: CommandContext, input: 'subnets' | 'security-groups'): Promise<void> {
  const ids = input === 'subnets' ? ctx.settings.subnets : ctx.settings.securityGroups;
  if (ids.length === 0) return;
  try {
    if (input === 'subnets') await ctx.clients.ec2.send(new DescribeSubnetsCommand({ SubnetIds: ids }));
    else await ctx.clients.ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: ids }));
  } catch (error) {
    const code = awsErrorCode(error) ?? '';
    if (!/\.(NotFound|Malformed)$/.test(code)) throw error;
    throw new StepFailure(`${input}: ${(error as Error).message || code} in ${ctx.settings.region}; give ${input === 'subnets' ? 'subnets' : 'security groups'} of this region's VPC`, { ...UNCHANGED, cause: error });
  }
}

async function checkBucket(ctx: CommandContext, bucket: string): Promise<void> {
  try {
    await ctx.clients.s3.send(new HeadBucketCommand({ Bucket: bucket }));
  } catch (error) {
    const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    if (status === 404) throw new StepFailure(`Bucket ${bucket} does not exist: create it (or fix the bucket input) before bootstrap`, { ...UNCHANGED, cause: error });
    if (status === 403) throw new StepFailure(`Bucket ${bucket} is not reachable with these credentials (403): allow s3:ListBucket on it, or fix the bucket input`, { ...UNCHANGED, cause: error });
    if (status === 301) throw new StepFailure(`Bucket ${bucket} is in another region than ${ctx.settings.region}: set aws-region to the bucket's region`, { ...UNCHANGED, cause: error });
    throw error;
  }
}

/** The notification the mirror needs, as S3 will compare it with the bucket's others. */
export function mirrorRule(prefix: string): NotificationRule {
  return { id: MIRROR_NOTIFICATION_ID, destination: 'the mirror topic', events: [...MIRROR_EVENTS], prefix, suffix: '' };
}

async function checkNotificationFits(ctx: CommandContext, bucket: string): Promise<void> {
  const current = await ctx.clients.s3.send(new GetBucketNotificationConfigurationCommand({ Bucket: bucket }));
  const ours = mirrorRule(ctx.settings.bucketPrefix);
  const clashes = notificationRules(current).filter((rule) => rule.id !== MIRROR_NOTIFICATION_ID && rulesOverlap(rule, ours));
  if (clashes.length === 0) return;
  throw new StepFailure(
    `Bucket ${bucket} already has notification configuration(s) that overlap the one the mirror driver needs (${MIRROR_EVENTS.join(', ')} ${ctx.settings.bucketPrefix ? `under '${ctx.settings.bucketPrefix}'` : 'for the whole bucket'}), and S3 refuses overlapping configurations: ${clashes.map(describeRule).join('; ')}. ` +
      'Either set bucket-prefix to a prefix none of them covers, narrow theirs (a prefix or suffix that does not overlap), or use mount-driver s3fs or mountpoint, which need no notification',
    UNCHANGED,
  );
}

async function checkServiceImage(ctx: CommandContext): Promise<void> {
  const { image } = ctx.settings;
  if (!image || isImageByDigest(image)) return;
  const service = (await findCluster(ctx)) ? await describeService(ctx) : undefined;
  if (!service) throw new StepFailure(`image must be given by digest (repository@sha256:...) to create the service, got ${image}`, UNCHANGED);
}

/**
 * Without ami-id, the newest AMI this pipeline baked for this architecture and mount driver. Without
 * one, bootstrap refuses: the plain base AMI has no mount driver, so its instances would sit idle.
 */
async function newestBakedAmi(ctx: CommandContext): Promise<string> {
  const { settings, reporter } = ctx;
  const filters = [
    { Name: `tag:${MANAGED_TAG}`, Values: ['true'] },
    // An unset mount-driver takes whichever driver the newest AMI was baked with.
    { Name: `tag:${MOUNT_DRIVER_TAG}`, Values: settings.mountDriverGiven ? [settings.mountDriver] : ['s3fs', 'mountpoint', 'mirror'] },
    { Name: 'architecture', Values: [settings.architecture] },
    { Name: 'state', Values: ['available'] },
  ];
  const images = (await ctx.clients.ec2.send(new DescribeImagesCommand({ Owners: ['self'], Filters: filters }))).Images ?? [];
  const newest = images.sort((a, b) => (b.CreationDate ?? '').localeCompare(a.CreationDate ?? ''))[0];
  if (newest?.ImageId) {
    reporter.info(`No ami-id given: the launch template starts from ${newest.ImageId} ${newest.Name ?? ''}, the newest AMI baked for ${settings.architecture}${settings.mountDriverGiven ? ` with ${settings.mountDriver}` : ''}`);
    return newest.ImageId;
  }
  throw new StepFailure(
    `No ami-id given and no AMI baked for ${settings.architecture}${settings.mountDriverGiven ? ` with mount driver ${settings.mountDriver}` : ''} in ${settings.region}: the base AMI has no mount driver, so its instances would sit idle. ` +
      `Bake one first (mapserver-ecs bake --bucket ${settings.bucket ?? '<bucket>'}${settings.mountDriver === 'mirror' || !settings.mountDriverGiven ? '' : ` --mount-driver ${settings.mountDriver}`}), then run bootstrap again (it picks the newest baked AMI), or pass --ami-id`,
    UNCHANGED,
  );
}
