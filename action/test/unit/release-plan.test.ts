// Release only what changed: the input fingerprints of the bake and the image, the decision of each
// step with its reason (the dry-run plan), and the plan's text in the job summary.
import { afterAll, afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { AutoScalingClient, DescribeAutoScalingGroupsCommand, DescribeInstanceRefreshesCommand, StartInstanceRefreshCommand, type AutoScalingGroup } from '@aws-sdk/client-auto-scaling';
import {
  CreateLaunchTemplateVersionCommand,
  ModifyLaunchTemplateCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  DescribeLaunchTemplatesCommand,
  DescribeSnapshotsCommand,
  DescribeLaunchTemplateVersionsCommand,
  EC2Client,
  type LaunchTemplateVersion,
} from '@aws-sdk/client-ec2';
import { BatchGetImageCommand, DescribeImagesCommand as DescribeEcrImagesCommand, ECRClient, GetDownloadUrlForLayerCommand } from '@aws-sdk/client-ecr';
import { DescribeCapacityProvidersCommand, DescribeServicesCommand, DescribeTaskDefinitionCommand, ECSClient, RegisterTaskDefinitionCommand, UpdateServiceCommand } from '@aws-sdk/client-ecs';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { spawnSync } from 'node:child_process';
import { appendFileSync, chmodSync, cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClients } from '../../src/aws/clients.js';
import { formatPlan, releaseCommand } from '../../src/commands/release.js';
import { GitHubReporter } from '../../src/reporter.js';
import { parseSettings } from '../../src/settings.js';
import { decideBake } from '../../src/steps/bake.js';
import { definitionDigest, DEFINITION_HASH_TAG } from '../../src/aws/ecs.js';
import { decideDeploy } from '../../src/steps/deploy.js';
import {
  bakeFingerprint,
  contentTag,
  dockerignoreMatcher,
  encodeManifest,
  imageFingerprint,
  INPUTS_HASH_TAG,
  manifestChanges,
  manifestFromTags,
  manifestTags,
} from '../../src/steps/fingerprint.js';
import { registryDigest } from '../../src/registry.js';
import { decideImage, imageFingerprintFor } from '../../src/steps/image.js';
import { decideRoll, desiredVersion, rollInstances } from '../../src/steps/roll.js';
import { bakeCommand } from '../../src/commands/bake.js';
import { imageCommand } from '../../src/commands/image.js';
import { deployService } from '../../src/steps/deploy.js';
import { loadTaskDefinition } from '../../src/steps/task-definition.js';
import { testContext } from '../../../scripts/support/command-context.js';

const ROOT = new URL('../../../', import.meta.url).pathname;
const ec2 = mockClient(EC2Client);
const ecs = mockClient(ECSClient);
const ecr = mockClient(ECRClient);
const ssm = mockClient(SSMClient);
const autoScaling = mockClient(AutoScalingClient);
const BASE = 'ami-0123456789abcdef0';
const NEW_BASE = 'ami-0aaaaaaaaaaaaaaa1';
const BAKED = 'ami-0bbbbbbbbbbbbbbb2';
const OLD_AMI = 'ami-0ccccccccccccccc3';
const LT = 'lt-0aaaabbbbccccdddd';
const TD = (n: number): string => `arn:aws:ecs:us-east-1:123456789012:task-definition/mapserver:${n}`;
const DIGEST = `sha256:${'cd'.repeat(32)}`;
const IMAGE = `123456789012.dkr.ecr.us-east-1.amazonaws.com/mapserver@${DIGEST}`;

/** A copy of the checkout's packer/, docker/ and ecs/ that a test may change. */
function scratchRoot(): string {
  const dir = mkdtempSync(join(tmpdir(), 'release-plan-'));
  for (const folder of ['packer', 'docker', 'ecs']) cpSync(join(ROOT, folder), join(dir, folder), { recursive: true });
  return dir;
}
const roots: string[] = [];
afterAll(() => {
  for (const dir of roots) rmSync(dir, { recursive: true, force: true });
});
function root(): string {
  const dir = scratchRoot();
  roots.push(dir);
  return dir;
}

const MANAGED = { Key: 'mapserver-ecs:managed', Value: 'true' };
const ec2Tags = (tags: Array<{ key: string; value: string }>) => tags.map((t) => ({ Key: t.key, Value: t.value }));
const settingsOf = { region: 'us-east-1', architecture: 'x86_64', mountDriver: 'mirror', amiNamePrefix: 'mapserver-ecs' } as const;

beforeEach(() => {
  for (const m of [ec2, ecs, ecr, ssm, autoScaling]) m.reset();
});
afterEach(() => {
  for (const m of [ec2, ecs, ecr, ssm, autoScaling]) m.reset();
});

describe('the bake fingerprint', () => {
  it('covers the Packer folder as the build gets it, not the README, and not the legacy source outside an emulator', () => {
    const fp = bakeFingerprint(ROOT, settingsOf, BASE, false);
    const files = Object.keys(fp.manifest).filter((k) => !k.startsWith('@'));
    expect(files).toEqual(expect.arrayContaining(['packer/build.pkr.hcl', 'packer/scripts/install-mount-driver.sh', 'packer/templates/mapserver-ecs.auto.pkrvars.hcl.hbs']));
    expect(files).toEqual(expect.arrayContaining(['packer/files/usr/local/lib/mapserver-ecs/mirror/index.js', 'packer/files/usr/local/sbin/mapfiles-mount']));
    expect(files).not.toContain('packer/README.md');
    expect(files.some((f) => f.startsWith('packer/legacy/'))).toBe(false);
    expect(Object.keys(bakeFingerprint(ROOT, settingsOf, BASE, true).manifest)).toContain('packer/legacy/source.pkr.hcl');
  });

  it('is stable, and changes with a file, its executable bit, the base AMI or a setting that reaches the AMI', () => {
    const dir = root();
    const before = bakeFingerprint(dir, settingsOf, BASE, false);
    expect(bakeFingerprint(dir, settingsOf, BASE, false).hash).toBe(before.hash);
    expect(bakeFingerprint(dir, settingsOf, NEW_BASE, false).hash).not.toBe(before.hash);
    expect(bakeFingerprint(dir, { ...settingsOf, mountDriver: 's3fs' }, BASE, false).hash).not.toBe(before.hash);
    expect(bakeFingerprint(dir, { ...settingsOf, architecture: 'arm64' }, BASE, false).hash).not.toBe(before.hash);
    chmodSync(join(dir, 'packer/scripts/configure-fuse.sh'), 0o644);
    const mode = bakeFingerprint(dir, settingsOf, BASE, false);
    expect(manifestChanges(before.manifest, mode.manifest)).toEqual(['packer/scripts/configure-fuse.sh changed']);
    appendFileSync(join(dir, 'packer/scripts/install-mount-driver.sh'), '\n# changed\n');
    writeFileSync(join(dir, 'packer/files/etc/new.conf'), 'x\n');
    const after = bakeFingerprint(dir, { ...settingsOf, mountDriver: 's3fs' }, BASE, false);
    expect(manifestChanges(before.manifest, after.manifest)).toEqual([
      'mount-driver mirror -> s3fs',
      'packer/files/etc/new.conf added',
      'packer/scripts/configure-fuse.sh changed',
      'packer/scripts/install-mount-driver.sh changed',
    ]);
  });

  it('leaves out the git revision and the README: a commit that changes neither AMI input keeps the hash', () => {
    const dir = root();
    const before = bakeFingerprint(dir, settingsOf, BASE, false).hash;
    writeFileSync(join(dir, 'packer/README.md'), 'edited\n');
    expect(bakeFingerprint(dir, settingsOf, BASE, false).hash).toBe(before);
  });

  it('travels as AMI tags of at most 256 characters and reads back whole', () => {
    const fp = bakeFingerprint(ROOT, settingsOf, BASE, false);
    const tags = manifestTags(fp);
    expect(tags[0]).toEqual({ key: INPUTS_HASH_TAG, value: fp.hash });
    for (const tag of tags) {
      expect(tag.value.length).toBeLessThanOrEqual(256);
      expect(tag.key.length).toBeLessThanOrEqual(128);
    }
    // With the 8 tags Packer sets, far below EC2's 50 per resource.
    expect(tags.length).toBeLessThan(20);
    const back = manifestFromTags([...ec2Tags(tags), { Key: 'mapserver-ecs:source-ami', Value: BASE }]);
    expect(back).toEqual(fp.manifest);
    expect(manifestFromTags([{ Key: 'Name', Value: 'x' }])).toBeUndefined();
  });
});

describe('the image fingerprint', () => {
  it('covers docker/ and the platform, and honours .dockerignore (never for the Dockerfile)', () => {
    const dir = root();
    const before = imageFingerprint(dir, { architecture: 'x86_64' });
    expect(Object.keys(before.manifest)).toEqual(expect.arrayContaining(['docker/Dockerfile', 'docker/entrypoint.sh', 'docker/apache/mapserver.conf']));
    expect(imageFingerprint(dir, { architecture: 'arm64' }).hash).not.toBe(before.hash);
    writeFileSync(join(dir, 'docker/.dockerignore'), '# notes\n*.md\nviewer/src\n!viewer/src/keep.ts\nDockerfile\n');
    writeFileSync(join(dir, 'docker/viewer/src/keep.ts'), 'x\n');
    const ignoring = imageFingerprint(dir, { architecture: 'x86_64' });
    expect(Object.keys(ignoring.manifest)).not.toContain('docker/README.md');
    expect(Object.keys(ignoring.manifest)).not.toContain('docker/viewer/src/viewer.ts');
    expect(Object.keys(ignoring.manifest)).toEqual(expect.arrayContaining(['docker/Dockerfile', 'docker/viewer/src/keep.ts', 'docker/.dockerignore']));
    writeFileSync(join(dir, 'docker/README.md'), 'edited\n');
    expect(imageFingerprint(dir, { architecture: 'x86_64' }).hash).toBe(ignoring.hash);
  });

  it.each([
    ['*.md', 'README.md', true],
    ['*.md', 'viewer/README.md', false],
    ['**/*.md', 'viewer/README.md', true],
    ['viewer', 'viewer/dist/viewer.js', true],
    ['/smoke/', 'smoke/smoke.map', true],
    ['viewer/?ist', 'viewer/dist/x', true],
  ])('.dockerignore %s matches %s: %s', (pattern, path, expected) => {
    expect(dockerignoreMatcher(pattern)(path)).toBe(expected);
  });
});

describe('the bake decision', () => {
  const running = (tags: Array<{ Key: string; Value: string }>) => {
    ec2.on(DescribeLaunchTemplatesCommand).resolves({ LaunchTemplates: [{ LaunchTemplateId: LT, DefaultVersionNumber: 3 }] });
    ec2.on(DescribeLaunchTemplateVersionsCommand).resolves({ LaunchTemplateVersions: [{ VersionNumber: 3, DefaultVersion: true, LaunchTemplateData: { ImageId: OLD_AMI } }] });
    ec2.on(DescribeImagesCommand, { ImageIds: [OLD_AMI] }).resolves({ Images: [{ ImageId: OLD_AMI, Tags: tags }] });
    ec2.on(DescribeImagesCommand, { ImageIds: [NEW_BASE] }).resolves({ Images: [{ ImageId: NEW_BASE, CreationDate: '2026-11-28T04:12:00.000Z' }] });
  };

  it('reuses the newest available AMI with the same input hash: "reuse ami-... (inputs unchanged)"', async () => {
    const ctx = testContext({ command: 'release', bucket: 'maps-bucket' }, { root: ROOT });
    const hash = bakeFingerprint(ROOT, ctx.settings, BASE, false).hash;
    ec2.on(DescribeImagesCommand).resolves({
      Images: [
        { ImageId: OLD_AMI, CreationDate: '2026-11-01T00:00:00.000Z' },
        { ImageId: BAKED, CreationDate: '2026-11-20T00:00:00.000Z' },
      ],
    });
    const decision = await decideBake(ctx, BASE);
    expect(decision).toMatchObject({ reuse: BAKED, reason: `reuse ${BAKED} (inputs unchanged)` });
    expect(ec2.commandCalls(DescribeImagesCommand)[0]?.args[0].input).toEqual({
      Owners: ['self'],
      Filters: [
        { Name: `tag:${INPUTS_HASH_TAG}`, Values: [hash] },
        { Name: 'state', Values: ['available'] },
      ],
    });
  });

  it('names the provisioning script that changed since the running AMI was baked: "bake (packer/scripts/install-mount-driver.sh changed)"', async () => {
    const dir = root();
    const ctx = testContext({ command: 'release', bucket: 'maps-bucket' }, { root: dir });
    const before = bakeFingerprint(dir, ctx.settings, BASE, false);
    running([...ec2Tags(manifestTags(before)), { Key: 'mapserver-ecs:source-ami', Value: BASE }, MANAGED]);
    ec2.on(DescribeImagesCommand, { Owners: ['self'] }).resolves({ Images: [] });
    appendFileSync(join(dir, 'packer/scripts/install-mount-driver.sh'), '\n# a fix\n');
    const decision = await decideBake(ctx, BASE);
    expect(decision.reuse).toBeUndefined();
    expect(decision.reason).toBe('bake (packer/scripts/install-mount-driver.sh changed)');
  });

  it('names a new base AMI and its publication date: "bake (new base AMI ami-... published <date>)"', async () => {
    const ctx = testContext({ command: 'release', bucket: 'maps-bucket' }, { root: ROOT });
    const before = bakeFingerprint(ROOT, ctx.settings, BASE, false);
    running([...ec2Tags(manifestTags(before)), { Key: 'mapserver-ecs:source-ami', Value: BASE }, MANAGED]);
    ec2.on(DescribeImagesCommand, { Owners: ['self'] }).resolves({ Images: [] });
    const decision = await decideBake(ctx, NEW_BASE);
    expect(decision.reason).toBe(`bake (new base AMI ${NEW_BASE} published 2026-11-28, ${OLD_AMI} was baked from ${BASE})`);
  });

  it('says when there is nothing to compare with, and bakes with force whatever exists', async () => {
    const ctx = testContext({ command: 'release', bucket: 'maps-bucket' }, { root: ROOT });
    ec2.on(DescribeImagesCommand).resolves({ Images: [] });
    ec2.on(DescribeLaunchTemplatesCommand).resolves({ LaunchTemplates: [] });
    expect((await decideBake(ctx, BASE)).reason).toBe('bake (no AMI baked from these inputs yet)');
    running([{ Key: 'mapserver-ecs:source-ami', Value: BASE }, MANAGED]);
    expect((await decideBake(ctx, BASE)).reason).toBe(`bake (${OLD_AMI}, which the instances run, has no input manifest to compare with)`);
    running([]);
    expect((await decideBake(ctx, BASE)).reason).toBe(`bake (${OLD_AMI}, which the instances run, was not baked by this pipeline)`);
    const forced = testContext({ command: 'release', bucket: 'maps-bucket', force: 'true' }, { root: ROOT });
    ec2.reset();
    expect((await decideBake(forced, BASE)).reason).toBe('bake (force)');
    expect(ec2.calls()).toHaveLength(0);
  });
});

describe('the image decision', () => {
  it('reuses the image tagged with its content hash in ECR, by digest: "image unchanged"', async () => {
    const ctx = testContext({ command: 'release', bucket: 'maps-bucket' }, { root: ROOT });
    const tag = contentTag(imageFingerprintFor(ctx).hash);
    ecr.on(DescribeEcrImagesCommand, { repositoryName: 'mapserver', imageIds: [{ imageTag: tag }] }).resolves({ imageDetails: [{ registryId: '123456789012', imageDigest: DIGEST }] });
    const decision = await decideImage(ctx);
    expect(decision.reuse).toBe(IMAGE);
    expect(decision.reason).toMatch(new RegExp(`^image unchanged: reuse ${IMAGE.replace(/\./g, '\\.')} \\(content [0-9a-f]{12}\\)$`));
  });

  it('builds when no image has the hash, or with force', async () => {
    const ctx = testContext({ command: 'release', bucket: 'maps-bucket' }, { root: ROOT });
    ecr.on(DescribeEcrImagesCommand).rejects(Object.assign(new Error('not found'), { name: 'ImageNotFoundException' }));
    expect((await decideImage(ctx)).reason).toMatch(/^build \(no image with content [0-9a-f]{12} in mapserver\)$/);
    const forced = testContext({ command: 'release', bucket: 'maps-bucket', force: 'true' }, { root: ROOT });
    expect((await decideImage(forced)).reason).toBe('build (force)');
  });

  it('names the files of docker/ that changed since the image the service runs (its manifest label)', async () => {
    const dir = root();
    const ctx = testContext({ command: 'release', bucket: 'maps-bucket', registry: '127.0.0.1:5000' }, { root: dir });
    const before = imageFingerprintFor(ctx);
    appendFileSync(join(dir, 'docker/entrypoint.sh'), '\n# changed\n');
    const running = `127.0.0.1:5000/mapserver@${DIGEST}`;
    const config = `sha256:${'ef'.repeat(32)}`;
    ecs.on(DescribeServicesCommand).resolves({ services: [{ serviceName: 'mapserver', status: 'ACTIVE', taskDefinition: TD(12) }] });
    ecs.on(DescribeTaskDefinitionCommand).resolves({ taskDefinition: { containerDefinitions: [{ name: 'mapserver', image: running }] } });
    const fetcher = (async (url: string, init?: RequestInit) => {
      if (init?.method === 'HEAD') return new Response(null, { status: 404 });
      if (url.endsWith(`/manifests/${DIGEST}`)) return Response.json({ config: { digest: config } });
      if (url.endsWith(`/blobs/${config}`)) return Response.json({ config: { Labels: { 'mapserver-ecs.content-manifest': encodeManifest(before.manifest) } } });
      return new Response(null, { status: 404 });
    }) as unknown as typeof fetch;
    expect((await decideImage(ctx, fetcher)).reason).toBe('build (docker/entrypoint.sh changed since the running image)');
  });

  it('reads the running image\'s manifest label from ECR too', async () => {
    const dir = root();
    const ctx = testContext({ command: 'release', bucket: 'maps-bucket' }, { root: dir });
    const before = imageFingerprintFor(ctx);
    writeFileSync(join(dir, 'docker/mapserver/new.conf'), 'x\n');
    const config = `sha256:${'ef'.repeat(32)}`;
    ecr.on(DescribeEcrImagesCommand).rejects(Object.assign(new Error('not found'), { name: 'ImageNotFoundException' }));
    ecr.on(BatchGetImageCommand, { repositoryName: 'mapserver', imageIds: [{ imageDigest: DIGEST }] }).resolves({ images: [{ imageManifest: JSON.stringify({ config: { digest: config } }) }] });
    ecr.on(GetDownloadUrlForLayerCommand, { repositoryName: 'mapserver', layerDigest: config }).resolves({ downloadUrl: 'https://layers.invalid/config' });
    ecs.on(DescribeServicesCommand).resolves({ services: [{ serviceName: 'mapserver', status: 'ACTIVE', taskDefinition: TD(12) }] });
    ecs.on(DescribeTaskDefinitionCommand).resolves({ taskDefinition: { containerDefinitions: [{ name: 'mapserver', image: IMAGE }] } });
    const fetcher = (async (url: string) =>
      url === 'https://layers.invalid/config' ? Response.json({ config: { Labels: { 'mapserver-ecs.content-manifest': encodeManifest(before.manifest) } } }) : new Response(null, { status: 404 })) as unknown as typeof fetch;
    expect((await decideImage(ctx, fetcher)).reason).toBe('build (docker/mapserver/new.conf added since the running image)');
  });

  it('asks a registry for the tag over its v2 API, plain HTTP on loopback only', async () => {
    const seen: string[] = [];
    const fetcher = (async (url: string) => {
      seen.push(url);
      return new Response(null, { status: 200, headers: { 'docker-content-digest': DIGEST } });
    }) as unknown as typeof fetch;
    expect(await registryDigest('127.0.0.1:5000', 'mapserver', 'content-x', fetcher)).toBe(`127.0.0.1:5000/mapserver@${DIGEST}`);
    await registryDigest('registry.example.org', 'team/mapserver', 'content-x', fetcher);
    expect(seen).toEqual(['http://127.0.0.1:5000/v2/mapserver/manifests/content-x', 'https://registry.example.org/v2/team/mapserver/manifests/content-x']);
    const missing = (async () => new Response(null, { status: 404 })) as unknown as typeof fetch;
    expect(await registryDigest('127.0.0.1:5000', 'mapserver', 'content-x', missing)).toBeUndefined();
  });
});

describe('the deploy decision', () => {
  const settled = (arn: string) => ({
    services: [{ serviceName: 'mapserver', status: 'ACTIVE', desiredCount: 1, taskDefinition: arn, deployments: [{ id: 'd', status: 'PRIMARY', taskDefinition: arn, rolloutState: 'COMPLETED' as const }] }],
  });

  it('is unchanged when the latest revision holds this very definition and the service runs it', async () => {
    const ctx = testContext({ command: 'release', bucket: 'maps-bucket' }, { root: ROOT });
    const digest = definitionDigest(await loadTaskDefinition(ROOT, ctx.settings, IMAGE));
    ecs.on(DescribeServicesCommand).resolves(settled(TD(12)));
    ecs.on(DescribeTaskDefinitionCommand).resolves({ taskDefinition: { taskDefinitionArn: TD(12), revision: 12, status: 'ACTIVE' }, tags: [{ key: DEFINITION_HASH_TAG, value: digest }] });
    expect(await decideDeploy(ctx, IMAGE)).toEqual({ unchanged: true, taskDefinitionArn: TD(12), reason: 'unchanged (mapserver runs mapserver:12)' });
  });

  it('names the revisions: "task definition :12 -> :13"', async () => {
    const ctx = testContext({ command: 'release', bucket: 'maps-bucket' }, { root: ROOT });
    ecs.on(DescribeServicesCommand).resolves(settled(TD(12)));
    ecs.on(DescribeTaskDefinitionCommand).resolves({ taskDefinition: { taskDefinitionArn: TD(12), revision: 12, status: 'ACTIVE' }, tags: [{ key: DEFINITION_HASH_TAG, value: 'other' }] });
    expect((await decideDeploy(ctx, IMAGE)).reason).toBe('task definition :12 -> :13 (definition changed)');
    expect((await decideDeploy(ctx, undefined)).reason).toBe('task definition :12 -> :13 (new image)');
  });
});

describe('the roll decision', () => {
  const group = (version: string, count: number): AutoScalingGroup =>
    ({
      AutoScalingGroupName: 'mapserver-ecs',
      LaunchTemplate: { LaunchTemplateId: LT, Version: version },
      Instances: Array.from({ length: count }, (_, i) => ({ InstanceId: `i-${i}`, LaunchTemplate: { LaunchTemplateId: LT, Version: version } })),
    }) as AutoScalingGroup;
  const template = (current: LaunchTemplateVersion) => {
    ec2.on(DescribeLaunchTemplatesCommand).resolves({ LaunchTemplates: [{ LaunchTemplateId: LT, DefaultVersionNumber: 3 }] });
    ec2.on(DescribeLaunchTemplateVersionsCommand).resolves({ LaunchTemplateVersions: [current] });
    autoScaling.on(DescribeInstanceRefreshesCommand).resolves({ InstanceRefreshes: [] });
    ec2.on(DescribeImagesCommand).resolves({ Images: [] });
  };

  it('counts the instances to replace: "3 instances to replace"', async () => {
    const ctx = testContext({ command: 'release', bucket: 'maps-bucket' }, { root: ROOT });
    template({ VersionNumber: 3, DefaultVersion: true, LaunchTemplateData: { ImageId: OLD_AMI } });
    autoScaling.on(DescribeAutoScalingGroupsCommand).resolves({ AutoScalingGroups: [group('3', 3)] });
    expect(await decideRoll(ctx, BAKED)).toEqual({ unchanged: false, reason: `3 instances to replace (new launch template version: ${OLD_AMI} -> ${BAKED})` });
    expect((await decideRoll(ctx, undefined)).reason).toBe(`3 instances to replace (new launch template version with the new AMI, from ${OLD_AMI})`);
  });

  it('stops a release before anything changes when the roll cannot start', async () => {
    const ctx = testContext({ command: 'release', bucket: 'maps-bucket', 'ami-id': BAKED, image: IMAGE }, { root: ROOT });
    ecs.on(DescribeServicesCommand).resolves({ services: [{ serviceName: 'mapserver', status: 'ACTIVE', taskDefinition: TD(12) }] });
    ecs.on(DescribeTaskDefinitionCommand).resolves({ taskDefinition: { taskDefinitionArn: TD(12), revision: 12, status: 'ACTIVE' }, tags: [] });
    autoScaling.on(DescribeAutoScalingGroupsCommand).resolves({ AutoScalingGroups: [group('3', 1)] });
    autoScaling.on(DescribeInstanceRefreshesCommand).resolves({ InstanceRefreshes: [{ InstanceRefreshId: 'ir-9', Status: 'InProgress' }] });
    expect(await decideRoll(ctx, BAKED)).toEqual({ unchanged: false, blocked: true, reason: 'cannot roll yet: instance refresh ir-9 is InProgress' });
    await expect(releaseCommand(ctx)).rejects.toThrow('The release cannot roll the instances: cannot roll yet: instance refresh ir-9 is InProgress');
    expect(ecs.commandCalls(RegisterTaskDefinitionCommand)).toHaveLength(0);
    expect(ecs.commandCalls(UpdateServiceCommand)).toHaveLength(0);
  });

  it('is unchanged when the default version holds the same data and every instance runs it', async () => {
    const ctx = testContext({ command: 'release', bucket: 'maps-bucket' }, { root: ROOT });
    const current: LaunchTemplateVersion = { VersionNumber: 3, DefaultVersion: true, LaunchTemplateData: { ImageId: OLD_AMI } };
    ec2.on(DescribeImagesCommand).resolves({ Images: [] });
    const { data, description } = await desiredVersion(ctx, BAKED, current);
    const made: LaunchTemplateVersion = { VersionNumber: 4, DefaultVersion: true, VersionDescription: description, LaunchTemplateData: data as LaunchTemplateVersion['LaunchTemplateData'] };
    template(made);
    autoScaling.on(DescribeAutoScalingGroupsCommand).resolves({ AutoScalingGroups: [group('4', 2)] });
    // Made from the default's data, so the same data again hashes the same.
    expect((await desiredVersion(ctx, BAKED, made)).description).toBe(description);
    expect(await decideRoll(ctx, BAKED)).toEqual({ unchanged: true, launchTemplateVersion: '4', reason: `unchanged (launch template version 4, ${BAKED}, 2 instances on it)` });
    autoScaling.on(DescribeAutoScalingGroupsCommand).resolves({ AutoScalingGroups: [group('3', 2)] });
    expect((await decideRoll(ctx, BAKED)).reason).toBe(`2 instances to replace (onto launch template version 4, ${BAKED})`);
  });
});

describe('release --dry-run', () => {
  const summaryDir = mkdtempSync(join(tmpdir(), 'release-summary-'));
  afterAll(() => rmSync(summaryDir, { recursive: true, force: true }));

  it('prints the plan with a reason per step, changes nothing, and puts the plan in the job summary', async () => {
    const summaryFile = join(summaryDir, 'summary.md');
    writeFileSync(summaryFile, '');
    const saved = process.env.GITHUB_STEP_SUMMARY;
    process.env.GITHUB_STEP_SUMMARY = summaryFile;
    const write = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      const env = { AWS_REGION: 'us-east-1' };
      const settings = parseSettings((name) => ({ command: 'release', bucket: 'maps-bucket', 'dry-run': 'true' })[name as string] ?? '', [], env);
      const reporter = new GitHubReporter(process.env);
      const ctx = { settings, reporter, clients: createClients('us-east-1', env), root: ROOT, env };
      const hash = bakeFingerprint(ROOT, settings, NEW_BASE, false);
      ssm.on(GetParameterCommand).resolves({ Parameter: { Value: NEW_BASE } });
      // The running AMI was baked from the same files, but from the previous base AMI.
      ec2.on(DescribeImagesCommand).resolves({ Images: [] });
      ec2.on(DescribeImagesCommand, { ImageIds: [OLD_AMI] }).resolves({ Images: [{ ImageId: OLD_AMI, Tags: [...ec2Tags(manifestTags(hash)).filter((t) => t.Key !== INPUTS_HASH_TAG), { Key: 'mapserver-ecs:source-ami', Value: BASE }, MANAGED] }] });
      ec2.on(DescribeImagesCommand, { ImageIds: [NEW_BASE] }).resolves({ Images: [{ ImageId: NEW_BASE, CreationDate: '2026-11-28T04:12:00.000Z' }] });
      ec2.on(DescribeLaunchTemplatesCommand).resolves({ LaunchTemplates: [{ LaunchTemplateId: LT, DefaultVersionNumber: 3 }] });
      ec2.on(DescribeLaunchTemplateVersionsCommand).resolves({ LaunchTemplateVersions: [{ VersionNumber: 3, DefaultVersion: true, LaunchTemplateData: { ImageId: OLD_AMI } }] });
      ec2.on(DescribeInstancesCommand).resolves({ Reservations: [] });
      ec2.on(DescribeSnapshotsCommand).resolves({ Snapshots: [] });
      ecr.on(DescribeEcrImagesCommand).resolves({ imageDetails: [{ registryId: '123456789012', imageDigest: DIGEST }] });
      ecs.on(DescribeServicesCommand).resolves({ services: [{ serviceName: 'mapserver', status: 'ACTIVE', desiredCount: 1, taskDefinition: TD(12), deployments: [{ id: 'd', status: 'PRIMARY', taskDefinition: TD(12), rolloutState: 'COMPLETED' }] }] });
      ecs.on(DescribeTaskDefinitionCommand).resolves({ taskDefinition: { taskDefinitionArn: TD(12), revision: 12, status: 'ACTIVE' }, tags: [{ key: DEFINITION_HASH_TAG, value: 'older' }] });
      autoScaling.on(DescribeAutoScalingGroupsCommand).resolves({
        AutoScalingGroups: [{ AutoScalingGroupName: 'mapserver-ecs', LaunchTemplate: { LaunchTemplateId: LT, Version: '3' }, Instances: [1, 2, 3].map((i) => ({ InstanceId: `i-${i}` })) } as never],
      });
      autoScaling.on(DescribeInstanceRefreshesCommand).resolves({ InstanceRefreshes: [] });

      await releaseCommand(ctx);
      await reporter.writeSummary('mapserver-ecs release');

      const plan = reporter.outputs().get('plan') ?? '';
      expect(plan.split('\n')).toEqual([
        `base-ami: ${NEW_BASE}`,
        `bake: bake (new base AMI ${NEW_BASE} published 2026-11-28, ${OLD_AMI} was baked from ${BASE})`,
        expect.stringMatching(new RegExp(`^image: image unchanged: reuse ${IMAGE.replace(/\./g, '\\.')} \\(content [0-9a-f]{12}\\)$`)),
        'deploy: task definition :12 -> :13 (definition changed)',
        `roll: 3 instances to replace (new launch template version with the new AMI, from ${OLD_AMI})`,
        'cleanup: nothing to deregister',
      ]);
      // Read only: nothing registered, created, updated or started.
      expect(ecs.commandCalls(RegisterTaskDefinitionCommand)).toHaveLength(0);
      expect(ecs.commandCalls(UpdateServiceCommand)).toHaveLength(0);
      expect(ec2.commandCalls(CreateLaunchTemplateVersionCommand)).toHaveLength(0);
      expect(autoScaling.commandCalls(StartInstanceRefreshCommand)).toHaveLength(0);
      // The job summary holds every line of the plan.
      const summary = readFileSync(summaryFile, 'utf8');
      expect(summary).toContain(`bake (new base AMI ${NEW_BASE} published 2026-11-28`);
      expect(summary).toContain('image unchanged: reuse');
      expect(summary).toContain('task definition :12 -&gt; :13');
      expect(summary).toContain('3 instances to replace');
      expect(formatPlan(new Map([['roll', 'x']]))).toBe('roll: x');
    } finally {
      write.mockRestore();
      if (saved === undefined) delete process.env.GITHUB_STEP_SUMMARY;
      else process.env.GITHUB_STEP_SUMMARY = saved;
    }
  });

  it("the workflows' job summary script lists what was reused and made from the plan output", () => {
    const plan = [
      `base-ami: ${NEW_BASE}`,
      `bake: reuse ${BAKED} (inputs unchanged)`,
      `image: image unchanged: reuse ${IMAGE} (content 0123456789ab)`,
      'deploy: unchanged (mapserver runs mapserver:12)',
      'roll: unchanged (launch template version 4, ami-0bbbbbbbbbbbbbbb2, 2 instances on it)',
      'cleanup: nothing to deregister',
    ].join('\n');
    const run = spawnSync('bash', [join(ROOT, '.github/scripts/job-summary.sh')], { env: { PATH: process.env.PATH ?? '', OUTCOME: 'success', PLAN: plan, AMI_ID: BAKED }, encoding: 'utf8' });
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('## mapserver-ecs: Released (nothing changed)');
    expect(run.stdout).toContain(`| bake | reuse ${BAKED} (inputs unchanged) |`);
    expect(run.stdout).toContain('| deploy | unchanged (mapserver runs mapserver:12) |');
    expect(run.stdout).toContain('Reused: bake, image, deploy, roll');
  });
});

describe('the commands reuse and change nothing', () => {
  it('bake reuses the AMI with the same hash and never starts Packer', async () => {
    const ctx = testContext({ command: 'bake' }, { root: ROOT, env: { AWS_REGION: 'us-east-1', PACKER: '/nonexistent/packer' } });
    ssm.on(GetParameterCommand).resolves({ Parameter: { Value: BASE } });
    ec2.on(DescribeImagesCommand).resolves({ Images: [{ ImageId: BAKED, CreationDate: '2026-11-20T00:00:00.000Z' }] });
    await bakeCommand(ctx);
    expect(ctx.reporter.outputs().get('ami-id')).toBe(BAKED);
    expect(ctx.log()).toContain(`bake: reuse ${BAKED} (inputs unchanged)`);
    expect(ctx.log()).not.toMatch(/Packer|packer/);
  });

  it('bake --dry-run says why it would bake and does not start Packer', async () => {
    const ctx = testContext({ command: 'bake', 'dry-run': 'true' }, { root: ROOT, env: { AWS_REGION: 'us-east-1', PACKER: '/nonexistent/packer' } });
    ssm.on(GetParameterCommand).resolves({ Parameter: { Value: BASE } });
    ec2.on(DescribeImagesCommand).resolves({ Images: [] });
    ec2.on(DescribeLaunchTemplatesCommand).resolves({ LaunchTemplates: [] });
    await bakeCommand(ctx);
    await ctx.reporter.writeSummary('bake');
    expect(ctx.reporter.outputs().has('ami-id')).toBe(false);
    expect(ctx.log()).toMatch(/bake\s+would bake \(no AMI baked from these inputs yet\) \(dry-run: Packer not run\)/);
  });

  it('image reuses the pushed image by digest and never runs docker', async () => {
    const ctx = testContext({ command: 'image' }, { root: ROOT, env: { AWS_REGION: 'us-east-1', PATH: '/nonexistent' } });
    ecr.on(DescribeEcrImagesCommand).resolves({ imageDetails: [{ registryId: '123456789012', imageDigest: DIGEST }] });
    await imageCommand(ctx);
    expect(ctx.reporter.outputs().get('image-uri')).toBe(IMAGE);
    expect(ctx.log()).toMatch(/^image: image unchanged: reuse /m);
    expect(ctx.log()).not.toMatch(/docker/);
  });

  it('deploy makes no UpdateService when the service already runs the same revision, settled', async () => {
    const ctx = testContext({ command: 'deploy', bucket: 'maps-bucket', image: IMAGE }, { root: ROOT });
    const digest = definitionDigest(await loadTaskDefinition(ROOT, ctx.settings, IMAGE));
    ecs.on(DescribeServicesCommand).resolves({ services: [{ serviceName: 'mapserver', status: 'ACTIVE', desiredCount: 1, taskDefinition: TD(12), deployments: [{ id: 'd', status: 'PRIMARY', taskDefinition: TD(12), rolloutState: 'COMPLETED' }] }] });
    ecs.on(DescribeTaskDefinitionCommand).resolves({ taskDefinition: { taskDefinitionArn: TD(12), revision: 12, status: 'ACTIVE' }, tags: [{ key: DEFINITION_HASH_TAG, value: digest }] });
    expect(await deployService(ctx, IMAGE)).toEqual({ taskDefinitionArn: TD(12), unchanged: true });
    expect(ecs.commandCalls(RegisterTaskDefinitionCommand)).toHaveLength(0);
    expect(ecs.commandCalls(UpdateServiceCommand)).toHaveLength(0);
  });

  it('roll makes no launch template version and no refresh when every instance runs the same data', async () => {
    const ctx = testContext({ command: 'roll', bucket: 'maps-bucket', 'ami-id': BAKED }, { root: ROOT });
    ec2.on(DescribeImagesCommand).resolves({ Images: [] });
    const { data, description } = await desiredVersion(ctx, BAKED, { VersionNumber: 3, LaunchTemplateData: { ImageId: OLD_AMI } });
    ec2.on(DescribeLaunchTemplatesCommand).resolves({ LaunchTemplates: [{ LaunchTemplateId: LT, LaunchTemplateName: 'mapserver-ecs', DefaultVersionNumber: 4 }] });
    ec2.on(DescribeLaunchTemplateVersionsCommand).resolves({
      LaunchTemplateVersions: [{ VersionNumber: 4, DefaultVersion: true, VersionDescription: description, LaunchTemplateData: data as LaunchTemplateVersion['LaunchTemplateData'] }],
    });
    autoScaling.on(DescribeInstanceRefreshesCommand).resolves({ InstanceRefreshes: [] });
    autoScaling.on(DescribeAutoScalingGroupsCommand).resolves({
      AutoScalingGroups: [{ AutoScalingGroupName: 'mapserver-ecs', LaunchTemplate: { LaunchTemplateId: LT, Version: '4' }, Instances: [{ InstanceId: 'i-1', LaunchTemplate: { LaunchTemplateId: LT, Version: '4' } }] } as never],
    });
    expect(await rollInstances(ctx, BAKED)).toEqual({ launchTemplateVersion: '4', instanceRefreshId: '', unchanged: true });
    expect(ec2.commandCalls(CreateLaunchTemplateVersionCommand)).toHaveLength(0);
    expect(ec2.commandCalls(ModifyLaunchTemplateCommand)).toHaveLength(0);
    expect(autoScaling.commandCalls(StartInstanceRefreshCommand)).toHaveLength(0);
    expect(ecs.commandCalls(DescribeCapacityProvidersCommand)).toHaveLength(0);
  });
});

