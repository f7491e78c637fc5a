// Image: build docker/ into the MapServer image, prove it (start it, ask for capabilities and a map
// of the bundled sample mapfile), and only then push it, to ECR (repository ensured with scan on
// push and a lifecycle policy) or to the `registry` input. The result is named by digest.
import { mkdtemp, rm } from 'node:fs/promises';
import { arch, tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BatchGetImageCommand,
  CreateRepositoryCommand,
  DescribeImagesCommand as DescribeEcrImagesCommand,
  DescribeRepositoriesCommand,
  GetAuthorizationTokenCommand,
  GetDownloadUrlForLayerCommand,
  GetLifecyclePolicyCommand,
  PutImageScanningConfigurationCommand,
  PutLifecyclePolicyCommand,
  type Repository,
} from '@aws-sdk/client-ecr';
import { DescribeTaskDefinitionCommand } from '@aws-sdk/client-ecs';
import { PNG } from 'pngjs';
import type { CommandContext } from '../context.js';
import { StepFailure } from '../errors.js';
import { run, type RunOptions, type RunResult } from '../process.js';
import type { Reporter } from '../reporter.js';
import { poll, sleep } from '../wait.js';
import { describeService } from './deploy.js';
import { CONTENT_LABEL, contentTag, decodeManifest, encodeManifest, imageFingerprint, listBriefly, MANIFEST_LABEL, manifestChanges, type Fingerprint, type Manifest } from './fingerprint.js';
import { CONTAINER_NAME } from './task-definition.js';

export const CONTAINER_PORT = 8080;
/** The sample mapfile the smoke test renders, mounted read-only at /mapfiles as on an instance. */
export const SMOKE_DIR = join('docker', 'smoke');
export const SMOKE_MAPFILE = '/mapfiles/smoke.map';
export const SMOKE_LAYER = 'square';

/** Runs the docker CLI; replaced in unit tests, which start no processes. */
export type DockerCli = (args: readonly string[], options?: RunOptions) => Promise<RunResult>;

export interface ImageDependencies {
  docker: DockerCli;
  /** Proves a built image works before it is pushed. */
  smokeTest: (ctx: CommandContext, docker: DockerCli, image: string) => Promise<SmokeResult>;
}

export interface SmokeResult {
  capabilitiesLayers: string[];
  width: number;
  height: number;
}

export interface ImageResult {
  imageUri: string;
  /** repository:tag that was built (and pushed, unless dry-run). */
  taggedImage: string;
  pushed: boolean;
}

export function defaultDependencies(ctx: CommandContext): ImageDependencies {
  return {
    docker: (args, options = {}) => run(ctx.reporter, 'docker', args, { label: 'docker', env: { ...ctx.env, ...options.env }, ...withoutEnv(options) }),
    smokeTest,
  };
}

function withoutEnv(options: RunOptions): RunOptions {
  const { env: _env, ...rest } = options;
  return rest;
}

/** The lifecycle policy that keeps the newest `keep` images of the repository. */
export function lifecyclePolicy(keep: number): string {
  return JSON.stringify({
    rules: [
      {
        rulePriority: 1,
        description: `Keep the newest ${keep} images`,
        selection: { tagStatus: 'any', countType: 'imageCountMoreThan', countNumber: keep },
        action: { type: 'expire' },
      },
    ],
  });
}

/** Docker's platform name for the AMI architecture, when it differs from this machine's. */
export function platformFor(architecture: 'x86_64' | 'arm64', hostArch: string = arch()): string | undefined {
  const host = hostArch === 'x64' ? 'x86_64' : hostArch;
  if (host === architecture) return undefined;
  return architecture === 'arm64' ? 'linux/arm64' : 'linux/amd64';
}

/** The tag: the `image-tag` input, else the git revision (with -dirty when docker/ has local changes). */
export async function imageTag(ctx: CommandContext, git: (args: readonly string[]) => Promise<string> = gitOutput(ctx)): Promise<string> {
  if (ctx.settings.imageTag) return ctx.settings.imageTag;
  const fromEnv = ctx.env.GITHUB_SHA?.trim();
  if (fromEnv && /^[0-9a-f]{40}$/.test(fromEnv)) return fromEnv;
  let revision: string;
  try {
    revision = (await git(['rev-parse', 'HEAD'])).trim();
  } catch (error) {
    throw new StepFailure(`Cannot read the git revision of ${ctx.root} to tag the image (${(error as Error).message.split('\n')[0]}); set the image-tag input`);
  }
  if (!/^[0-9a-f]{40}$/.test(revision)) throw new StepFailure(`git rev-parse HEAD printed ${JSON.stringify(revision)}, not a revision; set the image-tag input`);
  const changed = (await git(['status', '--porcelain', '--', 'docker'])).trim();
  return changed === '' ? revision : `${revision}-dirty`;
}

function gitOutput(ctx: CommandContext): (args: readonly string[]) => Promise<string> {
  return async (args) => (await run(ctx.reporter, 'git', ['-C', ctx.root, ...args], { stream: false })).stdout;
}

/** Finds or creates the ECR repository, with scan on push and the lifecycle policy. */
export async function ensureRepository(ctx: CommandContext): Promise<Repository> {
  const { ecr } = ctx.clients;
  const { ecrRepository: name, keepImages } = ctx.settings;
  let repository: Repository | undefined;
  try {
    repository = (await ecr.send(new DescribeRepositoriesCommand({ repositoryNames: [name] }))).repositories?.[0];
  } catch (error) {
    if ((error as Error).name !== 'RepositoryNotFoundException') throw error;
  }
  if (!repository) {
    ctx.reporter.info(`Creating ECR repository ${name} (scan on push, keeps the last ${keepImages} images)`);
    repository = (
      await ecr.send(
        new CreateRepositoryCommand({
          repositoryName: name,
          imageScanningConfiguration: { scanOnPush: true },
          imageTagMutability: 'MUTABLE',
          encryptionConfiguration: { encryptionType: 'AES256' },
        }),
      )
    ).repository;
    if (!repository?.repositoryUri) throw new StepFailure(`ECR did not return the URI of the new repository ${name}`, { state: `repository ${name} may exist` });
  } else if (!repository.imageScanningConfiguration?.scanOnPush) {
    ctx.reporter.info(`Turning on scan on push for ECR repository ${name}`);
    await ecr.send(new PutImageScanningConfigurationCommand({ repositoryName: name, imageScanningConfiguration: { scanOnPush: true } }));
  }
  const wanted = lifecyclePolicy(keepImages);
  let current: string | undefined;
  try {
    current = (await ecr.send(new GetLifecyclePolicyCommand({ repositoryName: name }))).lifecyclePolicyText;
  } catch (error) {
    if ((error as Error).name !== 'LifecyclePolicyNotFoundException') throw error;
  }
  if (!current || !samePolicy(current, wanted)) {
    ctx.reporter.info(`Setting the lifecycle policy of ${name}: keep the last ${keepImages} images`);
    await ecr.send(new PutLifecyclePolicyCommand({ repositoryName: name, lifecyclePolicyText: wanted }));
  }
  return repository;
}

function samePolicy(a: string, b: string): boolean {
  try {
    return JSON.stringify(JSON.parse(a)) === JSON.stringify(JSON.parse(b));
  } catch {
    return false;
  }
}

interface RegistryLogin {
  /** DOCKER_CONFIG of a throw-away folder holding the credential; removed by cleanup(). */
  env: Record<string, string>;
  cleanup(): Promise<void>;
}

/** Logs docker in to ECR with a short-lived token, in a temporary DOCKER_CONFIG folder. */
export async function loginToEcr(ctx: CommandContext, docker: DockerCli, registryHost: string): Promise<RegistryLogin> {
  const response = await ctx.clients.ecr.send(new GetAuthorizationTokenCommand({}));
  const token = response.authorizationData?.[0]?.authorizationToken;
  if (!token) throw new StepFailure('ECR returned no authorization token');
  ctx.reporter.mask(token);
  const decoded = Buffer.from(token, 'base64').toString('utf8');
  const separator = decoded.indexOf(':');
  if (separator < 1) throw new StepFailure('ECR returned an authorization token that is not user:password');
  const user = decoded.slice(0, separator);
  const password = decoded.slice(separator + 1);
  ctx.reporter.mask(password);
  const dir = await mkdtemp(join(tmpdir(), 'mapserver-ecs-docker-'));
  const env = { DOCKER_CONFIG: dir };
  const cleanup = (): Promise<void> => rm(dir, { recursive: true, force: true });
  try {
    await docker(['login', '--username', user, '--password-stdin', registryHost], { env, input: password, stateOnFailure: 'nothing pushed' });
  } catch (error) {
    await cleanup();
    throw error;
  }
  return { env, cleanup };
}

export interface ImageDecision {
  /** The image already pushed from the same inputs, by digest; undefined when a build is needed. */
  reuse?: string;
  /** One line for the plan: "image unchanged: reuse ...", "build (no image with content hash ...)". */
  reason: string;
  fingerprint: Fingerprint;
}

/** What the build consumes besides docker/: only the platform (the other build arguments fill labels). */
export function imageFingerprintFor(ctx: CommandContext): Fingerprint {
  return imageFingerprint(ctx.root, { architecture: ctx.settings.architecture });
}

/**
 * Build or reuse, and why: an image tagged content-<hash> in the registry (or ECR repository) was
 * built from exactly these inputs and passed its smoke test before it was pushed.
 */
export async function decideImage(ctx: CommandContext, fetcher: typeof fetch = fetch): Promise<ImageDecision> {
  const { settings } = ctx;
  const fingerprint = imageFingerprintFor(ctx);
  if (settings.force) return { fingerprint, reason: 'build (force)' };
  const tag = contentTag(fingerprint.hash);
  const found = settings.registry ? await registryDigest(settings.registry, settings.ecrRepository, tag, fetcher) : await ecrDigest(ctx, tag);
  const short = fingerprint.hash.slice(0, 12);
  if (found) return { fingerprint, reuse: found, reason: `image unchanged: reuse ${found} (content ${short})` };
  const missing = `no image with content ${short} in ${settings.registry ? `${settings.registry}/` : ''}${settings.ecrRepository}`;
  const running = await runningImageManifest(ctx, fetcher);
  const changes = running ? manifestChanges(running, fingerprint.manifest) : [];
  return { fingerprint, reason: `build (${changes.length > 0 ? `${listBriefly(changes)} since the running image` : missing})` };
}

const MANIFEST_TYPES = [
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
];

/**
 * The content manifest label of the image the service runs now, to name what changed since; undefined
 * when there is no service yet, the image predates the label, or the registry does not say.
 */
async function runningImageManifest(ctx: CommandContext, fetcher: typeof fetch): Promise<Manifest | undefined> {
  try {
    const service = await describeService(ctx);
    if (!service?.taskDefinition) return undefined;
    const definition = await ctx.clients.ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: service.taskDefinition }));
    const image = definition.taskDefinition?.containerDefinitions?.find((c) => c.name === CONTAINER_NAME)?.image ?? '';
    const config = await imageConfig(ctx, image, fetcher);
    const label = config?.config?.Labels?.[MANIFEST_LABEL];
    return label ? decodeManifest(label) : undefined;
  } catch {
    // Only the wording of the reason depends on it.
    return undefined;
  }
}

interface ImageConfig {
  config?: { Labels?: Record<string, string> };
}

/** An image's config (its labels), by digest, from the registry input's v2 API or from ECR. */
async function imageConfig(ctx: CommandContext, image: string, fetcher: typeof fetch): Promise<ImageConfig | undefined> {
  const match = /^([^/]+)\/(.+)@(sha256:[0-9a-f]{64})$/.exec(image);
  if (!match) return undefined;
  const [, host = '', repository = '', digest = ''] = match;
  const { settings } = ctx;
  const architecture = settings.architecture === 'arm64' ? 'arm64' : 'amd64';
  if (settings.registry === host) {
    const base = `${registryScheme(host)}://${host}/v2/${repository}`;
    const get = async (path: string, accept?: string): Promise<Record<string, unknown>> => {
      const response = await fetcher(`${base}/${path}`, { headers: accept ? { accept } : {}, signal: AbortSignal.timeout(10_000) });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      return (await response.json()) as Record<string, unknown>;
    };
    let manifest = await get(`manifests/${digest}`, MANIFEST_TYPES.join(', '));
    const forPlatform = (manifest.manifests as Array<{ digest: string; platform?: { architecture?: string } }> | undefined)?.find((m) => m.platform?.architecture === architecture);
    if (forPlatform) manifest = await get(`manifests/${forPlatform.digest}`, MANIFEST_TYPES.join(', '));
    const configDigest = (manifest.config as { digest?: string } | undefined)?.digest;
    return configDigest ? ((await get(`blobs/${configDigest}`)) as ImageConfig) : undefined;
  }
  // With a registry input the images live there: ECR is not asked.
  if (settings.registry || !/\.dkr\.ecr\./.test(host) || repository !== settings.ecrRepository) return undefined;
  const got = await ctx.clients.ecr.send(new BatchGetImageCommand({ repositoryName: repository, imageIds: [{ imageDigest: digest }], acceptedMediaTypes: MANIFEST_TYPES.slice(0, 2) }));
  const manifest = JSON.parse(got.images?.[0]?.imageManifest ?? '{}') as { config?: { digest?: string } };
  if (!manifest.config?.digest) return undefined;
  const url = (await ctx.clients.ecr.send(new GetDownloadUrlForLayerCommand({ repositoryName: repository, layerDigest: manifest.config.digest }))).downloadUrl;
  if (!url) return undefined;
  const response = await fetcher(url, { signal: AbortSignal.timeout(10_000) });
  return response.ok ? ((await response.json()) as ImageConfig) : undefined;
}

/** Plain HTTP on loopback only, as Docker allows. */
function registryScheme(registry: string): 'http' | 'https' {
  const host = registry.replace(/:\d+$/, '');
  return host === 'localhost' || /^127\./.test(host) || host === '[::1]' ? 'http' : 'https';
}

/** repository@digest of a tag in a registry's v2 API; plain HTTP on loopback only, as Docker allows. */
export async function registryDigest(registry: string, repository: string, tag: string, fetcher: typeof fetch = fetch): Promise<string | undefined> {
  try {
    const response = await fetcher(`${registryScheme(registry)}://${registry}/v2/${repository}/manifests/${tag}`, {
      method: 'HEAD',
      headers: {
        accept: MANIFEST_TYPES.join(', '),
      },
      signal: AbortSignal.timeout(10_000),
    });
    const digest = response.headers.get('docker-content-digest') ?? '';
    return response.ok && /^sha256:[0-9a-f]{64}$/.test(digest) ? `${registry}/${repository}@${digest}` : undefined;
  } catch {
    // Unreachable or refusing: build, which then reports the registry's own error if pushing fails too.
    return undefined;
  }
}

async function ecrDigest(ctx: CommandContext, tag: string): Promise<string | undefined> {
  const { settings } = ctx;
  try {
    const response = await ctx.clients.ecr.send(new DescribeEcrImagesCommand({ repositoryName: settings.ecrRepository, imageIds: [{ imageTag: tag }] }));
    const image = response.imageDetails?.[0];
    if (!image?.imageDigest || !image.registryId) return undefined;
    const suffix = settings.region.startsWith('cn-') ? 'amazonaws.com.cn' : 'amazonaws.com';
    return `${image.registryId}.dkr.ecr.${settings.region}.${suffix}/${settings.ecrRepository}@${image.imageDigest}`;
  } catch (error) {
    if (['RepositoryNotFoundException', 'ImageNotFoundException'].includes((error as Error).name)) return undefined;
    throw error;
  }
}

export async function buildAndPushImage(ctx: CommandContext, deps: ImageDependencies = defaultDependencies(ctx), fingerprint: Fingerprint = imageFingerprintFor(ctx)): Promise<ImageResult> {
  const { settings, reporter } = ctx;
  const { docker } = deps;
  await docker(['version', '--format', '{{.Server.Version}}'], { stream: false, stateOnFailure: 'nothing built' }).catch((error: unknown) => {
    throw new StepFailure(`The Docker engine is not reachable (docker version failed): ${(error as Error).message}`, { state: 'nothing built' });
  });
  const tag = await imageTag(ctx);

  // Where the image goes: the registry input, or the ECR repository (ensured unless dry-run).
  let repository: string;
  let registryHost: string | undefined;
  if (settings.registry) {
    repository = `${settings.registry}/${settings.ecrRepository}`;
  } else if (settings.dryRun) {
    repository = settings.ecrRepository;
    reporter.info(`dry-run: not touching ECR; would ensure repository ${settings.ecrRepository} and push to it`);
  } else {
    const ecrRepository = await reporter.group('ECR repository', () => ensureRepository(ctx));
    repository = ecrRepository.repositoryUri ?? '';
    registryHost = repository.split('/')[0];
    if (!registryHost || !repository.includes('/')) throw new StepFailure(`ECR returned an unusable repository URI ${JSON.stringify(repository)}`);
  }
  const taggedImage = `${repository}:${tag}`;
  const latestImage = `${repository}:latest`;
  const contentImage = `${repository}:${contentTag(fingerprint.hash)}`;

  const login = registryHost ? await reporter.group('ECR login', () => loginToEcr(ctx, docker, registryHost)) : undefined;
  try {
    await reporter.group(`docker build ${taggedImage}`, async () => {
      const args = ['build', '--tag', taggedImage, '--label', `${CONTENT_LABEL}=${fingerprint.hash}`, '--label', `${MANIFEST_LABEL}=${encodeManifest(fingerprint.manifest)}`, ...buildArgs(ctx, tag)];
      // A previous image from the registry seeds the layer cache where there is no local one (CI).
      if (!settings.dryRun) {
        const pulled = await docker(['pull', '--quiet', latestImage], { env: login?.env, stream: false }).then(
          () => true,
          () => false,
        );
        if (pulled) args.push('--cache-from', latestImage);
        else reporter.info(`No ${latestImage} to use as build cache; building with the local cache only`);
      }
      const platform = platformFor(settings.architecture);
      if (platform) {
        reporter.warn(`Building for ${platform} on a ${arch()} machine: this needs binfmt emulation (QEMU) on the Docker host`);
        args.push('--platform', platform);
      }
      args.push(join(ctx.root, 'docker'));
      await docker(args, { stateOnFailure: 'no image built, nothing pushed' });
    });

    const smoke = await reporter.group(`Smoke test of ${taggedImage}`, () => deps.smokeTest(ctx, docker, taggedImage));
    reporter.info(`Smoke test passed: GetCapabilities lists ${smoke.capabilitiesLayers.join(', ')}; GetMap drew a ${smoke.width}x${smoke.height} PNG`);

    if (settings.dryRun) {
      reporter.info(`dry-run: built and tested ${taggedImage}; not pushed`);
      return { imageUri: taggedImage, taggedImage, pushed: false };
    }

    return await reporter.group(`docker push ${taggedImage}`, async () => {
      await docker(['tag', taggedImage, latestImage], { stream: false });
      await docker(['push', taggedImage], { env: login?.env, stateOnFailure: `image ${taggedImage} built and tested locally, not (fully) pushed` });
      await docker(['push', latestImage], { env: login?.env, stateOnFailure: `${taggedImage} pushed; the latest tag may still point at the previous image` });
      // Last: the content tag is what a later release reuses, so it names only a complete push.
      await docker(['tag', taggedImage, contentImage], { stream: false });
      await docker(['push', contentImage], { env: login?.env, stateOnFailure: `${taggedImage} pushed; not yet tagged for reuse (the next release builds again)` });
      const digest = await pushedDigest(docker, taggedImage, repository);
      return { imageUri: `${repository}@${digest}`, taggedImage, pushed: true };
    });
  } finally {
    await login?.cleanup();
  }
}

function buildArgs(ctx: CommandContext, tag: string): string[] {
  const source = ctx.env.GITHUB_SERVER_URL && ctx.env.GITHUB_REPOSITORY ? `${ctx.env.GITHUB_SERVER_URL}/${ctx.env.GITHUB_REPOSITORY}` : '';
  const revision = tag.replace(/-dirty$/, '');
  const args = ['--build-arg', `REVISION=${/^[0-9a-f]{40}$/.test(revision) ? revision : ''}`, '--build-arg', `VERSION=${tag}`];
  if (source) args.push('--build-arg', `SOURCE=${source}`);
  // Lets BuildKit builders (where present) reuse this image as a cache source next time.
  args.push('--build-arg', 'BUILDKIT_INLINE_CACHE=1');
  return args;
}

/** The digest the registry gave the pushed image, from the image's RepoDigests. */
export async function pushedDigest(docker: DockerCli, image: string, repository: string): Promise<string> {
  const { stdout } = await docker(['image', 'inspect', '--format', '{{json .RepoDigests}}', image], { stream: false });
  let digests: string[];
  try {
    digests = JSON.parse(stdout.trim()) as string[];
  } catch {
    throw new StepFailure(`Cannot read the digests of ${image}: ${stdout.slice(0, 200)}`, { state: `${image} pushed` });
  }
  const found = digests.find((d) => d.startsWith(`${repository}@sha256:`));
  const digest = found?.slice(repository.length + 1);
  if (!digest || !/^sha256:[0-9a-f]{64}$/.test(digest)) {
    throw new StepFailure(`The registry did not report a digest for ${image} (RepoDigests: ${digests.join(', ') || 'none'})`, { state: `${image} pushed` });
  }
  return digest;
}

// ---- Smoke test -------------------------------------------------------------------------------

const SMOKE_BBOX = '-20,-20,20,20';

/** Starts the image with the sample mapfile, checks health, capabilities and a rendered map, and removes it. */
export async function smokeTest(ctx: CommandContext, docker: DockerCli, image: string): Promise<SmokeResult> {
  const name = `mapserver-ecs-smoke-${process.pid}-${Date.now().toString(36)}`;
  const { stdout } = await docker(
    ['run', '--detach', '--name', name, '--publish', `127.0.0.1::${CONTAINER_PORT}`, '--volume', `${join(ctx.root, SMOKE_DIR)}:/mapfiles:ro`, image],
    { stream: false, stateOnFailure: `image ${image} built, not pushed` },
  );
  const containerId = stdout.trim();
  try {
    const baseUrl = await publishedUrl(docker, containerId);
    return await probeImage(ctx.reporter, baseUrl, { awaited: `${image} to answer /healthz`, timeoutMs: 60_000 });
  } catch (error) {
    const logs = await docker(['logs', '--tail', '30', containerId], { stream: false }).then(
      (r) => `${r.stdout}\n${r.stderr}`.trim(),
      () => '',
    );
    const message = error instanceof Error ? error.message : String(error);
    throw new StepFailure(`Smoke test of ${image} failed, so it was not pushed: ${message}${logs ? `\nContainer log:\n${logs}` : ''}`, {
      state: `image ${image} built locally, not pushed; smoke-test container removed`,
    });
  } finally {
    await docker(['rm', '--force', '--volumes', containerId], { stream: false }).catch(() => undefined);
  }
}

async function publishedUrl(docker: DockerCli, containerId: string): Promise<string> {
  // `docker port` answers once the container runs; the port is picked by Docker, so no race.
  for (let attempt = 0; attempt < 50; attempt++) {
    const { stdout } = await docker(['port', containerId, `${CONTAINER_PORT}/tcp`], { stream: false }).catch(() => ({ stdout: '' }));
    const match = /127\.0\.0\.1:(\d+)/.exec(stdout);
    if (match) return `http://127.0.0.1:${match[1]}`;
    const { stdout: state } = await docker(['inspect', '--format', '{{.State.Status}}', containerId], { stream: false });
    if (state.trim() === 'exited' || state.trim() === 'dead') throw new Error(`the container ${state.trim()} right after it started`);
    await sleep(200);
  }
  throw new Error(`docker port ${containerId} published no loopback port`);
}

export interface ProbeOptions {
  awaited: string;
  timeoutMs: number;
  mapfile?: string;
  pathPrefix?: string;
}

/** Health, GetCapabilities 1.3.0 and GetMap of the sample mapfile, with the PNG decoded and checked. */
export async function probeImage(reporter: Reporter, baseUrl: string, options: ProbeOptions): Promise<SmokeResult> {
  const mapfile = options.mapfile ?? SMOKE_MAPFILE;
  await poll(
    reporter,
    async () => {
      try {
        const response = await fetch(`${baseUrl}/healthz`, { signal: AbortSignal.timeout(5000) });
        const body = await response.text();
        return response.ok && body.trim() === 'ok' ? { done: true, state: 'healthy' } : { state: `HTTP ${response.status}` };
      } catch (error) {
        return { state: (error as Error).message };
      }
    },
    { awaited: options.awaited, timeoutMs: options.timeoutMs, intervalMs: 250, progressEveryMs: 10_000 },
  );
  const query = (params: Record<string, string>): string => `${baseUrl}/?${new URLSearchParams({ map: mapfile, SERVICE: 'WMS', ...params }).toString()}`;

  const capabilities = await fetchChecked(query({ REQUEST: 'GetCapabilities', VERSION: '1.3.0' }), 'GetCapabilities');
  const text = capabilities.body.toString('utf8');
  if (!text.includes('<WMS_Capabilities')) throw new Error(`GetCapabilities answered no WMS_Capabilities document: ${text.slice(0, 300)}`);
  const layers = [...text.matchAll(/<Layer[^>]*>\s*<Name>([^<]+)<\/Name>/g)].map((m) => m[1] ?? '');
  if (!layers.includes(SMOKE_LAYER)) throw new Error(`GetCapabilities does not list the layer ${SMOKE_LAYER} (lists: ${layers.join(', ') || 'none'})`);

  const size = 64;
  const map = await fetchChecked(
    query({ REQUEST: 'GetMap', VERSION: '1.3.0', CRS: 'EPSG:4326', BBOX: SMOKE_BBOX, WIDTH: String(size), HEIGHT: String(size), LAYERS: SMOKE_LAYER, STYLES: '', FORMAT: 'image/png' }),
    'GetMap',
  );
  if (!map.contentType.startsWith('image/png')) throw new Error(`GetMap answered ${map.contentType}, not a PNG: ${map.body.toString('utf8').slice(0, 300)}`);
  const png = decodePng(map.body);
  // The sample draws a red square over the middle half of the extent on a white background.
  const centre = pixel(png, size / 2, size / 2);
  const corner = pixel(png, 2, 2);
  if (!(centre.r > 200 && centre.g < 60 && centre.b < 60)) throw new Error(`GetMap: expected red in the middle of the map, got rgb(${centre.r},${centre.g},${centre.b})`);
  if (!(corner.r > 200 && corner.g > 200 && corner.b > 200)) throw new Error(`GetMap: expected white in the corner of the map, got rgb(${corner.r},${corner.g},${corner.b})`);
  return { capabilitiesLayers: layers, width: png.width, height: png.height };
}

async function fetchChecked(url: string, what: string): Promise<{ body: Buffer; contentType: string }> {
  const response = await fetch(url, { signal: AbortSignal.timeout(30_000) });
  const body = Buffer.from(await response.arrayBuffer());
  if (!response.ok) throw new Error(`${what} answered HTTP ${response.status}: ${body.toString('utf8').slice(0, 300)}`);
  return { body, contentType: response.headers.get('content-type') ?? '' };
}

export function decodePng(data: Buffer): PNG {
  try {
    return PNG.sync.read(data);
  } catch (error) {
    throw new Error(`the PNG does not decode: ${(error as Error).message}`);
  }
}

export function pixel(png: PNG, x: number, y: number): { r: number; g: number; b: number; a: number } {
  const i = (png.width * Math.floor(y) + Math.floor(x)) * 4;
  return { r: png.data[i] ?? 0, g: png.data[i + 1] ?? 0, b: png.data[i + 2] ?? 0, a: png.data[i + 3] ?? 0 };
}
