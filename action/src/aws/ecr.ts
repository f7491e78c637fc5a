// The ECR repository of the MapServer image: how it is made (scan on push, lifecycle policy), found,
// logged in to, and asked about images by tag or digest.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BatchGetImageCommand,
  CreateRepositoryCommand,
  DescribeImagesCommand,
  DescribeRepositoriesCommand,
  GetAuthorizationTokenCommand,
  GetDownloadUrlForLayerCommand,
  GetLifecyclePolicyCommand,
  PutImageScanningConfigurationCommand,
  PutImageCommand,
  PutLifecyclePolicyCommand,
  type ECRClient,
  type Repository,
  type Tag,
} from '@aws-sdk/client-ecr';
import type { CommandContext } from '../context.js';
import type { DockerCli } from '../docker.js';
import { StepFailure } from '../errors.js';
import { MANIFEST_TYPES, type ImageConfig } from '../registry.js';
import { isAwsError } from './errors.js';

/** Every image scanned on push; tags may move (latest); encrypted at rest. */
const REPOSITORY_SETTINGS = {
  imageScanningConfiguration: { scanOnPush: true },
  imageTagMutability: 'MUTABLE',
  encryptionConfiguration: { encryptionType: 'AES256' },
} as const;

/** Tags that mark the image a service runs, and the one it ran before (a rollback's target). */
export const DEPLOYED_TAG_PREFIX = 'deployed-';
export const ROLLBACK_TAG_PREFIX = 'rollback-';
/** Far above any number of services sharing the repository: the rules below never expire by it. */
const PROTECTED_COUNT = 1000;

/**
 * The lifecycle policy: the newest `keep` images stay, and so does every image a service runs or
 * would roll back to, whatever its age. ECR cannot look at task definitions, so deploy tags those
 * images (deployed-<service>, rollback-<service>); an image matched by a rule's tag prefixes is never
 * expired by a rule of lower priority, such as the last one that counts every image.
 */
export function lifecyclePolicy(keep: number): string {
  const protect = (rulePriority: number, prefix: string, what: string) => ({
    rulePriority,
    description: `Keep ${what} (tagged ${prefix}<service> by deploy)`,
    selection: { tagStatus: 'tagged', tagPrefixList: [prefix], countType: 'imageCountMoreThan', countNumber: PROTECTED_COUNT },
    action: { type: 'expire' },
  });
  return JSON.stringify({
    rules: [
      protect(1, DEPLOYED_TAG_PREFIX, 'the image each service runs'),
      protect(2, ROLLBACK_TAG_PREFIX, 'the image each service would roll back to'),
      {
        rulePriority: 3,
        description: `Keep the newest ${keep} images`,
        selection: { tagStatus: 'any', countType: 'imageCountMoreThan', countNumber: keep },
        action: { type: 'expire' },
      },
    ],
  });
}

export async function findRepository(ecr: ECRClient, name: string): Promise<Repository | undefined> {
  try {
    return (await ecr.send(new DescribeRepositoriesCommand({ repositoryNames: [name] }))).repositories?.[0];
  } catch (error) {
    if (isAwsError(error, 'RepositoryNotFoundException')) return undefined;
    throw error;
  }
}

export async function createRepository(ecr: ECRClient, name: string, tags?: Tag[]): Promise<Repository | undefined> {
  return (await ecr.send(new CreateRepositoryCommand({ repositoryName: name, ...REPOSITORY_SETTINGS, ...(tags ? { tags } : {}) }))).repository;
}

export async function putLifecyclePolicy(ecr: ECRClient, name: string, keepImages: number): Promise<void> {
  await ecr.send(new PutLifecyclePolicyCommand({ repositoryName: name, lifecyclePolicyText: lifecyclePolicy(keepImages) }));
}

/** Finds or creates the ECR repository, and turns on scan on push and the lifecycle policy where missing. */
export async function ensureRepository(ctx: CommandContext): Promise<Repository> {
  const { ecr } = ctx.clients;
  const { ecrRepository: name, keepImages } = ctx.settings;
  let repository = await findRepository(ecr, name);
  if (!repository) {
    ctx.reporter.info(`Creating ECR repository ${name} (scan on push, keeps the last ${keepImages} images)`);
    repository = await createRepository(ecr, name);
    if (!repository?.repositoryUri) throw new StepFailure(`ECR did not return the URI of the new repository ${name}`, { state: `repository ${name} may exist` });
  } else if (!repository.imageScanningConfiguration?.scanOnPush) {
    ctx.reporter.info(`Turning on scan on push for ECR repository ${name}`);
    await ecr.send(new PutImageScanningConfigurationCommand({ repositoryName: name, imageScanningConfiguration: { scanOnPush: true } }));
  }
  let current: string | undefined;
  try {
    current = (await ecr.send(new GetLifecyclePolicyCommand({ repositoryName: name }))).lifecyclePolicyText;
  } catch (error) {
    if (!isAwsError(error, 'LifecyclePolicyNotFoundException')) throw error;
  }
  if (!current || !samePolicy(current, lifecyclePolicy(keepImages))) {
    ctx.reporter.info(`Setting the lifecycle policy of ${name}: keep the last ${keepImages} images`);
    await putLifecyclePolicy(ecr, name, keepImages);
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

export interface RegistryLogin {
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

/** repository@digest of a tag in the ECR repository; undefined when the repository or the tag is missing. */
export async function ecrImageByTag(ctx: CommandContext, tag: string): Promise<string | undefined> {
  const { settings } = ctx;
  try {
    const response = await ctx.clients.ecr.send(new DescribeImagesCommand({ repositoryName: settings.ecrRepository, imageIds: [{ imageTag: tag }] }));
    const image = response.imageDetails?.[0];
    if (!image?.imageDigest || !image.registryId) return undefined;
    const suffix = settings.region.startsWith('cn-') ? 'amazonaws.com.cn' : 'amazonaws.com';
    return `${image.registryId}.dkr.ecr.${settings.region}.${suffix}/${settings.ecrRepository}@${image.imageDigest}`;
  } catch (error) {
    if (isAwsError(error, 'RepositoryNotFoundException', 'ImageNotFoundException')) return undefined;
    throw error;
  }
}

/** The config of an image by digest, from its manifest and the config blob's download URL. */
export async function ecrImageConfig(ecr: ECRClient, repository: string, digest: string, fetcher: typeof fetch): Promise<ImageConfig | undefined> {
  const got = await ecr.send(new BatchGetImageCommand({ repositoryName: repository, imageIds: [{ imageDigest: digest }], acceptedMediaTypes: MANIFEST_TYPES.slice(0, 2) }));
  const manifest = JSON.parse(got.images?.[0]?.imageManifest ?? '{}') as { config?: { digest?: string } };
  if (!manifest.config?.digest) return undefined;
  const url = (await ecr.send(new GetDownloadUrlForLayerCommand({ repositoryName: repository, layerDigest: manifest.config.digest }))).downloadUrl;
  if (!url) return undefined;
  const response = await fetcher(url, { signal: AbortSignal.timeout(10_000) });
  return response.ok ? ((await response.json()) as ImageConfig) : undefined;
}

/** Repository and digest of an image in this account's ECR in `region`; undefined for another registry. */
export function ecrImageParts(imageUri: string, region: string): { repository: string; digest: string } | undefined {
  const match = /^\d{12}\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?\/(.+)@(sha256:[0-9a-f]{64})$/.exec(imageUri);
  return match && match[1] === region ? { repository: match[2] ?? '', digest: match[3] ?? '' } : undefined;
}

/** Adds `tag` to the image `digest` (moving it off any other image) by putting its manifest again. */
export async function tagEcrImage(ecr: ECRClient, repository: string, digest: string, tag: string): Promise<boolean> {
  const image = (await ecr.send(new BatchGetImageCommand({ repositoryName: repository, imageIds: [{ imageDigest: digest }], acceptedMediaTypes: MANIFEST_TYPES }))).images?.[0];
  if (!image?.imageManifest) return false;
  try {
    await ecr.send(
      new PutImageCommand({
        repositoryName: repository,
        imageManifest: image.imageManifest,
        ...(image.imageManifestMediaType ? { imageManifestMediaType: image.imageManifestMediaType } : {}),
        imageDigest: digest,
        imageTag: tag,
      }),
    );
  } catch (error) {
    // The tag is on this very image already.
    if (!isAwsError(error, 'ImageAlreadyExistsException')) throw error;
  }
  return true;
}

/**
 * Tags the image a deploy moves the service to (deployed-<service>) and the one it ran until now
 * (rollback-<service>), so the lifecycle policy keeps both. Images outside the repository are left
 * alone; a refusal is a warning, not a failed deploy.
 */
export async function protectDeployedImages(ctx: CommandContext, imageUri: string, previousImageUri: string | undefined): Promise<void> {
  const { settings, reporter } = ctx;
  const marks: Array<[string | undefined, string]> = [
    [previousImageUri !== imageUri ? previousImageUri : undefined, `${ROLLBACK_TAG_PREFIX}${settings.service}`],
    [imageUri, `${DEPLOYED_TAG_PREFIX}${settings.service}`],
  ];
  for (const [uri, tag] of marks) {
    const parts = uri ? ecrImageParts(uri, settings.region) : undefined;
    if (!parts || parts.repository !== settings.ecrRepository || settings.registry) continue;
    try {
      if (await tagEcrImage(ctx.clients.ecr, parts.repository, parts.digest, tag)) reporter.info(`Tagged ${parts.repository}@${parts.digest.slice(0, 19)} ${tag}: the lifecycle policy keeps it`);
    } catch (error) {
      reporter.warn(`Could not tag ${uri ?? ''} ${tag} (${(error as Error).name}: ${(error as Error).message}): the lifecycle policy may expire it once ${settings.keepImages} newer images exist`);
    }
  }
}
