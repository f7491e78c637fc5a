// bootstrap -> deploy -> roll -> cleanup over HTTP against the emulator (moto_server behind the
// project's shim), then a second bootstrap that changes nothing, then the failure paths.
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { DescribeAutoScalingGroupsCommand, StartInstanceRefreshCommand, CancelInstanceRefreshCommand, DescribeInstanceRefreshesCommand } from '@aws-sdk/client-auto-scaling';
import {
  DescribeImagesCommand,
  DescribeInstancesCommand,
  DescribeLaunchTemplateVersionsCommand,
  DescribeSecurityGroupsCommand,
  DescribeSnapshotsCommand,
  DescribeSubnetsCommand,
  RunInstancesCommand,
  TerminateInstancesCommand,
} from '@aws-sdk/client-ec2';
import { DescribeClustersCommand, DescribeServicesCommand, DescribeTaskDefinitionCommand } from '@aws-sdk/client-ecs';
import { createClients, type AwsClients } from '../../src/aws/clients.js';
import type { InputName } from '../../src/inputs.js';
import { bootstrap } from '../../src/steps/bootstrap.js';
import { cleanupAmis } from '../../src/steps/cleanup.js';
import { deployService } from '../../src/steps/deploy.js';
import { rollInstances } from '../../src/steps/roll.js';
import { loadUserData } from '../../src/steps/user-data.js';
import { testContext } from '../../../scripts/support/command-context.js';
import { makeManagedAmi, registerMountedInstance } from '../../../scripts/emulator/instances.js';
import { startEmulator, type Emulator } from '../../../scripts/emulator/start.js';

jest.setTimeout(120_000);

let emulator: Emulator;
let clients: AwsClients;
let inputs: Partial<Record<InputName, string>>;
const savedEnv = { ...process.env };
const fast = { intervalMs: 50 };
const image = (n: number): string => `123456789012.dkr.ecr.us-east-1.amazonaws.com/mapserver@sha256:${String(n).repeat(64).slice(0, 64)}`;
const amis: string[] = [];

function context(extra: Partial<Record<InputName, string>> = {}) {
  return testContext({ ...inputs, ...extra }, { clients, env: { ...emulator.env } });
}

async function managedAmi(name: string, buildTime: string, sourceAmi: string, subnet: string): Promise<string> {
  return makeManagedAmi(clients.ec2, { name, buildTime, sourceAmi, subnet });
}

async function groupInstanceIds(): Promise<string[]> {
  const group = await clients.autoScaling.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: ['mapserver-ecs'] }));
  return (group.AutoScalingGroups?.[0]?.Instances ?? []).map((i) => i.InstanceId ?? '');
}

beforeAll(async () => {
  emulator = await startEmulator();
  // The SDK reads the endpoint and credentials from the environment, as it does in the action.
  Object.assign(process.env, emulator.env);
  clients = createClients('us-east-1', process.env);
  // The mapfile bucket exists before bootstrap (which adds the mirror's event notification to it).
  await clients.s3.send(new CreateBucketCommand({ Bucket: 'maps-bucket' }));
  const subnets = (await clients.ec2.send(new DescribeSubnetsCommand({}))).Subnets ?? [];
  const group = (await clients.ec2.send(new DescribeSecurityGroupsCommand({ GroupNames: ['default'] }))).SecurityGroups?.[0];
  const source = ((await clients.ec2.send(new DescribeImagesCommand({ Owners: ['amazon'] }))).Images ?? []).find((i) => (i.Platform ?? '').toLowerCase() !== 'windows')?.ImageId;
  if (!source) throw new Error('the emulator lists no Amazon Linux image to bake from');
  const subnet = subnets[0]?.SubnetId ?? '';
  // Three old AMIs, the one bootstrap starts with, and the one roll moves to (oldest first).
  for (const day of ['01', '02', '03', '04', '05']) amis.push(await managedAmi(`mapserver-ecs-2026-11-${day}`, `2026-11-${day}T10:00:00Z`, source, subnet));
  inputs = {
    command: 'bootstrap',
    bucket: 'maps-bucket',
    'bucket-prefix': 'maps/',
    subnets: subnets.slice(0, 2).map((s) => s.SubnetId ?? '').join(','),
    'security-groups': group?.GroupId ?? '',
    'instance-profile': 'mapserver-ecs-instance',
    'task-role-arn': 'arn:aws:iam::123456789012:role/mapserver-task',
    'execution-role-arn': 'arn:aws:iam::123456789012:role/mapserver-execution',
    'ami-id': amis[3] ?? '',
    image: image(1),
    'keep-amis': '1',
    'wait-minutes': '1',
  };
}, 120_000);

afterAll(async () => {
  clients?.destroy();
  await emulator?.stop();
  for (const key of Object.keys(process.env)) if (!(key in savedEnv)) delete process.env[key];
  Object.assign(process.env, savedEnv);
});

describe('ECS lifecycle against the emulator', () => {
  it('bootstrap creates the repository, the mirror topic and bucket notification, the cluster, launch template, group, capacity provider and service', async () => {
    const ctx = context();
    const result = await bootstrap(ctx);
    expect(result.created.map((c) => c.kind)).toEqual([
      'ECR repository',
      'SNS topic',
      'bucket notification',
      'ECS cluster',
      'launch template',
      'Auto Scaling group',
      'lifecycle hook',
      'capacity provider',
      'cluster capacity providers',
      'ECS service',
    ]);
    const cluster = (await clients.ecs.send(new DescribeClustersCommand({ clusters: ['mapserver'] }))).clusters?.[0];
    expect(cluster?.capacityProviders).toEqual(['mapserver-ecs']);
    expect(cluster?.defaultCapacityProviderStrategy).toEqual([{ capacityProvider: 'mapserver-ecs', weight: 1, base: 0 }]);
    const [version] = (await clients.ec2.send(new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateName: 'mapserver-ecs', Versions: ['$Default'] }))).LaunchTemplateVersions ?? [];
    expect(version?.LaunchTemplateData?.ImageId).toBe(amis[3]);
    expect(version?.LaunchTemplateData?.MetadataOptions?.HttpTokens).toBe('required');
    const group = (await clients.autoScaling.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: ['mapserver-ecs'] }))).AutoScalingGroups?.[0];
    expect(group?.LaunchTemplate?.Version).toBe('1');
    expect(group?.NewInstancesProtectedFromScaleIn).toBe(true);
  });

  it('deploy waits, and times out, while no instance has its bucket mounted (the placement constraint)', async () => {
    let now = Date.now();
    const clock = { intervalMs: 10_000, now: () => now, sleep: async (ms: number) => void (now += ms) };
    const ctx = context({ command: 'deploy', image: image(2), 'wait-minutes': '1' });
    await expect(deployService(ctx, image(2), clock)).rejects.toThrow(/Timed out after 1m00s waiting for the deployment of mapserver:2 .*no container instance meets the placement constraints/);
  });

  it('deploy rolls the service onto a new task definition whose mapfile volume is read-only', async () => {
    // What the ECS agent does once the mount is up: register with the mount attribute.
    for (const instanceId of await groupInstanceIds()) await registerMountedInstance(emulator.endpoint, 'mapserver', instanceId);
    const ctx = context({ command: 'deploy', image: image(2) });
    const { taskDefinitionArn } = await deployService(ctx, image(2), fast);
    // The timed-out deploy above registered this very definition as revision 2: it is reused, not duplicated.
    expect(taskDefinitionArn).toMatch(/task-definition\/mapserver:2$/);
    const service = (await clients.ecs.send(new DescribeServicesCommand({ cluster: 'mapserver', services: ['mapserver'] }))).services?.[0];
    expect(service?.taskDefinition).toBe(taskDefinitionArn);
    expect(service?.deployments?.[0]).toMatchObject({ status: 'PRIMARY', taskDefinition: taskDefinitionArn, rolloutState: 'COMPLETED' });
    const definition = (await clients.ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: taskDefinitionArn }))).taskDefinition;
    const container = definition?.containerDefinitions?.[0];
    expect(container?.image).toBe(image(2));
    expect(container?.mountPoints).toEqual([{ sourceVolume: 'mapfiles', containerPath: '/mapfiles', readOnly: true }]);
    expect(definition?.volumes).toEqual([{ name: 'mapfiles', host: { sourcePath: '/mnt/mapfiles' } }]);
    expect(definition?.placementConstraints).toEqual([{ type: 'memberOf', expression: 'attribute:mapserver-ecs.mount == ready' }]);
    // It picks up the deployment the timed-out run started instead of registering a duplicate.
    expect(ctx.log()).toMatch(/Reusing .*task-definition\/mapserver:2: it was registered from the same definition/);
  });

  it('roll makes the new AMI the default launch template version, with IMDSv2, and replaces the instances', async () => {
    const before = await groupInstanceIds();
    expect(before.length).toBeGreaterThan(0);
    const ctx = context({ command: 'roll', 'ami-id': amis[4] ?? '' });
    const rolled = await rollInstances(ctx, amis[4] ?? '', fast);
    expect(rolled.launchTemplateVersion).toBe('2');
    const [version] = (await clients.ec2.send(new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateName: 'mapserver-ecs', Versions: ['$Default'] }))).LaunchTemplateVersions ?? [];
    expect(version?.VersionNumber).toBe(2);
    expect(version?.LaunchTemplateData?.ImageId).toBe(amis[4]);
    expect(version?.LaunchTemplateData?.MetadataOptions).toMatchObject({ HttpTokens: 'required', HttpEndpoint: 'enabled' });
    expect(version?.LaunchTemplateData?.IamInstanceProfile?.Name).toBe('mapserver-ecs-instance');
    const script = Buffer.from(version?.LaunchTemplateData?.UserData ?? '', 'base64').toString();
    expect(script).toContain("BUCKET='maps-bucket'");
    const group = (await clients.autoScaling.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: ['mapserver-ecs'] }))).AutoScalingGroups?.[0];
    expect(group?.LaunchTemplate?.Version).toBe('2');
    const after = await groupInstanceIds();
    expect(after.length).toBe(before.length);
    expect(after.some((id) => before.includes(id))).toBe(false);
    const running = await clients.ec2.send(new DescribeInstancesCommand({ InstanceIds: after }));
    expect(running.Reservations?.flatMap((r) => r.Instances ?? []).map((i) => i.ImageId)).toEqual(after.map(() => amis[4]));
    const refresh = await clients.autoScaling.send(new DescribeInstanceRefreshesCommand({ AutoScalingGroupName: 'mapserver-ecs', InstanceRefreshIds: [rolled.instanceRefreshId] }));
    expect(refresh.InstanceRefreshes?.[0]?.Preferences).toMatchObject({ MinHealthyPercentage: 100, MaxHealthyPercentage: 200, SkipMatching: true, AutoRollback: true, ScaleInProtectedInstances: 'Refresh' });
    expect(ctx.log()).toMatch(/InProgress, \d+% complete/);
  });

  it('cleanup lists in a dry run, then deregisters AMIs beyond keep-amis and their snapshots, never one in use', async () => {
    const snapshotsOf = async (id: string): Promise<string[]> =>
      ((await clients.ec2.send(new DescribeImagesCommand({ ImageIds: [id] }))).Images?.[0]?.BlockDeviceMappings ?? []).map((m) => m.Ebs?.SnapshotId ?? '').filter(Boolean);
    const oldSnapshots = (await Promise.all(amis.slice(0, 4).map(snapshotsOf))).flat();
    expect(oldSnapshots.length).toBeGreaterThan(0);
    // A stray instance still running the oldest AMI keeps it.
    const subnet = inputs.subnets?.split(',')[0] ?? '';
    const stray = await clients.ec2.send(new RunInstancesCommand({ ImageId: amis[0], MinCount: 1, MaxCount: 1, SubnetId: subnet }));

    const dry = context({ command: 'cleanup', 'dry-run': 'true' });
    const planned = await cleanupAmis(dry);
    expect(planned.deregistered.sort()).toEqual([amis[1], amis[2], amis[3]].sort());
    expect(dry.log()).toMatch(new RegExp(`keep ${amis[0]} .*in use by instance`));
    expect((await clients.ec2.send(new DescribeImagesCommand({ ImageIds: amis }))).Images).toHaveLength(5);

    const result = await cleanupAmis(context({ command: 'cleanup' }));
    expect(result.deregistered.sort()).toEqual([amis[1], amis[2], amis[3]].sort());
    const left = (await clients.ec2.send(new DescribeImagesCommand({ Owners: ['self'], Filters: [{ Name: 'tag:mapserver-ecs:managed', Values: ['true'] }] }))).Images ?? [];
    expect(left.map((i) => i.ImageId).sort()).toEqual([amis[0], amis[4]].sort());
    const snapshots = (await clients.ec2.send(new DescribeSnapshotsCommand({ OwnerIds: ['self'] }))).Snapshots?.map((s) => s.SnapshotId) ?? [];
    for (const id of oldSnapshots.slice(1)) expect(snapshots).not.toContain(id);
    await clients.ec2.send(new TerminateInstancesCommand({ InstanceIds: [stray.Instances?.[0]?.InstanceId ?? ''] }));
  });

  it('a second bootstrap changes nothing and says so', async () => {
    const versions = async () => (await clients.ec2.send(new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateName: 'mapserver-ecs' }))).LaunchTemplateVersions?.length;
    const countBefore = await versions();
    const ctx = context();
    const result = await bootstrap(ctx);
    expect(result.created).toEqual([]);
    expect(result.unchanged).toHaveLength(10);
    expect(ctx.log()).toMatch(/Bootstrap changed nothing/);
    expect(await versions()).toBe(countBefore);
  });

  it('rendered user data passes shellcheck', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'user-data-'));
    try {
      const file = join(dir, 'user-data.sh');
      writeFileSync(file, await loadUserData(process.cwd(), context().settings));
      expect(() => execFileSync('shellcheck', ['--severity=style', file], { stdio: 'pipe' })).not.toThrow();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('failures against the emulator', () => {
  it('deploy fails when the circuit breaker rolls back, and the service keeps the previous task definition', async () => {
    const previous = (await clients.ecs.send(new DescribeServicesCommand({ cluster: 'mapserver', services: ['mapserver'] }))).services?.[0]?.taskDefinition;
    emulator.proxy.failNextDeployment('tasks failed to start.');
    await expect(deployService(context({ command: 'deploy' }), image(3), fast)).rejects.toThrow(/circuit breaker failed the deployment .*tasks failed to start.*rolled back to/);
    const service = (await clients.ecs.send(new DescribeServicesCommand({ cluster: 'mapserver', services: ['mapserver'] }))).services?.[0];
    expect(service?.taskDefinition).toBe(previous);
  });

  it('roll fails when the refresh rolls back', async () => {
    // The group runs amis[4] already: rolling onto it again changes nothing, so roll elsewhere.
    expect(await rollInstances(context({ command: 'roll' }), amis[4] ?? '', fast)).toMatchObject({ launchTemplateVersion: '2', unchanged: true });
    emulator.proxy.failNextRefresh('RollbackSuccessful');
    await expect(rollInstances(context({ command: 'roll' }), amis[0] ?? '', fast)).rejects.toThrow(/ended RollbackSuccessful: .*rolling back/);
    const [version] = (await clients.ec2.send(new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateName: 'mapserver-ecs', Versions: ['$Default'] }))).LaunchTemplateVersions ?? [];
    expect(version?.VersionNumber).toBe(2);
    const group = (await clients.autoScaling.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: ['mapserver-ecs'] }))).AutoScalingGroups?.[0];
    expect(group?.LaunchTemplate?.Version).toBe('2');
  });

  it('roll refuses to start while another refresh runs, and changes nothing', async () => {
    const versions = async () => (await clients.ec2.send(new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateName: 'mapserver-ecs' }))).LaunchTemplateVersions?.length;
    const before = await versions();
    const started = await clients.autoScaling.send(new StartInstanceRefreshCommand({ AutoScalingGroupName: 'mapserver-ecs' }));
    await expect(rollInstances(context({ command: 'roll' }), amis[4] ?? '', fast)).rejects.toThrow(new RegExp(`Instance refresh ${started.InstanceRefreshId ?? 'x'} of mapserver-ecs is (Pending|InProgress)`));
    expect(await versions()).toBe(before);
    await clients.autoScaling.send(new CancelInstanceRefreshCommand({ AutoScalingGroupName: 'mapserver-ecs' }));
  });
});
