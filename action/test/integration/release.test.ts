// The commands from the terminal, over HTTP against the emulator: bootstrap, then release with a
// given AMI and image (base-ami, bake and image stand aside), then a release the circuit breaker
// rolls back, which must fail.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { AutoScalingClient, DescribeAutoScalingGroupsCommand } from '@aws-sdk/client-auto-scaling';
import { DescribeImagesCommand, DescribeLaunchTemplateVersionsCommand, DescribeSubnetsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { DescribeServicesCommand, ECSClient } from '@aws-sdk/client-ecs';
import { runCliFromSource, type CliRun } from '../support/cli-source.js';
import { makeManagedAmi, registerMountedInstance } from '../../../scripts/emulator/instances.js';
import { startEmulator, type Emulator } from '../../../scripts/emulator/start.js';

jest.setTimeout(300_000);

let emulator: Emulator;
let clients: { ec2: EC2Client; ecs: ECSClient; autoScaling: AutoScalingClient; destroy(): void };
let common: string[];
const amis: string[] = [];
const image = (hex: string): string => `123456789012.dkr.ecr.us-east-1.amazonaws.com/mapserver@sha256:${hex.repeat(64).slice(0, 64)}`;

/** Runs the CLI from source against the emulator. */
function cli(args: string[]): Promise<CliRun> {
  return runCliFromSource(args, emulator.env);
}

async function groupInstanceIds(): Promise<string[]> {
  const group = await clients.autoScaling.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: ['mapserver-ecs'] }));
  return (group.AutoScalingGroups?.[0]?.Instances ?? []).map((i) => i.InstanceId ?? '');
}

beforeAll(async () => {
  // One poll per refresh and deployment, so the commands' real polling intervals never wait.
  emulator = await startEmulator({ refreshSteps: 1, deploymentSteps: 1 });
  // This process keeps its own environment; the CLI gets the emulator's.
  const config = { region: 'us-east-1', endpoint: emulator.endpoint, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } };
  const made = { ec2: new EC2Client(config), ecs: new ECSClient(config), autoScaling: new AutoScalingClient(config) };
  clients = { ...made, destroy: () => Object.values(made).forEach((c) => c.destroy()) };
  const ec2 = clients.ec2;
  // The mapfile bucket exists before bootstrap (which adds the mirror's event notification to it).
  const s3 = new S3Client({ ...config, forcePathStyle: true });
  await s3.send(new CreateBucketCommand({ Bucket: 'maps-bucket' }));
  s3.destroy();
  const subnets = (await ec2.send(new DescribeSubnetsCommand({}))).Subnets ?? [];
  const source = ((await ec2.send(new DescribeImagesCommand({ Owners: ['amazon'] }))).Images ?? []).find((i) => (i.Platform ?? '').toLowerCase() !== 'windows')?.ImageId ?? '';
  for (const day of ['01', '02', '03']) amis.push(await makeManagedAmi(ec2, { name: `mapserver-ecs-2026-11-${day}`, buildTime: `2026-11-${day}T10:00:00Z`, sourceAmi: source, subnet: subnets[0]?.SubnetId ?? '' }));
  common = [
    '--bucket', 'maps-bucket',
    '--subnets', subnets.slice(0, 2).map((s) => s.SubnetId ?? '').join(','),
    '--instance-profile', 'mapserver-ecs-instance',
    '--execution-role-arn', 'arn:aws:iam::123456789012:role/mapserver-execution',
    '--task-role-arn', 'arn:aws:iam::123456789012:role/mapserver-task',
  ];
}, 120_000);

afterAll(async () => {
  clients?.destroy();
  await emulator?.stop();
});

describe('the CLI against the emulator', () => {
  it('bootstrap creates everything; a second run changes nothing', async () => {
    const first = await cli(['bootstrap', ...common, '--ami-id', amis[0] ?? '', '--image', image('1')]);
    expect(first.stderr).toMatch(/created: ECS service mapserver/);
    expect(first.code).toBe(0);
    const second = await cli(['bootstrap', ...common, '--ami-id', amis[0] ?? '']);
    expect(second.code).toBe(0);
    expect(second.stderr).toMatch(/Bootstrap changed nothing/);
    expect(second.stderr).not.toMatch(/created:/);
  });

  it('release with a given AMI and image deploys, rolls and cleans up, with every output in the summary', async () => {
    for (const id of await groupInstanceIds()) await registerMountedInstance(emulator.endpoint, 'mapserver', id);
    const run = await cli(['release', ...common, '--ami-id', amis[2] ?? '', '--image', image('2'), '--keep-amis', '1']);
    expect(run.stderr).toMatch(/mapserver-ecs release/);
    expect(run.code).toBe(0);
    expect(run.stderr).toMatch(/base-ami\s+not needed: ami-id given/);
    expect(run.stderr).toMatch(/task-definition-arn\s+arn:aws:ecs:us-east-1:123456789012:task-definition\/mapserver:2/);
    expect(run.stderr).toMatch(/launch-template-version\s+2/);
    expect(run.stderr).toMatch(/instance-refresh-id\s+[0-9a-f-]{36}/);
    expect(run.stderr).toMatch(new RegExp(`deregistered-amis\\s+${amis[1]}`));
    const [version] = (await clients.ec2.send(new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateName: 'mapserver-ecs', Versions: ['$Default'] }))).LaunchTemplateVersions ?? [];
    expect(version?.LaunchTemplateData?.ImageId).toBe(amis[2]);
    expect(version?.LaunchTemplateData?.MetadataOptions?.HttpTokens).toBe('required');
    const left = (await clients.ec2.send(new DescribeImagesCommand({ Owners: ['self'] }))).Images?.map((i) => i.ImageId).sort();
    // The first AMI goes too once no instance runs it; the newest is in use.
    expect(left).toEqual(expect.arrayContaining([amis[2]]));
    expect(left).not.toContain(amis[1]);
  });

  it('release fails and says so when the circuit breaker rolls the deployment back', async () => {
    for (const id of await groupInstanceIds()) await registerMountedInstance(emulator.endpoint, 'mapserver', id);
    emulator.proxy.failNextDeployment('tasks failed to start (health check /healthz failed).');
    const run = await cli(['release', ...common, '--ami-id', amis[2] ?? '', '--image', image('3'), '--skip-steps', 'roll,cleanup']);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/circuit breaker failed the deployment .*health check \/healthz failed.*rolled back to .*mapserver:2/);
    expect(run.stderr).toMatch(/deploy\s+failed:/);
    const service = (await clients.ecs.send(new DescribeServicesCommand({ cluster: 'mapserver', services: ['mapserver'] }))).services?.[0];
    expect(service?.taskDefinition).toMatch(/mapserver:2$/);
  });

  it('refuses a release that cannot work before changing anything', async () => {
    const run = await cli(['release', ...common, '--skip-steps', 'bake,image']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/image: is required when the image step is skipped/);
    expect(run.stderr).toMatch(/ami-id: is required when the bake step is skipped/);
  });
});
