// The mount driver comes from the AMI: bootstrap and roll on the emulator start the driver recorded
// in the AMI's mapserver-ecs:mount-driver tag when mount-driver is unset, refuse a given one that
// disagrees, and refuse an AMI without the tag, each before anything changes.
import { DescribeImagesCommand, DescribeLaunchTemplateVersionsCommand, DescribeSecurityGroupsCommand, DescribeSubnetsCommand } from '@aws-sdk/client-ec2';
import { CreateBucketCommand, GetBucketNotificationConfigurationCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { createClients, type AwsClients } from '../../src/aws/clients.js';
import { StepFailure } from '../../src/errors.js';
import type { InputName } from '../../src/inputs.js';
import { bootstrap } from '../../src/steps/bootstrap.js';
import { rollInstances } from '../../src/steps/roll.js';
import { testContext } from '../../../scripts/support/command-context.js';
import { makeManagedAmi } from '../../../scripts/emulator/instances.js';
import { startEmulator, type Emulator } from '../../../scripts/emulator/start.js';

jest.setTimeout(120_000);

let emulator: Emulator;
let clients: AwsClients;
let inputs: Partial<Record<InputName, string>>;
const savedEnv = { ...process.env };
const fast = { intervalMs: 50 };
let baseAmi = '';
let s3fsAmi = '';
let mirrorAmi = '';

function context(extra: Partial<Record<InputName, string>> = {}) {
  return testContext({ ...inputs, ...extra }, { clients, env: { ...emulator.env } });
}

async function defaultVersion() {
  const [version] = (await clients.ec2.send(new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateName: 'mapserver-ecs', Versions: ['$Default'] }))).LaunchTemplateVersions ?? [];
  return { number: version?.VersionNumber, userData: Buffer.from(version?.LaunchTemplateData?.UserData ?? '', 'base64').toString() };
}

beforeAll(async () => {
  emulator = await startEmulator({ refreshSteps: 1, deploymentSteps: 1 });
  Object.assign(process.env, emulator.env);
  clients = createClients('us-east-1', process.env);
  await clients.s3.send(new CreateBucketCommand({ Bucket: 'maps-bucket' }));
  const subnets = (await clients.ec2.send(new DescribeSubnetsCommand({}))).Subnets ?? [];
  const group = (await clients.ec2.send(new DescribeSecurityGroupsCommand({ GroupNames: ['default'] }))).SecurityGroups?.[0];
  baseAmi = ((await clients.ec2.send(new DescribeImagesCommand({ Owners: ['amazon'] }))).Images ?? []).find((i) => (i.Platform ?? '').toLowerCase() !== 'windows')?.ImageId ?? '';
  const subnet = subnets[0]?.SubnetId ?? '';
  s3fsAmi = await makeManagedAmi(clients.ec2, { name: 'mapserver-ecs-s3fs', buildTime: '2026-11-01T10:00:00Z', sourceAmi: baseAmi, subnet, mountDriver: 's3fs' });
  mirrorAmi = await makeManagedAmi(clients.ec2, { name: 'mapserver-ecs-mirror', buildTime: '2026-11-02T10:00:00Z', sourceAmi: baseAmi, subnet, mountDriver: 'mirror' });
  inputs = {
    command: 'bootstrap',
    bucket: 'maps-bucket',
    subnets: subnet,
    'security-groups': group?.GroupId ?? '',
    'instance-profile': 'mapserver-ecs-instance',
    'wait-minutes': '1',
  };
}, 120_000);

afterAll(async () => {
  clients?.destroy();
  await emulator?.stop();
  for (const key of Object.keys(process.env)) if (!(key in savedEnv)) delete process.env[key];
  Object.assign(process.env, savedEnv);
});

describe('the mount driver comes from the AMI', () => {
  it('bootstrap without mount-driver onto an s3fs AMI starts s3fs and sets up no mirror notification', async () => {
    const ctx = context({ 'ami-id': s3fsAmi });
    expect(ctx.settings.mountDriverGiven).toBe(false);
    await bootstrap(ctx);
    expect((await defaultVersion()).userData).toMatch(/^MOUNT_DRIVER='s3fs'$/m);
    const notification = await clients.s3.send(new GetBucketNotificationConfigurationCommand({ Bucket: 'maps-bucket' }));
    expect(notification.TopicConfigurations ?? []).toEqual([]);
  });

  it('a given mount-driver that disagrees with the AMI is refused with both values, and nothing changes', async () => {
    const before = await defaultVersion();
    const error = (await rollInstances(context({ command: 'roll', 'ami-id': mirrorAmi, 'mount-driver': 's3fs' }), mirrorAmi, fast).catch((e: unknown) => e)) as StepFailure;
    expect(error).toBeInstanceOf(StepFailure);
    expect(error.message).toContain(`AMI ${mirrorAmi} was baked with mount driver mirror, but mount-driver is s3fs`);
    expect(await defaultVersion()).toEqual(before);
  });

  it('an AMI without the tag is refused unless mount-driver is given, and nothing changes', async () => {
    const before = await defaultVersion();
    const error = (await rollInstances(context({ command: 'roll', 'ami-id': baseAmi }), baseAmi, fast).catch((e: unknown) => e)) as StepFailure;
    expect(error).toBeInstanceOf(StepFailure);
    expect(error.message).toMatch(new RegExp(`AMI ${baseAmi} has no mapserver-ecs:mount-driver tag.*set mount-driver to the driver installed on this AMI`));
    expect(await defaultVersion()).toEqual(before);
  });

  it('roll without mount-driver onto a mirror AMI starts mirror', async () => {
    const before = await defaultVersion();
    await rollInstances(context({ command: 'roll', 'ami-id': mirrorAmi }), mirrorAmi, fast);
    const after = await defaultVersion();
    expect(after.number).toBe((before.number ?? 0) + 1);
    expect(after.userData).toMatch(/^MOUNT_DRIVER='mirror'$/m);
  });
});
