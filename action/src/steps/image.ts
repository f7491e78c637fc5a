// Image: build docker/ into the MapServer image, prove it (image-smoke.ts), and only then push it, to
// ECR (repository ensured with scan on push and a lifecycle policy) or to the `registry` input. The
// result is named by digest. An image already pushed from the same inputs is reused instead.
import { arch } from 'node:os';
import { join } from 'node:path';
import { DescribeTaskDefinitionCommand } from '@aws-sdk/client-ecs';
import { ecrImageByTag, ecrImageConfig, ensureRepository, loginToEcr, type RegistryLogin } from '../aws/ecr.js';
import { describeService } from '../aws/ecs.js';
import { CONTAINER_NAME } from '../container.js';
import type { CommandContext } from '../context.js';
import { dockerCli, type DockerCli } from '../docker.js';
import { StepFailure } from '../errors.js';
import { gitIn, headRevision, isGitRevision, revisionFromEnv, type Git } from '../git.js';
import { provenanceLabels, readProvenance } from '../provenance.js';
import { registryDigest, registryImageConfig, type ImageConfig } from '../registry.js';
import { imageByDigestParts, isImageDigest } from '../values.js';
import { CONTENT_LABEL, contentTag, decodeManifest, encodeManifest, imageFingerprint, listBriefly, MANIFEST_LABEL, manifestChanges, type Fingerprint, type Manifest } from './fingerprint.js';
import { smokeTest, type SmokeResult } from './image-smoke.js';

export interface ImageDependencies {
  docker: DockerCli;
  /** Proves a built image works before it is pushed. */
  smokeTest: (ctx: CommandContext, docker: DockerCli, image: string) => Promise<SmokeResult>;
}

export interface ImageResult {
  imageUri: string;
  /** repository:tag that was built (and pushed, unless dry-run). */
  taggedImage: string;
  pushed: boolean;
}

export function defaultDependencies(ctx: CommandContext): ImageDependencies {
  return { docker: dockerCli(ctx), smokeTest };
}

/** Docker's platform name for the AMI architecture, when it differs from this machine's. */
export function platformFor(architecture: 'x86_64' | 'arm64', hostArch: string = arch()): string | undefined {
  const host = hostArch === 'x64' ? 'x86_64' : hostArch;
  if (host === architecture) return undefined;
  return architecture === 'arm64' ? 'linux/arm64' : 'linux/amd64';
}

/** The tag: the `image-tag` input, else the git revision (with -dirty when docker/ has local changes). */
export async function imageTag(ctx: CommandContext, git: Git = gitIn(ctx.reporter, ctx.root)): Promise<string> {
  if (ctx.settings.imageTag) return ctx.settings.imageTag;
  const fromEnv = revisionFromEnv(ctx.env);
  if (fromEnv) return fromEnv;
  let revision: string;
  try {
    revision = await headRevision(git);
  } catch (error) {
    throw new StepFailure(`Cannot read the git revision of ${ctx.root} to tag the image (${(error as Error).message}); set the image-tag input`, { cause: error });
  }
  const changed = (await git(['status', '--porcelain', '--', 'docker'])).trim();
  return changed === '' ? revision : `${revision}-dirty`;
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
  const found = settings.registry ? await registryDigest(settings.registry, settings.ecrRepository, tag, fetcher) : await ecrImageByTag(ctx, tag);
  const short = fingerprint.hash.slice(0, 12);
  if (found) return { fingerprint, reuse: found, reason: `image unchanged: reuse ${found} (content ${short})` };
  const missing = `no image with content ${short} in ${settings.registry ? `${settings.registry}/` : ''}${settings.ecrRepository}`;
  const running = await runningImageManifest(ctx, fetcher);
  const changes = running ? manifestChanges(running, fingerprint.manifest) : [];
  return { fingerprint, reason: `build (${changes.length > 0 ? `${listBriefly(changes)} since the running image` : missing})` };
}

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

/** An image's config (its labels), by digest, from the registry input's v2 API or from ECR. */
async function imageConfig(ctx: CommandContext, image: string, fetcher: typeof fetch): Promise<ImageConfig | undefined> {
  const parts = imageByDigestParts(image);
  if (!parts?.host) return undefined;
  const { host, repository, digest } = parts;
  const { settings } = ctx;
  if (settings.registry === host) return registryImageConfig(host, repository, digest, settings.architecture === 'arm64' ? 'arm64' : 'amd64', fetcher);
  // With a registry input the images live there: ECR is not asked.
  if (settings.registry || !/\.dkr\.ecr\./.test(host) || repository !== settings.ecrRepository) return undefined;
  return ecrImageConfig(ctx.clients.ecr, repository, digest, fetcher);
}

export async function buildAndPushImage(ctx: CommandContext, deps: ImageDependencies = defaultDependencies(ctx), fingerprint: Fingerprint = imageFingerprintFor(ctx)): Promise<ImageResult> {
  const { settings, reporter } = ctx;
  const { docker } = deps;
  await docker(['version', '--format', '{{.Server.Version}}'], { stream: false, stateOnFailure: 'nothing built' }).catch((error: unknown) => {
    throw new StepFailure(`The Docker engine is not reachable (docker version failed): ${(error as Error).message}`, { state: 'nothing built', cause: error });
  });
  const tag = await imageTag(ctx);
  const { repository, registryHost } = await imageDestination(ctx);
  const taggedImage = `${repository}:${tag}`;
  const login = registryHost ? await reporter.group('ECR login', () => loginToEcr(ctx, docker, registryHost)) : undefined;
  try {
    await reporter.group(`docker build ${taggedImage}`, () => buildImage(ctx, docker, { repository, tag, fingerprint, login }));
    const smoke = await reporter.group(`Smoke test of ${taggedImage}`, () => deps.smokeTest(ctx, docker, taggedImage));
    reporter.info(`Smoke test passed: GetCapabilities lists ${smoke.capabilitiesLayers.join(', ')}; GetMap drew a ${smoke.width}x${smoke.height} PNG`);
    if (settings.dryRun) {
      reporter.info(`dry-run: built and tested ${taggedImage}; not pushed`);
      return { imageUri: taggedImage, taggedImage, pushed: false };
    }
    return await reporter.group(`docker push ${taggedImage}`, () => pushImage(docker, { repository, tag, fingerprint, login }));
  } finally {
    await login?.cleanup();
  }
}

/** Where the image goes: the registry input, or the ECR repository (ensured unless dry-run). */
async function imageDestination(ctx: CommandContext): Promise<{ repository: string; registryHost?: string }> {
  const { settings, reporter } = ctx;
  if (settings.registry) return { repository: `${settings.registry}/${settings.ecrRepository}` };
  if (settings.dryRun) {
    reporter.info(`dry-run: not touching ECR; would ensure repository ${settings.ecrRepository} and push to it`);
    return { repository: settings.ecrRepository };
  }
  const ecrRepository = await reporter.group('ECR repository', () => ensureRepository(ctx));
  const repository = ecrRepository.repositoryUri ?? '';
  const registryHost = repository.split('/')[0];
  if (!registryHost || !repository.includes('/')) throw new StepFailure(`ECR returned an unusable repository URI ${JSON.stringify(repository)}`);
  return { repository, registryHost };
}

interface Build {
  repository: string;
  tag: string;
  fingerprint: Fingerprint;
  login: RegistryLogin | undefined;
}

async function buildImage(ctx: CommandContext, docker: DockerCli, { repository, tag, fingerprint, login }: Build): Promise<void> {
  const { settings, reporter } = ctx;
  const latestImage = `${repository}:latest`;
  const args = ['build', '--tag', `${repository}:${tag}`, '--label', `${CONTENT_LABEL}=${fingerprint.hash}`, '--label', `${MANIFEST_LABEL}=${encodeManifest(fingerprint.manifest)}`, ...buildArgs(ctx, tag)];
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
}

/** Pushes the tag, then latest, then the content tag a later release reuses; returns the image by digest. */
async function pushImage(docker: DockerCli, { repository, tag, fingerprint, login }: Build): Promise<ImageResult> {
  const taggedImage = `${repository}:${tag}`;
  const latestImage = `${repository}:latest`;
  const contentImage = `${repository}:${contentTag(fingerprint.hash)}`;
  await docker(['tag', taggedImage, latestImage], { stream: false });
  await docker(['push', taggedImage], { env: login?.env, stateOnFailure: `image ${taggedImage} built and tested locally, not (fully) pushed` });
  await docker(['push', latestImage], { env: login?.env, stateOnFailure: `${taggedImage} pushed; the latest tag may still point at the previous image` });
  // Last: the content tag is what a later release reuses, so it names only a complete push.
  await docker(['tag', taggedImage, contentImage], { stream: false });
  await docker(['push', contentImage], { env: login?.env, stateOnFailure: `${taggedImage} pushed; not yet tagged for reuse (the next release builds again)` });
  const digest = await pushedDigest(docker, taggedImage, repository);
  return { imageUri: `${repository}@${digest}`, taggedImage, pushed: true };
}

/**
 * Build arguments and labels that say where the image came from. None is in the content hash: an
 * image built from the same context by another run or commit is reused. In a workflow run the
 * provenance labels (source, revision, run) are set with --label, over the Dockerfile's own.
 */
function buildArgs(ctx: CommandContext, tag: string): string[] {
  const revision = tag.replace(/-dirty$/, '');
  const args = ['--build-arg', `REVISION=${isGitRevision(revision) ? revision : ''}`, '--build-arg', `VERSION=${tag}`];
  for (const [name, value] of Object.entries(provenanceLabels(readProvenance(ctx.env)))) args.push('--label', `${name}=${value}`);
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
  } catch (error) {
    throw new StepFailure(`Cannot read the digests of ${image}: ${stdout.slice(0, 200)}`, { state: `${image} pushed`, cause: error });
  }
  const found = digests.find((d) => d.startsWith(`${repository}@sha256:`));
  const digest = found?.slice(repository.length + 1);
  if (!digest || !isImageDigest(digest)) {
    throw new StepFailure(`The registry did not report a digest for ${image} (RepoDigests: ${digests.join(', ') || 'none'})`, { state: `${image} pushed` });
  }
  return digest;
}
