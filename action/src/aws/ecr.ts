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
