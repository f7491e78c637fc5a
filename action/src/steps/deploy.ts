// Deploy: register the task definition, point the service at it with the deployment circuit breaker
// on, and wait for that very deployment to report rolloutState COMPLETED. A rollback by the circuit
// breaker is a failure, even though the service ends up stable again (waitUntilServicesStable would
// call that a success, so the deployment is tracked by its id instead).
import { CreateServiceCommand, DescribeTaskDefinitionCommand, UpdateServiceCommand, type Deployment, type Service } from '@aws-sdk/client-ecs';
import { protectDeployedImages } from '../aws/ecr.js';
import {
  definitionDigest,
  deploymentConfiguration,
  describeService,
  latestRevision,
  registerTaskDefinition,
  revisionName,
  sameLatestRevision,
  serviceDefinition,
} from '../aws/ecs.js';
import { pollTiming, type WaitTiming } from '../aws/timing.js';
import { CONTAINER_NAME } from '../container.js';
import type { CommandContext } from '../context.js';
import { StepFailure } from '../errors.js';
import { poll } from '../wait.js';
import { loadTaskDefinition } from './task-definition.js';

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

export async function deployService(ctx: CommandContext, imageUri: string, timing?: WaitTiming): Promise<{ taskDefinitionArn: string; unchanged?: boolean }> {
  const { settings, reporter } = ctx;
  // The cluster is checked (and the template rendered) before anything is registered.
  const existing = await describeService(ctx);
  const taskDefinitionArn = await registerTaskDefinition(ctx, await loadTaskDefinition(ctx.root, settings, imageUri));
  // The same revision, settled: another UpdateService would only start a deployment of the same tasks.
  if (settledOn(existing, taskDefinitionArn, settings.desiredCount)) {
    reporter.info(`Service ${settings.service} already runs ${taskDefinitionArn}: nothing to deploy`);
    return { taskDefinitionArn, unchanged: true };
  }
  reporter.info(`Deploying ${taskDefinitionArn} (image ${imageUri})`);
  await protectDeployedImages(ctx, imageUri, await imageOf(ctx, existing?.taskDefinition));

  let service: Service | undefined;
  if (existing) {
    const updated = await ctx.clients.ecs.send(
      new UpdateServiceCommand({
        cluster: settings.cluster,
        service: settings.service,
        taskDefinition: taskDefinitionArn,
        desiredCount: settings.desiredCount,
        deploymentConfiguration: deploymentConfiguration(settings),
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

function formatDeployment(d: Deployment): string {
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
      if (ours.rolloutState === 'COMPLETED' && ours.status === 'PRIMARY') return { done: true, state: formatDeployment(ours) };
      return { state: formatDeployment(ours) };
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

/** The image of the MapServer container of a task definition (the service's current one); undefined when unreadable. */
async function imageOf(ctx: CommandContext, taskDefinition: string | undefined): Promise<string | undefined> {
  if (!taskDefinition) return undefined;
  try {
    const containers = (await ctx.clients.ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition }))).taskDefinition?.containerDefinitions ?? [];
    return (containers.find((c) => c.name === CONTAINER_NAME) ?? containers[0])?.image;
  } catch (error) {
    // Only the rollback tag depends on it: the deploy goes on.
    ctx.reporter.warn(`Could not read the image of ${taskDefinition} (${(error as Error).message}): it is not tagged for rollback`);
    return undefined;
  }
}
