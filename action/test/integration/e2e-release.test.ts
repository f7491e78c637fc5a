// End to end, as GitHub runs it: the action bundle (built fresh from the sources into a temporary
// folder, exactly as `npm run build` builds action/dist) started with INPUT_* variables and the
// GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files, running `bootstrap` and then `release` against the
// emulator: real Packer, the real image build and push (to a local registry), the task definition,
// the roll and the cleanup. Then the outputs, the job summary and the emulated account agree.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { AutoScalingClient, DescribeAutoScalingGroupsCommand } from '@aws-sdk/client-auto-scaling';
import { DescribeImagesCommand, DescribeLaunchTemplateVersionsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { DescribeContainerInstancesCommand, DescribeServicesCommand, ECSClient, PutAttributesCommand } from '@aws-sdk/client-ecs';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseFileCommands } from '../support/action-runner.js';
import { makeManagedAmi, registerMountedInstance } from '../../../scripts/emulator/instances.js';
import { startEmulator, type Emulator } from '../../../scripts/emulator/start.js';
import { startRegistry } from '../../../scripts/support/registry.js';

const root = new URL('../../../', import.meta.url).pathname;

interface BundleRun {
  code: number;
  stdout: string;
  stderr: string;
  outputs: Record<string, string>;
  summary: string;
}

function execFileText(file: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { ...options, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

/**
 * Runs the bundle the way the runner does, asynchronously: the emulator's shim lives in this test's
 * process and must keep answering while the action runs.
 */
function runBundle(bundle: string, inputs: Record<string, string>, env: Record<string, string>): Promise<BundleRun> {
  const dir = mkdtempSync(join(tmpdir(), 'e2e-run-'));
  const outputFile = join(dir, 'output');
  const summaryFile = join(dir, 'summary');
  writeFileSync(outputFile, '');
  writeFileSync(summaryFile, '');
  const base = Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^(INPUT_|GITHUB_|AWS_)/.test(key)));
  const child: ChildProcess = spawn(process.execPath, [bundle], {
    cwd: root,
    env: {
      ...base,
      ...env,
      GITHUB_ACTIONS: 'true',
      GITHUB_OUTPUT: outputFile,
      GITHUB_STEP_SUMMARY: summaryFile,
      RUNNER_TEMP: dir,
      ...Object.fromEntries(Object.entries(inputs).map(([name, value]) => [`INPUT_${name.toUpperCase()}`, value])),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      const run = { code: code ?? -1, stdout, stderr, outputs: parseFileCommands(readFileSync(outputFile, 'utf8')), summary: readFileSync(summaryFile, 'utf8') };
      rmSync(dir, { recursive: true, force: true });
      resolve(run);
    });
  });
}

describe('the action bundle runs release end to end against the emulator', () => {
  const work = mkdtempSync(join(tmpdir(), 'e2e-release-'));
  const bundleDir = join(work, 'dist');
  const bundle = join(bundleDir, 'index.js');
  const bucket = 'mapserver-ecs-e2e';
  let emulator: Emulator;
  let registry: { address: string; stop(): Promise<void> };
  let clients: { ec2: EC2Client; ecs: ECSClient; autoScaling: AutoScalingClient; s3: S3Client };
  let release: BundleRun;
  const common = (): Record<string, string> => ({ 'aws-region': 'us-east-1', bucket, registry: registry.address, 'wait-minutes': '10' });
  // Packer's build folder in this test's own folder, not in the checkout.
  const runEnv = (): Record<string, string> => ({ ...emulator.env, MAPSERVER_ECS_BUILD_DIR: join(work, 'packer') });

  beforeAll(async () => {
    mkdirSync(bundleDir, { recursive: true });
    // The same build as `npm run build`, into a temporary folder instead of action/dist.
    const build = await execFileText(
      join(root, 'node_modules/.bin/ncc'),
      ['build', 'action/src/index.ts', '-o', bundleDir, '--license', 'licenses.txt', '--target', 'es2022', '--quiet'],
      { cwd: root },
    );
    if (build.code !== 0) throw new Error(`ncc build failed:\n${build.stdout}\n${build.stderr}`);
    // ESM bundle: the folder says so, as action/dist/package.json does.
    if (!existsSync(join(bundleDir, 'package.json'))) copyFileSync(join(root, 'action/dist/package.json'), join(bundleDir, 'package.json'));

    emulator = await startEmulator();
    registry = await startRegistry(work);
    // The emulator's documented dummy credentials.
    const config = { region: 'us-east-1', endpoint: emulator.endpoint, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } };
    clients = { ec2: new EC2Client(config), ecs: new ECSClient(config), autoScaling: new AutoScalingClient(config), s3: new S3Client({ ...config, forcePathStyle: true }) };
    await clients.s3.send(new CreateBucketCommand({ Bucket: bucket }));

    const network = await execFileText(process.execPath, ['--import', 'tsx', 'scripts/local-stack/emulator-account.ts', 'network'], {
      cwd: root,
      env: { ...process.env, ...emulator.env, NODE_NO_WARNINGS: '1' },
    });
    if (network.code !== 0) throw new Error(`cannot read the emulated network:\n${network.stderr}`);
    const value = (key: string): string => new RegExp(`^${key}=(.*)$`, 'm').exec(network.stdout)?.[1] ?? '';

    // An AMI an earlier bake made: bootstrap starts the group on a baked AMI only, and the release
    // then bakes a newer one and rolls onto it.
    const source = ((await clients.ec2.send(new DescribeImagesCommand({ Owners: ['amazon'] }))).Images ?? []).find((i) => (i.Platform ?? '').toLowerCase() !== 'windows')?.ImageId ?? '';
    const earlier = await makeManagedAmi(clients.ec2, { name: 'mapserver-ecs-2026-11-01', buildTime: '2026-11-01T10:00:00Z', sourceAmi: source, subnet: value('subnets').split(',')[0] ?? '' });
    const bootstrap = await runBundle(
      bundle,
      { command: 'bootstrap', ...common(), subnets: value('subnets'), 'security-groups': value('security-groups'), 'instance-profile': 'mapserver-ecs-e2e', 'ami-id': earlier },
      runEnv(),
    );
    if (bootstrap.code !== 0) throw new Error(`bootstrap failed (${bootstrap.code}):\n${bootstrap.stdout.slice(-4000)}`);

    // The ECS agent of the group's instance registers once its bucket mount is ready.
    const group = await clients.autoScaling.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: ['mapserver-ecs'] }));
    const instanceId = group.AutoScalingGroups?.[0]?.Instances?.[0]?.InstanceId ?? '';
    expect(instanceId).toMatch(/^i-/);
    const arn = await registerMountedInstance(emulator.endpoint, 'mapserver', instanceId);
    const described = await clients.ecs.send(new DescribeContainerInstancesCommand({ cluster: 'mapserver', containerInstances: [arn] }));
    if (!described.containerInstances?.[0]?.attributes?.some((a) => a.name === 'mapserver-ecs.mount' && a.value === 'ready')) {
      // moto drops the attributes of RegisterContainerInstance; put them as the API allows.
      await clients.ecs.send(
        new PutAttributesCommand({
          cluster: 'mapserver',
          attributes: [{ name: 'mapserver-ecs.mount', value: 'ready', targetType: 'container-instance', targetId: arn.split('/').pop() ?? arn }],
        }),
      );
    }

    release = await runBundle(bundle, { command: 'release', ...common() }, runEnv());
  }, 40 * 60_000);

  afterAll(async () => {
    if (clients) for (const client of Object.values(clients)) client.destroy();
    // Local tags of the pushed image (its layers stay with the build's own tag).
    if (registry) {
      const tags = await execFileText('docker', ['image', 'ls', '--format', '{{.Repository}}:{{.Tag}}', '--filter', `reference=${registry.address}/*`]);
      const names = tags.stdout.split('\n').filter((t) => t.trim() !== '' && !t.endsWith(':<none>'));
      if (names.length > 0) await execFileText('docker', ['image', 'rm', ...names]);
    }
    await registry?.stop();
    await emulator?.stop();
    rmSync(work, { recursive: true, force: true });
  }, 60_000);

  it('succeeds', () => {
    if (release.code !== 0) throw new Error(`release exited with ${release.code}:\n${release.stdout.slice(-6000)}\n${release.stderr.slice(-2000)}`);
    expect(release.stdout).not.toMatch(/^::error::/m);
  });

  it('sets every release output through GITHUB_OUTPUT', () => {
    const outputs = release.outputs;
    expect(outputs['base-ami-id']).toMatch(/^ami-[0-9a-f]+$/);
    expect(outputs['ami-id']).toMatch(/^ami-[0-9a-f]+$/);
    expect(outputs['ami-id']).not.toBe(outputs['base-ami-id']);
    expect(outputs['image-uri']).toMatch(new RegExp(`^${registry.address.replace(/\./g, '\\.')}/mapserver@sha256:[0-9a-f]{64}$`));
    expect(outputs['task-definition-arn']).toMatch(/^arn:aws:ecs:us-east-1:\d{12}:task-definition\/mapserver:\d+$/);
    expect(outputs['launch-template-version']).toMatch(/^\d+$/);
    expect(outputs['instance-refresh-id']).toMatch(/\S/);
    expect(outputs).toHaveProperty('deregistered-amis');
  });

  it('writes a job summary naming the AMI, the image, the task definition and the refresh', () => {
    for (const name of ['ami-id', 'image-uri', 'task-definition-arn', 'instance-refresh-id'] as const) {
      expect(release.summary).toContain(release.outputs[name]);
    }
    // One row per step, with what it did and why.
    for (const step of ['base-ami', 'bake', 'image', 'deploy', 'roll', 'cleanup']) expect(release.summary).toContain(`<td>${step}</td>`);
    expect(release.outputs.plan?.split('\n').map((line) => line.split(':')[0])).toEqual(['base-ami', 'bake', 'image', 'deploy', 'roll', 'cleanup']);
  });

  it('left the emulated account in the state the outputs describe', async () => {
    const outputs = release.outputs;
    const images = await clients.ec2.send(new DescribeImagesCommand({ ImageIds: [outputs['ami-id'] ?? ''] }));
    const tags = Object.fromEntries((images.Images?.[0]?.Tags ?? []).map((t) => [t.Key, t.Value]));
    expect(tags['mapserver-ecs:managed']).toBe('true');
    expect(tags['mapserver-ecs:source-ami']).toBe(outputs['base-ami-id']);

    const service = await clients.ecs.send(new DescribeServicesCommand({ cluster: 'mapserver', services: ['mapserver'] }));
    expect(service.services?.[0]?.taskDefinition).toBe(outputs['task-definition-arn']);

    const versions = await clients.ec2.send(
      new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateName: 'mapserver-ecs', Versions: [outputs['launch-template-version'] ?? ''] }),
    );
    expect(versions.LaunchTemplateVersions?.[0]?.LaunchTemplateData?.ImageId).toBe(outputs['ami-id']);

    // The image is in the registry under the digest the task definition names.
    const [repository = '', digest = ''] = (outputs['image-uri'] ?? '').split('@');
    const name = repository.slice(repository.indexOf('/') + 1);
    const manifest = await fetch(`http://${registry.address}/v2/${name}/manifests/${digest}`, {
      method: 'HEAD',
      headers: { accept: 'application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json' },
    });
    expect(manifest.status).toBe(200);
  });

  it("the workflows' job summary script renders these outputs", async () => {
    const outputs = release.outputs;
    const summary = await execFileText('bash', [join(root, '.github/scripts/job-summary.sh')], {
      env: {
        PATH: process.env.PATH ?? '',
        OUTCOME: 'success',
        BASE_AMI_ID: outputs['base-ami-id'] ?? '',
        AMI_ID: outputs['ami-id'] ?? '',
        IMAGE_URI: outputs['image-uri'] ?? '',
        TASK_DEFINITION_ARN: outputs['task-definition-arn'] ?? '',
        LAUNCH_TEMPLATE_VERSION: outputs['launch-template-version'] ?? '',
        INSTANCE_REFRESH_ID: outputs['instance-refresh-id'] ?? '',
        DEREGISTERED_AMIS: outputs['deregistered-amis'] ?? '',
        PLAN: outputs.plan ?? '',
      },
    });
    expect(summary.code).toBe(0);
    const digest = (outputs['image-uri'] ?? '').split('@')[1] ?? '';
    expect(summary.stdout).toContain(`| AMI | \`${outputs['ami-id']}\` |`);
    expect(summary.stdout).toContain(`| Image digest | \`${digest}\` |`);
    expect(summary.stdout).toContain(`| Task definition | \`${outputs['task-definition-arn']}\` |`);
    expect(summary.stdout).toContain(`${outputs['instance-refresh-id']} (launch template version ${outputs['launch-template-version']}): Successful`);
    // What each step did and why, from the plan output.
    expect(summary.stdout).toMatch(new RegExp(`\\| bake \\| baked ${outputs['ami-id']}: bake \\(`));
    expect(summary.stdout).toMatch(/\| image \| pushed .*: build \(no image with content [0-9a-f]{12} in /);
  });
});
