// Release only what changed, against the emulator with real Packer, a real image build and a local
// registry, on a copy of packer/, docker/ and ecs/ the test can change: a release, then one with
// nothing changed (no Packer run, no build or push, no new task definition revision, launch template
// version, instance refresh or deployment, in the emulator's record of calls), then a changed
// provisioning script (bake and roll only), a changed docker/ (build and deploy only), and the
// scheduled path (bake and roll only when SSM names a newer base AMI).
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { AutoScalingClient, DescribeAutoScalingGroupsCommand } from '@aws-sdk/client-auto-scaling';
import { DescribeImagesCommand, DescribeSubnetsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { appendFileSync, cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Interceptor } from '../../../scripts/emulator/types.js';
import { repoRoot } from '../support/action-runner.js';
import { runCliFromSource, type CliRun } from '../support/cli-source.js';
import { makeManagedAmi, registerMountedInstance } from '../../../scripts/emulator/instances.js';
import { startEmulator, type Emulator } from '../../../scripts/emulator/start.js';
import { startRegistry } from '../../../scripts/support/registry.js';

jest.setTimeout(20 * 60_000);

const work = mkdtempSync(join(tmpdir(), 'release-reuse-'));
const root = join(work, 'checkout');
let emulator: Emulator;
let registry: { address: string; stop(): Promise<void> };
let clients: { ec2: EC2Client; autoScaling: AutoScalingClient; s3: S3Client };
let common: string[];
/** The emulator's record of the calls made through it (the CLI's and Packer's), by operation. */
let calls: Record<string, number> = {};
/** When set, SSM answers this AMI for the ECS-optimized parameter (AWS publishing a new one). */
let newBase: string | undefined;

const record: Interceptor = async (request, next) => {
  if (request.service) calls[request.action ?? request.method] = (calls[request.action ?? request.method] ?? 0) + 1;
  if (newBase && request.service === 'ssm' && request.action === 'GetParameter') {
    const name = (JSON.parse(request.body.toString()) as { Name: string }).Name;
    return { status: 200, headers: { 'content-type': 'application/x-amz-json-1.1' }, body: JSON.stringify({ Parameter: { Name: name, Type: 'String', Value: newBase, Version: 2 } }) };
  }
  return next();
};

const MUTATIONS = ['CreateImage', 'RegisterTaskDefinition', 'CreateLaunchTemplateVersion', 'StartInstanceRefresh', 'UpdateService', 'CreateService'] as const;
function mutations(): Record<string, number> {
  return Object.fromEntries(MUTATIONS.map((op) => [op, calls[op] ?? 0]));
}

/** Each release comes from a new workflow run: provenance differs, and must not make a change. */
let runId = 100;

async function release(args: string[] = []): Promise<CliRun & { calls: Record<string, number> }> {
  calls = {};
  runId += 1;
  const run = await runCliFromSource(['release', ...common, ...args], {
    ...emulator.env,
    MAPSERVER_ECS_ROOT: root,
    MAPSERVER_ECS_BUILD_DIR: join(work, 'packer-build'),
    GITHUB_SHA: 'feedc0de'.repeat(5),
    GITHUB_ACTIONS: 'true',
    GITHUB_SERVER_URL: 'https://github.com',
    GITHUB_REPOSITORY: 'acme/maps',
    GITHUB_RUN_ID: String(runId),
    GITHUB_RUN_ATTEMPT: '1',
  });
  if (run.code !== 0) throw new Error(`release exited with ${run.code}:\n${run.stderr.slice(-5000)}`);
  return { ...run, calls };
}

/** What the ECS agent of each instance does once its mount is ready (new instances after a roll). */
async function registerInstances(): Promise<void> {
  const group = await clients.autoScaling.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: ['mapserver-ecs'] }));
  for (const instance of group.AutoScalingGroups?.[0]?.Instances ?? []) await registerMountedInstance(emulator.endpoint, 'mapserver', instance.InstanceId ?? '');
}

async function registryTags(): Promise<string[]> {
  const answer = await fetch(`http://${registry.address}/v2/mapserver/tags/list`);
  return answer.ok ? (((await answer.json()) as { tags?: string[] }).tags ?? []).sort() : [];
}

beforeAll(async () => {
  for (const folder of ['packer', 'docker', 'ecs']) cpSync(join(repoRoot, folder), join(root, folder), { recursive: true });
  emulator = await startEmulator({ refreshSteps: 1, deploymentSteps: 1 });
  emulator.proxy.use(record);
  registry = await startRegistry(work);
  const config = { region: 'us-east-1', endpoint: emulator.motoEndpoint, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } };
  clients = { ec2: new EC2Client(config), autoScaling: new AutoScalingClient(config), s3: new S3Client({ ...config, forcePathStyle: true }) };
  await clients.s3.send(new CreateBucketCommand({ Bucket: 'maps-bucket' }));
  const subnets = (await clients.ec2.send(new DescribeSubnetsCommand({}))).Subnets ?? [];
  common = [
    '--bucket', 'maps-bucket',
    '--subnets', subnets.slice(0, 2).map((s) => s.SubnetId ?? '').join(','),
    '--instance-profile', 'mapserver-ecs-instance',
    '--registry', registry.address,
    '--wait-minutes', '5',
  ];
  // An AMI an earlier bake made: bootstrap starts the group on a baked AMI only, and the first
  // release then bakes from this checkout and rolls onto it.
  const source = ((await clients.ec2.send(new DescribeImagesCommand({ Owners: ['amazon'] }))).Images ?? []).find((i) => (i.Platform ?? '').toLowerCase() !== 'windows')?.ImageId ?? '';
  const earlier = await makeManagedAmi(clients.ec2, { name: 'mapserver-ecs-2026-11-01', buildTime: '2026-11-01T10:00:00Z', sourceAmi: source, subnet: subnets[0]?.SubnetId ?? '' });
  const bootstrap = await runCliFromSource(['bootstrap', ...common, '--ami-id', earlier], { ...emulator.env, MAPSERVER_ECS_ROOT: root });
  if (bootstrap.code !== 0) throw new Error(`bootstrap failed:\n${bootstrap.stderr.slice(-4000)}`);
  await registerInstances();
}, 5 * 60_000);

afterAll(async () => {
  if (clients) for (const client of Object.values(clients)) client.destroy();
  await registry?.stop();
  await emulator?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe('release reuses what did not change', () => {
  let first: Awaited<ReturnType<typeof release>>;

  it('a first release bakes, builds, pushes, deploys and rolls', async () => {
    first = await release();
    expect(first.calls.CreateImage ?? 0).toBeGreaterThan(0);
    expect(mutations()).toMatchObject({ RegisterTaskDefinition: 1, CreateLaunchTemplateVersion: 1, StartInstanceRefresh: 1 });
    expect((calls.UpdateService ?? 0) + (calls.CreateService ?? 0)).toBe(1);
    // Bootstrap started the instances on an AMI an earlier bake made from an older base AMI.
    expect(first.stderr).toMatch(/bake: baked ami-[0-9a-f]+: bake \(new base AMI ami-[0-9a-f]+ published/);
    expect(await registryTags()).toEqual(expect.arrayContaining([expect.stringMatching(/^content-[0-9a-f]{64}$/), 'latest']));
    const amiId = /^ami-id=(.*)$/m.exec(first.stdout)?.[1] ?? '';
    const ami = (await clients.ec2.send(new DescribeImagesCommand({ ImageIds: [amiId] }))).Images?.[0];
    expect(ami?.Tags).toEqual(expect.arrayContaining([{ Key: 'mapserver-ecs:run', Value: `https://github.com/acme/maps/actions/runs/${runId}` }]));
    await registerInstances();
  });

  it('a second release with nothing changed makes no change at all, and says so in one line per step', async () => {
    const tags = await registryTags();
    const again = await release();
    expect(mutations()).toEqual({ CreateImage: 0, RegisterTaskDefinition: 0, CreateLaunchTemplateVersion: 0, StartInstanceRefresh: 0, UpdateService: 0, CreateService: 0 });
    expect(again.calls.RunInstances ?? 0).toBe(0);
    expect(again.stderr).not.toMatch(/packer build|docker build|docker push/);
    expect(await registryTags()).toEqual(tags);
    const amiId = /^ami-id=(.*)$/m.exec(first.stdout)?.[1] ?? '';
    expect(again.stderr).toContain(`bake: reuse ${amiId} (inputs unchanged)`);
    expect(again.stderr).toMatch(/^image: image unchanged: reuse 127\.0\.0\.1:\d+\/mapserver@sha256:[0-9a-f]{64}/m);
    expect(again.stderr).toMatch(/^deploy: unchanged \(mapserver runs mapserver:\d+\)$/m);
    expect(again.stderr).toMatch(/^roll: unchanged \(launch template version \d+, ami-/m);
    expect(again.stderr).toContain('Release changed nothing');
    // The same outputs as the release that made them.
    for (const name of ['ami-id', 'image-uri', 'task-definition-arn', 'launch-template-version']) {
      expect(new RegExp(`^${name}=(.*)$`, 'm').exec(again.stdout)?.[1]).toBe(new RegExp(`^${name}=(.*)$`, 'm').exec(first.stdout)?.[1]);
    }
    const total = Object.values(again.calls).reduce((a, b) => a + b, 0);
    // Reads only: the plan's lookups, plus the launch template's settings a roll keeps and the AMI's
    // driver and architecture it checks.
    expect(total).toBeLessThan(20);
  });

  it('a changed provisioning script: the dry-run names it, then the release bakes and rolls, and deploys nothing', async () => {
    appendFileSync(join(root, 'packer/scripts/install-mount-driver.sh'), '\n# A fix in the provisioning.\n');
    const dry = await release(['--dry-run']);
    expect(dry.stderr).toContain('bake: bake (packer/scripts/install-mount-driver.sh changed)');
    expect(dry.stderr).toMatch(/roll: 1 instance to replace \(new launch template version with the new AMI/);
    expect(dry.stderr).toMatch(/deploy: unchanged/);
    expect(mutations()).toEqual({ CreateImage: 0, RegisterTaskDefinition: 0, CreateLaunchTemplateVersion: 0, StartInstanceRefresh: 0, UpdateService: 0, CreateService: 0 });

    const run = await release();
    expect(run.calls.CreateImage ?? 0).toBeGreaterThan(0);
    expect(mutations()).toMatchObject({ RegisterTaskDefinition: 0, UpdateService: 0, CreateLaunchTemplateVersion: 1, StartInstanceRefresh: 1 });
    expect(run.stderr).not.toMatch(/docker build/);
    await registerInstances();
  });

  it('a changed docker/ rebuilds the image and deploys it: no bake, no instance refresh', async () => {
    appendFileSync(join(root, 'docker/apache/mapserver.conf'), '\n# A change to the web server configuration.\n');
    const dry = await release(['--dry-run']);
    expect(dry.stderr).toContain('image: build (docker/apache/mapserver.conf changed since the running image)');
    expect(dry.stderr).toMatch(/deploy: task definition :(\d+) -> :\d+ \(new image\)/);
    expect(dry.stderr).toMatch(/bake: reuse ami-/);
    expect(dry.stderr).toMatch(/roll: unchanged/);
    const run = await release();
    expect(run.stderr).toMatch(/image: pushed 127\.0\.0\.1:\d+\/mapserver@sha256:[0-9a-f]{64}: build \(docker\/apache\/mapserver\.conf changed since the running image\)/);
    expect(mutations()).toEqual({ CreateImage: 0, RegisterTaskDefinition: 1, CreateLaunchTemplateVersion: 0, StartInstanceRefresh: 0, UpdateService: 1, CreateService: 0 });
    expect(run.stderr).toMatch(/^bake: reuse ami-/m);
    expect(run.stderr).toMatch(/^roll: unchanged/m);
  });

  it('the scheduled path (release without image and deploy) bakes and rolls only when SSM names a newer base AMI', async () => {
    const weekly = ['--skip-steps', 'image,deploy'];
    const quiet = await release(weekly);
    expect(quiet.calls.CreateImage ?? 0).toBe(0);
    expect(quiet.calls.StartInstanceRefresh ?? 0).toBe(0);

    const current = /^base-ami-id=(.*)$/m.exec(quiet.stdout)?.[1] ?? '';
    const images = (await clients.ec2.send(new DescribeImagesCommand({ Owners: ['amazon'] }))).Images ?? [];
    const next = images.find((i) => i.ImageId !== current && i.Architecture === 'x86_64' && (i.Platform ?? '').toLowerCase() !== 'windows' && /^ami-[0-9a-f]{8}([0-9a-f]{9})?$/.test(i.ImageId ?? ''));
    expect(next?.ImageId).toBeDefined();
    newBase = next?.ImageId;
    try {
      const dry = await release([...weekly, '--dry-run']);
      expect(dry.stderr).toMatch(new RegExp(`bake: bake \\(new base AMI ${newBase} published \\d{4}-\\d{2}-\\d{2}, ami-[0-9a-f]+ was baked from ${current}\\)`));
      const run = await release(weekly);
      expect(run.calls.CreateImage ?? 0).toBeGreaterThan(0);
      expect(mutations()).toMatchObject({ RegisterTaskDefinition: 0, UpdateService: 0, CreateLaunchTemplateVersion: 1, StartInstanceRefresh: 1 });
      expect(run.stdout).toContain(`base-ami-id=${newBase}`);
    } finally {
      newBase = undefined;
    }
  });
});
