import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { AutoScalingClient, DescribeAutoScalingGroupsCommand } from '@aws-sdk/client-auto-scaling';
import {
  DeleteSnapshotCommand,
  DeregisterImageCommand,
  DescribeSnapshotsCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  DescribeLaunchTemplatesCommand,
  DescribeLaunchTemplateVersionsCommand,
  EC2Client,
  type Image,
} from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { cleanupCommand } from '../../src/commands/cleanup.js';
import { StepFailure } from '../../src/errors.js';
import { cleanupAmis } from '../../src/steps/cleanup.js';
import { testContext } from '../../../scripts/support/command-context.js';

const ec2 = mockClient(EC2Client);
const autoScaling = mockClient(AutoScalingClient);
const LT = 'lt-0aaaabbbbccccdddd';

const ami = (n: number, day: string): Image => ({
  ImageId: `ami-0000000000000000${n}`,
  Name: `mapserver-ecs-${day}`,
  CreationDate: `2026-11-${day}T00:00:00.000Z`,
  Tags: [
    { Key: 'mapserver-ecs:managed', Value: 'true' },
    { Key: 'mapserver-ecs:build-time', Value: `2026-11-${day}T10:00:00Z` },
  ],
  BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { SnapshotId: `snap-0000000000000000${n}` } }],
});
// Listed out of order on purpose: cleanup sorts by build time.
const images = [ami(3, '03'), ami(1, '01'), ami(6, '06'), ami(2, '02'), ami(5, '05'), ami(4, '04')];

function world(options: { instanceAmi?: string; groupVersion?: string } = {}): void {
  ec2.on(DescribeImagesCommand).resolves({ Images: images });
  ec2.on(DescribeLaunchTemplatesCommand).resolves({ LaunchTemplates: [{ LaunchTemplateId: LT, DefaultVersionNumber: 5, LatestVersionNumber: 6 }] });
  ec2.on(DescribeLaunchTemplateVersionsCommand).callsFake((input: { Versions?: string[] }) => {
    const table: Record<string, { VersionNumber: number; ImageId: string; DefaultVersion?: boolean }> = {
      $Default: { VersionNumber: 5, ImageId: 'ami-00000000000000005', DefaultVersion: true },
      $Latest: { VersionNumber: 6, ImageId: 'ami-00000000000000006' },
      '2': { VersionNumber: 2, ImageId: 'ami-00000000000000002' },
    };
    return {
      LaunchTemplateVersions: (input.Versions ?? [])
        .map((v) => table[v])
        .filter((v) => v !== undefined)
        .map((v) => ({ LaunchTemplateId: LT, VersionNumber: v.VersionNumber, DefaultVersion: v.DefaultVersion ?? false, LaunchTemplateData: { ImageId: v.ImageId } })),
    };
  });
  autoScaling.on(DescribeAutoScalingGroupsCommand).resolves({
    AutoScalingGroups: [
      {
        AutoScalingGroupName: 'mapserver-ecs',
        LaunchTemplate: { LaunchTemplateId: LT, Version: options.groupVersion ?? '2' },
        Instances: [],
      } as never,
    ],
  });
  ec2.on(DescribeInstancesCommand).resolves({
    Reservations: options.instanceAmi ? [{ Instances: [{ InstanceId: 'i-stray', ImageId: options.instanceAmi, State: { Name: 'stopped', Code: 80 } }] }] : [],
  });
  ec2.on(DeregisterImageCommand).resolves({});
  ec2.on(DeleteSnapshotCommand).resolves({});
  ec2.on(DescribeSnapshotsCommand).resolves({ Snapshots: [] });
}

beforeEach(() => {
  ec2.reset();
  autoScaling.reset();
});
afterEach(() => {
  ec2.reset();
  autoScaling.reset();
});

describe('cleanupAmis', () => {
  it('keeps the newest keep-amis and every AMI in use; deregisters the rest and deletes their snapshots', async () => {
    world({ instanceAmi: 'ami-00000000000000001' });
    const ctx = testContext({ command: 'cleanup', 'keep-amis': '1' });
    const result = await cleanupAmis(ctx);
    // 6 newest kept, 5 default version, 2 the group's version, 1 a stopped instance: only 3 and 4 go.
    expect(result.deregistered).toEqual(['ami-00000000000000004', 'ami-00000000000000003']);
    expect(ec2.commandCalls(DeregisterImageCommand).map((c) => c.args[0].input.ImageId)).toEqual(['ami-00000000000000004', 'ami-00000000000000003']);
    expect(ec2.commandCalls(DeleteSnapshotCommand).map((c) => c.args[0].input.SnapshotId)).toEqual(['snap-00000000000000004', 'snap-00000000000000003']);
    expect(ctx.log()).toMatch(/keep ami-00000000000000006 .*in use by the latest launch template version/);
    expect(ctx.log()).toMatch(/keep ami-00000000000000005 .*in use by the default launch template version/);
    expect(ctx.log()).toMatch(/keep ami-00000000000000002 .*in use by the launch template version of mapserver-ecs/);
    expect(ctx.log()).toMatch(/keep ami-00000000000000001 .*in use by instance i-stray \(stopped\)/);
    const images = ec2.commandCalls(DescribeImagesCommand)[0]?.args[0].input;
    expect(images).toMatchObject({ Owners: ['self'], Filters: [{ Name: 'tag:mapserver-ecs:managed', Values: ['true'] }] });
  });

  it('keeps the newest by build time even when not in use', async () => {
    world({ groupVersion: '$Default' });
    const result = await cleanupAmis(testContext({ command: 'cleanup', 'keep-amis': '3' }));
    // 6, 5, 4 newest; 5 and 6 also in use; 3, 2, 1 go.
    expect(result.deregistered).toEqual(['ami-00000000000000003', 'ami-00000000000000002', 'ami-00000000000000001']);
  });

  it('changes nothing in a dry run and lists what would go', async () => {
    world();
    const ctx = testContext({ command: 'cleanup', 'keep-amis': '1', 'dry-run': 'true' });
    const result = await cleanupAmis(ctx);
    expect(result.deregistered).toEqual(['ami-00000000000000004', 'ami-00000000000000003', 'ami-00000000000000001']);
    expect(ec2.commandCalls(DeregisterImageCommand)).toHaveLength(0);
    expect(ec2.commandCalls(DeleteSnapshotCommand)).toHaveLength(0);
    expect(ctx.log()).toMatch(/would deregister ami-00000000000000004 .*and delete snap-00000000000000004/);
  });

  it('says when there is nothing to do', async () => {
    world();
    ec2.on(DescribeImagesCommand).resolves({ Images: [ami(5, '05')] });
    const ctx = testContext({ command: 'cleanup' });
    await expect(cleanupAmis(ctx)).resolves.toEqual({ deregistered: [], orphanedSnapshots: [] });
    expect(ctx.log()).toMatch(/Nothing to clean up/);
  });

  it('works without a launch template (nothing bootstrapped yet)', async () => {
    world();
    ec2.on(DescribeLaunchTemplatesCommand).rejects(Object.assign(new Error('missing'), { name: 'InvalidLaunchTemplateName.NotFoundException' }));
    const result = await cleanupAmis(testContext({ command: 'cleanup', 'keep-amis': '4' }));
    expect(result.deregistered).toEqual(['ami-00000000000000002', 'ami-00000000000000001']);
  });

  it('asks EC2 to delete the snapshots with the AMI and deletes none itself when EC2 reports them deleted or shared', async () => {
    world();
    ec2.on(DeregisterImageCommand).callsFake((input: { ImageId: string }) => ({
      DeleteSnapshotResults: [{ SnapshotId: input.ImageId.replace('ami-', 'snap-'), ReturnCode: input.ImageId.endsWith('3') ? 'skipped' : 'success' }],
    }));
    const ctx = testContext({ command: 'cleanup', 'keep-amis': '1' });
    const result = await cleanupAmis(ctx);
    expect(ec2.commandCalls(DeregisterImageCommand).every((c) => c.args[0].input.DeleteAssociatedSnapshots === true)).toBe(true);
    expect(ec2.commandCalls(DeleteSnapshotCommand)).toHaveLength(0);
    expect(result.orphanedSnapshots).toEqual([]);
    expect(ctx.log()).toMatch(/deregistered ami-00000000000000003 .*kept snap-00000000000000003 \(used by another AMI\)/);
  });

  it('retries InvalidSnapshot.InUse with growing pauses, then reports the snapshot left over instead of failing', async () => {
    world();
    const inUse = Object.assign(new Error('The snapshot is currently in use by ami-00000000000000004'), { name: 'InvalidSnapshot.InUse' });
    ec2.on(DeleteSnapshotCommand, { SnapshotId: 'snap-00000000000000004' }).rejectsOnce(inUse).rejectsOnce(inUse).resolves({});
    ec2.on(DeleteSnapshotCommand, { SnapshotId: 'snap-00000000000000003' }).rejects(inUse);
    const pauses: number[] = [];
    const ctx = testContext({ command: 'cleanup', 'keep-amis': '1' });
    const result = await cleanupAmis(ctx, { firstDelayMs: 10, maxDelayMs: 25, attempts: 4, sleep: async (ms) => void pauses.push(ms) });
    expect(result.deregistered).toEqual(['ami-00000000000000004', 'ami-00000000000000003', 'ami-00000000000000001']);
    expect(result.orphanedSnapshots).toEqual([{ snapshotId: 'snap-00000000000000003', reason: expect.stringMatching(/^InvalidSnapshot\.InUse: .*\(after 4 attempts\)$/) }]);
    // Two pauses for snap-4 (then deleted), three for snap-3 (then given up), doubling up to the cap.
    expect(pauses).toEqual([10, 20, 10, 20, 25]);
    expect(ctx.log()).toMatch(/Snapshot snap-00000000000000003 of deregistered ami-00000000000000003 is left over/);
  });

  it('deletes snapshots a day old that a bake made and no AMI uses any more (left over by an earlier cleanup)', async () => {
    world();
    const now = Date.parse('2026-12-06T00:00:00Z');
    ec2.on(DescribeSnapshotsCommand).resolves({
      Snapshots: [
        { SnapshotId: 'snap-0000000000000000a', StartTime: new Date(now - 3 * 86_400_000) },
        // Used by an AMI that stays, too young, or used: kept.
        { SnapshotId: 'snap-00000000000000006', StartTime: new Date(now - 9 * 86_400_000) },
        { SnapshotId: 'snap-0000000000000000b', StartTime: new Date(now - 3_600_000) },
      ],
    });
    const ctx = testContext({ command: 'cleanup', 'keep-amis': '6' });
    const result = await cleanupAmis(ctx, { now: () => now });
    expect(result.sweptSnapshots).toEqual(['snap-0000000000000000a']);
    expect(ec2.commandCalls(DeleteSnapshotCommand).map((c) => c.args[0].input.SnapshotId)).toEqual(['snap-0000000000000000a']);
    expect(ec2.commandCalls(DescribeSnapshotsCommand)[0]?.args[0].input).toMatchObject({ OwnerIds: ['self'], Filters: [{ Name: 'tag:mapserver-ecs:managed', Values: ['true'] }] });
    expect(ctx.log()).toMatch(/deleted snapshot\(s\) left over by earlier cleanups: snap-0000000000000000a/);
  });

  it('reports what was done and what is left when a deregistration fails', async () => {
    world();
    ec2.on(DeregisterImageCommand).resolvesOnce({}).rejects(Object.assign(new Error('You are not authorized'), { name: 'UnauthorizedOperation' }));
    const error = (await cleanupAmis(testContext({ command: 'cleanup', 'keep-amis': '1' })).catch((e: unknown) => e)) as StepFailure;
    expect(error).toBeInstanceOf(StepFailure);
    expect(error.message).toMatch(/Cleanup failed at ami-00000000000000003: You are not authorized/);
    expect(error.state).toBe('deregistered: ami-00000000000000004; still registered: ami-00000000000000003, ami-00000000000000001');
  });
});

describe('cleanupCommand', () => {
  it('sets deregistered-amis', async () => {
    world();
    const ctx = testContext({ command: 'cleanup', 'keep-amis': '1', 'dry-run': 'true', 'mount-driver': 's3fs' });
    await cleanupCommand(ctx);
    expect(ctx.reporter.outputs().get('deregistered-amis')).toBe('ami-00000000000000004,ami-00000000000000003,ami-00000000000000001');
  });
});
