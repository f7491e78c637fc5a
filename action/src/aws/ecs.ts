// The ECS side of the service: the cluster, the capacity provider, the service and how it is defined,
// and task definition revisions recognised by the hash of the input they were registered from.
import {
  DescribeCapacityProvidersCommand,
  DescribeClustersCommand,
  DescribeServicesCommand,
  DescribeTaskDefinitionCommand,
  RegisterTaskDefinitionCommand,
  type CapacityProvider,
  type Cluster,
  type CreateServiceCommandInput,
  type DeploymentConfiguration,
  type DescribeTaskDefinitionCommandOutput,
  type RegisterTaskDefinitionCommandInput,
  type Service,
} from '@aws-sdk/client-ecs';
import { createHash } from 'node:crypto';
import { CONTAINER_NAME, CONTAINER_PORT } from '../container.js';
import type { CommandContext } from '../context.js';
import type { Settings } from '../settings.js';
import { StepFailure } from '../errors.js';
import { provenanceTags, readProvenance } from '../provenance.js';
import { isAwsError } from './errors.js';

/**
 * Circuit breaker with rollback, and percentages a deploy can always meet. A dynamic host port (0)
 * lets tasks share instances: new tasks start before old ones stop (100/200). A static host port
 * holds one task per instance, so ECS may run at most max-size tasks at once: maximumPercent is
 * capped at max-size / desired-count, and when that leaves no room for an extra task, one old task
 * stops before its replacement starts (minimumHealthyPercent leaves one task of slack).
 */
export function deploymentConfiguration(settings: Pick<Settings, 'hostPort' | 'desiredCount' | 'maxSize'>): DeploymentConfiguration {
  const circuitBreaker = { deploymentCircuitBreaker: { enable: true, rollback: true } };
  const desired = settings.desiredCount;
  if (settings.hostPort === 0 || desired === 0) return { ...circuitBreaker, minimumHealthyPercent: 100, maximumPercent: 200 };
  // ECS runs at most floor(desired * maximumPercent / 100) tasks and keeps ceil(desired * minimumHealthyPercent / 100).
  const maximumPercent = Math.max(100, Math.min(200, Math.floor((100 * settings.maxSize) / desired)));
  const roomForOneMore = Math.floor((desired * maximumPercent) / 100) > desired;
  const minimumHealthyPercent = roomForOneMore ? 100 : Math.floor((100 * (desired - 1)) / desired);
  return { ...circuitBreaker, minimumHealthyPercent, maximumPercent };
}

export function serviceDefinition(ctx: CommandContext, taskDefinitionArn: string): CreateServiceCommandInput {
  const { settings } = ctx;
  return {
    cluster: settings.cluster,
    serviceName: settings.service,
    taskDefinition: taskDefinitionArn,
    desiredCount: settings.desiredCount,
    capacityProviderStrategy: [{ capacityProvider: settings.capacityProvider, weight: 1, base: 0 }],
    deploymentConfiguration: deploymentConfiguration(settings),
    placementStrategy: [
      { type: 'spread', field: 'attribute:ecs.availability-zone' },
      { type: 'spread', field: 'instanceId' },
    ],
    schedulingStrategy: 'REPLICA',
    enableECSManagedTags: true,
    propagateTags: 'SERVICE',
    ...(settings.targetGroupArn
      ? {
          loadBalancers: [{ targetGroupArn: settings.targetGroupArn, containerName: CONTAINER_NAME, containerPort: CONTAINER_PORT }],
          healthCheckGracePeriodSeconds: 60,
        }
      : {}),
  };
}

export async function findCluster(ctx: CommandContext): Promise<Cluster | undefined> {
  const found = await ctx.clients.ecs.send(new DescribeClustersCommand({ clusters: [ctx.settings.cluster] }));
  return found.clusters?.find((c) => c.clusterName === ctx.settings.cluster && c.status !== 'INACTIVE');
}

export async function describeCapacityProvider(ctx: CommandContext): Promise<CapacityProvider | undefined> {
  const found = await ctx.clients.ecs.send(new DescribeCapacityProvidersCommand({ capacityProviders: [ctx.settings.capacityProvider] }));
  return found.capacityProviders?.find((p) => p.name === ctx.settings.capacityProvider);
}

/** The service, unless it does not exist or was deleted; a missing cluster is a failure. */
export async function describeService(ctx: CommandContext): Promise<Service | undefined> {
  const { settings } = ctx;
  let response;
  try {
    response = await ctx.clients.ecs.send(new DescribeServicesCommand({ cluster: settings.cluster, services: [settings.service] }));
  } catch (error) {
    if (isAwsError(error, 'ClusterNotFoundException')) {
      throw new StepFailure(`ECS cluster ${settings.cluster} does not exist; run the bootstrap command first`, { state: 'nothing changed', cause: error });
    }
    throw error;
  }
  const service = response.services?.find((s) => s.serviceName === settings.service);
  return service && service.status !== 'INACTIVE' ? service : undefined;
}

/** Tag holding the hash of the input a task definition revision was registered from. */
export const DEFINITION_HASH_TAG = 'mapserver-ecs:definition-hash';

export const definitionDigest = (input: RegisterTaskDefinitionCommandInput): string => createHash('sha256').update(JSON.stringify(input)).digest('hex').slice(0, 32);

/** "mapserver:12" of a task definition ARN. */
export const revisionName = (arn: string | undefined): string => (arn ?? '').split('/').pop() ?? '';

/** The latest revision of a family, with its tags; undefined before the first one. */
export async function latestRevision(ctx: CommandContext, family: string): Promise<DescribeTaskDefinitionCommandOutput | undefined> {
  if (!family) return undefined;
  try {
    return await ctx.clients.ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: family, include: ['TAGS'] }));
  } catch (error) {
    // No revision of the family yet.
    if (isAwsError(error, 'ClientException', 'InvalidParameterException')) return undefined;
    throw error;
  }
}

/** The latest revision of the family when it was registered from exactly this input. */
export async function sameLatestRevision(ctx: CommandContext, input: RegisterTaskDefinitionCommandInput, digest: string) {
  const latest = await latestRevision(ctx, input.family ?? '');
  const latestArn = latest?.taskDefinition?.taskDefinitionArn;
  const same = latestArn && latest?.taskDefinition?.status === 'ACTIVE' && latest.tags?.some((t) => t.key === DEFINITION_HASH_TAG && t.value === digest);
  return { latestArn, reuse: same ? latestArn : undefined, latestRevision: latest?.taskDefinition?.revision };
}

/** Registers a rendered task definition, or reuses the latest revision when it came from the same input. */
export async function registerTaskDefinition(ctx: CommandContext, input: RegisterTaskDefinitionCommandInput): Promise<string> {
  // A run that was interrupted after registering (or whose answer was lost) and is run again reuses
  // that revision instead of adding an identical one: each revision carries the hash of its input.
  const digest = definitionDigest(input);
  const { reuse: latestArn } = await sameLatestRevision(ctx, input, digest);
  if (latestArn) {
    ctx.reporter.info(`Reusing ${latestArn}: it was registered from the same definition`);
    return latestArn;
  }
  // The run that registers it is named in tags of its own, outside the digest: the same definition
  // from another run is the same revision.
  const tags = [...(input.tags ?? []), ...provenanceTags(readProvenance(ctx.env)), { key: DEFINITION_HASH_TAG, value: digest }];
  const registered = await ctx.clients.ecs.send(new RegisterTaskDefinitionCommand({ ...input, tags }));
  const arn = registered.taskDefinition?.taskDefinitionArn;
  if (!arn) throw new StepFailure('RegisterTaskDefinition returned no task definition ARN', { state: 'unknown: check the task definition family' });
  ctx.reporter.info(`Registered ${arn}`);
  return arn;
}
