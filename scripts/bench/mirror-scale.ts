// The mirror on a bucket of many keys: the first sync's time, the memory after it (and its
// high-water mark), the CPU of a reconciliation that finds nothing to do, and how soon a new
// object's event is applied while every key is held. The mirror is booted by the real mount script
// against the emulator (moto behind the proxy, in a process of its own), events through SNS and SQS.
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { SNSClient } from '@aws-sdk/client-sns';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AwsClients } from '../../action/src/aws/clients.js';
import { mirrorTopicName } from '../../action/src/mirror/naming.js';
import { ensureMirrorEvents } from '../../action/src/steps/mirror-events.js';
import { testContext } from '../support/command-context.js';
import { mountBucket } from '../support/mount.js';
import { cpuSeconds, rssMiB } from './cpu.js';
import { startEmulatorChild } from './world.js';

const BUCKET = 'mapfiles-scale';
const PREFIX = 'maps/';
const RECONCILE_SECONDS = 30;
const UPLOAD_CONCURRENCY = 16;

export interface MirrorScaleResult {
  keys: number;
  command: string;
  first_sync_seconds: number;
  /** CPU (user + system) of the mirror from its start to the end of the first sync. */
  first_sync_cpu_seconds: number;
  rss_mib_after_sync: number;
  rss_high_water_mib: number;
  /** CPU (user + system) of the mirror from the start to the end of one reconciliation that changed nothing. */
  no_change_reconcile_cpu_seconds: number;
  no_change_reconcile_ms: number;
  new_object_applied_seconds: number;
}

/** Peak resident memory in MiB (VmHWM). */
async function highWaterMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number((Number(/^VmHWM:\s+(\d+) kB/m.exec(status)?.[1] ?? Number.NaN) / 1024).toFixed(1));
}

async function inParallel(count: number, limit: number, work: (index: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: limit }, async () => {
    while (next < count) await work(next++);
  }));
}

interface Status {
  pid: number;
  synced: boolean;
  reconcile: { count: number; lastOkAt?: string; last?: { durationMs: number; fetched: number } };
}

export async function measureMirrorScale(keys: number, command: string, log: (line: string) => void): Promise<MirrorScaleResult> {
  const emulator = await startEmulatorChild();
  const credentials = { accessKeyId: 'testing', secretAccessKey: 'testing' };
  const s3 = new S3Client({ endpoint: emulator.endpoint, region: 'us-east-1', forcePathStyle: true, credentials });
  const scratch = mkdtempSync(join(tmpdir(), 'mirror-scale-'));
  chmodSync(scratch, 0o755);
  try {
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
    const uploadStarted = performance.now();
    // A mapfile-sized body in folders of 200, as a large mapfile tree is laid out.
    await inParallel(keys, UPLOAD_CONCURRENCY, (i) =>
      s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${PREFIX}set${Math.floor(i / 200)}/layer${i}.map`, Body: `MAP NAME "layer${i}" END\n` })).then(() => undefined),
    );
    log(`  mirror-scale: uploaded ${keys} keys in ${((performance.now() - uploadStarted) / 1000).toFixed(1)} s (emulator, not measured)`);
    // Events only now: the upload's own events are not the mirror's load.
    const sns = new SNSClient({ endpoint: emulator.motoEndpoint, region: 'us-east-1', credentials });
    const clients = { s3, sns, destroy: () => sns.destroy() } as unknown as AwsClients;
    const inputs = { command: 'bootstrap', bucket: BUCKET, 'bucket-prefix': PREFIX, 'mount-driver': 'mirror', subnets: 'subnet-0123456789abcdef0', 'instance-profile': 'bench' } as const;
    await ensureMirrorEvents(testContext(inputs, { clients, env: { AWS_REGION: 'us-east-1' } }));
    sns.destroy();

    const started = performance.now();
    const mounted = await mountBucket({
      driver: 'mirror',
      endpoint: emulator.endpoint,
      bucket: BUCKET,
      prefix: PREFIX,
      mountPoint: join(scratch, 'mnt'),
      env: { AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing', AWS_REGION: 'us-east-1', ...(process.env.BENCH_NODE_OPTIONS ? { NODE_OPTIONS: process.env.BENCH_NODE_OPTIONS } : {}) },
      mirror: { topic: mirrorTopicName(BUCKET), queue: 'mapserver-ecs-mirror-scale', reconcileSeconds: RECONCILE_SECONDS },
      mountTimeoutMs: 1_800_000,
    });
    try {
      const firstSync = (performance.now() - started) / 1000;
      const readStatus = async (): Promise<Status> => JSON.parse(await readFile(join(mounted.mirrorRoot, 'status.json'), 'utf8')) as Status;
      const { pid } = await readStatus();
      const rssAfterSync = await rssMiB(pid);
      // What the first sync cost the instance, whatever the emulator's own speed.
      const firstSyncCpu = await cpuSeconds(pid);
      log(`  mirror-scale ${keys}: first sync ${firstSync.toFixed(1)} s, RSS ${rssAfterSync} MiB`);

      // A new object's event, while every key is held.
      const newKey = `${PREFIX}new/arrived.map`;
      const putAt = performance.now();
      await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: newKey, Body: 'MAP END\n' }));
      while (!(await stat(join(mounted.mountPoint, 'new', 'arrived.map')).catch(() => undefined))) {
        if (performance.now() - putAt > 60_000) throw new Error('the new object did not arrive within 60 s');
        await new Promise((r) => setTimeout(r, 10));
      }
      const newObject = (performance.now() - putAt) / 1000;

      // One reconciliation that changes nothing: CPU from just before it starts to just after it ends.
      const before = await readStatus();
      const lastOk = Date.parse(before.reconcile.lastOkAt ?? '');
      const startsAt = lastOk + RECONCILE_SECONDS * 1000 - 500;
      await new Promise((r) => setTimeout(r, Math.max(0, startsAt - Date.now())));
      const cpuBefore = await cpuSeconds(pid);
      let after = await readStatus();
      while (after.reconcile.count === before.reconcile.count) {
        await new Promise((r) => setTimeout(r, 20));
        after = await readStatus();
      }
      const cpu = (await cpuSeconds(pid)) - cpuBefore;
      const result: MirrorScaleResult = {
        keys,
        command,
        first_sync_seconds: Number(firstSync.toFixed(2)),
        first_sync_cpu_seconds: Number(firstSyncCpu.toFixed(2)),
        rss_mib_after_sync: rssAfterSync,
        rss_high_water_mib: await highWaterMiB(pid),
        no_change_reconcile_cpu_seconds: Number(cpu.toFixed(2)),
        no_change_reconcile_ms: after.reconcile.last?.durationMs ?? Number.NaN,
        new_object_applied_seconds: Number(newObject.toFixed(3)),
      };
      log(`  mirror-scale ${keys}: ${JSON.stringify(result)}`);
      return result;
    } finally {
      await mounted.unmount();
    }
  } finally {
    s3.destroy();
    await emulator.stop();
    rmSync(scratch, { recursive: true, force: true });
  }
}
