// Deploy: register the task definition, point the service at it with the deployment circuit breaker
// on, and wait for that very deployment to report rolloutState COMPLETED. A rollback by the circuit
// breaker is a failure, even though the service ends up stable again (waitUntilServicesStable would
// call that a success, so the deployment is tracked by its id instead).
import {
  CreateServiceCommand,
  DescribeServicesCommand,
  DescribeTaskDefinitionCommand,
  RegisterTaskDefinitionCommand,
  UpdateServiceCommand,
  type CreateServiceCommandInput,
  type Deployment,
  type DeploymentConfiguration,
  type RegisterTaskDefinitionCommandInput,
  type Service,
} from '@aws-sdk/client-ecs';
import { createHash } from 'node:crypto';
import { isAwsError } from '../aws/errors.js';
import { pollTiming, type WaitTiming } from '../aws/timing.js';
import type { CommandContext } from '../context.js';
import { StepFailure } from '../errors.js';
import { poll } from '../wait.js';
import { CONTAINER_NAME, CONTAINER_PORT, loadTaskDefinition } from './task-definition.js';

/** Circuit breaker with rollback; launch the new tasks before stopping the old ones. */
export const DEPLOYMENT_CONFIGURATION: DeploymentConfiguration = {
  deploymentCircuitBreaker: { enable: true, rollback: true },
  minimumHealthyPercent: 100,
  maximumPercent: 200,
};

export function serviceDefinition(ctx: CommandContext, taskDefinitionArn: string): CreateServiceCommandInput {
  const { settings } = ctx;
  return {
    cluster: settings.cluster,
    serviceName: settings.service,
    taskDefinition: taskDefinitionArn,
    desiredCount: settings.desiredCount,
    capacityProviderStrategy: [{ capacityProvider: settings.capacityProvider, weight: 1, base: 0 }],
    deploymentConfiguration: DEPLOYMENT_CONFIGURATION,
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

/** The latest revision of the family when it was registered from exactly this input. */
async function sameLatestRevision(ctx: CommandContext, input: RegisterTaskDefinitionCommandInput, digest: string) {
  const latest = await latestRevision(ctx, input.family ?? '');
  const latestArn = latest?.taskDefinition?.taskDefinitionArn;
  const same = latestArn && latest?.taskDefinition?.status === 'ACTIVE' && latest.tags?.some((t) => t.key === DEFINITION_HASH_TAG && t.value === digest);
  return { latestArn, reuse: same ? latestArn : undefined, latestRevision: latest?.taskDefinition?.revision };
}

export const definitionDigest = (input: RegisterTaskDefinitionCommandInput): string => createHash('sha256').update(JSON.stringify(input)).digest('hex').slice(0, 32);

/** "mapserver:12" of a task definition ARN. */
export const revisionName = (arn: string | undefined): string => (arn ?? '').split('/').pop() ?? '';

/** A service that runs this revision at the desired count, with no other deployment going on. */
function settledOn(service: Service | undefined, taskDefinitionArn: string, desiredCount: number): boolean {
  if (!service || service.taskDefinition !== taskDefinitionArn || service.desiredCount !== desiredCount) return false;
  const deployments = service.deployments ?? [];
  return deployments.length <= 1 && deployments.every((d) => d.taskDefinition === taskDefinitionArn && (d.rolloutState ?? 'COMPLETED') === 'COMPLETED');
}

export interface DeployDecision {
  unchanged: boolean;
  /** The revision the service runs, when unchanged. */
  taskDefinitionArn?: string;
  /** One line for the plan: "unchanged (mapserver runs mapserver:12)", "task definition :12 -> :13". */
  reason: string;
}

/**
 * Whether deploying `imageUri` changes anything, reading only: the service, and the latest revision
 * of the family with the hash of the input it was registered from. Without an image (one is still
 * to be built) the next revision is certain.
 */
export async function decideDeploy(ctx: CommandContext, imageUri: string | undefined, why = 'new image'): Promise<DeployDecision> {
  const { settings } = ctx;
  const service = await describeService(ctx);
  const running = service?.taskDefinition ? `:${revisionName(service.taskDefinition).split(':').pop() ?? '?'}` : undefined;
  const from = running ? `task definition ${running} -> ` : `create service ${settings.service} on task definition `;
  if (!imageUri) {
    const latest = await latestRevision(ctx, settings.service);
    return { unchanged: false, reason: `${from}:${(latest?.taskDefinition?.revision ?? 0) + 1} (${why})` };
  }
  const input = await loadTaskDefinition(ctx.root, settings, imageUri);
  const { reuse, latestRevision: revision } = await sameLatestRevision(ctx, input, definitionDigest(input));
  if (reuse && settledOn(service, reuse, settings.desiredCount)) {
    return { unchanged: true, taskDefinitionArn: reuse, reason: `unchanged (${settings.service} runs ${revisionName(reuse)})` };
  }
  if (reuse) return { unchanged: false, reason: `${from}:${revisionName(reuse).split(':').pop() ?? '?'} (registered already)` };
  return { unchanged: false, reason: `${from}:${(revision ?? 0) + 1} (definition changed)` };
}

export async function registerTaskDefinition(ctx: CommandContext, imageUri: string): Promise<string> {
  const input = await loadTaskDefinition(ctx.root, ctx.settings, imageUri);
  // A run that was interrupted after registering (or whose answer was lost) and is run again reuses
  // that revision instead of adding an identical one: each revision carries the hash of its input.
  const digest = definitionDigest(input);
  const { reuse: latestArn } = await sameLatestRevision(ctx, input, digest);
  if (latestArn) {
    ctx.reporter.info(`Reusing ${latestArn}: it was registered from the same definition`);
    return latestArn;
  }
  const registered = await ctx.clients.ecs.send(new RegisterTaskDefinitionCommand({ ...input, tags: [...(input.tags ?? []), { key: DEFINITION_HASH_TAG, value: digest }] }));
  const arn = registered.taskDefinition?.taskDefinitionArn;
  if (!arn) throw new StepFailure('RegisterTaskDefinition returned no task definition ARN', { state: 'unknown: check the task definition family' });
  ctx.reporter.info(`Registered ${arn}`);
  return arn;
}

async function latestRevision(ctx: CommandContext, family: string) {
  if (!family) return undefined;
  try {
    return await ctx.clients.ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: family, include: ['TAGS'] }));
  } catch (error) {
    // No revision of the family yet.
    if (isAwsError(error, 'ClientException', 'InvalidParameterException')) return undefined;
    throw error;
  }
}

export async function deployService(ctx: CommandContext, imageUri: string, timing?: WaitTiming): Promise<{ taskDefinitionArn: string; unchanged?: boolean }> {
  const { settings, reporter } = ctx;
  // The cluster is checked (and the template rendered) before anything is registered.
  const existing = await describeService(ctx);
  const taskDefinitionArn = await registerTaskDefinition(ctx, imageUri);
  // The same revision, settled: another UpdateService would only start a deployment of the same tasks.
  if (settledOn(existing, taskDefinitionArn, settings.desiredCount)) {
    reporter.info(`Service ${settings.service} already runs ${taskDefinitionArn}: nothing to deploy`);
    return { taskDefinitionArn, unchanged: true };
  }
  reporter.info(`Deploying ${taskDefinitionArn} (image ${imageUri})`);

  let service: Service | undefined;
  if (existing) {
    const updated = await ctx.clients.ecs.send(
      new UpdateServiceCommand({
        cluster: settings.cluster,
        service: settings.service,
        taskDefinition: taskDefinitionArn,
        desiredCount: settings.desiredCount,
        deploymentConfiguration: DEPLOYMENT_CONFIGURATION,
      }),
    );
    service = updated.service;
    reporter.info(`Updated service ${settings.service} in cluster ${settings.cluster}`);
  } else {
    const created = await ctx.clients.ecs.send(new CreateServiceCommand(serviceDefinition(ctx, taskDefinitionArn)));
    service = created.service;
    reporter.info(`Created service ${settings.service} in cluster ${settings.cluster}`);
  }
  const deploymentId = service?.deployments?.find((d) => d.taskDefinition === taskDefinitionArn && d.status === 'PRIMARY')?.id;
  await waitForDeployment(ctx, taskDefinitionArn, deploymentId, timing);
  return { taskDefinitionArn };
}

function describeDeployment(d: Deployment): string {
  // ECS's plain "... in progress." adds nothing; anything else (why tasks cannot be placed) does.
  const reason = d.rolloutStateReason && !/in progress\.?$/i.test(d.rolloutStateReason) ? ` (${d.rolloutStateReason})` : '';
  return `${d.rolloutState ?? 'unknown'}: ${d.runningCount ?? 0}/${d.desiredCount ?? 0} running, ${d.pendingCount ?? 0} pending, ${d.failedTasks ?? 0} failed${reason}`;
}

export async function waitForDeployment(ctx: CommandContext, taskDefinitionArn: string, deploymentId: string | undefined, timing?: WaitTiming): Promise<void> {
  const { settings, reporter } = ctx;
  const awaited = `the deployment of ${taskDefinitionArn.split('/').pop() ?? taskDefinitionArn} to service ${settings.service}`;
  let trackedId = deploymentId;
  await poll<true>(
    reporter,
    async () => {
      const service = await describeService(ctx);
      if (!service) throw new StepFailure(`Service ${settings.service} disappeared from cluster ${settings.cluster} during the deployment`);
      const deployments = service.deployments ?? [];
      const ours = trackedId
        ? deployments.find((d) => d.id === trackedId)
        : deployments.find((d) => d.taskDefinition === taskDefinitionArn && d.status === 'PRIMARY');
      trackedId ??= ours?.id;
      const primary = deployments.find((d) => d.status === 'PRIMARY');
      if (!ours) {
        // Our deployment is gone: ECS replaced it, which after a circuit breaker trip is the rollback.
        throw new StepFailure(
          `The deployment of ${taskDefinitionArn} is no longer on service ${settings.service}: it was rolled back (the service now runs ${primary?.taskDefinition ?? service.taskDefinition ?? 'an unknown task definition'})${lastCircuitBreakerEvent(service)}`,
          { state: `service ${settings.service} runs ${primary?.taskDefinition ?? service.taskDefinition ?? 'unknown'}; ${taskDefinitionArn} is registered but not deployed` },
        );
      }
      if (ours.rolloutState === 'FAILED') {
        const rolledBackTo = primary && primary.id !== ours.id ? primary.taskDefinition : undefined;
        throw new StepFailure(
          `The deployment circuit breaker failed the deployment of ${taskDefinitionArn}: ${ours.rolloutStateReason ?? 'no reason given'}${rolledBackTo ? `; rolled back to ${rolledBackTo}` : ''}`,
          { state: rolledBackTo ? `service ${settings.service} rolled back to ${rolledBackTo}` : `service ${settings.service} deployment ${ours.id ?? ''} failed` },
        );
      }
      if (ours.rolloutState === 'COMPLETED' && ours.status === 'PRIMARY') return { done: true, state: describeDeployment(ours) };
      return { state: describeDeployment(ours) };
    },
    {
      awaited,
      timeoutMs: settings.waitMinutes * 60_000,
      ...pollTiming(timing, 15_000),
      stateOnTimeout: `service ${settings.service} is still rolling out ${taskDefinitionArn}; ECS keeps going (the circuit breaker rolls it back if tasks keep failing)`,
    },
  );
  reporter.info(`Service ${settings.service} runs ${taskDefinitionArn}: rollout COMPLETED`);
}

function lastCircuitBreakerEvent(service: Service): string {
  const event = service.events?.find((e) => /circuit breaker|rolling back|rolled back/i.test(e.message ?? ''));
  return event?.message ? ` (${event.message})` : '';
}
