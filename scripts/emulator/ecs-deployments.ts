// The emulator's ECS service deployments (moto keeps the first deployment forever): UpdateService
// starts a new PRIMARY deployment that completes once a container instance satisfies the task's
// placement constraints; it can be told to trip the circuit breaker, which rolls back like ECS does.
// A static host port holds one task per instance: a deployment that can neither start a new task
// (no free instance, or maximumPercent reached) nor stop an old one (minimumHealthyPercent) stalls.
import { randomUUID } from 'node:crypto';
import type { Interceptor, Upstream } from './types.js';
import { internalRequest, jsonResponse } from './wire.js';

interface SimDeployment {
  id: string;
  status: 'PRIMARY' | 'ACTIVE';
  taskDefinition: string;
  rolloutState: 'IN_PROGRESS' | 'COMPLETED' | 'FAILED';
  rolloutStateReason: string;
  createdAt: number;
  updatedAt: number;
  ticks: number;
  failReason: string | undefined;
}

interface SimService {
  arn: string;
  cluster: string;
  desired: number;
  minimumHealthyPercent: number;
  maximumPercent: number;
  deployments: SimDeployment[];
  events: Array<{ id: string; createdAt: number; message: string }>;
}

const TARGET = 'AmazonEC2ContainerServiceV20141113';

/** The service as DescribeServices shows it: moto's answer with the simulated deployments and counts. */
function render(service: SimService, raw: Record<string, unknown>): Record<string, unknown> {
  const primary = service.deployments.find((d) => d.status === 'PRIMARY');
  const running = primary?.rolloutState === 'COMPLETED' ? service.desired : 0;
  return {
    ...raw,
    runningCount: running,
    pendingCount: service.desired - running,
    deployments: service.deployments.map((d) => ({
      id: d.id,
      status: d.status,
      taskDefinition: d.taskDefinition,
      desiredCount: d.status === 'PRIMARY' ? service.desired : 0,
      runningCount: d.rolloutState === 'COMPLETED' ? service.desired : 0,
      pendingCount: d.rolloutState === 'IN_PROGRESS' ? service.desired : 0,
      failedTasks: d.rolloutState === 'FAILED' ? 3 : 0,
      createdAt: d.createdAt,
      updatedAt: d.updatedAt,
      launchType: 'EC2',
      rolloutState: d.rolloutState,
      rolloutStateReason: d.rolloutStateReason,
    })),
    events: service.events.slice(0, 20),
  };
}

export class EcsDeployments {
  private readonly services = new Map<string, SimService>();
  private readonly pendingFailures: string[] = [];

  constructor(
    private readonly upstream: Upstream,
    private readonly steps: number,
  ) {}

  readonly interceptor: Interceptor = async (request, next) => {
    if (request.service !== 'ecs' || !['CreateService', 'UpdateService', 'DescribeServices'].includes(request.action ?? '')) return next();
    const input = JSON.parse(request.body.toString() || '{}') as Record<string, unknown>;
    const answer = await next();
    if (answer.status !== 200) return answer;
    const output = JSON.parse(answer.body.toString()) as Record<string, unknown>;
    if (request.action === 'CreateService' || request.action === 'UpdateService') {
      const raw = output.service as Record<string, unknown>;
      return jsonResponse(200, { ...output, service: render(this.changed(raw, input), raw) });
    }
    const described = (output.services as Array<Record<string, unknown>> | undefined) ?? [];
    const rendered: Array<Record<string, unknown>> = [];
    for (const raw of described) {
      const service = this.services.get(String(raw.serviceArn));
      if (service) await this.tick(service);
      rendered.push(service ? render(service, raw) : raw);
    }
    return jsonResponse(200, { ...output, services: rendered });
  };

  failNext(reason?: string): void {
    this.pendingFailures.push(reason ?? 'tasks failed to start (simulated).');
  }

  /** Records a created or updated service: a new task definition (or a forced one) starts a deployment. */
  private changed(raw: Record<string, unknown>, input: Record<string, unknown>): SimService {
    const arn = String(raw.serviceArn);
    let service = this.services.get(arn);
    if (!service) {
      service = { arn, cluster: String(raw.clusterArn ?? input.cluster ?? 'default'), desired: Number(raw.desiredCount ?? 0), minimumHealthyPercent: 100, maximumPercent: 200, deployments: [], events: [] };
      this.services.set(arn, service);
    }
    service.desired = Number(raw.desiredCount ?? service.desired);
    const configuration = input.deploymentConfiguration as { minimumHealthyPercent?: number; maximumPercent?: number } | undefined;
    service.minimumHealthyPercent = configuration?.minimumHealthyPercent ?? service.minimumHealthyPercent;
    service.maximumPercent = configuration?.maximumPercent ?? service.maximumPercent;
    const primary = service.deployments.find((d) => d.status === 'PRIMARY');
    if (!primary || primary.taskDefinition !== raw.taskDefinition || input.forceNewDeployment === true) {
      for (const d of service.deployments) if (d.status === 'PRIMARY') d.status = 'ACTIVE';
      service.deployments.unshift(this.newDeployment(String(raw.taskDefinition)));
    }
    return service;
  }

  private async ecs(action: string, input: object): Promise<Record<string, unknown>> {
    const answer = await this.upstream(internalRequest('ecs', action, JSON.stringify(input), `${TARGET}.${action}`));
    return JSON.parse(answer.body.toString() || '{}') as Record<string, unknown>;
  }

  private newDeployment(taskDefinition: string): SimDeployment {
    return {
      id: `ecs-svc/${Math.floor(Math.random() * 1e15)}`,
      status: 'PRIMARY',
      taskDefinition,
      rolloutState: 'IN_PROGRESS',
      rolloutStateReason: 'ECS deployment in progress.',
      createdAt: Date.now() / 1000,
      updatedAt: Date.now() / 1000,
      ticks: 0,
      failReason: this.pendingFailures.shift(),
    };
  }

  /** ACTIVE container instances of the cluster that satisfy the task's memberOf constraints, and the task's static host port (0: dynamic). */
  private async placement(cluster: string, taskDefinition: string): Promise<{ instances: number; hostPort: number }> {
    const described = await this.ecs('DescribeTaskDefinition', { taskDefinition });
    const definition = described.taskDefinition as
      | { placementConstraints?: Array<{ type?: string; expression?: string }>; containerDefinitions?: Array<{ portMappings?: Array<{ hostPort?: number }> }> }
      | undefined;
    const hostPort = (definition?.containerDefinitions ?? []).flatMap((c) => c.portMappings ?? []).find((p) => (p.hostPort ?? 0) > 0)?.hostPort ?? 0;
    const required = (definition?.placementConstraints ?? [])
      .filter((c) => c.type === 'memberOf')
      .map((c) => /^attribute:([\w.:-]+)\s*==\s*([\w.:-]+)$/.exec(c.expression ?? ''))
      .filter((m): m is RegExpExecArray => m !== null);
    const listed = await this.ecs('ListContainerInstances', { cluster });
    const arns = (listed.containerInstanceArns as string[] | undefined) ?? [];
    if (arns.length === 0) return { instances: 0, hostPort };
    const instances = await this.ecs('DescribeContainerInstances', { cluster, containerInstances: arns });
    const list = (instances.containerInstances as Array<{ status?: string; attributes?: Array<{ name: string; value?: string }> }> | undefined) ?? [];
    const fit = list.filter(
      (i) => (i.status ?? 'ACTIVE') === 'ACTIVE' && required.every((m) => (i.attributes ?? []).some((a) => a.name === m[1] && a.value === m[2])),
    );
    return { instances: fit.length, hostPort };
  }

  /** The largest MaxSize of the Auto Scaling groups behind the cluster's capacity providers with managed scaling. */
  private async managedCapacity(cluster: string): Promise<number> {
    const clusters = (await this.ecs('DescribeClusters', { clusters: [cluster] })).clusters as Array<{ capacityProviders?: string[] }> | undefined;
    const names = clusters?.[0]?.capacityProviders ?? [];
    if (names.length === 0) return 0;
    const providers = ((await this.ecs('DescribeCapacityProviders', { capacityProviders: names })).capacityProviders ?? []) as Array<{
      autoScalingGroupProvider?: { autoScalingGroupArn?: string; managedScaling?: { status?: string } };
    }>;
    let most = 0;
    for (const provider of providers) {
      const group = provider.autoScalingGroupProvider;
      const name = group?.autoScalingGroupArn?.split('autoScalingGroupName/')[1];
      if (!name || group?.managedScaling?.status !== 'ENABLED') continue;
      const params = new URLSearchParams({ Action: 'DescribeAutoScalingGroups', Version: '2011-01-01', 'AutoScalingGroupNames.member.1': name });
      const answer = await this.upstream(internalRequest('autoscaling', 'DescribeAutoScalingGroups', params.toString()));
      most = Math.max(most, Number(/<MaxSize>(\d+)<\/MaxSize>/.exec(answer.body.toString())?.[1] ?? 0));
    }
    return most;
  }

  /**
   * Why a deployment with a static host port cannot move on `instances` instances, or undefined when it
   * can: ECS starts a new task only on an instance whose port is free and below maximumPercent, and
   * stops an old one only above minimumHealthyPercent.
   */
  private staticPortStall(service: SimService, instances: number, hostPort: number): string | undefined {
    const desired = service.desired;
    const replacing = service.deployments.some((d) => d.status === 'ACTIVE' && d.rolloutState === 'COMPLETED');
    const most = Math.floor((desired * service.maximumPercent) / 100);
    const least = Math.ceil((desired * service.minimumHealthyPercent) / 100);
    const running = replacing ? desired : 0;
    const canStart = instances > running && most > running;
    const canStop = replacing && running - 1 >= least;
    if (instances >= desired && (canStart || canStop || desired === 0)) return undefined;
    return `ECS deployment in progress: no container instance has host port ${hostPort} free for a new task (${instances} instance(s), ${running} task(s) running, desired ${desired}, minimumHealthyPercent ${service.minimumHealthyPercent}, maximumPercent ${service.maximumPercent}).`;
  }

  /** One poll's worth of progress: each DescribeServices moves the primary deployment on. */
  private async tick(service: SimService): Promise<void> {
    const primary = service.deployments.find((d) => d.status === 'PRIMARY');
    if (!primary || primary.rolloutState !== 'IN_PROGRESS') {
      // After a rollback finished, ECS drops the failed deployment from the list.
      service.deployments = service.deployments.filter((d) => d.status === 'PRIMARY');
      return;
    }
    const { instances: registered, hostPort } = await this.placement(service.cluster, primary.taskDefinition);
    // Managed scaling of the cluster's capacity provider grows its group up to MaxSize for pending tasks.
    const instances = registered === 0 ? 0 : Math.max(registered, await this.managedCapacity(service.cluster));
    if (instances === 0) {
      primary.rolloutStateReason = 'ECS deployment in progress: no container instance meets the placement constraints.';
      return;
    }
    const stall = hostPort > 0 ? this.staticPortStall(service, instances, hostPort) : undefined;
    if (stall) {
      primary.rolloutStateReason = stall;
      return;
    }
    primary.ticks += 1;
    primary.updatedAt = Date.now() / 1000;
    if (primary.failReason && primary.ticks >= this.steps) {
      await this.tripCircuitBreaker(service, primary, primary.failReason);
      return;
    }
    if (primary.ticks >= this.steps) {
      primary.rolloutState = 'COMPLETED';
      primary.rolloutStateReason = `ECS deployment ${primary.id} completed.`;
      service.deployments = service.deployments.filter((d) => d === primary || d.rolloutState === 'FAILED');
      service.events.unshift({ id: randomUUID(), createdAt: Date.now() / 1000, message: '(service) has reached a steady state.' });
    }
  }

  /** Fails the deployment and rolls back to the last completed one, as the circuit breaker does. */
  private async tripCircuitBreaker(service: SimService, primary: SimDeployment, failReason: string): Promise<void> {
    primary.rolloutState = 'FAILED';
    primary.rolloutStateReason = `ECS deployment circuit breaker: ${failReason}`;
    primary.status = 'ACTIVE';
    const previous = service.deployments.find((d) => d !== primary && d.rolloutState === 'COMPLETED');
    service.events.unshift({ id: randomUUID(), createdAt: Date.now() / 1000, message: `(service) deployment ${primary.id} deployment failed: ${failReason}` });
    if (previous) {
      const rollback = { ...this.newDeployment(previous.taskDefinition), failReason: undefined };
      service.deployments = [rollback, primary, ...service.deployments.filter((d) => d !== primary && d !== previous)];
      service.events.unshift({ id: randomUUID(), createdAt: Date.now() / 1000, message: `(service) rolling back to deployment ${previous.id}.` });
      await this.ecs('UpdateService', { cluster: service.cluster, service: service.arn, taskDefinition: previous.taskDefinition });
    }
  }
}
