import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { AutoScalingClient, DescribeAutoScalingGroupsCommand, DescribeInstanceRefreshesCommand, StartInstanceRefreshCommand } from '@aws-sdk/client-auto-scaling';
import {
  CreateLaunchTemplateVersionCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  DescribeLaunchTemplatesCommand,
  DescribeSnapshotsCommand,
  DescribeLaunchTemplateVersionsCommand,
  EC2Client,
  ModifyLaunchTemplateCommand,
} from '@aws-sdk/client-ec2';
import { DescribeCapacityProvidersCommand, DescribeServicesCommand, ECSClient, RegisterTaskDefinitionCommand, UpdateServiceCommand } from '@aws-sdk/client-ecs';
import { mockClient } from 'aws-sdk-client-mock';
import { planRelease, releaseCommand } from '../../src/commands/release.js';
import { InputError } from '../../src/errors.js';
import type { InputName } from '../../src/inputs.js';
import { DIGEST_IMAGE, testContext } from '../../../scripts/support/command-context.js';

const ec2 = mockClient(EC2Client);
const ecs = mockClient(ECSClient);
const autoScaling = mockClient(AutoScalingClient);
const AMI = 'ami-0123456789abcdef0';
const LT = 'lt-0aaaabbbbccccdddd';
const TD = 'arn:aws:ecs:us-east-1:123456789012:task-definition/mapserver:9';

function plan(values: Partial<Record<InputName, string>>) {
  return planRelease(testContext({ command: 'release', bucket: 'maps-bucket', ...values }).settings);
}
function problems(values: Partial<Record<InputName, string>>): string[] {
  try {
    plan(values);
  } catch (error) {
    if (error instanceof InputError) return error.problems.map((p) => `${p.input}: ${p.message}`);
    throw error;
  }
  throw new Error('expected an InputError');
}

describe('planRelease', () => {
  it('runs every step by default', () => {
    expect([...plan({}).run]).toEqual(['bake', 'base-ami', 'image', 'deploy', 'roll', 'cleanup']);
  });

  it('lets ami-id and image stand in for base-ami, bake and image', () => {
    const p = plan({ 'ami-id': AMI, image: DIGEST_IMAGE });
    expect([...p.run]).toEqual(['deploy', 'roll', 'cleanup']);
    expect(p.notes.get('bake')).toBe(`given: ${AMI}`);
    expect(p.notes.get('image')).toBe(`given: ${DIGEST_IMAGE}`);
    expect(p.notes.get('base-ami')).toBe('not needed: ami-id given');
  });

  it('skips what skip-steps names', () => {
    expect([...plan({ 'skip-steps': 'bake,roll,image,deploy' }).run]).toEqual(['cleanup']);
  });

  it('bakes from base-ami-id when the base-ami step is skipped', () => {
    expect([...plan({ 'skip-steps': 'base-ami', 'base-ami-id': AMI }).run]).toEqual(['bake', 'image', 'deploy', 'roll', 'cleanup']);
  });

  it.each([
    [{ 'skip-steps': 'bake' }, 'ami-id: is required when the bake step is skipped and roll runs (or skip roll too)'],
    [{ 'skip-steps': 'image' }, 'image: is required when the image step is skipped and deploy runs (or skip deploy too)'],
    [{ 'skip-steps': 'base-ami' }, 'base-ami-id: is required when the base-ami step is skipped and bake runs'],
  ] as Array<[Partial<Record<InputName, string>>, string]>)('refuses %j before anything runs', (values, message) => {
    expect(problems(values)).toEqual([message]);
  });

  it('never sees an image that is not by digest when deploy runs: the settings refuse it first', () => {
    expect(() => testContext({ command: 'release', bucket: 'maps-bucket', image: 'mapserver:latest' })).toThrow(
      'image: expected an image by digest (repository@sha256:<64 hex>) to deploy, got "mapserver:latest"',
    );
  });
});

describe('releaseCommand', () => {
  beforeEach(() => {
    for (const m of [ec2, ecs, autoScaling]) m.reset();
    ecs.on(RegisterTaskDefinitionCommand).resolves({ taskDefinition: { taskDefinitionArn: TD } });
    const done = { serviceName: 'mapserver', status: 'ACTIVE', taskDefinition: TD, deployments: [{ id: 'd-1', status: 'PRIMARY', taskDefinition: TD, rolloutState: 'COMPLETED' as const }] };
    ecs.on(DescribeServicesCommand).resolves({ services: [done] });
    ecs.on(UpdateServiceCommand).resolves({ service: done });
    ecs.on(DescribeCapacityProvidersCommand).resolves({ capacityProviders: [] });
    autoScaling.on(DescribeAutoScalingGroupsCommand).resolves({
      AutoScalingGroups: [{ AutoScalingGroupName: 'mapserver-ecs', LaunchTemplate: { LaunchTemplateId: LT, Version: '2' }, Instances: [] } as never],
    });
    autoScaling.on(DescribeInstanceRefreshesCommand, { AutoScalingGroupName: 'mapserver-ecs' }).resolves({ InstanceRefreshes: [] });
    autoScaling.on(DescribeInstanceRefreshesCommand, { InstanceRefreshIds: ['ir-1'] }).resolves({ InstanceRefreshes: [{ InstanceRefreshId: 'ir-1', Status: 'Successful', PercentageComplete: 100 }] });
    autoScaling.on(StartInstanceRefreshCommand).resolves({ InstanceRefreshId: 'ir-1' });
    ec2.on(DescribeLaunchTemplatesCommand).resolves({ LaunchTemplates: [{ LaunchTemplateId: LT, DefaultVersionNumber: 2 }] });
    ec2.on(DescribeLaunchTemplateVersionsCommand).resolves({ LaunchTemplateVersions: [{ VersionNumber: 2, DefaultVersion: true, LaunchTemplateData: { ImageId: 'ami-0fedcba9876543210' } }] });
    ec2.on(CreateLaunchTemplateVersionCommand).resolves({ LaunchTemplateVersion: { VersionNumber: 3 } });
    ec2.on(ModifyLaunchTemplateCommand).resolves({});
    ec2.on(DescribeImagesCommand).resolves({ Images: [] });
    ec2.on(DescribeInstancesCommand).resolves({ Reservations: [] });
    ec2.on(DescribeSnapshotsCommand).resolves({ Snapshots: [] });
  });
  afterEach(() => {
    for (const m of [ec2, ecs, autoScaling]) m.reset();
  });

  it('deploys, rolls and cleans up with the given AMI and image, setting every output and one summary', async () => {
    autoScaling.on(DescribeAutoScalingGroupsCommand).resolves({
      AutoScalingGroups: [{ AutoScalingGroupName: 'mapserver-ecs', LaunchTemplate: { LaunchTemplateId: LT, Version: '3' }, Instances: [] } as never],
    });
    const ctx = testContext({ command: 'release', bucket: 'maps-bucket', 'ami-id': AMI, image: DIGEST_IMAGE });
    await releaseCommand(ctx);
    expect(Object.fromEntries(ctx.reporter.outputs())).toEqual({
      'ami-id': AMI,
      'image-uri': DIGEST_IMAGE,
      'task-definition-arn': TD,
      'launch-template-version': '3',
      'instance-refresh-id': 'ir-1',
      plan: expect.stringContaining('roll: '),
      'deregistered-amis': '',
    });
    await ctx.reporter.writeSummary('release');
    const summary = ctx.log().slice(ctx.log().lastIndexOf('release\n'));
    expect(summary).toMatch(/base-ami\s+not needed: ami-id given/);
    expect(summary).toMatch(new RegExp(`bake\\s+given: ${AMI}`));
    expect(summary).toMatch(/deploy\s+mapserver runs .*mapserver:9/);
    expect(summary).toMatch(/roll\s+launch template version 3, refresh ir-1/);
    expect(summary).toMatch(/cleanup\s+nothing to deregister/);
  });

  it('records the failed step in the summary and keeps the outputs made before it', async () => {
    ecs.on(DescribeServicesCommand).resolves({
      services: [{ serviceName: 'mapserver', status: 'ACTIVE', deployments: [{ id: 'd-0', status: 'PRIMARY', taskDefinition: 'arn:aws:ecs:us-east-1:123456789012:task-definition/mapserver:8', rolloutState: 'COMPLETED' }] }],
    });
    const ctx = testContext({ command: 'release', bucket: 'maps-bucket', 'ami-id': AMI, image: DIGEST_IMAGE });
    await expect(releaseCommand(ctx)).rejects.toThrow(/rolled back/);
    expect(ctx.reporter.outputs().get('image-uri')).toBe(DIGEST_IMAGE);
    expect(ctx.reporter.outputs().has('task-definition-arn')).toBe(false);
    await ctx.reporter.writeSummary('release');
    expect(ctx.log()).toMatch(/deploy\s+failed: The deployment of .*mapserver:9 is no longer on service mapserver/);
    expect(autoScaling.commandCalls(StartInstanceRefreshCommand)).toHaveLength(0);
  });

  it('skips what skip-steps names and says so', async () => {
    const ctx = testContext({ command: 'release', bucket: 'maps-bucket', 'skip-steps': 'base-ami,bake,image,deploy,roll', 'dry-run': 'true' });
    await releaseCommand(ctx);
    await ctx.reporter.writeSummary('release');
    for (const step of ['bake', 'image', 'deploy', 'roll']) expect(ctx.log()).toMatch(new RegExp(`${step}\\s+skipped`));
    expect(ecs.calls()).toHaveLength(0);
    expect(autoScaling.commandCalls(StartInstanceRefreshCommand)).toHaveLength(0);
  });
});
