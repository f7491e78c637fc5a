// The bake step without Packer: the variables file (rendered, then parsed by HashiCorp's HCL parser),
// the checks that run before Packer, the build folder, the manifest and the Packer version rules.
import { afterAll, beforeEach, describe, expect, it } from '@jest/globals';
import { DescribeSubnetsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { parse } from '@cdktf/hcl2json';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InputError, StepFailure } from '../../src/errors.js';
import { bakeAmi } from '../../src/steps/bake.js';
import { parseManifest, parsePackerVersion, supportsRequiredPlugins, writeBuildFolder } from '../../src/steps/packer.js';
import { packerVariables, renderPackerVariables, VARIABLES_FILE, VARIABLES_TEMPLATE, type PackerVariables } from '../../src/steps/packer-variables.js';
import { instanceArchitecture } from '../../src/values.js';
import type { InputName } from '../../src/inputs.js';
import { parseSettings } from '../../src/settings.js';
import { testContext } from '../../../scripts/support/command-context.js';

const ROOT = process.cwd();
const TEMPLATE = readFileSync(join(ROOT, VARIABLES_TEMPLATE), 'utf8');
const SHA = '0123456789abcdef0123456789abcdef01234567';

const BASE: PackerVariables = {
  region: 'us-east-1',
  sourceAmi: 'ami-0123456789abcdef0',
  architecture: 'x86_64',
  instanceType: 't3.small',
  amiNamePrefix: 'mapserver-ecs',
  mountDriver: 'mirror',
  gitRevision: SHA,
  subnetId: '',
  sshInterface: 'public_ip',
  associatePublicIp: true,
  iamInstanceProfile: '',
  volumeSize: 30,
  kmsKeyId: '',
};

/** HCL template escapes as hcl2json keeps them: `$${` and `%%{` stand for literal `${` and `%{`. */
function literal(value: unknown): unknown {
  return typeof value === 'string' ? value.replace(/\$\$\{/g, '${').replace(/%%\{/g, '%{') : value;
}

async function parseHcl(name: string, text: string): Promise<Record<string, unknown>> {
  return (await parse(name, text)) as Record<string, unknown>;
}

function settingsFor(values: Partial<Record<InputName, string>>) {
  return parseSettings((name) => values[name] ?? (name === 'command' ? 'bake' : ''), [], { AWS_REGION: 'us-east-1' });
}

describe('the Packer variables file', () => {
  it('renders every value as an HCL string that parses back to the same value', async () => {
    const text = renderPackerVariables(TEMPLATE, BASE);
    expect(await parseHcl(VARIABLES_FILE, text)).toEqual({
      region: 'us-east-1',
      source_ami: 'ami-0123456789abcdef0',
      architecture: 'x86_64',
      instance_type: 't3.small',
      ami_name_prefix: 'mapserver-ecs',
      mount_driver: 'mirror',
      git_revision: SHA,
      subnet_id: '',
      ssh_interface: 'public_ip',
      associate_public_ip_address: true,
      iam_instance_profile: '',
      volume_size: 30,
      kms_key_id: '',
    });
  });

  it('bakes in bake-subnet, else the first of subnets, with the connection, volume and key asked for', async () => {
    const fromSubnets = packerVariables(settingsFor({ subnets: 'subnet-0123456789abcdef1,subnet-0123456789abcdef2' }), 'ami-0123456789abcdef0', SHA, undefined);
    expect(fromSubnets).toMatchObject({ subnetId: 'subnet-0123456789abcdef1', sshInterface: 'public_ip', associatePublicIp: true });
    const given = settingsFor({
      subnets: 'subnet-0123456789abcdef1',
      'bake-subnet': 'subnet-0123456789abcdef9',
      'bake-connection': 'session-manager',
      'instance-profile': 'arn:aws:iam::123456789012:instance-profile/bake/mapserver-ecs-instance',
      'volume-size': '60',
      'kms-key-id': 'alias/ebs-maps',
    });
    const variables = packerVariables(given, 'ami-0123456789abcdef0', SHA, undefined);
    expect(variables).toMatchObject({ subnetId: 'subnet-0123456789abcdef9', sshInterface: 'session_manager', associatePublicIp: false, iamInstanceProfile: 'mapserver-ecs-instance', volumeSize: 60, kmsKeyId: 'alias/ebs-maps' });
    expect(await parseHcl(VARIABLES_FILE, renderPackerVariables(TEMPLATE, variables))).toMatchObject({
      subnet_id: 'subnet-0123456789abcdef9',
      ssh_interface: 'session_manager',
      associate_public_ip_address: false,
      volume_size: 60,
      kms_key_id: 'alias/ebs-maps',
    });
    expect(packerVariables(settingsFor({ 'bake-connection': 'private-ip' }), 'ami-0123456789abcdef0', SHA, undefined)).toMatchObject({ sshInterface: 'private_ip', associatePublicIp: false, iamInstanceProfile: '' });
  });

  it('carries the input hash and manifest as the input_tags map, on one line that packer fmt leaves as it is', async () => {
    const inputTags = [
      { key: 'mapserver-ecs:inputs-hash', value: 'ab'.repeat(32) },
      { key: 'mapserver-ecs:inputs-1', value: '@mount-driver=mirror packer/scripts/validate.sh=0123456789ab' },
    ];
    const text = renderPackerVariables(TEMPLATE, { ...BASE, inputTags });
    expect((await parseHcl(VARIABLES_FILE, text)).input_tags).toEqual({ 'mapserver-ecs:inputs-hash': 'ab'.repeat(32), 'mapserver-ecs:inputs-1': '@mount-driver=mirror packer/scripts/validate.sh=0123456789ab' });
    expect(text.split('\n').filter((line) => line.startsWith('input_tags = {'))).toHaveLength(1);
  });

  it('carries the run that bakes as the provenance_tags map, on one line, and nothing outside a workflow', async () => {
    const provenanceTags = [
      { key: 'mapserver-ecs:repository', value: 'https://github.com/acme/maps' },
      { key: 'mapserver-ecs:run', value: 'https://github.com/acme/maps/actions/runs/42/attempts/2' },
    ];
    const text = renderPackerVariables(TEMPLATE, { ...BASE, provenanceTags });
    expect((await parseHcl(VARIABLES_FILE, text)).provenance_tags).toEqual({
      'mapserver-ecs:repository': 'https://github.com/acme/maps',
      'mapserver-ecs:run': 'https://github.com/acme/maps/actions/runs/42/attempts/2',
    });
    expect(text.split('\n').filter((line) => line.startsWith('provenance_tags = {'))).toHaveLength(1);
    expect(renderPackerVariables(TEMPLATE, { ...BASE, provenanceTags: [] })).not.toContain('provenance_tags');
  });

  it('switches to communicator none only when an emulator endpoint is given', async () => {
    const parsed = await parseHcl(VARIABLES_FILE, renderPackerVariables(TEMPLATE, { ...BASE, ec2Endpoint: 'http://127.0.0.1:5000' }));
    expect(parsed).toMatchObject({ communicator: 'none', ec2_endpoint: 'http://127.0.0.1:5000' });
    expect(await parseHcl(VARIABLES_FILE, renderPackerVariables(TEMPLATE, BASE))).not.toHaveProperty('communicator');
  });

  it.each([
    ['double quotes', 'say "hi"'],
    ['a backslash', 'back\\slash'],
    ['a trailing backslash', 'ends\\'],
    ['a newline', 'two\nlines'],
    ['a tab', 'a\tb'],
    ['an interpolation', '${var.region}'],
    ['a template directive', '%{ if true }x%{ endif }'],
    ['a lone dollar and percent', '$5 and 100%'],
    ['an escaped-looking interpolation', '$${already}'],
    ['a closing quote and a new attribute', 'x"\ncommunicator = "none'],
    ['unicode', 'Zürich – 地図'],
  ])('escapes %s so the parsed value is the original', async (_case, value) => {
    const text = renderPackerVariables(TEMPLATE, { ...BASE, amiNamePrefix: value, instanceType: value });
    const parsed = await parseHcl(VARIABLES_FILE, text);
    expect(literal(parsed.ami_name_prefix)).toBe(value);
    expect(literal(parsed.instance_type)).toBe(value);
    // Nothing leaked out of its string into a new attribute.
    expect(Object.keys(parsed).sort()).toEqual([
      'ami_name_prefix',
      'architecture',
      'associate_public_ip_address',
      'git_revision',
      'iam_instance_profile',
      'instance_type',
      'kms_key_id',
      'mount_driver',
      'region',
      'source_ami',
      'ssh_interface',
      'subnet_id',
      'volume_size',
    ]);
  });

  it.each([
    ['amiNamePrefix', 'ami-name-prefix', 'bell\u0007'],
    ['instanceType', 'instance-type', 'nul\u0000'],
    ['region', 'aws-region', 'escape\u001b[31m'],
  ] as const)('refuses control characters in %s, naming the input %s', (field, input, value) => {
    let error: unknown;
    try {
      renderPackerVariables(TEMPLATE, { ...BASE, [field]: value });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(InputError);
    expect((error as InputError).problems[0]?.input).toBe(input);
    expect((error as InputError).message).toContain('control characters');
  });

  it('sets exactly the variables packer/variables.pkr.hcl declares, and every one without a default', async () => {
    const declared = (await parseHcl('variables.pkr.hcl', readFileSync(join(ROOT, 'packer/variables.pkr.hcl'), 'utf8'))).variable as Record<string, Array<Record<string, unknown>>>;
    const rendered = await parseHcl(VARIABLES_FILE, renderPackerVariables(TEMPLATE, { ...BASE, ec2Endpoint: 'http://127.0.0.1:5000' }));
    for (const name of Object.keys(rendered)) expect(Object.keys(declared)).toContain(name);
    const required = Object.entries(declared).filter(([, blocks]) => !('default' in (blocks[0] ?? {}))).map(([name]) => name);
    for (const name of required) expect(Object.keys(rendered)).toContain(name);
    for (const [name, blocks] of Object.entries(declared)) expect({ name, description: typeof blocks[0]?.description }).toEqual({ name, description: 'string' });
  });
});

describe('checks before Packer runs', () => {
  const settings = settingsFor({});

  it('accepts the defaults and keeps only a real git revision', () => {
    expect(packerVariables(settings, 'ami-0123456789abcdef0', SHA, undefined)).toEqual(BASE);
    expect(packerVariables(settings, 'ami-0123456789abcdef0', 'not a sha', undefined).gitRevision).toBe('unknown');
    expect(packerVariables(settings, 'ami-0123456789abcdef0', SHA, 'http://127.0.0.1:5000/').ec2Endpoint).toBe('http://127.0.0.1:5000');
  });

  it.each([
    ['a malformed AMI id', 'base-ami-id', {}, 'ami-XYZ', undefined],
    ['an AMI id from a bad SSM value', 'base-ami-id', {}, 'ami-0123456789abcdef0\nami-1', undefined],
    ['an x86_64 instance type for arm64', 'instance-type', { architecture: 'arm64', 'instance-type': 't3.small' }, 'ami-0123456789abcdef0', undefined],
    ['an arm64 instance type for x86_64', 'instance-type', { 'instance-type': 'm7g.large', architecture: 'x86_64' }, 'ami-0123456789abcdef0', undefined],
    ['an endpoint with a path and spaces', 'AWS_ENDPOINT_URL', {}, 'ami-0123456789abcdef0', 'http://127.0.0.1:5000/x y'],
  ] as const)('refuses %s, naming %s', (_case, input, values, ami, endpoint) => {
    const problems = (() => {
      try {
        packerVariables(settingsFor(values), ami, SHA, endpoint);
        return [];
      } catch (error) {
        return (error as InputError).problems;
      }
    })();
    expect(problems.map((p) => p.input)).toEqual([input]);
  });

  it.each([
    ['architecture', 'sparc', /architecture: expected one of x86_64, arm64, got "sparc"/],
    ['base-ami-id', 'ami-123', /base-ami-id: expected an AMI id/],
    ['bucket', 'Bad_Bucket', /bucket: expected an S3 bucket name/],
    ['ami-name-prefix', 'name"with"quotes', /ami-name-prefix: expected 3 to 100 letters/],
    ['mount-driver', 'goofys', /mount-driver: expected one of s3fs, mountpoint, mirror/],
    ['bake-subnet', 'subnet-xyz', /bake-subnet: expected a subnet id/],
    ['bake-connection', 'ssh', /bake-connection: expected one of public-ip, private-ip, session-manager/],
    ['volume-size', '20', /volume-size: expected a whole number from 30 to 1024/],
    ['kms-key-id', 'my key', /kms-key-id: expected a KMS key id/],
    ['bake-connection', 'session-manager', /instance-profile: is required with bake-connection session-manager/],
  ] as const)('settings refuse %s %j before the bake starts', (input, value, message) => {
    expect(() => settingsFor({ [input]: value })).toThrow(message);
  });

  it('fails on bad input before it looks for Packer or writes the build folder', async () => {
    const buildDir = join(mkdtempSync(join(tmpdir(), 'bake-unit-')), 'packer');
    const ctx = testContext({ command: 'bake' }, { env: { AWS_REGION: 'us-east-1', GITHUB_SHA: SHA } });
    // Settings refuse the pair already; the step checks again whatever reaches it.
    Object.assign(ctx.settings, { architecture: 'arm64' });
    await expect(bakeAmi(ctx, 'ami-0123456789abcdef0', { buildDir, packer: '/nonexistent/packer' })).rejects.toThrow(
      /instance-type: t3\.small is an x86_64 instance type, but architecture is arm64/,
    );
    expect(() => statSync(buildDir)).toThrow(/ENOENT/);
  });
});

describe('the variables file of a bake in a GitHub Actions run', () => {
  // The bake checks its network (the default subnets) before Packer runs.
  const ec2 = mockClient(EC2Client);
  beforeEach(() => {
    ec2.on(DescribeSubnetsCommand).resolves({ Subnets: [{ SubnetId: 'subnet-0123456789abcdef0', VpcId: 'vpc-0123456789abcdef0', DefaultForAz: true }] });
  });
  afterAll(() => {
    ec2.restore();
  });
  const RUN_ENV = { GITHUB_ACTIONS: 'true', GITHUB_SERVER_URL: 'https://github.com', GITHUB_REPOSITORY: 'acme/maps', GITHUB_RUN_ID: '42', GITHUB_RUN_ATTEMPT: '1' };

  /** The variables bakeAmi writes, with a stand-in Packer that stops the build. */
  async function bakeVariables(env: NodeJS.ProcessEnv): Promise<Record<string, unknown>> {
    const dir = mkdtempSync(join(tmpdir(), 'bake-unit-'));
    try {
      const packer = join(dir, 'packer');
      writeFileSync(packer, '#!/bin/sh\ncase "$1" in version) echo "Packer v1.11.2";; build) exit 3;; esac\n', { mode: 0o755 });
      const ctx = testContext({ command: 'bake' }, { env: { AWS_REGION: 'us-east-1', GITHUB_SHA: SHA, ...env } });
      await expect(bakeAmi(ctx, 'ami-0123456789abcdef0', { buildDir: join(dir, 'build'), packer })).rejects.toThrow(/exit|code 3/);
      return await parseHcl(VARIABLES_FILE, readFileSync(join(dir, 'build', VARIABLES_FILE), 'utf8'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  it('tags the AMI with the run, and keeps the input hash of a bake outside a workflow', async () => {
    const inRun = await bakeVariables(RUN_ENV);
    expect(inRun.provenance_tags).toEqual({
      'mapserver-ecs:repository': 'https://github.com/acme/maps',
      'mapserver-ecs:commit': SHA,
      'mapserver-ecs:run': 'https://github.com/acme/maps/actions/runs/42',
    });
    const onLaptop = await bakeVariables({});
    expect(onLaptop).not.toHaveProperty('provenance_tags');
    expect(inRun.input_tags).toEqual(onLaptop.input_tags);
    const otherRun = await bakeVariables({ ...RUN_ENV, GITHUB_RUN_ID: '43', GITHUB_RUN_ATTEMPT: '2' });
    expect(otherRun.input_tags).toEqual(inRun.input_tags);
  });
});

describe('instance types and Packer versions', () => {
  it.each([
    ['t3.small', 'x86_64'],
    ['m5.large', 'x86_64'],
    ['c6i.xlarge', 'x86_64'],
    ['t4g.small', 'arm64'],
    ['m7gd.large', 'arm64'],
    ['c8g.medium', 'arm64'],
    ['a1.large', 'arm64'],
    ['g5.xlarge', 'x86_64'],
  ])('%s is %s', (type, architecture) => {
    expect(instanceArchitecture(type)).toBe(architecture);
  });

  it.each([
    ['Packer v1.6.6\n', '1.6.6', false],
    ['Packer v1.11.2\n\nYour version of Packer is out of date!', '1.11.2', true],
    ['1.7.0', '1.7.0', true],
    ['Packer v2.0.1', '2.0.1', true],
  ])('reads %j as %s (required_plugins: %s)', (output, text, modern) => {
    const version = parsePackerVersion(output);
    expect(version.text).toBe(text);
    expect(supportsRequiredPlugins(version)).toBe(modern);
  });

  it('refuses output without a version', () => {
    expect(() => parsePackerVersion('command not found')).toThrow(StepFailure);
  });
});

describe('the manifest', () => {
  const manifest = JSON.stringify({
    builds: [
      { name: 'ecs', artifact_id: 'us-east-1:ami-0aaaaaaaaaaaaaaaa', packer_run_uuid: 'old' },
      { name: 'ecs', artifact_id: 'eu-west-1:ami-0bbbbbbbbbbbbbbbb,us-east-1:ami-0ccccccccccccccc1', packer_run_uuid: 'new' },
    ],
    last_run_uuid: 'new',
  });

  it('takes the last run and the AMI in the bake region', () => {
    expect(parseManifest(manifest, 'us-east-1')).toEqual({ region: 'us-east-1', amiId: 'ami-0ccccccccccccccc1' });
    expect(parseManifest(manifest, 'eu-west-1')).toEqual({ region: 'eu-west-1', amiId: 'ami-0bbbbbbbbbbbbbbbb' });
  });

  it('fails clearly when there is no AMI for the region or no JSON', () => {
    expect(() => parseManifest(manifest, 'ap-south-1')).toThrow(/names no AMI in ap-south-1/);
    expect(() => parseManifest('{"builds":', 'us-east-1')).toThrow(/not JSON/);
  });
});

describe('the build folder', () => {
  it('holds the templates, scripts, overlay and variables; Packer 1.7+ gets the versions file', () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'bake-folder-')), 'packer');
    try {
      const files = writeBuildFolder(join(ROOT, 'packer'), dir, 'region = "us-east-1"\n', false);
      expect(files).toEqual(['build.pkr.hcl', 'files/', 'locals.pkr.hcl', VARIABLES_FILE, 'scripts/', 'source.pkr.hcl', 'variables.pkr.hcl', 'versions.pkr.hcl']);
      expect(readFileSync(join(dir, 'source.pkr.hcl'), 'utf8')).toBe(readFileSync(join(ROOT, 'packer/source.pkr.hcl'), 'utf8'));
      expect(statSync(join(dir, 'files/usr/local/sbin/mapfiles-mount')).mode & 0o111).toBe(0o111);
      expect(statSync(join(dir, 'scripts/validate.sh')).mode & 0o111).toBe(0o111);
    } finally {
      rmSync(join(dir, '..'), { recursive: true, force: true });
    }
  });

  it('leaves out the versions file and swaps in the legacy source for Packer older than 1.7', () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'bake-folder-')), 'packer');
    try {
      const files = writeBuildFolder(join(ROOT, 'packer'), dir, '', true);
      expect(files).not.toContain('versions.pkr.hcl');
      expect(readFileSync(join(dir, 'source.pkr.hcl'), 'utf8')).toBe(readFileSync(join(ROOT, 'packer/legacy/source.pkr.hcl'), 'utf8'));
    } finally {
      rmSync(join(dir, '..'), { recursive: true, force: true });
    }
  });
});

describe('the Packer templates', () => {
  it('keep the legacy source identical to the current one but for the settings its builder lacks', async () => {
    const current = ((await parseHcl('source.pkr.hcl', readFileSync(join(ROOT, 'packer/source.pkr.hcl'), 'utf8'))).source as Record<string, Record<string, Array<Record<string, unknown>>>>)['amazon-ebs']?.ecs?.[0] ?? {};
    const legacy = ((await parseHcl('legacy.pkr.hcl', readFileSync(join(ROOT, 'packer/legacy/source.pkr.hcl'), 'utf8'))).source as Record<string, Record<string, Array<Record<string, unknown>>>>)['amazon-ebs']?.ecs?.[0] ?? {};
    const { metadata_options: metadataOptions, imds_support: imdsSupport, temporary_security_group_source_public_ip: sourcePublicIp, ...shared } = current;
    expect(legacy).toEqual(shared);
    expect(metadataOptions).toEqual([{ http_endpoint: 'enabled', http_tokens: 'required', http_put_response_hop_limit: 2 }]);
    expect(imdsSupport).toBe('v2.0');
    expect(sourcePublicIp).toBe('${var.ssh_interface == "public_ip"}');
    expect(shared.launch_block_device_mappings).toEqual([expect.objectContaining({ encrypted: true, device_name: '/dev/xvda' })]);
  });

  it('tag the AMI with everything cleanup and people need', async () => {
    const locals = (await parseHcl('locals.pkr.hcl', readFileSync(join(ROOT, 'packer/locals.pkr.hcl'), 'utf8'))).locals as Array<Record<string, unknown>>;
    const tags = locals.find((block) => 'ami_tags' in block)?.ami_tags as Record<string, string>;
    expect(tags).toMatchObject({
      Name: '${local.ami_name}',
      'mapserver-ecs:managed': 'true',
      'mapserver-ecs:source-ami': '${var.source_ami}',
      'mapserver-ecs:mount-driver': '${var.mount_driver}',
      'mapserver-ecs:mount-driver-version': '${local.mount_driver_version}',
      'mapserver-ecs:git-revision': '${var.git_revision}',
      'mapserver-ecs:build-time': '${local.build_time}',
    });
  });

  it('tag the AMI and its snapshots with the inputs and the run that baked it, never over the tags above', async () => {
    const locals = (await parseHcl('locals.pkr.hcl', readFileSync(join(ROOT, 'packer/locals.pkr.hcl'), 'utf8'))).locals as Array<Record<string, unknown>>;
    expect(locals.find((block) => 'image_tags' in block)?.image_tags).toBe('${merge(var.input_tags, var.provenance_tags, local.ami_tags)}');
  });

  it('pin the amazon plugin in a versions file that holds nothing else', async () => {
    const versions = await parseHcl('versions.pkr.hcl', readFileSync(join(ROOT, 'packer/versions.pkr.hcl'), 'utf8'));
    expect(versions).toEqual({
      packer: [{ required_plugins: [{ amazon: { source: 'github.com/hashicorp/amazon', version: expect.stringMatching(/^~> \d+\.\d+\.\d+$/) } }] }],
    });
  });

  it('run every provisioning script, validate last, and skip them all without a communicator', async () => {
    const build = ((await parseHcl('build.pkr.hcl', readFileSync(join(ROOT, 'packer/build.pkr.hcl'), 'utf8'))).build as Array<Record<string, unknown>>)[0] ?? {};
    // hcl2json groups blocks by type: { file: [...], shell: [...] }.
    const provisioners = build.provisioner as Record<string, Array<Record<string, unknown>>>;
    const blocks = Object.values(provisioners).flat();
    expect(blocks).toHaveLength(3);
    for (const block of blocks) expect(block.except).toBe('${local.unprovisioned_sources}');
    const scripts = blocks.flatMap((b) => (b.scripts as string[] | undefined) ?? []);
    expect(scripts.at(-1)).toBe('${path.root}/scripts/validate.sh');
    for (const script of scripts) expect(statSync(join(ROOT, 'packer', script.replace('${path.root}/', ''))).isFile()).toBe(true);
    expect(build['post-processor']).toEqual({ manifest: [expect.objectContaining({ output: 'manifest.json' })] });
  });
});
