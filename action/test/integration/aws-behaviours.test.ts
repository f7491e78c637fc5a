// The pipeline against AWS behaviours the plain emulator lacks, each taught to the emulator here:
// settings bootstrap made survive rolls, snapshots stay in use for a while after a deregistration,
// S3 refuses overlapping notification configurations, bootstrap reads what it needs first.
import { CreateBucketCommand, GetBucketNotificationConfigurationCommand, PutBucketNotificationConfigurationCommand } from '@aws-sdk/client-s3';
import { DescribeImagesCommand as DescribeEcrImagesCommand, DescribeRepositoriesCommand, PutImageCommand } from '@aws-sdk/client-ecr';
import { DescribeClustersCommand, DescribeServicesCommand, UpdateServiceCommand } from '@aws-sdk/client-ecs';
import { DescribeAutoScalingGroupsCommand } from '@aws-sdk/client-auto-scaling';
import { ListTopicsCommand } from '@aws-sdk/client-sns';
import { CreateQueueCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import {
  CreateTagsCommand,
  DescribeImagesCommand,
  DescribeLaunchTemplateVersionsCommand,
  DescribeSecurityGroupsCommand,
  DescribeSnapshotsCommand,
  DescribeSubnetsCommand,
} from '@aws-sdk/client-ec2';
import { createClients, type AwsClients } from '../../src/aws/clients.js';
import type { InputName } from '../../src/inputs.js';
import { snapshotsOf } from '../../src/aws/snapshots.js';
import { bootstrap } from '../../src/steps/bootstrap.js';
import { cleanupAmis } from '../../src/steps/cleanup.js';
import { decideRoll, rollInstances } from '../../src/steps/roll.js';
import { testContext } from '../../../scripts/support/command-context.js';
import { makeManagedAmi, registerMountedInstance } from '../../../scripts/emulator/instances.js';
import { deployService } from '../../src/steps/deploy.js';
import { registerTaskDefinition } from '../../src/aws/ecs.js';
import { loadTaskDefinition } from '../../src/steps/task-definition.js';
import { startEmulator, type Emulator } from '../../../scripts/emulator/start.js';
import { StepFailure } from '../../src/errors.js';

jest.setTimeout(120_000);

let emulator: Emulator;
let clients: AwsClients;
let inputs: Partial<Record<InputName, string>>;
const savedEnv = { ...process.env };
const fast = { intervalMs: 50 };
const amis: string[] = [];
let sourceAmi = '';
let subnet = '';

function context(extra: Partial<Record<InputName, string>> = {}) {
  return testContext({ ...inputs, ...extra }, { clients, env: { ...emulator.env } });
}

async function defaultVersionData() {
  const [version] = (await clients.ec2.send(new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateName: 'mapserver-ecs', Versions: ['$Default'] }))).LaunchTemplateVersions ?? [];
  return version;
}

beforeAll(async () => {
  emulator = await startEmulator({ refreshSteps: 1, deploymentSteps: 1 });
  Object.assign(process.env, emulator.env);
  clients = createClients('us-east-1', process.env);
  await clients.s3.send(new CreateBucketCommand({ Bucket: 'maps-bucket' }));
  const subnets = (await clients.ec2.send(new DescribeSubnetsCommand({}))).Subnets ?? [];
  const group = (await clients.ec2.send(new DescribeSecurityGroupsCommand({ GroupNames: ['default'] }))).SecurityGroups?.[0];
  sourceAmi = ((await clients.ec2.send(new DescribeImagesCommand({ Owners: ['amazon'] }))).Images ?? []).find((i) => (i.Platform ?? '').toLowerCase() !== 'windows')?.ImageId ?? '';
  subnet = subnets[0]?.SubnetId ?? '';
  for (const day of ['01', '02', '03']) amis.push(await makeManagedAmi(clients.ec2, { name: `mapserver-ecs-2026-11-${day}`, buildTime: `2026-11-${day}T10:00:00Z`, sourceAmi, subnet }));
  inputs = {
    command: 'bootstrap',
    bucket: 'maps-bucket',
    subnets: subnets.slice(0, 2).map((s) => s.SubnetId ?? '').join(','),
    'security-groups': group?.GroupId ?? '',
    'instance-profile': 'mapserver-ecs-instance',
    'ami-id': amis[0] ?? '',
    'wait-minutes': '1',
  };
}, 120_000);

afterAll(async () => {
  clients?.destroy();
  await emulator?.stop();
  for (const key of Object.keys(process.env)) if (!(key in savedEnv)) delete process.env[key];
  Object.assign(process.env, savedEnv);
});

describe('rolls keep what bootstrap set', () => {
  it('bootstrap with t3.medium, then roll --ami-id without an instance type: the default version still says t3.medium', async () => {
    await bootstrap(context({ 'instance-type': 't3.medium' }));
    expect((await defaultVersionData())?.LaunchTemplateData?.InstanceType).toBe('t3.medium');
    const roll = context({ command: 'roll', 'ami-id': amis[1] ?? '' });
    expect(roll.settings.instanceTypeGiven).toBe(false);
    const plan = await decideRoll(roll, amis[1]);
    expect(plan.reason).not.toMatch(/instance type/);
    await rollInstances(roll, amis[1] ?? '', fast);
    const version = await defaultVersionData();
    expect(version?.VersionNumber).toBe(2);
    expect(version?.LaunchTemplateData).toMatchObject({ ImageId: amis[1], InstanceType: 't3.medium' });
  });

  it('an instance type given explicitly changes it, and the plan names the change', async () => {
    const roll = context({ command: 'roll', 'ami-id': amis[2] ?? '', 'instance-type': 'm7i.large' });
    const plan = await decideRoll(roll, amis[2]);
    expect(plan.reason).toContain('instance type t3.medium -> m7i.large');
    await rollInstances(roll, amis[2] ?? '', fast);
    expect((await defaultVersionData())?.LaunchTemplateData).toMatchObject({ ImageId: amis[2], InstanceType: 'm7i.large' });
  });
});

describe('cleanup while snapshots stay in use after a deregistration', () => {
  const snapshotIds = async (): Promise<string[]> => ((await clients.ec2.send(new DescribeSnapshotsCommand({ OwnerIds: ['self'] }))).Snapshots ?? []).map((s) => s.SnapshotId ?? '');
  const snapshotsOfAmi = async (id: string): Promise<string[]> => snapshotsOf((await clients.ec2.send(new DescribeImagesCommand({ ImageIds: [id] }))).Images?.[0] ?? {});

  let leftOver = '';

  it('without DeleteAssociatedSnapshots, retries InvalidSnapshot.InUse until the snapshot goes, and the cleanup succeeds', async () => {
    const snapshots = await snapshotsOfAmi(amis[0] ?? '');
    expect(snapshots.length).toBeGreaterThan(0);
    emulator.proxy.snapshots.options = { inUseMs: 1_500, deleteAssociatedSnapshots: false };
    const refusedBefore = emulator.proxy.snapshots.refused;
    const ctx = context({ command: 'cleanup', 'keep-amis': '2' });
    const result = await cleanupAmis(ctx, { firstDelayMs: 200, maxDelayMs: 1_000 });
    expect(result).toEqual({ deregistered: [amis[0]], orphanedSnapshots: [] });
    expect(emulator.proxy.snapshots.refused).toBeGreaterThan(refusedBefore);
    const left = await snapshotIds();
    for (const id of snapshots) expect(left).not.toContain(id);
  });

  it('reports a snapshot still in use after the bound as left over, without failing', async () => {
    const extra = await makeManagedAmi(clients.ec2, { name: 'mapserver-ecs-2026-10-01', buildTime: '2026-10-01T10:00:00Z', sourceAmi, subnet });
    const [snapshot] = await snapshotsOfAmi(extra);
    emulator.proxy.snapshots.options = { inUseMs: 3_000, deleteAssociatedSnapshots: false };
    const ctx = context({ command: 'cleanup', 'keep-amis': '2' });
    const result = await cleanupAmis(ctx, { firstDelayMs: 50, attempts: 3 });
    expect(result.deregistered).toEqual([extra]);
    expect(result.orphanedSnapshots).toEqual([{ snapshotId: snapshot, reason: expect.stringMatching(/InvalidSnapshot\.InUse.*after 3 attempts/) }]);
    expect(ctx.log()).toContain(`aws ec2 delete-snapshot --snapshot-id ${snapshot ?? ''}`);
    leftOver = snapshot ?? '';
  });

  it('a later cleanup deletes the snapshot left over, once it is no longer in use', async () => {
    // Packer tags a bake's snapshots like its AMI.
    await clients.ec2.send(new CreateTagsCommand({ Resources: [leftOver], Tags: [{ Key: 'mapserver-ecs:managed', Value: 'true' }] }));
    // Still in use: left for later, with a warning.
    const early = context({ command: 'cleanup', 'keep-amis': '2' });
    expect((await cleanupAmis(early, { leftOverAgeMs: 0 })).sweptSnapshots).toBeUndefined();
    expect(early.log()).toMatch(new RegExp(`Snapshot ${leftOver}, left over by an earlier cleanup, is still there \\(InvalidSnapshot\\.InUse`));
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const result = await cleanupAmis(context({ command: 'cleanup', 'keep-amis': '2' }), { leftOverAgeMs: 0 });
    expect(result.sweptSnapshots).toEqual([leftOver]);
    expect(await snapshotIds()).not.toContain(leftOver);
  });

  it('with DeleteAssociatedSnapshots (as AWS has it), EC2 deletes the snapshots with the AMI and nothing is refused', async () => {
    const snapshots = await snapshotsOfAmi(amis[1] ?? '');
    emulator.proxy.snapshots.options = { inUseMs: 60_000 };
    const refusedBefore = emulator.proxy.snapshots.refused;
    const result = await cleanupAmis(context({ command: 'cleanup', 'keep-amis': '1' }));
    expect(result).toEqual({ deregistered: [amis[1]], orphanedSnapshots: [] });
    expect(emulator.proxy.snapshots.refused).toBe(refusedBefore);
    const left = await snapshotIds();
    for (const id of snapshots) expect(left).not.toContain(id);
  });
});

describe('bootstrap reads what it depends on before it creates anything', () => {
  const fresh = { cluster: 'other', service: 'other', 'launch-template': 'other-lt', 'auto-scaling-group': 'other-asg', 'capacity-provider': 'other-cp', 'ecr-repository': 'other-repo' } as const;
  const nothingMade = async (): Promise<void> => {
    await expect(clients.ecr.send(new DescribeRepositoriesCommand({ repositoryNames: ['other-repo'] }))).rejects.toThrow(/does not exist/);
    const clusters = (await clients.ecs.send(new DescribeClustersCommand({ clusters: ['other'] }))).clusters ?? [];
    expect(clusters.filter((c) => c.status === 'ACTIVE')).toEqual([]);
  };
  let queueArn = '';

  beforeAll(async () => {
    await clients.s3.send(new CreateBucketCommand({ Bucket: 'shared-bucket' }));
    await clients.sqs.send(new CreateQueueCommand({ QueueName: 'thumbnails' }));
    queueArn = 'arn:aws:sqs:us-east-1:123456789012:thumbnails';
    await clients.s3.send(
      new PutBucketNotificationConfigurationCommand({
        Bucket: 'shared-bucket',
        NotificationConfiguration: {
          QueueConfigurations: [{ Id: 'thumbnails', QueueArn: queueArn, Events: ['s3:ObjectCreated:*'], Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: 'maps/' }] } } }],
        },
      }),
    );
  });

  it('the emulator refuses an overlapping notification configuration as S3 does', async () => {
    const overlapping = {
      Bucket: 'shared-bucket',
      NotificationConfiguration: {
        QueueConfigurations: [
          { Id: 'a', QueueArn: queueArn, Events: ['s3:ObjectCreated:*' as const], Filter: { Key: { FilterRules: [{ Name: 'prefix' as const, Value: 'maps/' }] } } },
          { Id: 'b', QueueArn: queueArn, Events: ['s3:ObjectCreated:Put' as const] },
        ],
      },
    };
    await expect(clients.s3.send(new PutBucketNotificationConfigurationCommand(overlapping))).rejects.toThrow(/Configuration is ambiguously defined/);
  });

  it('on a bucket with an overlapping notification, fails before any change, naming the configuration', async () => {
    const topicsBefore = (await clients.sns.send(new ListTopicsCommand({}))).Topics?.length ?? 0;
    const ctx = context({ ...fresh, bucket: 'shared-bucket', 'bucket-prefix': 'maps/wms/' });
    const error = (await bootstrap(ctx).catch((e: unknown) => e)) as StepFailure;
    expect(error).toBeInstanceOf(StepFailure);
    expect(error.message).toContain(`queue ${queueArn} (id 'thumbnails') gets s3:ObjectCreated:* under 'maps/'`);
    expect(error.message).toMatch(/set bucket-prefix to a prefix none of them covers/);
    expect(error.state).toBe('nothing changed');
    await nothingMade();
    expect((await clients.sns.send(new ListTopicsCommand({}))).Topics?.length ?? 0).toBe(topicsBefore);
    const notification = await clients.s3.send(new GetBucketNotificationConfigurationCommand({ Bucket: 'shared-bucket' }));
    expect(notification.QueueConfigurations?.map((c) => c.Id)).toEqual(['thumbnails']);
    expect(notification.TopicConfigurations ?? []).toEqual([]);
  });

  it('with a prefix apart from the existing one, adds the mirror notification next to it', async () => {
    await bootstrap(context({ ...fresh, bucket: 'shared-bucket', 'bucket-prefix': 'mapfiles/', 'ami-id': amis[2] ?? '' }));
    const notification = await clients.s3.send(new GetBucketNotificationConfigurationCommand({ Bucket: 'shared-bucket' }));
    expect(notification.QueueConfigurations?.map((c) => c.Id)).toEqual(['thumbnails']);
    expect(notification.TopicConfigurations).toHaveLength(1);
  });

  it('fails before any change when the bucket does not exist', async () => {
    const error = (await bootstrap(context({ ...fresh, cluster: 'third', 'ecr-repository': 'third-repo', bucket: 'no-such-bucket' })).catch((e: unknown) => e)) as StepFailure;
    expect(error.message).toBe('Bucket no-such-bucket does not exist: create it (or fix the bucket input) before bootstrap');
    expect(error.state).toBe('nothing changed');
    await expect(clients.ecr.send(new DescribeRepositoriesCommand({ repositoryNames: ['third-repo'] }))).rejects.toThrow(/does not exist/);
  });
});

describe('deployments with a static host port fit the group', () => {
  const image = (n: number): string => `123456789012.dkr.ecr.us-east-1.amazonaws.com/mapserver@sha256:${String(n).repeat(64)}`;
  const pair = {
    cluster: 'pair',
    service: 'pair',
    'launch-template': 'pair-lt',
    'auto-scaling-group': 'pair-asg',
    'capacity-provider': 'pair-cp',
    'ecr-repository': 'pair-repo',
    'mount-driver': 's3fs',
    'min-size': '2',
    'max-size': '2',
    'desired-count': '2',
    'ami-id': '',
  } as const;
  const primary = async () => (await clients.ecs.send(new DescribeServicesCommand({ cluster: 'pair', services: ['pair'] }))).services?.[0]?.deployments?.find((d) => d.status === 'PRIMARY');

  beforeAll(async () => {
    const s3fsAmi = await makeManagedAmi(clients.ec2, { name: 'mapserver-ecs-s3fs', buildTime: '2026-11-04T10:00:00Z', sourceAmi, subnet, mountDriver: 's3fs' });
    await bootstrap(context({ ...pair, 'ami-id': s3fsAmi, image: image(1) }));
    const group = (await clients.autoScaling.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: ['pair-asg'] }))).AutoScalingGroups?.[0];
    const ids = (group?.Instances ?? []).map((i) => i.InstanceId ?? '');
    expect(ids).toHaveLength(2);
    for (const id of ids) await registerMountedInstance(emulator.endpoint, 'pair', id);
  });

  it('the emulator stalls a 100/200 deployment of 2 tasks on port 8080 when the group holds at most 2 instances', async () => {
    const ctx = context({ ...pair, command: 'deploy', image: image(2) });
    // Let the first deployment (bootstrap's) complete.
    for (let i = 0; i < 3; i += 1) await primary();
    expect((await primary())?.rolloutState).toBe('COMPLETED');
    const taskDefinition = await registerTaskDefinition(ctx, await loadTaskDefinition(ctx.root, ctx.settings, image(2)));
    await clients.ecs.send(new UpdateServiceCommand({ cluster: 'pair', service: 'pair', taskDefinition, deploymentConfiguration: { minimumHealthyPercent: 100, maximumPercent: 200 } }));
    for (let i = 0; i < 4; i += 1) await primary();
    const stalled = await primary();
    expect(stalled?.rolloutState).toBe('IN_PROGRESS');
    expect(stalled?.rolloutStateReason).toMatch(/no container instance has host port 8080 free .*2 instance\(s\), 2 task\(s\) running, desired 2/);
  });

  it('deploy with desired-count 2 on a 2-instance group completes: it replaces one task at a time', async () => {
    const ctx = context({ ...pair, command: 'deploy', image: image(3) });
    const { taskDefinitionArn } = await deployService(ctx, image(3), fast);
    const service = (await clients.ecs.send(new DescribeServicesCommand({ cluster: 'pair', services: ['pair'] }))).services?.[0];
    expect(service?.deploymentConfiguration).toMatchObject({ minimumHealthyPercent: 50, maximumPercent: 100 });
    expect(await primary()).toMatchObject({ taskDefinition: taskDefinitionArn, rolloutState: 'COMPLETED' });
  });

  it('tags the image it deploys from the repository deployed-<service>, which the lifecycle policy keeps, and the one before rollback-<service>', async () => {
    const push = async (n: number): Promise<string> => {
      const manifest = JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.docker.distribution.manifest.v2+json', config: { digest: `sha256:${String(n).repeat(64)}` }, layers: [{ digest: `sha256:${String(n + 1).repeat(64)}` }] });
      const pushed = await clients.ecr.send(new PutImageCommand({ repositoryName: 'pair-repo', imageManifest: manifest, imageTag: `rev${n}` }));
      return `123456789012.dkr.ecr.us-east-1.amazonaws.com/pair-repo@${pushed.image?.imageId?.imageDigest ?? ''}`;
    };
    const [first, second] = [await push(4), await push(5)];
    await deployService(context({ ...pair, command: 'deploy', image: first }), first, fast);
    await deployService(context({ ...pair, command: 'deploy', image: second }), second, fast);
    const tagsOf = async (uri: string): Promise<string[]> =>
      (await clients.ecr.send(new DescribeEcrImagesCommand({ repositoryName: 'pair-repo', imageIds: [{ imageDigest: uri.split('@')[1] }] }))).imageDetails?.[0]?.imageTags?.sort() ?? [];
    expect(await tagsOf(second)).toEqual(['deployed-pair', 'rev5']);
    expect(await tagsOf(first)).toEqual(['rev4', 'rollback-pair']);
  });
});
