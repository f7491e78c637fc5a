// Real Packer (Debian's 1.6.6 here) on the rendered build folder, and a real bake through the EC2
// emulator: Packer launches, stops and images an emulated instance, and the AMI carries its tags.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { DescribeImagesCommand, DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bakeCommand } from '../../src/commands/bake.js';
import { StepFailure } from '../../src/errors.js';
import type { InputName } from '../../src/inputs.js';
import { bakeAmi } from '../../src/steps/bake.js';
import { VARIABLES_FILE } from '../../src/steps/packer-variables.js';
import { BASE_AMI_PARAMETERS } from '../../src/steps/base-ami.js';
import { testContext } from '../../../scripts/support/command-context.js';
import { startEmulator, type Emulator } from '../../../scripts/emulator/start.js';

// testTimeout is a global option, so the integration project's value does not reach this file.
jest.setTimeout(300_000);

const SHA = 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678';
let emulator: Emulator;
let scratch: string;
let ec2: EC2Client;

function contextFor(values: Partial<Record<InputName, string>>, buildDir: string, env: NodeJS.ProcessEnv = emulator.env) {
  return testContext(
    { command: 'bake', ...values },
    { env: { ...process.env, ...env, AWS_REGION: 'us-east-1', GITHUB_SHA: SHA, MAPSERVER_ECS_BUILD_DIR: buildDir } },
  );
}

function tagsOf(image: { Tags?: Array<{ Key?: string; Value?: string }> }): Record<string, string> {
  return Object.fromEntries((image.Tags ?? []).map((t) => [t.Key ?? '', t.Value ?? '']));
}

beforeAll(async () => {
  emulator = await startEmulator();
  // The SDK clients of the step read the endpoint from the process environment.
  Object.assign(process.env, emulator.env);
  scratch = mkdtempSync(join(tmpdir(), 'bake-test-'));
  ec2 = new EC2Client({ region: 'us-east-1', endpoint: emulator.endpoint, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
  const version = spawnSync('packer', ['version'], { encoding: 'utf8' });
  if (version.status !== 0) throw new Error(`packer is required for this test (scripts/setup.sh installs it): ${version.error?.message ?? version.stderr}`);
});

afterAll(async () => {
  ec2?.destroy();
  await emulator?.stop();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

describe('bake through the emulator', () => {
  it('bakes an AMI with real Packer and tags it with its source AMI, driver, revision and build time', async () => {
    const buildDir = join(scratch, 'x86');
    const run = { GITHUB_ACTIONS: 'true', GITHUB_SERVER_URL: 'https://github.com', GITHUB_REPOSITORY: 'acme/maps', GITHUB_RUN_ID: '42', GITHUB_RUN_ATTEMPT: '2' };
    const ctx = contextFor({}, buildDir, { ...emulator.env, ...run });
    const started = new Date();
    await bakeCommand(ctx);

    const outputs = ctx.reporter.outputs();
    const ssm = new SSMClient({ region: 'us-east-1', endpoint: emulator.endpoint, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
    const expectedBase = (await ssm.send(new GetParameterCommand({ Name: BASE_AMI_PARAMETERS.x86_64 }))).Parameter?.Value;
    ssm.destroy();
    expect(outputs.get('base-ami-id')).toBe(expectedBase);
    const amiId = outputs.get('ami-id') as string;
    expect(amiId).toMatch(/^ami-[0-9a-f]{17}$/);
    expect(amiId).not.toBe(expectedBase);

    const image = (await ec2.send(new DescribeImagesCommand({ ImageIds: [amiId] }))).Images?.[0];
    expect(image).toBeDefined();
    const tags = tagsOf(image ?? {});
    expect(tags).toMatchObject({
      'mapserver-ecs:managed': 'true',
      'mapserver-ecs:source-ami': expectedBase,
      'mapserver-ecs:mount-driver': 'mirror',
      'mapserver-ecs:mount-driver-version': 'nodejs22',
      'mapserver-ecs:git-revision': SHA,
      'mapserver-ecs:architecture': 'x86_64',
      // The input hash and its manifest, by which release reuses this AMI and names what changed.
      'mapserver-ecs:inputs-hash': expect.stringMatching(/^[0-9a-f]{64}$/),
      'mapserver-ecs:inputs-1': expect.stringContaining('@mount-driver=mirror'),
      // The GitHub Actions run that baked it.
      'mapserver-ecs:repository': 'https://github.com/acme/maps',
      'mapserver-ecs:commit': SHA,
      'mapserver-ecs:run': 'https://github.com/acme/maps/actions/runs/42/attempts/2',
    });
    expect(image?.Name).toMatch(/^mapserver-ecs-\d{8}-\d{6}$/);
    expect(tags.Name).toBe(image?.Name);
    const buildTime = Date.parse(tags['mapserver-ecs:build-time'] ?? '');
    expect(tags['mapserver-ecs:build-time']).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(buildTime).toBeGreaterThanOrEqual(started.getTime() - 1000);
    expect(buildTime).toBeLessThanOrEqual(Date.now());

    // Packer cleaned up after itself: the bake instance is terminated.
    const reservations = (await ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: 'tag:Name', Values: [`${image?.Name} (bake)`] }] }))).Reservations ?? [];
    const states = reservations.flatMap((r) => r.Instances ?? []).map((i) => i.State?.Name);
    expect(states).toEqual(['terminated']);

    // It says plainly that nothing was provisioned, and leaves a folder that Packer can run by hand.
    expect(ctx.log()).toContain('NO provisioner runs');
    expect(ctx.log()).toContain(`Build folder ${buildDir}`);
    expect(readFileSync(join(buildDir, VARIABLES_FILE), 'utf8')).toContain(`source_ami      = "${expectedBase}"`);
    expect(existsSync(join(buildDir, 'manifest.json'))).toBe(true);
    expect(spawnSync('packer', ['fmt', '-check', '.'], { cwd: buildDir, encoding: 'utf8' }).status).toBe(0);
  });

  it('bakes for arm64 with mount-s3 from its own SSM parameter', async () => {
    const ctx = contextFor({ architecture: 'arm64', 'instance-type': 't4g.small', 'mount-driver': 'mountpoint', 'ami-name-prefix': 'maps-arm' }, join(scratch, 'arm'));
    await bakeCommand(ctx);
    const image = (await ec2.send(new DescribeImagesCommand({ ImageIds: [ctx.reporter.outputs().get('ami-id') as string] }))).Images?.[0];
    expect(tagsOf(image ?? {})).toMatchObject({
      'mapserver-ecs:mount-driver': 'mountpoint',
      'mapserver-ecs:mount-driver-version': 'al2023-repository',
      'mapserver-ecs:architecture': 'arm64',
    });
    // Outside a workflow run there is no provenance.
    expect(Object.keys(tagsOf(image ?? {})).filter((key) => ['mapserver-ecs:repository', 'mapserver-ecs:commit', 'mapserver-ecs:run'].includes(key))).toEqual([]);
    const base = (await ec2.send(new DescribeImagesCommand({ ImageIds: [ctx.reporter.outputs().get('base-ami-id') as string] }))).Images?.[0];
    expect(base?.Architecture).toBe('arm64');
    expect(image?.Name).toMatch(/^maps-arm-/);
  });

  it('reports a Packer failure with its exit code and last lines', async () => {
    const buildDir = join(scratch, 'failing');
    const ctx = contextFor({}, buildDir);
    const error = await bakeAmi(ctx, 'ami-0123456789abcdef0').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StepFailure);
    const message = (error as StepFailure).message;
    expect(message).toMatch(/^packer build -color=false \. exited with code 1/);
    expect(message).toContain('Last lines:');
    expect(message).toMatch(/ami-0123456789abcdef0|No AMI was found/i);
    expect((error as StepFailure).state).toMatch(/temporary instance/);
  });
});

describe('Packer on the rendered folder', () => {
  it('validates the templates, and its own variable checks refuse bad values (Packer 1.6 has no regex())', async () => {
    const buildDir = join(scratch, 'validate');
    // A bake that fails at build still leaves a complete folder behind; validate it by hand.
    await bakeAmi(contextFor({}, buildDir), 'ami-0123456789abcdef0').catch(() => undefined);
    const env = { ...process.env, CHECKPOINT_DISABLE: '1' };
    const ok = spawnSync('packer', ['validate', '.'], { cwd: buildDir, env, encoding: 'utf8' });
    expect(ok.stdout + ok.stderr).not.toContain('Error');
    expect(ok.status).toBe(0);
    for (const [variable, value, message] of [
      ['source_ami', 'ami-XYZ', 'The source_ami must be an AMI id'],
      ['region', 'us east', 'The region must be an AWS region'],
      ['architecture', 'sparc', 'The architecture must be x86_64 or arm64'],
      ['mount_driver', 'goofys', 'The mount_driver must be s3fs, mountpoint or mirror'],
      ['s3fs_version', '1.90', 'The s3fs_version must be a release'],
    ]) {
      const bad = spawnSync('packer', ['validate', '-var', `${variable}=${value}`, '.'], { cwd: buildDir, env, encoding: 'utf8' });
      expect({ variable, status: bad.status }).toEqual({ variable, status: 1 });
      expect((bad.stdout + bad.stderr).replace(/\s+/g, ' ')).toContain(message);
    }
  });

  it('refuses Packer older than 1.7 for real AWS before running or writing anything', async () => {
    const buildDir = join(scratch, 'real-aws');
    // A stand-in for an old Packer that records any run beyond `version`, whatever Packer is installed.
    const oldPacker = join(scratch, 'old-packer');
    const marker = join(scratch, 'old-packer-ran');
    writeFileSync(oldPacker, `#!/usr/bin/env bash\nif [[ $1 == version ]]; then echo 'Packer v1.6.6'; else touch '${marker}'; fi\n`, { mode: 0o755 });
    const ctx = testContext({ command: 'bake' }, { env: { PATH: process.env.PATH, AWS_REGION: 'us-east-1', GITHUB_SHA: SHA, MAPSERVER_ECS_BUILD_DIR: buildDir } });
    await expect(bakeAmi(ctx, 'ami-0123456789abcdef0', { packer: oldPacker })).rejects.toThrow(/Packer 1\.6\.6 is too old to bake for AWS/);
    expect(existsSync(buildDir)).toBe(false);
    expect(existsSync(marker)).toBe(false);
  });
});
