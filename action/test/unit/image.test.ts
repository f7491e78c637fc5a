import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import {
  CreateRepositoryCommand,
  DescribeRepositoriesCommand,
  ECRClient,
  GetAuthorizationTokenCommand,
  GetLifecyclePolicyCommand,
  PutImageScanningConfigurationCommand,
  PutLifecyclePolicyCommand,
} from '@aws-sdk/client-ecr';
import { mockClient } from 'aws-sdk-client-mock';
import { existsSync, readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { PNG } from 'pngjs';
import { createClients } from '../../src/aws/clients.js';
import type { CommandContext } from '../../src/context.js';
import { InputError, StepFailure } from '../../src/errors.js';
import { TerminalReporter } from '../../src/reporter.js';
import type { RunOptions, RunResult } from '../../src/process.js';
import { parseSettings } from '../../src/settings.js';
import { ensureRepository, lifecyclePolicy } from '../../src/aws/ecr.js';
import type { DockerCli } from '../../src/docker.js';
import { CONTENT_LABEL, MANIFEST_LABEL } from '../../src/steps/fingerprint.js';
import { buildAndPushImage, imageTag, platformFor, pushedDigest } from '../../src/steps/image.js';
import { decodePng, pixel, type SmokeResult } from '../../src/steps/image-smoke.js';

const REVISION = '0123456789abcdef0123456789abcdef01234567';
const DIGEST = `sha256:${'ab'.repeat(32)}`;
const ECR_URI = '123456789012.dkr.ecr.us-east-1.amazonaws.com/mapserver';
const PASSWORD = 'ecr-password-that-is-long-enough';

let ecr = mockClient(ECRClient);

function context(inputs: Record<string, string>, env: Record<string, string> = {}): CommandContext & { log(): string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      chunks.push(String(chunk));
      done();
    },
  });
  const settings = parseSettings((name) => inputs[name] ?? (name === 'command' ? 'image' : ''), [], { AWS_REGION: 'us-east-1' });
  return {
    settings,
    reporter: new TerminalReporter(stream),
    clients: createClients('us-east-1', {}),
    root: '/checkout',
    env: { GITHUB_SHA: REVISION, ...env },
    log: () => chunks.join(''),
  };
}

interface FakeDocker {
  docker: DockerCli;
  calls: Array<{ args: string[]; options: RunOptions; dockerConfig?: string; configExisted?: boolean }>;
}

/** Records docker invocations; answers inspect with a pushed digest and fails what `fail` names. */
function fakeDocker(repository: string, fail: (args: readonly string[]) => boolean = () => false): FakeDocker {
  const calls: FakeDocker['calls'] = [];
  const docker: DockerCli = async (args, options = {}) => {
    const dockerConfig = options.env?.DOCKER_CONFIG;
    calls.push({ args: [...args], options, dockerConfig, configExisted: dockerConfig ? existsSync(dockerConfig) : undefined });
    if (fail(args)) throw new StepFailure(`docker ${args[0]} exited with code 1`);
    const ok = (stdout = ''): RunResult => ({ stdout, stderr: '', exitCode: 0 });
    if (args[0] === 'image' && args[1] === 'inspect') return ok(JSON.stringify([`${repository}@${DIGEST}`]));
    return ok();
  };
  return { docker, calls };
}

const passingSmoke = async (): Promise<SmokeResult> => ({ capabilitiesLayers: ['square'], width: 64, height: 64 });

beforeEach(() => {
  ecr = mockClient(ECRClient);
  ecr.reset();
});
afterEach(() => {
  ecr.reset();
});

describe('lifecyclePolicy and platformFor', () => {
  it('keeps the newest N images, and always the images services run or would roll back to', () => {
    const rules = (JSON.parse(lifecyclePolicy(7)) as { rules: Array<Record<string, unknown>> }).rules;
    expect(rules.map((r) => r.rulePriority)).toEqual([1, 2, 3]);
    expect(rules[0]).toMatchObject({ selection: { tagStatus: 'tagged', tagPrefixList: ['deployed-'], countType: 'imageCountMoreThan', countNumber: 1000 } });
    expect(rules[1]).toMatchObject({ selection: { tagStatus: 'tagged', tagPrefixList: ['rollback-'], countType: 'imageCountMoreThan', countNumber: 1000 } });
    // ECR requires the rule over every image to come last.
    expect(rules[2]).toEqual({ rulePriority: 3, description: 'Keep the newest 7 images', selection: { tagStatus: 'any', countType: 'imageCountMoreThan', countNumber: 7 }, action: { type: 'expire' } });
  });
  it('asks for a platform only when the architecture differs from the machine', () => {
    expect(platformFor('x86_64', 'x64')).toBeUndefined();
    expect(platformFor('arm64', 'arm64')).toBeUndefined();
    expect(platformFor('arm64', 'x64')).toBe('linux/arm64');
    expect(platformFor('x86_64', 'arm64')).toBe('linux/amd64');
  });
});

describe('imageTag', () => {
  it('uses the image-tag input first, then GITHUB_SHA', async () => {
    expect(await imageTag(context({ 'image-tag': 'v1.2.3' }))).toBe('v1.2.3');
    expect(await imageTag(context({}))).toBe(REVISION);
  });
  it('reads HEAD and marks local changes to docker/ as dirty', async () => {
    const ctx = context({}, { GITHUB_SHA: '' });
    const git = async (args: readonly string[]): Promise<string> => (args[0] === 'rev-parse' ? `${REVISION}\n` : ' M docker/Dockerfile\n');
    expect(await imageTag(ctx, git)).toBe(`${REVISION}-dirty`);
    expect(await imageTag(ctx, async (args) => (args[0] === 'rev-parse' ? REVISION : ''))).toBe(REVISION);
  });
  it('asks for image-tag when there is no revision', async () => {
    const ctx = context({}, { GITHUB_SHA: '' });
    await expect(
      imageTag(ctx, async () => {
        throw new Error('fatal: not a git repository');
      }),
    ).rejects.toThrow(/set the image-tag input/);
  });
  it('refuses a malformed image-tag before anything runs', () => {
    expect(() => context({ 'image-tag': '-bad tag' })).toThrow(InputError);
    expect(() => context({ 'image-tag': '-bad tag' })).toThrow(/image-tag: expected a Docker tag/);
  });
});

describe('ensureRepository', () => {
  it('creates a missing repository with scan on push and the lifecycle policy', async () => {
    const ctx = context({ 'keep-images': '5' });
    ecr.on(DescribeRepositoriesCommand).rejects(Object.assign(new Error('not found'), { name: 'RepositoryNotFoundException' }));
    ecr.on(CreateRepositoryCommand).resolves({ repository: { repositoryName: 'mapserver', repositoryUri: ECR_URI } });
    ecr.on(GetLifecyclePolicyCommand).rejects(Object.assign(new Error('none'), { name: 'LifecyclePolicyNotFoundException' }));
    ecr.on(PutLifecyclePolicyCommand).resolves({});
    const repository = await ensureRepository(ctx);
    expect(repository.repositoryUri).toBe(ECR_URI);
    expect(ecr.commandCalls(CreateRepositoryCommand)[0]?.args[0].input).toMatchObject({ repositoryName: 'mapserver', imageScanningConfiguration: { scanOnPush: true } });
    expect(ecr.commandCalls(PutLifecyclePolicyCommand)[0]?.args[0].input).toEqual({ repositoryName: 'mapserver', lifecyclePolicyText: lifecyclePolicy(5) });
  });
  it('leaves a repository alone when it already scans on push and keeps the same number of images', async () => {
    const ctx = context({});
    ecr.on(DescribeRepositoriesCommand).resolves({ repositories: [{ repositoryName: 'mapserver', repositoryUri: ECR_URI, imageScanningConfiguration: { scanOnPush: true } }] });
    ecr.on(GetLifecyclePolicyCommand).resolves({ lifecyclePolicyText: JSON.stringify(JSON.parse(lifecyclePolicy(10)), null, 2) });
    await ensureRepository(ctx);
    expect(ecr.commandCalls(CreateRepositoryCommand)).toHaveLength(0);
    expect(ecr.commandCalls(PutImageScanningConfigurationCommand)).toHaveLength(0);
    expect(ecr.commandCalls(PutLifecyclePolicyCommand)).toHaveLength(0);
  });
  it('turns scan on push on and replaces a different policy', async () => {
    const ctx = context({ 'keep-images': '3' });
    ecr.on(DescribeRepositoriesCommand).resolves({ repositories: [{ repositoryName: 'mapserver', repositoryUri: ECR_URI, imageScanningConfiguration: { scanOnPush: false } }] });
    ecr.on(GetLifecyclePolicyCommand).resolves({ lifecyclePolicyText: lifecyclePolicy(10) });
    await ensureRepository(ctx);
    expect(ecr.commandCalls(PutImageScanningConfigurationCommand)[0]?.args[0].input).toEqual({ repositoryName: 'mapserver', imageScanningConfiguration: { scanOnPush: true } });
    expect(ecr.commandCalls(PutLifecyclePolicyCommand)[0]?.args[0].input.lifecyclePolicyText).toBe(lifecyclePolicy(3));
  });
  it('passes on other ECR errors', async () => {
    ecr.on(DescribeRepositoriesCommand).rejects(Object.assign(new Error('denied'), { name: 'AccessDeniedException' }));
    await expect(ensureRepository(context({}))).rejects.toThrow('denied');
  });
});

describe('buildAndPushImage to ECR', () => {
  beforeEach(() => {
    ecr.on(DescribeRepositoriesCommand).resolves({ repositories: [{ repositoryName: 'mapserver', repositoryUri: ECR_URI, imageScanningConfiguration: { scanOnPush: true } }] });
    ecr.on(GetLifecyclePolicyCommand).resolves({ lifecyclePolicyText: lifecyclePolicy(10) });
    ecr.on(GetAuthorizationTokenCommand).resolves({
      authorizationData: [{ authorizationToken: Buffer.from(`AWS:${PASSWORD}`).toString('base64'), proxyEndpoint: 'https://123456789012.dkr.ecr.us-east-1.amazonaws.com' }],
    });
  });

  it('logs in through stdin in a temporary DOCKER_CONFIG, builds, smoke-tests, pushes and names the image by digest', async () => {
    const ctx = context({});
    const { docker, calls } = fakeDocker(ECR_URI);
    const smoked: string[] = [];
    const result = await buildAndPushImage(ctx, { docker, smokeTest: async (_c, _d, image) => (smoked.push(image), passingSmoke()) });
    expect(result).toEqual({ imageUri: `${ECR_URI}@${DIGEST}`, taggedImage: `${ECR_URI}:${REVISION}`, pushed: true });

    const verbs = calls.map((c) => c.args[0]);
    // The content tag goes last: it names only an image pushed completely.
    expect(verbs).toEqual(['version', 'login', 'pull', 'build', 'tag', 'push', 'push', 'tag', 'push', 'image']);
    const login = calls.find((c) => c.args[0] === 'login');
    expect(login?.args).toEqual(['login', '--username', 'AWS', '--password-stdin', '123456789012.dkr.ecr.us-east-1.amazonaws.com']);
    expect(login?.options.input).toBe(PASSWORD);
    expect(calls.flatMap((c) => c.args).join(' ')).not.toContain(PASSWORD);
    // Every registry call uses the same throw-away folder, and the folder is gone afterwards.
    const configs = new Set(calls.filter((c) => ['login', 'pull', 'push'].includes(c.args[0] ?? '')).map((c) => c.dockerConfig));
    expect(configs.size).toBe(1);
    const [config] = [...configs];
    expect(config).toMatch(/mapserver-ecs-docker-/);
    expect(calls.find((c) => c.args[0] === 'login')?.configExisted).toBe(true);
    expect(existsSync(config ?? '')).toBe(false);

    const build = calls.find((c) => c.args[0] === 'build')?.args ?? [];
    expect(build).toEqual(expect.arrayContaining(['--tag', `${ECR_URI}:${REVISION}`, '--build-arg', `REVISION=${REVISION}`, '--build-arg', `VERSION=${REVISION}`, '--cache-from', `${ECR_URI}:latest`]));
    expect(build.at(-1)).toBe('/checkout/docker');
    expect(smoked).toEqual([`${ECR_URI}:${REVISION}`]);
    expect(calls.filter((c) => c.args[0] === 'push').map((c) => c.args[1])).toEqual([`${ECR_URI}:${REVISION}`, `${ECR_URI}:latest`, expect.stringMatching(/:content-[0-9a-f]{64}$/)]);
    // The password never reaches the log.
    expect(ctx.log()).not.toContain(PASSWORD);
  });

  it('does not push when the smoke test fails, and still removes the credential folder', async () => {
    const ctx = context({});
    const { docker, calls } = fakeDocker(ECR_URI);
    const smokeTest = async (): Promise<SmokeResult> => {
      throw new StepFailure('Smoke test failed: GetMap answered HTTP 500', { state: 'image built locally, not pushed' });
    };
    await expect(buildAndPushImage(ctx, { docker, smokeTest })).rejects.toThrow(/Smoke test failed/);
    expect(calls.some((c) => c.args[0] === 'push')).toBe(false);
    const config = calls.find((c) => c.args[0] === 'login')?.dockerConfig ?? '';
    expect(config).not.toBe('');
    expect(existsSync(config)).toBe(false);
  });

  it('builds with the local cache only when there is no previous image to pull', async () => {
    const ctx = context({});
    const { docker, calls } = fakeDocker(ECR_URI, (args) => args[0] === 'pull');
    await buildAndPushImage(ctx, { docker, smokeTest: passingSmoke });
    expect(calls.find((c) => c.args[0] === 'build')?.args).not.toContain('--cache-from');
    expect(ctx.log()).toMatch(/building with the local cache only/);
  });

  it('says when the Docker engine is not reachable, before touching ECR', async () => {
    const ctx = context({});
    const { docker } = fakeDocker(ECR_URI, (args) => args[0] === 'version');
    await expect(buildAndPushImage(ctx, { docker, smokeTest: passingSmoke })).rejects.toThrow(/Docker engine is not reachable/);
    expect(ecr.commandCalls(DescribeRepositoriesCommand)).toHaveLength(0);
  });
});

describe('buildAndPushImage elsewhere', () => {
  it('pushes to the registry input without ECR or a login', async () => {
    const ctx = context({ registry: '127.0.0.1:5000', 'image-tag': 'candidate' });
    const repository = '127.0.0.1:5000/mapserver';
    const { docker, calls } = fakeDocker(repository);
    const result = await buildAndPushImage(ctx, { docker, smokeTest: passingSmoke });
    expect(result.imageUri).toBe(`${repository}@${DIGEST}`);
    expect(calls.map((c) => c.args[0])).not.toContain('login');
    expect(ecr.calls()).toHaveLength(0);
    expect(calls.find((c) => c.args[0] === 'build')?.args).toEqual(expect.arrayContaining(['--build-arg', 'REVISION=', '--build-arg', 'VERSION=candidate']));
  });

  it('labels the image with the run that built it, outside the content hash', async () => {
    const runEnv = { GITHUB_ACTIONS: 'true', GITHUB_SERVER_URL: 'https://github.com', GITHUB_REPOSITORY: 'acme/maps', GITHUB_RUN_ID: '42', GITHUB_RUN_ATTEMPT: '2' };
    const buildOf = async (env: Record<string, string>): Promise<string[]> => {
      const { docker, calls } = fakeDocker('mapserver');
      await buildAndPushImage(context({ 'dry-run': 'true' }, env), { docker, smokeTest: passingSmoke });
      return calls.find((c) => c.args[0] === 'build')?.args ?? [];
    };
    const labels = (args: string[]) => args.flatMap((arg, i) => (args[i - 1] === '--label' ? [arg] : []));
    const inRun = await buildOf(runEnv);
    expect(labels(inRun)).toEqual(
      expect.arrayContaining([
        'org.opencontainers.image.source=https://github.com/acme/maps',
        `org.opencontainers.image.revision=${REVISION}`,
        'mapserver-ecs.run=https://github.com/acme/maps/actions/runs/42/attempts/2',
      ]),
    );
    const onLaptop = await buildOf({});
    expect(labels(onLaptop).map((label) => label.split('=')[0])).toEqual([CONTENT_LABEL, MANIFEST_LABEL]);
    expect(onLaptop.some((arg) => arg.startsWith('SOURCE='))).toBe(false);
    // The content hash (and so the content-<hash> tag a later release reuses) is the same either way.
    expect(labels(inRun).filter((label) => label.startsWith(`${CONTENT_LABEL}=`))).toEqual(labels(onLaptop).filter((label) => label.startsWith(`${CONTENT_LABEL}=`)));
  });

  it('with dry-run builds and smoke-tests but touches neither ECR nor a registry', async () => {
    const ctx = context({ 'dry-run': 'true' });
    const { docker, calls } = fakeDocker('mapserver');
    const result = await buildAndPushImage(ctx, { docker, smokeTest: passingSmoke });
    expect(result.pushed).toBe(false);
    expect(calls.map((c) => c.args[0])).toEqual(['version', 'build']);
    expect(ecr.calls()).toHaveLength(0);
  });
});

describe('pushedDigest', () => {
  it('picks the digest of the repository pushed to', async () => {
    const docker: DockerCli = async () => ({ stdout: JSON.stringify([`other/repo@sha256:${'cd'.repeat(32)}`, `reg:5000/mapserver@${DIGEST}`]), stderr: '', exitCode: 0 });
    expect(await pushedDigest(docker, 'reg:5000/mapserver:x', 'reg:5000/mapserver')).toBe(DIGEST);
  });
  it('fails when the registry reported none', async () => {
    const docker: DockerCli = async () => ({ stdout: '[]', stderr: '', exitCode: 0 });
    await expect(pushedDigest(docker, 'reg:5000/mapserver:x', 'reg:5000/mapserver')).rejects.toThrow(/did not report a digest/);
  });
});

describe('PNG helpers', () => {
  it('reads pixels of a decoded PNG and rejects garbage', () => {
    const png = new PNG({ width: 2, height: 2 });
    png.data.fill(255);
    png.data[0] = 10;
    const decoded = decodePng(PNG.sync.write(png));
    expect(pixel(decoded, 0, 0)).toEqual({ r: 10, g: 255, b: 255, a: 255 });
    expect(() => decodePng(Buffer.from('not a png'))).toThrow(/does not decode/);
  });
});

describe('docker/ files', () => {
  it('confine mapfiles to /mapfiles in both the MapServer config and Apache', () => {
    const config = readFileSync(new URL('../../../docker/mapserver/mapserver.conf', import.meta.url), 'utf8');
    const pattern = /MS_MAP_PATTERN "([^"]+)"/.exec(config)?.[1] ?? '';
    const re = new RegExp(pattern.replace(/\\\\/g, '\\'));
    for (const ok of ['/mapfiles/x.map', '/mapfiles/a/b-c_d.1.map']) expect(re.test(ok)).toBe(true);
    for (const bad of ['/etc/passwd', '/mapfiles/../etc/x.map', '/mapfiles//x.map', '/mapfiles/.hidden.map', '/mapfilesx/x.map', 'mapfiles/x.map', '/mapfiles/x.map/..', '/mapfiles/a/./x.map']) {
      expect(re.test(bad)).toBe(false);
    }
  });
});
