// Bootstrap: create whatever is missing, in dependency order, and leave what exists alone. A re-run
// changes nothing and says so. Later changes to these resources are made by roll and deploy.
import { CreateAutoScalingGroupCommand, type AutoScalingGroup } from '@aws-sdk/client-auto-scaling';
import { CreateLaunchTemplateCommand, type LaunchTemplate } from '@aws-sdk/client-ec2';
import { CreateCapacityProviderCommand, CreateClusterCommand, CreateServiceCommand, PutClusterCapacityProvidersCommand, type Cluster } from '@aws-sdk/client-ecs';
import { describeAutoScalingGroup } from '../aws/auto-scaling.js';
import { findLaunchHook, LAUNCH_HOOK, launchHookIsCurrent, putLaunchHook } from '../aws/lifecycle-hook.js';
import { createRepository, findRepository, putLifecyclePolicy } from '../aws/ecr.js';
import { describeCapacityProvider, describeService, findCluster, latestRevision, registerTaskDefinition, serviceDefinition } from '../aws/ecs.js';
import { findLaunchTemplate, launchTemplateData } from '../aws/launch-template.js';
import { MANAGED_TAG } from '../aws/tags.js';
import type { CommandContext } from '../context.js';
import { StepFailure } from '../errors.js';
import { isImageByDigest } from '../values.js';
import { checkBeforeBootstrap } from './bootstrap-checks.js';
import { ensureMirrorEvents } from './mirror-events.js';
import { loadTaskDefinition } from './task-definition.js';
import { loadUserData, toBase64 } from './user-data.js';

export type ResourceKind = 'ECR repository' | 'ECS cluster' | 'launch template' | 'Auto Scaling group' | 'lifecycle hook' | 'capacity provider' | 'cluster capacity providers' | 'ECS service' | 'SNS topic' | 'bucket notification';

export interface BootstrapResult {
  created: Array<{ kind: ResourceKind; name: string; detail?: string }>;
  unchanged: Array<{ kind: ResourceKind; name: string; detail?: string }>;
  skipped: Array<{ kind: ResourceKind; name: string; detail: string }>;
}

/** ECS spells tags key/value; ECR, EC2 and Auto Scaling spell them Key/Value. */
const TAGS = [{ key: MANAGED_TAG, value: 'true' }];
const TAGS_KEY_VALUE = TAGS.map((t) => ({ Key: t.key, Value: t.value }));

/** Tag the capacity provider's Auto Scaling group carries (ECS adds it too; setting it up front avoids drift). */
const ECS_MANAGED_TAG = 'AmazonECSManaged';

/** One bootstrap run: what it found and made so far, and each phase's failure said in those terms. */
class Bootstrap {
  readonly result: BootstrapResult = { created: [], unchanged: [], skipped: [] };
  constructor(readonly ctx: CommandContext) {}

  record(list: 'created' | 'unchanged', kind: ResourceKind, name: string, detail?: string): void {
    this.result[list].push({ kind, name, ...(detail ? { detail } : {}) });
    const verb = list === 'unchanged' ? 'exists' : this.ctx.settings.dryRun ? 'would create' : 'created';
    this.ctx.reporter.info(`${verb}: ${kind} ${name}${detail ? ` (${detail})` : ''}`);
  }

  skip(kind: ResourceKind, name: string, detail: string): void {
    this.result.skipped.push({ kind, name, detail });
  }

  made(): string {
    const created = this.result.created;
    return created.length > 0 ? `created so far: ${created.map((c) => `${c.kind} ${c.name}`).join(', ')}` : 'nothing created';
  }

  async step<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      if (error instanceof StepFailure) throw error;
      throw new StepFailure(`Bootstrap failed while ${what}: ${(error as Error).name}: ${(error as Error).message}`, { state: this.made(), cause: error });
    }
  }
}

export async function bootstrap(given: CommandContext): Promise<BootstrapResult> {
  const { amiId, mountDriver } = await checkBeforeBootstrap(given);
  // Everything after the checks (change events, user data) follows the driver baked into the AMI.
  const settings = { ...given.settings, mountDriver };
  const ctx: CommandContext = { settings, reporter: given.reporter, clients: given.clients, root: given.root, env: given.env };
  const { reporter } = ctx;
  const run = new Bootstrap(ctx);
  await ecrRepository(run);
  if (settings.mountDriver === 'mirror' && settings.bucket) await mirrorEvents(run, settings.bucket);
  const cluster = await ecsCluster(run);
  const template = await launchTemplate(run, amiId);
  const group = await autoScalingGroup(run, template);
  await launchHook(run, group);
  await capacityProvider(run, group);
  await clusterCapacityProviders(run, cluster);
  await ecsService(run, cluster);
  const { result } = run;
  if (result.created.length === 0) reporter.info('Bootstrap changed nothing: every resource already exists');
  else if (settings.dryRun) reporter.info(`Dry run: ${result.created.length} resource(s) would be created`);
  return result;
}

/** 1. The ECR repository, with the lifecycle policy of keep-images (the image step keeps it current). */
async function ecrRepository(run: Bootstrap): Promise<void> {
  const { settings, clients } = run.ctx;
  const name = settings.ecrRepository;
  await run.step(`checking ECR repository ${name}`, async () => {
    if (settings.registry) return run.skip('ECR repository', name, `images go to ${settings.registry}`);
    const found = await findRepository(clients.ecr, name);
    if (found) return run.record('unchanged', 'ECR repository', name, found.repositoryUri);
    if (!settings.dryRun) {
      await createRepository(clients.ecr, name, TAGS_KEY_VALUE);
      await putLifecyclePolicy(clients.ecr, name, settings.keepImages);
    }
    run.record('created', 'ECR repository', name, `keeps ${settings.keepImages} images`);
  });
}

/** 1b. The mirror driver's change events: the bucket's topic and the bucket notification that feeds it. */
async function mirrorEvents(run: Bootstrap, bucket: string): Promise<void> {
  const { settings } = run.ctx;
  await run.step(`setting up change events of bucket ${bucket}`, async () => {
    const events = await ensureMirrorEvents(run.ctx);
    run.record(events.topic.created ? 'created' : 'unchanged', 'SNS topic', events.topic.name, 'S3 may publish to it');
    const under = settings.bucketPrefix ? `${settings.bucketPrefix}` : 'the whole bucket';
    run.record(events.notification.changed ? 'created' : 'unchanged', 'bucket notification', bucket, `created/removed under ${under} to ${events.topic.name}`);
  });
}

/** 2. The ECS cluster, with Container Insights. */
async function ecsCluster(run: Bootstrap): Promise<Cluster | undefined> {
  const { settings, clients } = run.ctx;
  const found = await run.step(`checking ECS cluster ${settings.cluster}`, () => findCluster(run.ctx));
  if (found) {
    run.record('unchanged', 'ECS cluster', settings.cluster);
    return found;
  }
  return run.step(`creating ECS cluster ${settings.cluster}`, async () => {
    let cluster: Cluster | undefined;
    if (!settings.dryRun) {
      const containerInsights = [{ name: 'containerInsights' as const, value: 'enabled' }];
      cluster = (await clients.ecs.send(new CreateClusterCommand({ clusterName: settings.cluster, settings: containerInsights, tags: TAGS }))).cluster;
    }
    run.record('created', 'ECS cluster', settings.cluster);
    return cluster;
  });
}

/** 3. The launch template: IMDSv2 only, instance profile, security groups, rendered user data. */
async function launchTemplate(run: Bootstrap, checkedAmiId: string | undefined): Promise<LaunchTemplate | undefined> {
  const { ctx } = run;
  const { settings } = ctx;
  const name = settings.launchTemplate;
  const found = await run.step(`checking launch template ${name}`, () => findLaunchTemplate(ctx.clients.ec2, name));
  if (found) {
    run.record('unchanged', 'launch template', name, `default version ${found.DefaultVersionNumber ?? '?'}`);
    return found;
  }
  return run.step(`creating launch template ${name}`, async () => {
    // Found by the checks when the template was missing; a template made since is not replaced.
    const amiId = checkedAmiId ?? settings.amiId;
    if (!amiId) throw new StepFailure(`Launch template ${name} appeared while bootstrap ran; run bootstrap again`, { state: run.made() });
    const userData = toBase64(await loadUserData(ctx.root, settings));
    let template: LaunchTemplate | undefined;
    if (!settings.dryRun) {
      const created = await ctx.clients.ec2.send(
        new CreateLaunchTemplateCommand({
          LaunchTemplateName: name,
          VersionDescription: `mapserver-ecs bootstrap with ${amiId}`,
          LaunchTemplateData: launchTemplateData(settings, amiId, userData),
          TagSpecifications: [{ ResourceType: 'launch-template', Tags: TAGS_KEY_VALUE }],
        }),
      );
      template = created.LaunchTemplate;
    }
    run.record('created', 'launch template', name, `${amiId}, IMDSv2 required`);
    return template;
  });
}

/** 4. The Auto Scaling group, pinned to a numbered launch template version (instance refreshes can roll back). */
async function autoScalingGroup(run: Bootstrap, template: LaunchTemplate | undefined): Promise<AutoScalingGroup | undefined> {
  const { ctx } = run;
  const { settings } = ctx;
  const name = settings.autoScalingGroup;
  const found = await run.step(`checking Auto Scaling group ${name}`, () => describeAutoScalingGroup(ctx));
  if (found) {
    run.record('unchanged', 'Auto Scaling group', name);
    return found;
  }
  return run.step(`creating Auto Scaling group ${name}`, async () => {
    const version = String(template?.DefaultVersionNumber ?? 1);
    let group: AutoScalingGroup | undefined;
    if (!settings.dryRun) {
      if (!template?.LaunchTemplateId) throw new StepFailure(`Launch template ${settings.launchTemplate} has no id`, { state: run.made() });
      await ctx.clients.autoScaling.send(
        new CreateAutoScalingGroupCommand({
          AutoScalingGroupName: name,
          LaunchTemplate: { LaunchTemplateId: template.LaunchTemplateId, Version: version },
          MinSize: settings.minSize,
          MaxSize: settings.maxSize,
          DesiredCapacity: settings.minSize,
          VPCZoneIdentifier: settings.subnets.join(','),
          // Managed termination protection needs it: ECS decides which instances may go.
          NewInstancesProtectedFromScaleIn: true,
          HealthCheckType: 'EC2',
          HealthCheckGracePeriod: 300,
          Tags: [
            { Key: ECS_MANAGED_TAG, Value: '', PropagateAtLaunch: true },
            { Key: MANAGED_TAG, Value: 'true', PropagateAtLaunch: true },
          ],
        }),
      );
      group = await describeAutoScalingGroup(ctx);
    }
    run.record('created', 'Auto Scaling group', name, `launch template version ${version}, subnets ${settings.subnets.join(', ')}`);
    return group;
  });
}

/** 4b. The group's launch lifecycle hook: an instance takes traffic only once it says it serves the bucket. */
async function launchHook(run: Bootstrap, group: AutoScalingGroup | undefined): Promise<void> {
  const { ctx } = run;
  const name = `${ctx.settings.autoScalingGroup}/${LAUNCH_HOOK.LifecycleHookName}`;
  const found = group ? await run.step(`checking lifecycle hook ${name}`, () => findLaunchHook(ctx)) : undefined;
  if (launchHookIsCurrent(found)) return run.record('unchanged', 'lifecycle hook', name);
  await run.step(`putting lifecycle hook ${name}`, async () => {
    if (!ctx.settings.dryRun) await putLaunchHook(ctx);
  });
  const detail = `launching, ${LAUNCH_HOOK.HeartbeatTimeout}s heartbeat, default ${LAUNCH_HOOK.DefaultResult}${found ? ', replacing other settings' : ''}`;
  run.record('created', 'lifecycle hook', name, detail);
}

/** 5. The capacity provider, with managed scaling, termination protection and draining. */
async function capacityProvider(run: Bootstrap, group: AutoScalingGroup | undefined): Promise<void> {
  const { ctx } = run;
  const { settings } = ctx;
  const name = settings.capacityProvider;
  const found = await run.step(`checking capacity provider ${name}`, () => describeCapacityProvider(ctx));
  if (found && found.status !== 'INACTIVE') return run.record('unchanged', 'capacity provider', name);
  await run.step(`creating capacity provider ${name}`, async () => {
    if (!settings.dryRun) {
      if (!group?.AutoScalingGroupARN) throw new StepFailure(`Auto Scaling group ${settings.autoScalingGroup} has no ARN`, { state: run.made() });
      await ctx.clients.ecs.send(
        new CreateCapacityProviderCommand({
          name,
          autoScalingGroupProvider: {
            autoScalingGroupArn: group.AutoScalingGroupARN,
            managedScaling: { status: 'ENABLED', targetCapacity: 100, minimumScalingStepSize: 1, maximumScalingStepSize: 2, instanceWarmupPeriod: settings.instanceWarmup },
            managedTerminationProtection: 'ENABLED',
            managedDraining: 'ENABLED',
          },
          tags: TAGS,
        }),
      );
    }
    run.record('created', 'capacity provider', name, 'managed scaling, termination protection and draining');
  });
}

/** 6. The capacity provider attached to the cluster as its default strategy (other providers kept). */
async function clusterCapacityProviders(run: Bootstrap, cluster: Cluster | undefined): Promise<void> {
  const { ctx } = run;
  const { settings } = ctx;
  const provider = settings.capacityProvider;
  const attached = cluster?.capacityProviders ?? [];
  const isDefault = (cluster?.defaultCapacityProviderStrategy ?? []).some((s) => s.capacityProvider === provider);
  if (attached.includes(provider) && isDefault) return run.record('unchanged', 'cluster capacity providers', settings.cluster, attached.join(', '));
  await run.step(`attaching capacity provider ${provider} to ${settings.cluster}`, async () => {
    if (!settings.dryRun) {
      await ctx.clients.ecs.send(
        new PutClusterCapacityProvidersCommand({
          cluster: settings.cluster,
          capacityProviders: [...new Set([...attached, provider])],
          defaultCapacityProviderStrategy: [{ capacityProvider: provider, weight: 1, base: 0 }],
        }),
      );
    }
    run.record('created', 'cluster capacity providers', settings.cluster, `${provider} as the default strategy`);
  });
}

/** 7. The service: needs a task definition, from the image input or the latest registered revision. */
async function ecsService(run: Bootstrap, cluster: Cluster | undefined): Promise<void> {
  const { ctx } = run;
  const { settings } = ctx;
  const service = await run.step(`checking ECS service ${settings.service}`, () => (cluster ? describeService(ctx) : Promise.resolve(undefined)));
  if (service) return run.record('unchanged', 'ECS service', settings.service, service.taskDefinition);
  await run.step(`creating ECS service ${settings.service}`, async () => {
    const latest = await latestRevision(ctx, settings.service);
    const existing = latest?.taskDefinition?.status === 'ACTIVE' ? latest.taskDefinition.taskDefinitionArn : undefined;
    if (!existing && !settings.image) {
      run.skip('ECS service', settings.service, 'no task definition yet: deploy creates the service');
      ctx.reporter.info(`skipped: ECS service ${settings.service} (no task definition yet; the deploy command creates it)`);
      return;
    }
    if (settings.image && !isImageByDigest(settings.image)) {
      throw new StepFailure(`image must be given by digest (repository@sha256:...) to create the service, got ${settings.image}`, { state: run.made() });
    }
    let taskDefinition = existing ?? 'a new task definition';
    if (!settings.dryRun) {
      taskDefinition = existing ?? (await registerTaskDefinition(ctx, await loadTaskDefinition(ctx.root, settings, settings.image ?? '')));
      await ctx.clients.ecs.send(new CreateServiceCommand(serviceDefinition(ctx, taskDefinition)));
    }
    run.record('created', 'ECS service', settings.service, taskDefinition);
  });
}
