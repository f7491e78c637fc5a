// Deregistering an AMI together with its EBS snapshots. EC2 deletes them itself when asked to
// (DeleteAssociatedSnapshots) and reports each; a snapshot it did not delete is deleted here, where
// EC2 answers InvalidSnapshot.InUse for a while after the deregistration, so that is retried with
// backoff up to a bound. A snapshot still left is reported as an orphan: the AMI is gone either way.
import { DeleteSnapshotCommand, DeregisterImageCommand, DescribeImagesCommand, DescribeSnapshotsCommand, type EC2Client, type Image } from '@aws-sdk/client-ec2';
import { MANAGED_TAG } from './tags.js';
import { sleep as realSleep } from '../wait.js';
import { awsErrorCode, isAwsError } from './errors.js';

export interface SnapshotRetry {
  /** First pause after InvalidSnapshot.InUse; each next one doubles (default 2 s). */
  firstDelayMs?: number;
  /** Longest single pause (default 30 s). */
  maxDelayMs?: number;
  /** Attempts per snapshot, the first included (default 7: about 1m30s of waiting). */
  attempts?: number;
  sleep?: (ms: number) => Promise<void>;
}

export interface DeregisteredImage {
  /** Deleted by EC2 with the deregistration or by a DeleteSnapshot here (or already gone). */
  deleted: string[];
  /** Left alone because another AMI uses them (EC2's "skipped"). */
  shared: string[];
  /** Still there after the retries, with the last error: delete them later by hand or by the next cleanup. */
  orphaned: Array<{ snapshotId: string; reason: string }>;
}

export function snapshotsOf(image: Image): string[] {
  return (image.BlockDeviceMappings ?? []).map((m) => m.Ebs?.SnapshotId ?? '').filter((s) => s !== '');
}

export async function deregisterWithSnapshots(ec2: EC2Client, image: Image, retry: SnapshotRetry = {}): Promise<DeregisteredImage> {
  const result: DeregisteredImage = { deleted: [], shared: [], orphaned: [] };
  const answer = await ec2.send(new DeregisterImageCommand({ ImageId: image.ImageId, DeleteAssociatedSnapshots: true }));
  const codes = new Map((answer.DeleteSnapshotResults ?? []).map((r) => [r.SnapshotId ?? '', r.ReturnCode ?? '']));
  for (const snapshotId of snapshotsOf(image)) {
    const code = codes.get(snapshotId);
    if (code === 'success') result.deleted.push(snapshotId);
    else if (code === 'skipped') result.shared.push(snapshotId);
    else {
      // Not reported (the parameter unknown where this runs) or failed: delete it ourselves.
      const reason = await deleteSnapshotWithRetry(ec2, snapshotId, retry);
      if (reason) result.orphaned.push({ snapshotId, reason });
      else result.deleted.push(snapshotId);
    }
  }
  return result;
}

/** Deletes one snapshot, retrying InvalidSnapshot.InUse; undefined when gone, else why it is still there. */
export async function deleteSnapshotWithRetry(ec2: EC2Client, snapshotId: string, retry: SnapshotRetry = {}): Promise<string | undefined> {
  const attempts = retry.attempts ?? 7;
  const pause = retry.sleep ?? realSleep;
  let delay = retry.firstDelayMs ?? 2_000;
  for (let attempt = 1; ; attempt += 1) {
    try {
      await ec2.send(new DeleteSnapshotCommand({ SnapshotId: snapshotId }));
      return undefined;
    } catch (error) {
      if (isAwsError(error, 'InvalidSnapshot.NotFound')) return undefined;
      const why = `${awsErrorCode(error) ?? 'error'}: ${(error as Error).message}`;
      if (!isAwsError(error, 'InvalidSnapshot.InUse')) return why;
      if (attempt >= attempts) return `${why} (after ${attempts} attempts)`;
      await pause(delay);
      delay = Math.min(delay * 2, retry.maxDelayMs ?? 30_000);
    }
  }
}

/** Snapshots a bake made a day or more ago (they carry the AMI's tags) that no AMI of this account uses any more. */
export async function leftOverSnapshots(ec2: EC2Client, now: number, minAgeMs = 24 * 3600_000): Promise<string[]> {
  const used = new Set<string>();
  let token: string | undefined;
  do {
    const page = await ec2.send(new DescribeImagesCommand({ Owners: ['self'], ...(token ? { NextToken: token } : {}) }));
    for (const image of page.Images ?? []) for (const id of snapshotsOf(image)) used.add(id);
    token = page.NextToken;
  } while (token);
  const left: string[] = [];
  do {
    const page = await ec2.send(new DescribeSnapshotsCommand({ OwnerIds: ['self'], Filters: [{ Name: `tag:${MANAGED_TAG}`, Values: ['true'] }], ...(token ? { NextToken: token } : {}) }));
    for (const snapshot of page.Snapshots ?? []) {
      // A young one may belong to a bake still registering its AMI.
      const old = snapshot.StartTime !== undefined && now - new Date(snapshot.StartTime).getTime() >= minAgeMs;
      if (snapshot.SnapshotId && old && !used.has(snapshot.SnapshotId)) left.push(snapshot.SnapshotId);
    }
    token = page.NextToken;
  } while (token);
  return left;
}
