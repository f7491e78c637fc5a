// Bootstrap: create whatever is missing, in dependency order, and leave what exists alone. A re-run
// changes nothing and says so. Later changes to these resources are made by roll and deploy.
import { CreateAutoScalingGroupCommand } from '@aws-sdk/client-auto-scaling';
import { CreateLaunchTemplateCommand } from '@aws-sdk/client-ec2';
import { CreateRepositoryCommand, DescribeRepositoriesCommand, PutLifecyclePolicyCommand } from '@aws-sdk/client-ecr';
import {
  CreateCapacityProviderCommand,
  CreateClusterCommand,
  CreateServiceCommand,
  DescribeCapacityProvidersCommand,
  DescribeClustersCommand,
  DescribeTaskDefinitionCommand,
  PutClusterCapacityProvidersCommand,
  type Cluster,
} from '@aws-sdk/client-ecs';
import { isAwsError } from '../aws/errors.js';
import { findLaunchTemplate, launchTemplateData } from '../aws/launch-template.js';
import type { CommandContext } from '../context.js';
import { StepFailure } from '../errors.js';
import { resolveBaseAmi } from './base-ami.js';
import { describeService, registerTaskDefinition, serviceDefinition } from './deploy.js';
import { lifecyclePolicy } from './image.js';
import { describeAutoScalingGroup } from './roll.js';
import { ensureMirrorEvents } from './mirror-events.js';
import { loadUserData, toBase64 } from './user-data.js';

export type ResourceKind = 'ECR repository' | 'ECS cluster' | 'launch template' | 'Auto Scaling group' | 'capacity provider' | 'cluster capacity providers' | 'ECS service' | 'SNS topic' | 'bucket notification';

export interface BootstrapResult {
  created: Array<{ kind: ResourceKind; name: string; detail?: string }>;
  unchanged: Array<{ kind: ResourceKind; name: string; detail?: string }>;
  skipped: Array<{ kind: ResourceKind; name: string; detail: string }>;
}

const TAGS = [{ key: 'mapserver-ecs:managed', value: 'true' }];

/** Tag the capacity provider's Auto Scaling group carries (ECS adds it too; setting it up front avoids drift). */
const ECS_MANAGED_TAG = 'AmazonECSManaged';

export async function bootstrap(ctx: CommandContext): Promise<BootstrapResult> {
  const { settings, reporter } = ctx;
  const result: BootstrapResult = { created: [], unchanged: [], skipped: [] };
  const plan = settings.dryRun ? 'would create' : 'created';
  const record = (list: 'created' | 'unchanged', kind: ResourceKind, name: string, detail?: string): void => {
    result[list].push({ kind, name, ...(detail ? { detail } : {}) });
    reporter.info(`${list === 'created' ? plan : 'exists'}: ${kind} ${name}${detail ? ` (${detail})` : ''}`);
  };
  const made = (): string => (result.created.length > 0 ? `created so far: ${result.created.map((c) => `${c.kind} ${c.name}`).join(', ')}` : 'nothing created');
  const step = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (error) {
      if (error instanceof StepFailure) throw error;
      throw new StepFailure(`Bootstrap failed while ${what}: ${(error as Error).name}: ${(error as Error).message}`, { state: made(), cause: error });
    }
  };

  // 1. ECR repository, with the image step's lifecycle policy (keep-images); the image step keeps it current.
  await step(`checking ECR repository ${settings.ecrRepository}`, async () => {
    if (settings.registry) {
      result.skipped.push({ kind: 'ECR repository', name: settings.ecrRepository, detail: `images go to ${settings.registry}` });
      return;
    }
    try {
      const found = await ctx.clients.ecr.send(new DescribeRepositoriesCommand({ repositoryNames: [settings.ecrRepository] }));
      record('unchanged', 'ECR repository', settings.ecrRepository, found.repositories?.[0]?.repositoryUri);
      return;
    } catch (error) {
      if (!isAwsError(error, 'RepositoryNotFoundException')) throw error;
    }
    if (!settings.dryRun) {
      await ctx.clients.ecr.send(
        new CreateRepositoryCommand({
          repositoryName: settings.ecrRepository,
          imageScanningConfiguration: { scanOnPush: true },
          imageTagMutability: 'MUTABLE',
          encryptionConfiguration: { encryptionType: 'AES256' },
          tags: TAGS.map((t) => ({ Key: t.key, Value: t.value })),
        }),
      );
      await ctx.clients.ecr.send(new PutLifecyclePolicyCommand({ repositoryName: settings.ecrRepository, lifecyclePolicyText: lifecyclePolicy(settings.keepImages) }));
    }
    record('created', 'ECR repository', settings.ecrRepository, `keeps ${settings.keepImages} images`);
  });

  // 1b. The mirror driver's change events: the bucket's topic and the bucket notification that feeds it.
  if (settings.mountDriver === 'mirror' && settings.bucket) {
    await step(`setting up change events of bucket ${settings.bucket}`, async () => {
      const events = await ensureMirrorEvents(ctx);
      record(events.topic.created ? 'created' : 'unchanged', 'SNS topic', events.topic.name, 'S3 may publish to it');
      record(
        events.notification.changed ? 'created' : 'unchanged',
        'bucket notification',
        settings.bucket as string,
        `created/removed under ${settings.bucketPrefix ? `${settings.bucketPrefix}` : 'the whole bucket'} to ${events.topic.name}`,
      );
    });
  }

  // 2. ECS cluster.
  let cluster = await step(`checking ECS cluster ${settings.cluster}`, () => findCluster(ctx));
  if (cluster) record('unchanged', 'ECS cluster', settings.cluster);
  else {
    await step(`creating ECS cluster ${settings.cluster}`, async () => {
      if (!settings.dryRun) {
        const created = await ctx.clients.ecs.send(
          new CreateClusterCommand({ clusterName: settings.cluster, settings: [{ name: 'containerInsights', value: 'enabled' }], tags: TAGS }),
        );
        cluster = created.cluster;
      }
      record('created', 'ECS cluster', settings.cluster);
    });
  }

  // 3. Launch template: IMDSv2 only, instance profile, security groups, rendered user data.
  let template = await step(`checking launch template ${settings.launchTemplate}`, () => findLaunchTemplate(ctx.clients.ec2, settings.launchTemplate));
  if (template) record('unchanged', 'launch template', settings.launchTemplate, `default version ${template.DefaultVersionNumber ?? '?'}`);
  else {
    await step(`creating launch template ${settings.launchTemplate}`, async () => {
      const amiId = settings.amiId ?? (await resolveBaseAmi(ctx));
      const userData = toBase64(await loadUserData(ctx.root, settings));
      if (!settings.dryRun) {
        const created = await ctx.clients.ec2.send(
          new CreateLaunchTemplateCommand({
            LaunchTemplateName: settings.launchTemplate,
            VersionDescription: `mapserver-ecs bootstrap with ${amiId}`,
            LaunchTemplateData: launchTemplateData(settings, amiId, userData),
            TagSpecifications: [{ ResourceType: 'launch-template', Tags: TAGS.map((t) => ({ Key: t.key, Value: t.value })) }],
          }),
        );
        template = created.LaunchTemplate;
      }
      record('created', 'launch template', settings.launchTemplate, `${amiId}, IMDSv2 required`);
    });
  }

  // 4. Auto Scaling group, pinned to a numbered launch template version (instance refreshes can roll back).
  let group = await step(`checking Auto Scaling group ${settings.autoScalingGroup}`, () => describeAutoScalingGroup(ctx));
  if (group) record('unchanged', 'Auto Scaling group', settings.autoScalingGroup);
  else {
    await step(`creating Auto Scaling group ${settings.autoScalingGroup}`, async () => {
      const version = String(template?.DefaultVersionNumber ?? 1);
      if (!settings.dryRun) {
        if (!template?.LaunchTemplateId) throw new StepFailure(`Launch template ${settings.launchTemplate} has no id`, { state: made() });
        await ctx.clients.autoScaling.send(
          new CreateAutoScalingGroupCommand({
            AutoScalingGroupName: settings.autoScalingGroup,
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
              { Key: 'mapserver-ecs:managed', Value: 'true', PropagateAtLaunch: true },
            ],
          }),
        );
        group = await describeAutoScalingGroup(ctx);
      }
      record('created', 'Auto Scaling group', settings.autoScalingGroup, `launch template version ${version}, subnets ${settings.subnets.join(', ')}`);
    });
  }

  // 5. Capacity provider with managed scaling, termination protection and draining.
  const provider = await step(`checking capacity provider ${settings.capacityProvider}`, async () => {
    const found = await ctx.clients.ecs.send(new DescribeCapacityProvidersCommand({ capacityProviders: [settings.capacityProvider] }));
    return found.capacityProviders?.find((p) => p.name === settings.capacityProvider && p.status !== 'INACTIVE');
  });
  if (provider) record('unchanged', 'capacity provider', settings.capacityProvider);
  else {
    await step(`creating capacity provider ${settings.capacityProvider}`, async () => {
      if (!settings.dryRun) {
        if (!group?.AutoScalingGroupARN) throw new StepFailure(`Auto Scaling group ${settings.autoScalingGroup} has no ARN`, { state: made() });
        await ctx.clients.ecs.send(
          new CreateCapacityProviderCommand({
            name: settings.capacityProvider,
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
      record('created', 'capacity provider', settings.capacityProvider, 'managed scaling, termination protection and draining');
    });
  }

  // 6. The capacity provider attached to the cluster as its default strategy (other providers kept).
  const attached = cluster?.capacityProviders ?? [];
  const isDefault = (cluster?.defaultCapacityProviderStrategy ?? []).some((s) => s.capacityProvider === settings.capacityProvider);
  if (attached.includes(settings.capacityProvider) && isDefault) record('unchanged', 'cluster capacity providers', settings.cluster, attached.join(', '));
  else {
    await step(`attaching capacity provider ${settings.capacityProvider} to ${settings.cluster}`, async () => {
      if (!settings.dryRun) {
        await ctx.clients.ecs.send(
          new PutClusterCapacityProvidersCommand({
            cluster: settings.cluster,
            capacityProviders: [...new Set([...attached, settings.capacityProvider])],
            defaultCapacityProviderStrategy: [{ capacityProvider: settings.capacityProvider, weight: 1, base: 0 }],
          }),
        );
      }
      record('created', 'cluster capacity providers', settings.cluster, `${settings.capacityProvider} as the default strategy`);
    });
  }

  // 7. The service: needs a task definition, from the image input or the latest registered revision.
  const service = await step(`checking ECS service ${settings.service}`, () => (cluster ? describeService(ctx) : Promise.resolve(undefined)));
  if (service) record('unchanged', 'ECS service', settings.service, service.taskDefinition);
  else {
    await step(`creating ECS service ${settings.service}`, async () => {
      const existing = await latestTaskDefinition(ctx);
      if (!existing && !settings.image) {
        result.skipped.push({ kind: 'ECS service', name: settings.service, detail: 'no task definition yet: deploy creates the service' });
        reporter.info(`skipped: ECS service ${settings.service} (no task definition yet; the deploy command creates it)`);
        return;
      }
      if (settings.image && !settings.image.includes('@sha256:')) {
        throw new StepFailure(`image must be given by digest (repository@sha256:...) to create the service, got ${settings.image}`, { state: made() });
      }
      let taskDefinition = existing ?? 'a new task definition';
      if (!settings.dryRun) {
        taskDefinition = existing ?? (await registerTaskDefinition(ctx, settings.image ?? ''));
        await ctx.clients.ecs.send(new CreateServiceCommand(serviceDefinition(ctx, taskDefinition)));
      }
      record('created', 'ECS service', settings.service, taskDefinition);
    });
  }

  if (result.created.length === 0) reporter.info('Bootstrap changed nothing: every resource already exists');
  else if (settings.dryRun) reporter.info(`Dry run: ${result.created.length} resource(s) would be created`);
  return result;
}

async function findCluster(ctx: CommandContext): Promise<Cluster | undefined> {
  const found = await ctx.clients.ecs.send(new DescribeClustersCommand({ clusters: [ctx.settings.cluster] }));
  return found.clusters?.find((c) => c.clusterName === ctx.settings.cluster && c.status !== 'INACTIVE');
}

async function latestTaskDefinition(ctx: CommandContext): Promise<string | undefined> {
  try {
    const found = await ctx.clients.ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: ctx.settings.service }));
    return found.taskDefinition?.status === 'ACTIVE' ? found.taskDefinition.taskDefinitionArn : undefined;
  } catch (error) {
    if (isAwsError(error, 'ClientException', 'InvalidParameterException')) return undefined;
    throw error;
  }
}
