import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { AutoScalingClient, CreateAutoScalingGroupCommand, DescribeAutoScalingGroupsCommand, DescribeLifecycleHooksCommand, PutLifecycleHookCommand } from '@aws-sdk/client-auto-scaling';
import { CreateLaunchTemplateCommand, DescribeImagesCommand, DescribeLaunchTemplatesCommand, DescribeSecurityGroupsCommand, DescribeSubnetsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { CreateRepositoryCommand, DescribeRepositoriesCommand, ECRClient, PutLifecyclePolicyCommand } from '@aws-sdk/client-ecr';
import {
  CreateCapacityProviderCommand,
  CreateClusterCommand,
  CreateServiceCommand,
  DescribeCapacityProvidersCommand,
  DescribeClustersCommand,
  DescribeServicesCommand,
  DescribeTaskDefinitionCommand,
  ECSClient,
  PutClusterCapacityProvidersCommand,
  RegisterTaskDefinitionCommand,
} from '@aws-sdk/client-ecs';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { GetBucketNotificationConfigurationCommand, HeadBucketCommand, PutBucketNotificationConfigurationCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateTopicCommand, ListTopicsCommand, SetTopicAttributesCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { bootstrapCommand } from '../../src/commands/bootstrap.js';
import { StepFailure } from '../../src/errors.js';
import { bootstrap } from '../../src/steps/bootstrap.js';
import { DIGEST_IMAGE, testContext } from '../../../scripts/support/command-context.js';

const ec2 = mockClient(EC2Client);
const ecs = mockClient(ECSClient);
const ecr = mockClient(ECRClient);
const autoScaling = mockClient(AutoScalingClient);
const ssm = mockClient(SSMClient);
const s3 = mockClient(S3Client);
const sns = mockClient(SNSClient);
const all = [ec2, ecs, ecr, autoScaling, ssm, s3, sns];

const AMI = 'ami-0123456789abcdef0';
const LT = 'lt-0aaaabbbbccccdddd';
const GROUP_ARN = 'arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:uuid:autoScalingGroupName/mapserver-ecs';
const TD = 'arn:aws:ecs:us-east-1:123456789012:task-definition/mapserver:1';
const inputs = {
  command: 'bootstrap',
  // The mirror's topic and notification have their own tests (mirror-events.test.ts and below).
  'mount-driver': 's3fs',
  bucket: 'maps-bucket',
  subnets: 'subnet-0123456789abcdef0,subnet-0123456789abcdef1',
  'security-groups': 'sg-0123456789abcdef0',
  'instance-profile': 'mapserver-instance',
  'ami-id': AMI,
  image: DIGEST_IMAGE,
} as const;
const CURRENT_HOOK = {
  AutoScalingGroupName: 'mapserver-ecs',
  LifecycleHookName: 'mapserver-ecs-launch',
  LifecycleTransition: 'autoscaling:EC2_INSTANCE_LAUNCHING',
  HeartbeatTimeout: 2100,
  DefaultResult: 'ABANDON',
};
const notFound = (name: string) => Object.assign(new Error(`${name} not found`), { name });

function nothingExists(): void {
  ecr.on(DescribeRepositoriesCommand).rejects(notFound('RepositoryNotFoundException'));
  ecr.on(CreateRepositoryCommand).resolves({ repository: { repositoryUri: '123456789012.dkr.ecr.us-east-1.amazonaws.com/mapserver' } });
  ecr.on(PutLifecyclePolicyCommand).resolves({});
  ecs.on(DescribeClustersCommand).resolves({ clusters: [], failures: [{ arn: 'mapserver', reason: 'MISSING' }] });
  ecs.on(CreateClusterCommand).resolves({ cluster: { clusterName: 'mapserver', status: 'ACTIVE', capacityProviders: [] } });
  ec2.on(DescribeLaunchTemplatesCommand).rejects(notFound('InvalidLaunchTemplateName.NotFoundException'));
  ec2.on(DescribeImagesCommand).resolves({ Images: [{ ImageId: AMI, Architecture: 'x86_64' }] });
  s3.on(HeadBucketCommand).resolves({});
  ec2.on(CreateLaunchTemplateCommand).resolves({ LaunchTemplate: { LaunchTemplateId: LT, DefaultVersionNumber: 1, LatestVersionNumber: 1 } });
  // The group exists once it has been created.
  let groupMade = false;
  autoScaling.on(DescribeAutoScalingGroupsCommand).callsFake(() => ({ AutoScalingGroups: groupMade ? [{ AutoScalingGroupName: 'mapserver-ecs', AutoScalingGroupARN: GROUP_ARN }] : [] }));
  autoScaling.on(CreateAutoScalingGroupCommand).callsFake(() => {
    groupMade = true;
    return {};
  });
  ec2.on(DescribeSubnetsCommand).resolves({ Subnets: [{ SubnetId: 'subnet-0123456789abcdef0' }, { SubnetId: 'subnet-0123456789abcdef1' }] });
  ec2.on(DescribeSecurityGroupsCommand).resolves({ SecurityGroups: [{ GroupId: 'sg-0123456789abcdef0' }] });
  autoScaling.on(DescribeLifecycleHooksCommand).resolves({ LifecycleHooks: [] });
  autoScaling.on(PutLifecycleHookCommand).resolves({});
  ecs.on(DescribeCapacityProvidersCommand).resolves({ capacityProviders: [] });
  ecs.on(CreateCapacityProviderCommand).resolves({});
  ecs.on(PutClusterCapacityProvidersCommand).resolves({});
  ecs.on(DescribeServicesCommand).resolves({ services: [], failures: [{ reason: 'MISSING' }] });
  ecs.on(DescribeTaskDefinitionCommand).rejects(notFound('ClientException'));
  ecs.on(RegisterTaskDefinitionCommand).resolves({ taskDefinition: { taskDefinitionArn: TD } });
  ecs.on(CreateServiceCommand).resolves({});
}

function everythingExists(): void {
  ecr.on(DescribeRepositoriesCommand).resolves({ repositories: [{ repositoryName: 'mapserver', repositoryUri: 'uri' }] });
  ecs.on(DescribeClustersCommand).resolves({
    clusters: [{ clusterName: 'mapserver', status: 'ACTIVE', capacityProviders: ['mapserver-ecs'], defaultCapacityProviderStrategy: [{ capacityProvider: 'mapserver-ecs', weight: 1 }] }],
  });
  ec2.on(DescribeLaunchTemplatesCommand).resolves({ LaunchTemplates: [{ LaunchTemplateId: LT, DefaultVersionNumber: 4 }] });
  autoScaling.on(DescribeAutoScalingGroupsCommand).resolves({ AutoScalingGroups: [{ AutoScalingGroupName: 'mapserver-ecs', AutoScalingGroupARN: GROUP_ARN } as never] });
  autoScaling.on(DescribeLifecycleHooksCommand).resolves({ LifecycleHooks: [CURRENT_HOOK] });
  ecs.on(DescribeCapacityProvidersCommand).resolves({ capacityProviders: [{ name: 'mapserver-ecs', status: 'ACTIVE' }] });
  ecs.on(DescribeServicesCommand).resolves({ services: [{ serviceName: 'mapserver', status: 'ACTIVE', taskDefinition: TD }] });
}

const creations = () => [
  ...ecr.commandCalls(CreateRepositoryCommand),
  ...ecs.commandCalls(CreateClusterCommand),
  ...ec2.commandCalls(CreateLaunchTemplateCommand),
  ...autoScaling.commandCalls(CreateAutoScalingGroupCommand),
  ...autoScaling.commandCalls(PutLifecycleHookCommand),
  ...ecs.commandCalls(CreateCapacityProviderCommand),
  ...ecs.commandCalls(PutClusterCapacityProvidersCommand),
  ...ecs.commandCalls(RegisterTaskDefinitionCommand),
  ...ecs.commandCalls(CreateServiceCommand),
];

beforeEach(() => all.forEach((m) => m.reset()));
afterEach(() => all.forEach((m) => m.reset()));

describe('bootstrap', () => {
  it('with the mirror driver, makes the bucket topic and notification before the instances that need them', async () => {
    nothingExists();
    const topic = 'arn:aws:sns:us-east-1:123456789012:mapserver-ecs-mapfiles-maps-bucket';
    sns.on(ListTopicsCommand).resolves({ Topics: [] });
    sns.on(CreateTopicCommand).resolves({ TopicArn: topic });
    sns.on(SetTopicAttributesCommand).resolves({});
    s3.on(GetBucketNotificationConfigurationCommand).resolves({});
    s3.on(PutBucketNotificationConfigurationCommand).resolves({});
    const ctx = testContext({ ...inputs, 'mount-driver': 'mirror' });
    const result = await bootstrap(ctx);
    expect(result.created.map((c) => c.kind).slice(0, 4)).toEqual(['ECR repository', 'SNS topic', 'bucket notification', 'ECS cluster']);
    expect(ctx.log()).toContain('created: bucket notification maps-bucket (created/removed under the whole bucket to mapserver-ecs-mapfiles-maps-bucket)');
    const userData = Buffer.from(ec2.commandCalls(CreateLaunchTemplateCommand)[0]?.args[0].input.LaunchTemplateData?.UserData ?? '', 'base64').toString();
    expect(userData).toContain("MIRROR_TOPIC='mapserver-ecs-mapfiles-maps-bucket'");
  });

  it('creates everything that is missing, in order, with the settings the pipeline relies on', async () => {
    nothingExists();
    const ctx = testContext(inputs);
    const result = await bootstrap(ctx);
    expect(result.created.map((c) => c.kind)).toEqual([
      'ECR repository',
      'ECS cluster',
      'launch template',
      'Auto Scaling group',
      'lifecycle hook',
      'capacity provider',
      'cluster capacity providers',
      'ECS service',
    ]);
    const template = ec2.commandCalls(CreateLaunchTemplateCommand)[0]?.args[0].input;
    expect(template?.LaunchTemplateName).toBe('mapserver-ecs');
    expect(template?.LaunchTemplateData).toMatchObject({
      ImageId: AMI,
      InstanceType: 't3.small',
      IamInstanceProfile: { Name: 'mapserver-instance' },
      SecurityGroupIds: ['sg-0123456789abcdef0'],
      MetadataOptions: { HttpTokens: 'required', HttpEndpoint: 'enabled', HttpPutResponseHopLimit: 1 },
    });
    expect(Buffer.from(template?.LaunchTemplateData?.UserData ?? '', 'base64').toString()).toContain("printf 'ECS_CLUSTER=%s\\n' 'mapserver'");
    expect(autoScaling.commandCalls(CreateAutoScalingGroupCommand)[0]?.args[0].input).toMatchObject({
      AutoScalingGroupName: 'mapserver-ecs',
      LaunchTemplate: { LaunchTemplateId: LT, Version: '1' },
      MinSize: 1,
      MaxSize: 2,
      VPCZoneIdentifier: 'subnet-0123456789abcdef0,subnet-0123456789abcdef1',
      NewInstancesProtectedFromScaleIn: true,
    });
    // An instance that cannot serve the bucket abandons its launch, or is abandoned when it says nothing.
    expect(autoScaling.commandCalls(PutLifecycleHookCommand)[0]?.args[0].input).toEqual(CURRENT_HOOK);
    expect(ecs.commandCalls(CreateCapacityProviderCommand)[0]?.args[0].input).toMatchObject({
      name: 'mapserver-ecs',
      autoScalingGroupProvider: {
        autoScalingGroupArn: GROUP_ARN,
        managedScaling: { status: 'ENABLED', targetCapacity: 100 },
        managedTerminationProtection: 'ENABLED',
        managedDraining: 'ENABLED',
      },
    });
    expect(ecs.commandCalls(PutClusterCapacityProvidersCommand)[0]?.args[0].input).toEqual({
      cluster: 'mapserver',
      capacityProviders: ['mapserver-ecs'],
      defaultCapacityProviderStrategy: [{ capacityProvider: 'mapserver-ecs', weight: 1, base: 0 }],
    });
    expect(ecs.commandCalls(CreateServiceCommand)[0]?.args[0].input).toMatchObject({
      serviceName: 'mapserver',
      taskDefinition: TD,
      capacityProviderStrategy: [{ capacityProvider: 'mapserver-ecs', weight: 1, base: 0 }],
      deploymentConfiguration: { deploymentCircuitBreaker: { enable: true, rollback: true } },
    });
    expect(ecr.commandCalls(PutLifecyclePolicyCommand)[0]?.args[0].input.lifecyclePolicyText).toContain('"countNumber":10');
  });

  it('changes nothing on a re-run and says so', async () => {
    everythingExists();
    const ctx = testContext(inputs);
    const result = await bootstrap(ctx);
    expect(result.created).toEqual([]);
    expect(result.unchanged).toHaveLength(8);
    expect(creations()).toHaveLength(0);
    expect(ctx.log()).toMatch(/Bootstrap changed nothing/);
  });

  it('only attaches the capacity provider when it exists but is not the cluster default, keeping other providers', async () => {
    everythingExists();
    ecs.on(DescribeClustersCommand).resolves({ clusters: [{ clusterName: 'mapserver', status: 'ACTIVE', capacityProviders: ['FARGATE'] }] });
    ecs.on(PutClusterCapacityProvidersCommand).resolves({});
    const result = await bootstrap(testContext(inputs));
    expect(result.created.map((c) => c.kind)).toEqual(['cluster capacity providers']);
    expect(ecs.commandCalls(PutClusterCapacityProvidersCommand)[0]?.args[0].input.capacityProviders).toEqual(['FARGATE', 'mapserver-ecs']);
  });

  it('puts the launch hook on a group that lacks it, or has it with other settings, and leaves the rest', async () => {
    for (const hooks of [[], [{ ...CURRENT_HOOK, HeartbeatTimeout: 300, DefaultResult: 'CONTINUE' }]]) {
      all.forEach((m) => m.reset());
      everythingExists();
      autoScaling.on(DescribeLifecycleHooksCommand).resolves({ LifecycleHooks: hooks });
      autoScaling.on(PutLifecycleHookCommand).resolves({});
      const ctx = testContext(inputs);
      const result = await bootstrap(ctx);
      expect(result.created.map((c) => c.kind)).toEqual(['lifecycle hook']);
      expect(autoScaling.commandCalls(PutLifecycleHookCommand).map((c) => c.args[0].input)).toEqual([CURRENT_HOOK]);
      expect(ctx.log()).toContain('created: lifecycle hook mapserver-ecs/mapserver-ecs-launch (launching, 2100s heartbeat, default ABANDON');
    }
  });

  it('changes nothing in a dry run', async () => {
    nothingExists();
    const ctx = testContext({ ...inputs, 'dry-run': 'true' });
    const result = await bootstrap(ctx);
    expect(result.created).toHaveLength(8);
    expect(creations()).toHaveLength(0);
    expect(ctx.log()).toMatch(/would create: launch template mapserver-ecs/);
    expect(ctx.log()).toMatch(/Dry run: 8 resource\(s\) would be created/);
  });

  it('without ami-id starts from the newest AMI baked for the architecture and mount driver', async () => {
    nothingExists();
    ec2.on(DescribeImagesCommand, { Owners: ['self'] }).resolves({
      Images: [
        { ImageId: 'ami-00000000000000001', CreationDate: '2026-11-01T00:00:00.000Z' },
        { ImageId: 'ami-00000000000000002', CreationDate: '2026-11-03T00:00:00.000Z' },
      ],
    });
    await bootstrap(testContext({ ...inputs, 'ami-id': '' }));
    expect(ec2.commandCalls(DescribeImagesCommand)[0]?.args[0].input.Filters).toEqual(
      expect.arrayContaining([{ Name: 'tag:mapserver-ecs:mount-driver', Values: ['s3fs'] }, { Name: 'architecture', Values: ['x86_64'] }]),
    );
    expect(ec2.commandCalls(CreateLaunchTemplateCommand)[0]?.args[0].input.LaunchTemplateData?.ImageId).toBe('ami-00000000000000002');
    expect(ssm.commandCalls(GetParameterCommand)).toHaveLength(0);
  });

  it('without mount-driver takes the newest AMI of any driver, and its driver for the user data and change events', async () => {
    nothingExists();
    const baked = { ImageId: 'ami-00000000000000003', CreationDate: '2026-11-03T00:00:00.000Z', Architecture: 'x86_64' as const, Tags: [{ Key: 'mapserver-ecs:mount-driver', Value: 's3fs' }] };
    ec2.on(DescribeImagesCommand, { Owners: ['self'] }).resolves({ Images: [baked] });
    ec2.on(DescribeImagesCommand, { ImageIds: ['ami-00000000000000003'] }).resolves({ Images: [baked] });
    await bootstrap(testContext({ ...inputs, 'ami-id': '', 'mount-driver': '' }));
    expect(ec2.commandCalls(DescribeImagesCommand)[0]?.args[0].input.Filters).toEqual(expect.arrayContaining([{ Name: 'tag:mapserver-ecs:mount-driver', Values: ['s3fs', 'mountpoint', 'mirror'] }]));
    const userData = Buffer.from(ec2.commandCalls(CreateLaunchTemplateCommand)[0]?.args[0].input.LaunchTemplateData?.UserData ?? '', 'base64').toString();
    expect(userData).toMatch(/^MOUNT_DRIVER='s3fs'$/m);
    // The mirror's topic and notification are not made for an s3fs AMI.
    expect(sns.commandCalls(CreateTopicCommand)).toHaveLength(0);
    expect(s3.commandCalls(PutBucketNotificationConfigurationCommand)).toHaveLength(0);
  });

  it('without ami-id and no baked AMI, refuses with the command to run and creates nothing', async () => {
    nothingExists();
    ec2.on(DescribeImagesCommand, { Owners: ['self'] }).resolves({ Images: [] });
    const error = (await bootstrap(testContext({ ...inputs, 'ami-id': '' })).catch((e: unknown) => e)) as StepFailure;
    expect(error).toBeInstanceOf(StepFailure);
    expect(error.message).toMatch(/No ami-id given and no AMI baked for x86_64 with mount driver s3fs .*mapserver-ecs bake --bucket maps-bucket --mount-driver s3fs/);
    expect(error.state).toBe('nothing changed');
    expect(creations()).toHaveLength(0);
  });

  it('refuses before any change when a subnet does not exist, naming the input', async () => {
    nothingExists();
    ec2.on(DescribeSubnetsCommand).rejects(Object.assign(new Error("The subnet ID 'subnet-0123456789abcdef1' does not exist"), { name: 'InvalidSubnetID.NotFound' }));
    const error = (await bootstrap(testContext(inputs)).catch((e: unknown) => e)) as StepFailure;
    expect(error.message).toMatch(/^subnets: The subnet ID 'subnet-0123456789abcdef1' does not exist in us-east-1/);
    expect(error.state).toBe('nothing changed');
    expect(creations()).toHaveLength(0);
  });

  it('refuses before any change when the bucket does not exist', async () => {
    nothingExists();
    s3.on(HeadBucketCommand).rejects(Object.assign(new Error('Not Found'), { name: 'NotFound', $metadata: { httpStatusCode: 404 } }));
    const error = (await bootstrap(testContext(inputs)).catch((e: unknown) => e)) as StepFailure;
    expect(error.message).toBe('Bucket maps-bucket does not exist: create it (or fix the bucket input) before bootstrap');
    expect(error.state).toBe('nothing changed');
    expect(creations()).toHaveLength(0);
  });

  it('refuses before any change when a notification of the bucket overlaps the mirror one, naming it', async () => {
    nothingExists();
    s3.on(GetBucketNotificationConfigurationCommand).resolves({
      QueueConfigurations: [{ Id: 'thumbnails', QueueArn: 'arn:aws:sqs:us-east-1:123456789012:thumbs', Events: ['s3:ObjectCreated:Put'], Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: 'maps/' }] } } }],
      LambdaFunctionConfigurations: [{ Id: 'audit', LambdaFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:audit', Events: ['s3:ObjectRestore:*'] }],
    });
    const error = (await bootstrap(testContext({ ...inputs, 'mount-driver': 'mirror', 'bucket-prefix': 'maps/' })).catch((e: unknown) => e)) as StepFailure;
    expect(error.message).toMatch(/queue arn:aws:sqs:us-east-1:123456789012:thumbs \(id 'thumbnails'\) gets s3:ObjectCreated:Put under 'maps\/'/);
    expect(error.message).not.toMatch(/audit/);
    expect(error.state).toBe('nothing changed');
    expect(creations()).toHaveLength(0);
    expect(sns.commandCalls(CreateTopicCommand)).toHaveLength(0);
  });

  it('leaves the service to deploy when there is no task definition and no image', async () => {
    nothingExists();
    const result = await bootstrap(testContext({ ...inputs, image: '' }));
    expect(result.skipped).toEqual([{ kind: 'ECS service', name: 'mapserver', detail: 'no task definition yet: deploy creates the service' }]);
    expect(ecs.commandCalls(CreateServiceCommand)).toHaveLength(0);
  });

  it('says what it created before a failure', async () => {
    nothingExists();
    autoScaling.on(CreateAutoScalingGroupCommand).rejects(Object.assign(new Error('subnet-0123456789abcdef1 does not exist'), { name: 'ValidationError' }));
    const error = (await bootstrap(testContext(inputs)).catch((e: unknown) => e)) as StepFailure;
    expect(error).toBeInstanceOf(StepFailure);
    expect(error.message).toMatch(/Bootstrap failed while creating Auto Scaling group mapserver-ecs: ValidationError: subnet-0123456789abcdef1 does not exist/);
    expect(error.state).toBe('created so far: ECR repository mapserver, ECS cluster mapserver, launch template mapserver-ecs');
  });
});

describe('bootstrapCommand', () => {
  it('adds a summary row per resource', async () => {
    everythingExists();
    const ctx = testContext(inputs);
    await bootstrapCommand(ctx);
    await ctx.reporter.writeSummary('bootstrap');
    expect(ctx.log()).toMatch(/launch template mapserver-ecs\s+exists, unchanged/);
    expect(ctx.log()).toMatch(/bootstrap\s+nothing changed/);
  });
});
