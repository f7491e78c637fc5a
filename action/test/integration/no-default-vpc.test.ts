// An account without a default VPC (the emulator taught to hide moto's and to refuse launches that
// name no subnet, as EC2 does): bake refuses before Packer when no subnet is given, and release bakes
// with real Packer in the subnet it is given.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { CreateSubnetCommand, CreateVpcCommand, DescribeImagesCommand, DescribeInstancesCommand, DescribeVpcsCommand, RunInstancesCommand } from '@aws-sdk/client-ec2';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClients, type AwsClients } from '../../src/aws/clients.js';
import { releaseCommand } from '../../src/commands/release.js';
import { StepFailure } from '../../src/errors.js';
import type { InputName } from '../../src/inputs.js';
import { bakeAmi } from '../../src/steps/bake.js';
import { bootstrap } from '../../src/steps/bootstrap.js';
import { testContext } from '../../../scripts/support/command-context.js';
import { noDefaultVpc } from '../../../scripts/emulator/default-vpc.js';
import { makeManagedAmi } from '../../../scripts/emulator/instances.js';
import { startEmulator, type Emulator } from '../../../scripts/emulator/start.js';

jest.setTimeout(300_000);

let emulator: Emulator;
let clients: AwsClients;
let scratch: string;
let subnet = '';
let sourceAmi = '';
const savedEnv = { ...process.env };

function context(values: Partial<Record<InputName, string>>) {
  const env = { ...process.env, ...emulator.env, MAPSERVER_ECS_BUILD_DIR: join(scratch, 'build'), GITHUB_SHA: 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678' };
  return testContext(values, { clients, env });
}

beforeAll(async () => {
  emulator = await startEmulator({ faults: [noDefaultVpc()], refreshSteps: 1, deploymentSteps: 1 });
  Object.assign(process.env, emulator.env);
  clients = createClients('us-east-1', process.env);
  scratch = mkdtempSync(join(tmpdir(), 'no-default-vpc-'));
  await clients.s3.send(new CreateBucketCommand({ Bucket: 'maps-bucket' }));
  const vpc = (await clients.ec2.send(new CreateVpcCommand({ CidrBlock: '10.20.0.0/16' }))).Vpc?.VpcId;
  subnet = (await clients.ec2.send(new CreateSubnetCommand({ VpcId: vpc, CidrBlock: '10.20.1.0/24' }))).Subnet?.SubnetId ?? '';
  sourceAmi = ((await clients.ec2.send(new DescribeImagesCommand({ Owners: ['amazon'] }))).Images ?? []).find((i) => (i.Platform ?? '').toLowerCase() !== 'windows')?.ImageId ?? '';
});

afterAll(async () => {
  clients?.destroy();
  await emulator?.stop();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
  for (const key of Object.keys(process.env)) if (!(key in savedEnv)) delete process.env[key];
  Object.assign(process.env, savedEnv);
});

describe('an account without a default VPC', () => {
  it('the emulator has no default VPC and refuses a launch that names no subnet', async () => {
    const vpcs = (await clients.ec2.send(new DescribeVpcsCommand({}))).Vpcs ?? [];
    expect(vpcs.filter((v) => v.IsDefault)).toEqual([]);
    expect(vpcs.map((v) => v.CidrBlock)).toEqual(['10.20.0.0/16']);
    await expect(clients.ec2.send(new RunInstancesCommand({ ImageId: sourceAmi, MinCount: 1, MaxCount: 1 }))).rejects.toThrow(/No default VPC for this user/);
  });

  it('bake without bake-subnet or subnets refuses before Packer, saying what to set', async () => {
    const error = (await bakeAmi(context({ command: 'bake' }), sourceAmi).catch((e: unknown) => e)) as StepFailure;
    expect(error).toBeInstanceOf(StepFailure);
    expect(error.message).toMatch(/Neither bake-subnet nor subnets is given, and us-east-1 has no default VPC \(no default subnet\) to bake in: set bake-subnet/);
    expect(error.state).toBe('nothing was changed');
  });

  it('release bakes in the given subnet', async () => {
    const inputs = { bucket: 'maps-bucket', subnets: subnet, 'instance-profile': 'mapserver-ecs-instance', 'mount-driver': 's3fs' } as const;
    const first = await makeManagedAmi(clients.ec2, { name: 'mapserver-ecs-2026-11-01', buildTime: '2026-11-01T10:00:00Z', sourceAmi, subnet, mountDriver: 's3fs' });
    await bootstrap(context({ ...inputs, command: 'bootstrap', 'ami-id': first }));
    const ctx = context({ ...inputs, command: 'release', 'skip-steps': 'image,deploy', 'wait-minutes': '1' });
    await releaseCommand(ctx);
    const amiId = ctx.reporter.outputs().get('ami-id') ?? '';
    expect(amiId).not.toBe(first);
    expect(ctx.log()).toContain(`The bake instance runs in subnet ${subnet}`);
    const name = (await clients.ec2.send(new DescribeImagesCommand({ ImageIds: [amiId] }))).Images?.[0]?.Name ?? '';
    const bakeInstances = ((await clients.ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: 'tag:Name', Values: [`${name} (bake)`] }] }))).Reservations ?? []).flatMap((r) => r.Instances ?? []);
    expect(bakeInstances.map((i) => i.SubnetId)).toEqual([subnet]);
  });
});
