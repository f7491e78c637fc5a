import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import {
  AutoScalingClient,
  DescribeAutoScalingGroupsCommand,
  DescribeInstanceRefreshesCommand,
  DescribeScalingActivitiesCommand,
  StartInstanceRefreshCommand,
  UpdateAutoScalingGroupCommand,
  type AutoScalingGroup,
  type InstanceRefresh,
} from '@aws-sdk/client-auto-scaling';
import {
  CreateLaunchTemplateVersionCommand,
  DescribeImagesCommand,
  DescribeLaunchTemplatesCommand,
  DescribeLaunchTemplateVersionsCommand,
  DescribeTagsCommand,
  EC2Client,
  ModifyLaunchTemplateCommand,
} from '@aws-sdk/client-ec2';
import { DescribeCapacityProvidersCommand, ECSClient } from '@aws-sdk/client-ecs';
import { mockClient } from 'aws-sdk-client-mock';
import { rollCommand } from '../../src/commands/roll.js';
import { StepFailure } from '../../src/errors.js';
import { rollInstances } from '../../src/steps/roll.js';
import { fakeClock } from '../support/ecs-context.js';
import { testContext } from '../../../scripts/support/command-context.js';

const autoScaling = mockClient(AutoScalingClient);
const ec2 = mockClient(EC2Client);
const ecs = mockClient(ECSClient);
const AMI = 'ami-0123456789abcdef0';
const OLD_AMI = 'ami-0fedcba9876543210';
const LT = 'lt-0aaaabbbbccccdddd';
const inputs = { command: 'roll', bucket: 'maps-bucket', 'ami-id': AMI, 'wait-minutes': '5' } as const;
const timing = () => ({ intervalMs: 30_000, ...fakeClock() });

function group(version = '3', extra: Partial<AutoScalingGroup> = {}): AutoScalingGroup {
  return {
    AutoScalingGroupName: 'mapserver-ecs',
    LaunchTemplate: { LaunchTemplateId: LT, LaunchTemplateName: 'mapserver-ecs', Version: version },
    MinSize: 1,
    MaxSize: 2,
    DesiredCapacity: 1,
    DefaultCooldown: 300,
    AvailabilityZones: ['us-east-1a'],
    HealthCheckType: 'EC2',
    CreatedTime: new Date(),
    NewInstancesProtectedFromScaleIn: true,
    Instances: [{ InstanceId: 'i-1', ProtectedFromScaleIn: true, AvailabilityZone: 'us-east-1a', LifecycleState: 'InService', HealthStatus: 'Healthy' }],
    ...extra,
  } as AutoScalingGroup;
}

const refresh = (status: string, percentage: number, extra: Partial<InstanceRefresh> = {}): InstanceRefresh =>
  ({ InstanceRefreshId: 'ir-1', AutoScalingGroupName: 'mapserver-ecs', Status: status, PercentageComplete: percentage, InstancesToUpdate: 1, ...extra }) as InstanceRefresh;

function happyPath(): void {
  autoScaling.on(DescribeAutoScalingGroupsCommand).resolvesOnce({ AutoScalingGroups: [group('3')] }).resolves({ AutoScalingGroups: [group('4')] });
  autoScaling.on(DescribeInstanceRefreshesCommand, { AutoScalingGroupName: 'mapserver-ecs' }).resolvesOnce({ InstanceRefreshes: [refresh('Successful', 100, { InstanceRefreshId: 'ir-0' })] });
  autoScaling
    .on(DescribeInstanceRefreshesCommand, { InstanceRefreshIds: ['ir-1'] })
    .resolvesOnce({ InstanceRefreshes: [refresh('Pending', 0)] })
    .resolvesOnce({ InstanceRefreshes: [refresh('InProgress', 50)] })
    .resolves({ InstanceRefreshes: [refresh('Successful', 100, { InstancesToUpdate: 0 })] });
  autoScaling.on(StartInstanceRefreshCommand).resolves({ InstanceRefreshId: 'ir-1' });
  ec2.on(DescribeLaunchTemplatesCommand).resolves({ LaunchTemplates: [{ LaunchTemplateId: LT, LaunchTemplateName: 'mapserver-ecs', DefaultVersionNumber: 3, LatestVersionNumber: 3 }] });
  ec2.on(DescribeLaunchTemplateVersionsCommand).resolves({
    LaunchTemplateVersions: [
      {
        LaunchTemplateId: LT,
        VersionNumber: 3,
        DefaultVersion: true,
        LaunchTemplateData: {
          ImageId: OLD_AMI,
          InstanceType: 't3.small',
          IamInstanceProfile: { Name: 'mapserver-instance' },
          SecurityGroupIds: ['sg-0123456789abcdef0'],
          MetadataOptions: { HttpTokens: 'optional', HttpEndpoint: 'enabled' },
          UserData: 'b2xk',
        },
      },
    ],
  });
  ec2.on(CreateLaunchTemplateVersionCommand).resolves({ LaunchTemplateVersion: { VersionNumber: 4, LaunchTemplateId: LT } });
  ec2.on(ModifyLaunchTemplateCommand).resolves({});
  ec2.on(DescribeImagesCommand).resolves({ Images: [{ ImageId: AMI, Architecture: 'x86_64', Tags: [{ Key: 'mapserver-ecs:mount-driver', Value: 'mirror' }] }] });
  ecs.on(DescribeCapacityProvidersCommand).resolves({
    capacityProviders: [{ name: 'mapserver-ecs', autoScalingGroupProvider: { autoScalingGroupArn: 'arn', managedTerminationProtection: 'ENABLED' } }],
  });
}

beforeEach(() => {
  autoScaling.reset();
  ec2.reset();
  ecs.reset();
});
afterEach(() => {
  autoScaling.reset();
  ec2.reset();
  ecs.reset();
});

describe('rollInstances', () => {
  it('makes a new default launch template version with the AMI, IMDSv2 and fresh user data, then refreshes launch-before-terminate', async () => {
    happyPath();
    const ctx = testContext(inputs);
    await expect(rollInstances(ctx, AMI, timing())).resolves.toEqual({ launchTemplateVersion: '4', instanceRefreshId: 'ir-1' });

    const version = ec2.commandCalls(CreateLaunchTemplateVersionCommand)[0]?.args[0].input;
    expect(version?.LaunchTemplateId).toBe(LT);
    const data = version?.LaunchTemplateData;
    expect(data?.ImageId).toBe(AMI);
    expect(data?.MetadataOptions).toMatchObject({ HttpTokens: 'required', HttpEndpoint: 'enabled' });
    expect(data?.IamInstanceProfile).toEqual({ Name: 'mapserver-instance' });
    expect(data?.SecurityGroupIds).toEqual(['sg-0123456789abcdef0']);
    const script = Buffer.from(data?.UserData ?? '', 'base64').toString();
    expect(script).toContain("BUCKET='maps-bucket'");
    expect(ec2.commandCalls(ModifyLaunchTemplateCommand)[0]?.args[0].input).toEqual({ LaunchTemplateId: LT, DefaultVersion: '4' });

    const start = autoScaling.commandCalls(StartInstanceRefreshCommand)[0]?.args[0].input;
    expect(start).toEqual({
      AutoScalingGroupName: 'mapserver-ecs',
      Strategy: 'Rolling',
      DesiredConfiguration: { LaunchTemplate: { LaunchTemplateId: LT, Version: '4' } },
      Preferences: {
        MinHealthyPercentage: 100,
        MaxHealthyPercentage: 200,
        InstanceWarmup: 300,
        SkipMatching: true,
        AutoRollback: true,
        ScaleInProtectedInstances: 'Refresh',
        StandbyInstances: 'Ignore',
      },
    });
    // Already pinned to a numbered version and the refresh applied the new one: no extra update.
    expect(autoScaling.commandCalls(UpdateAutoScalingGroupCommand)).toHaveLength(0);
    expect(ctx.log()).toMatch(/InProgress, 50% complete/);
    expect(ctx.log()).toMatch(/Successful, 100% complete/);
  });

  it('takes the healthy percentages and warmup from the inputs, and ignores unprotected instances without managed termination protection', async () => {
    happyPath();
    ecs.on(DescribeCapacityProvidersCommand).resolves({ capacityProviders: [] });
    autoScaling
      .on(DescribeAutoScalingGroupsCommand)
      .resolvesOnce({ AutoScalingGroups: [group('3', { NewInstancesProtectedFromScaleIn: false, Instances: [] })] })
      .resolves({ AutoScalingGroups: [group('4')] });
    const ctx = testContext({ ...inputs, 'min-healthy-percentage': '90', 'max-healthy-percentage': '150', 'instance-warmup': '60' });
    await rollInstances(ctx, AMI, timing());
    expect(autoScaling.commandCalls(StartInstanceRefreshCommand)[0]?.args[0].input.Preferences).toMatchObject({
      MinHealthyPercentage: 90,
      MaxHealthyPercentage: 150,
      InstanceWarmup: 60,
      ScaleInProtectedInstances: 'Ignore',
    });
  });

  it('pins a group that follows $Latest to a numbered version first, so the refresh can roll back', async () => {
    happyPath();
    autoScaling.on(DescribeAutoScalingGroupsCommand).resolvesOnce({ AutoScalingGroups: [group('$Latest')] }).resolves({ AutoScalingGroups: [group('4')] });
    const ctx = testContext(inputs);
    await rollInstances(ctx, AMI, timing());
    expect(autoScaling.commandCalls(UpdateAutoScalingGroupCommand)[0]?.args[0].input).toEqual({
      AutoScalingGroupName: 'mapserver-ecs',
      LaunchTemplate: { LaunchTemplateId: LT, Version: '3' },
    });
  });

  it('pins the group to the new version when the refresh did not (mixed instances policy kept)', async () => {
    happyPath();
    const mixed = {
      LaunchTemplate: { LaunchTemplateSpecification: { LaunchTemplateId: LT, Version: '3' }, Overrides: [{ InstanceType: 't3.small' }] },
      InstancesDistribution: { OnDemandPercentageAboveBaseCapacity: 100 },
    };
    autoScaling.on(DescribeAutoScalingGroupsCommand).resolves({ AutoScalingGroups: [group('3', { LaunchTemplate: undefined, MixedInstancesPolicy: mixed })] });
    const ctx = testContext(inputs);
    await rollInstances(ctx, AMI, timing());
    expect(autoScaling.commandCalls(UpdateAutoScalingGroupCommand)[0]?.args[0].input).toEqual({
      AutoScalingGroupName: 'mapserver-ecs',
      MixedInstancesPolicy: { ...mixed, LaunchTemplate: { ...mixed.LaunchTemplate, LaunchTemplateSpecification: { LaunchTemplateId: LT, Version: '4' } } },
    });
  });

  it('refuses to start while another refresh is in progress, naming it, before changing anything', async () => {
    happyPath();
    autoScaling.on(DescribeInstanceRefreshesCommand, { AutoScalingGroupName: 'mapserver-ecs' }).resolvesOnce({
      InstanceRefreshes: [refresh('InProgress', 40, { InstanceRefreshId: 'ir-busy' })],
    });
    const error = (await rollInstances(testContext(inputs), AMI, timing()).catch((e: unknown) => e)) as StepFailure;
    expect(error).toBeInstanceOf(StepFailure);
    expect(error.message).toMatch(/Instance refresh ir-busy of mapserver-ecs is InProgress \(40% done\)/);
    expect(error.state).toBe('nothing changed');
    expect(ec2.commandCalls(CreateLaunchTemplateVersionCommand)).toHaveLength(0);
    expect(autoScaling.commandCalls(StartInstanceRefreshCommand)).toHaveLength(0);
  });

  it.each([
    ['Failed', /ended Failed: instance i-2 failed health checks/, /default version back to 3 .*kept its previous version$/],
    ['Cancelled', /ended Cancelled/, /default version back to 3 .*kept its previous version$/],
    ['RollbackSuccessful', /ended RollbackSuccessful/, /default version back to 3 .*instances rolled back/],
    ['RollbackFailed', /ended RollbackFailed/, /instances rolled back/],
  ])('fails clearly when the refresh ends %s, making the previous version the default again', async (status, message, state) => {
    happyPath();
    autoScaling
      .on(DescribeInstanceRefreshesCommand, { InstanceRefreshIds: ['ir-1'] })
      .resolvesOnce({ InstanceRefreshes: [refresh('InProgress', 50)] })
      .resolves({ InstanceRefreshes: [refresh(status, 50, { StatusReason: 'instance i-2 failed health checks' })] });
    const error = (await rollInstances(testContext(inputs), AMI, timing()).catch((e: unknown) => e)) as StepFailure;
    expect(error).toBeInstanceOf(StepFailure);
    expect(error.message).toMatch(message);
    expect(error.state).toMatch(state);
    expect(ec2.commandCalls(ModifyLaunchTemplateCommand).map((c) => c.args[0].input.DefaultVersion)).toEqual(['4', '3']);
  });

  it('names each instance that abandoned its launch, with the cause it tagged itself with', async () => {
    happyPath();
    autoScaling
      .on(DescribeInstanceRefreshesCommand, { InstanceRefreshIds: ['ir-1'] })
      .resolves({ InstanceRefreshes: [refresh('RollbackSuccessful', 100, { StatusReason: 'An instance failed to launch.' })] });
    const now = new Date();
    autoScaling.on(DescribeScalingActivitiesCommand).resolves({
      Activities: [
        { ActivityId: 'a1', AutoScalingGroupName: 'mapserver-ecs', Cause: 'refresh', StartTime: now, StatusCode: 'Cancelled', Description: 'Launching a new EC2 instance: i-0abc', StatusMessage: 'Lifecycle Action was abandoned' },
        { ActivityId: 'a2', AutoScalingGroupName: 'mapserver-ecs', Cause: 'refresh', StartTime: now, StatusCode: 'Cancelled', Description: 'Launching a new EC2 instance: i-0def', StatusMessage: 'Lifecycle hook timed out' },
        { ActivityId: 'a3', AutoScalingGroupName: 'mapserver-ecs', Cause: 'old', StartTime: new Date(0), StatusCode: 'Cancelled', Description: 'Launching a new EC2 instance: i-0old' },
        { ActivityId: 'a4', AutoScalingGroupName: 'mapserver-ecs', Cause: 'refresh', StartTime: now, StatusCode: 'Successful', Description: 'Launching a new EC2 instance: i-0ok' },
      ],
    });
    ec2.on(DescribeTagsCommand).resolves({ Tags: [{ ResourceId: 'i-0abc', Key: 'mapserver-ecs:launch-failure', Value: "the mirror's first sync did not finish within 600 s" }] });
    const error = (await rollInstances(testContext(inputs), AMI, timing()).catch((e: unknown) => e)) as StepFailure;
    expect(error.message).toBe(
      "Instance refresh ir-1 of mapserver-ecs ended RollbackSuccessful: An instance failed to launch.; instance i-0abc did not launch: the mirror's first sync did not finish within 600 s; instance i-0def did not launch: Lifecycle hook timed out",
    );
    expect(ec2.commandCalls(DescribeTagsCommand)[0]?.args[0].input.Filters).toEqual([
      { Name: 'resource-id', Values: ['i-0abc', 'i-0def'] },
      { Name: 'key', Values: ['mapserver-ecs:launch-failure'] },
    ]);
  });

  it('keeps waiting through a rollback in progress and then fails', async () => {
    happyPath();
    autoScaling
      .on(DescribeInstanceRefreshesCommand, { InstanceRefreshIds: ['ir-1'] })
      .resolvesOnce({ InstanceRefreshes: [refresh('RollbackInProgress', 50)] })
      .resolves({ InstanceRefreshes: [refresh('RollbackSuccessful', 100)] });
    const ctx = testContext(inputs);
    await expect(rollInstances(ctx, AMI, timing())).rejects.toThrow(/RollbackSuccessful/);
    expect(ctx.log()).toMatch(/RollbackInProgress/);
  });

  it('times out after wait-minutes, saying the refresh goes on', async () => {
    happyPath();
    autoScaling.on(DescribeInstanceRefreshesCommand, { InstanceRefreshIds: ['ir-1'] }).resolves({ InstanceRefreshes: [refresh('InProgress', 10)] });
    const error = (await rollInstances(testContext(inputs), AMI, timing()).catch((e: unknown) => e)) as StepFailure;
    expect(error.message).toMatch(/Timed out after 5m00s waiting for instance refresh ir-1/);
    expect(error.state).toMatch(/still running and continues on its own/);
  });

  it('refuses when the group or the launch template does not exist', async () => {
    happyPath();
    autoScaling.on(DescribeAutoScalingGroupsCommand).resolves({ AutoScalingGroups: [] });
    await expect(rollInstances(testContext(inputs), AMI, timing())).rejects.toThrow(/Auto Scaling group mapserver-ecs does not exist; run the bootstrap command/);
    autoScaling.on(DescribeAutoScalingGroupsCommand).resolves({ AutoScalingGroups: [group('3')] });
    ec2.on(DescribeLaunchTemplatesCommand).rejects(Object.assign(new Error('not found'), { name: 'InvalidLaunchTemplateName.NotFoundException' }));
    await expect(rollInstances(testContext(inputs), AMI, timing())).rejects.toThrow(/Launch template mapserver-ecs does not exist/);
    expect(ec2.commandCalls(CreateLaunchTemplateVersionCommand)).toHaveLength(0);
  });
});

describe('the AMI must suit the instances', () => {
  const bakedWith = (driver: string | undefined, architecture: 'x86_64' | 'arm64' = 'x86_64') =>
    ec2.on(DescribeImagesCommand).resolves({ Images: [{ ImageId: AMI, Architecture: architecture, Tags: driver ? [{ Key: 'mapserver-ecs:mount-driver', Value: driver }] : [] }] });
  const newUserData = (): string => Buffer.from(ec2.commandCalls(CreateLaunchTemplateVersionCommand)[0]?.args[0].input.LaunchTemplateData?.UserData ?? '', 'base64').toString();

  it('refuses a given mount-driver that disagrees with the AMI before anything changes, naming both', async () => {
    happyPath();
    bakedWith('s3fs');
    const error = (await rollInstances(testContext({ ...inputs, 'mount-driver': 'mirror' }), AMI, timing()).catch((e: unknown) => e)) as StepFailure;
    expect(error).toBeInstanceOf(StepFailure);
    expect(error.message).toMatch(/AMI ami-0123456789abcdef0 was baked with mount driver s3fs, but mount-driver is mirror/);
    expect(error.state).toBe('nothing changed');
    expect(ec2.commandCalls(CreateLaunchTemplateVersionCommand)).toHaveLength(0);
  });

  it('without mount-driver starts the driver recorded on the AMI', async () => {
    happyPath();
    bakedWith('s3fs');
    await rollInstances(testContext(inputs), AMI, timing());
    expect(newUserData()).toMatch(/^MOUNT_DRIVER='?s3fs'?$/m);
  });

  it('refuses an AMI without the mount-driver tag unless mount-driver is given', async () => {
    happyPath();
    bakedWith(undefined);
    await expect(rollInstances(testContext(inputs), AMI, timing())).rejects.toThrow(/AMI ami-0123456789abcdef0 has no mapserver-ecs:mount-driver tag.*set mount-driver/);
    expect(ec2.commandCalls(CreateLaunchTemplateVersionCommand)).toHaveLength(0);
  });

  it('takes a given mount-driver for an AMI without the tag', async () => {
    happyPath();
    bakedWith(undefined);
    await rollInstances(testContext({ ...inputs, 'mount-driver': 'mountpoint' }), AMI, timing());
    expect(newUserData()).toMatch(/^MOUNT_DRIVER='?mountpoint'?$/m);
  });

  it('refuses an arm64 AMI for the x86_64 instance type the template keeps', async () => {
    happyPath();
    bakedWith('mirror', 'arm64');
    await expect(rollInstances(testContext(inputs), AMI, timing())).rejects.toThrow(/AMI ami-0123456789abcdef0 is an arm64 image, but instance type t3.small is x86_64/);
    expect(ec2.commandCalls(CreateLaunchTemplateVersionCommand)).toHaveLength(0);
  });
});

describe('rollCommand', () => {
  it('requires ami-id before any call', async () => {
    // The settings refuse it, so the command never starts.
    expect(() => testContext({ command: 'roll', bucket: 'maps-bucket' })).toThrow(/ami-id: is required by the roll command/);
    expect(autoScaling.calls()).toHaveLength(0);
  });

  it('sets the launch-template-version and instance-refresh-id outputs', async () => {
    happyPath();
    // Finished at the first look, so the command's real polling interval never sleeps.
    autoScaling.on(DescribeInstanceRefreshesCommand, { InstanceRefreshIds: ['ir-1'] }).resolves({ InstanceRefreshes: [refresh('Successful', 100)] });
    const ctx = testContext(inputs);
    await rollCommand(ctx);
    expect(Object.fromEntries(ctx.reporter.outputs())).toMatchObject({ 'ami-id': AMI, 'launch-template-version': '4', 'instance-refresh-id': 'ir-1' });
  });
});
