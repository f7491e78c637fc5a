// The mirror driver booted through the AMI's own mount script (mapfiles-mount mount with
// MOUNT_DRIVER=mirror), fed by REAL S3 event notifications (moto: S3 -> SNS -> the instance's SQS
// queue, all on loopback), with the bucket's topic and notification made by the pipeline's own
// bootstrap code; then the real MapServer image serving WMS from the mirrored folder.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { CreateBucketCommand, DeleteObjectCommand, PutBucketNotificationConfigurationCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { ListSubscriptionsByTopicCommand, SNSClient } from '@aws-sdk/client-sns';
import { ListQueuesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { readFile, readdir, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PNG } from 'pngjs';
import { createClients } from '../../src/aws/clients.js';
import { ensureMirrorEvents } from '../../src/steps/mirror-events.js';
import { testContext } from '../../../scripts/support/command-context.js';
import { emulatorEnv, startEmulator, type Emulator } from '../../../scripts/emulator/start.js';
import { freePort } from '../../../scripts/support/ports.js';
import { get, runContainer, stopAllContainers } from '../support/image.js';
import { mountBucket, runMountScript, unmountAll, type Mounted } from '../../../scripts/support/mount.js';

jest.setTimeout(600_000);

const BUCKET = 'mapfiles-mirror-test';
const PREFIX = 'maps/';
const QUEUE = 'mapserver-ecs-mirror-test-instance';
const RECONCILE_SECONDS = 5;
const run = promisify(execFile);

let emulator: Emulator;
let s3: S3Client;
let scratch: string;
let mounted: Mounted;
let topicArn: string;
const savedEnv = { ...process.env };

const put = (key: string, body: string): Promise<unknown> => s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));

/** Milliseconds until `path` reads `expected` (undefined: gone), polling every 5 ms. */
async function msUntil(path: string, expected: string | undefined, since: number, limitMs = 15_000): Promise<number> {
  for (;;) {
    const content = await readFile(path, 'utf8').catch(() => undefined);
    const elapsed = performance.now() - since;
    if (content === expected) return elapsed;
    if (elapsed > limitMs) throw new Error(`${path} still reads ${JSON.stringify(content)} after ${limitMs} ms, expected ${JSON.stringify(expected)}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function mapfile(colour: string): string {
  return `MAP
  NAME "mirrored"
  SIZE 64 64
  EXTENT -20 -20 20 20
  IMAGECOLOR 255 255 255
  PROJECTION "init=epsg:4326" END
  WEB METADATA "wms_title" "mirrored" "wms_srs" "EPSG:4326" "wms_enable_request" "*" END END
  LAYER
    NAME "square"
    TYPE POLYGON
    STATUS ON
    PROJECTION "init=epsg:4326" END
    METADATA "wms_title" "square" END
    FEATURE POINTS -20 -20 -20 20 20 20 20 -20 -20 -20 END END
    CLASS STYLE COLOR ${colour} END END
  END
END
`;
}

beforeAll(async () => {
  emulator = await startEmulator();
  s3 = new S3Client({ endpoint: emulator.motoEndpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  // The pipeline's bootstrap code makes the topic, its policy and the bucket notification.
  const env = emulatorEnv(emulator.motoEndpoint);
  Object.assign(process.env, env);
  const ctx = bootstrapContext(env);
  const events = await ensureMirrorEvents(ctx);
  topicArn = events.topic.arn ?? '';
  expect(topicArn).toMatch(/^arn:aws:sns:us-east-1:\d{12}:mapserver-ecs-mapfiles-mapfiles-mirror-test$/);
  ctx.clients.destroy();
  await put(`${PREFIX}roads.map`, mapfile('200 0 0'));
  await put(`${PREFIX}data/roads.csv`, 'id,name\n1,main\n');
  await put(`${PREFIX}../escape.map`, 'refused');
  await put('elsewhere/other.map', 'outside the prefix');
  scratch = mkdtempSync(join(tmpdir(), 'mirror-it-'));
  // MapServer's user must be able to reach the mount point, as on an instance.
  chmodSync(scratch, 0o755);
  mounted = await mountBucket({
    driver: 'mirror',
    endpoint: emulator.motoEndpoint,
    bucket: BUCKET,
    prefix: PREFIX,
    mountPoint: join(scratch, 'mnt'),
    env: { AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing', AWS_REGION: 'us-east-1' },
    mirror: { topic: 'mapserver-ecs-mapfiles-mapfiles-mirror-test', queue: QUEUE, reconcileSeconds: RECONCILE_SECONDS },
  });
});

afterAll(async () => {
  await stopAllContainers();
  await unmountAll();
  s3?.destroy();
  await emulator?.stop();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
  for (const key of Object.keys(process.env)) if (!(key in savedEnv)) delete process.env[key];
  Object.assign(process.env, savedEnv);
});

describe('mapfiles-mount with the mirror driver', () => {
  it('marks the instance ready only after the first sync, read-only, owned and moded as the s3fs mount', async () => {
    expect(await readFile(mounted.readyFile, 'utf8')).toBe('ECS_INSTANCE_ATTRIBUTES={"mapserver-ecs.mount":"ready"}\n');
    const { stdout } = await run('findmnt', ['-n', '-o', 'OPTIONS', '--mountpoint', mounted.mountPoint], { encoding: 'utf8' });
    expect(stdout.split(',')).toContain('ro');
    expect(await readFile(join(mounted.mountPoint, 'roads.map'), 'utf8')).toBe(mapfile('200 0 0'));
    expect(await readFile(join(mounted.mountPoint, 'data/roads.csv'), 'utf8')).toBe('id,name\n1,main\n');
    const file = await stat(join(mounted.mountPoint, 'roads.map'));
    const folder = await stat(join(mounted.mountPoint, 'data'));
    expect([file.uid, file.gid, (file.mode & 0o777).toString(8)]).toEqual([33, 33, '644']);
    expect([folder.uid, folder.gid, (folder.mode & 0o777).toString(8)]).toEqual([33, 33, '755']);
    expect((await readdir(mounted.mountPoint)).sort()).toEqual(['data', 'roads.map']);
    expect(await readFile(mounted.mirrorLog, 'utf8')).toMatch(/refused "maps\/\.\.\/escape\.map": "\.\." is not a valid path segment/);
    // Read-only for everyone, root included.
    await expect(run('touch', [join(mounted.mountPoint, 'written.map')])).rejects.toThrow(/Read-only file system/);
    expect((await runMountScript('check', mounted.scriptEnv)).code).toBe(0);
  });

  it('subscribes its own queue to the bucket topic', async () => {
    const sqs = new SQSClient(emulatorClientConfig());
    const sns = new SNSClient(emulatorClientConfig());
    const queues = await sqs.send(new ListQueuesCommand({ QueueNamePrefix: QUEUE }));
    expect(queues.QueueUrls?.map((u) => u.split('/').pop())).toEqual([QUEUE]);
    const subscriptions = await sns.send(new ListSubscriptionsByTopicCommand({ TopicArn: topicArn }));
    expect(subscriptions.Subscriptions?.map((s) => s.Endpoint)).toEqual([expect.stringMatching(new RegExp(`:${QUEUE}$`))]);
    const status = JSON.parse((await runMountScript('status', mounted.scriptEnv)).output) as { events: { state: string }; synced: boolean };
    expect(status).toMatchObject({ synced: true, events: { state: 'listening' } });
    sqs.destroy();
    sns.destroy();
  });

  it('shows overwrites, new objects (nested, with spaces) and deletes within a second of the PUT or DELETE returning', async () => {
    const delays: number[] = [];
    for (let i = 0; i < 10; i++) {
      await put(`${PREFIX}roads.map`, mapfile(`${i} 0 0`));
      delays.push(await msUntil(join(mounted.mountPoint, 'roads.map'), mapfile(`${i} 0 0`), performance.now()));
    }
    for (let i = 0; i < 5; i++) {
      const key = `new folder/map ${i}+x.map`;
      await put(`${PREFIX}${key}`, `new ${i}`);
      delays.push(await msUntil(join(mounted.mountPoint, key), `new ${i}`, performance.now()));
    }
    for (let i = 0; i < 5; i++) {
      const key = `new folder/map ${i}+x.map`;
      await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: `${PREFIX}${key}` }));
      delays.push(await msUntil(join(mounted.mountPoint, key), undefined, performance.now()));
    }
    expect(Math.max(...delays)).toBeLessThan(1000);
    // The emptied folder goes too.
    expect(await readdir(mounted.mountPoint)).not.toContain('new folder');
  });

  it('with notifications switched off, still serves a change within the reconciliation interval plus one fetch', async () => {
    await s3.send(new PutBucketNotificationConfigurationCommand({ Bucket: BUCKET, NotificationConfiguration: {} }));
    const since = performance.now();
    await put(`${PREFIX}late.map`, 'found by reconciliation');
    const delay = await msUntil(join(mounted.mountPoint, 'late.map'), 'found by reconciliation', since, 30_000);
    expect(delay).toBeLessThan(RECONCILE_SECONDS * 1000 + 1000);
    // Back on, through the same bootstrap code (idempotent).
    const env = emulatorEnv(emulator.motoEndpoint);
    const ctx = bootstrapContext(env);
    expect((await ensureMirrorEvents(ctx)).notification.changed).toBe(true);
    ctx.clients.destroy();
  });

  it('comes back after its process is killed (the supervisor restarts it, from its saved state)', async () => {
    const pid = (await readFile(join(mounted.mirrorRoot, 'status.json'), 'utf8').then((t) => (JSON.parse(t) as { pid: number }).pid)) as number;
    process.kill(pid, 'SIGKILL');
    const deadline = Date.now() + 30_000;
    let status = { pid, synced: false };
    while (Date.now() < deadline && (status.pid === pid || !status.synced)) {
      await new Promise((r) => setTimeout(r, 200));
      status = JSON.parse(await readFile(join(mounted.mirrorRoot, 'status.json'), 'utf8').catch(() => '{}')) as typeof status;
    }
    expect(status.pid).not.toBe(pid);
    expect(status.synced).toBe(true);
    const log = await readFile(mounted.mirrorLog, 'utf8');
    expect(log).toMatch(/mapfiles-mirror exited with code 137; restarting/);
    // Restarted from its state file: the reconciliation after the restart fetched nothing.
    expect(log.split('exited with code 137').pop()).not.toMatch(/added maps\/roads\.map/);
    // A long poll of the killed process may still take the next message (it stays invisible for
    // the visibility timeout): the reconciliation bounds that, as for any lost event.
    await put(`${PREFIX}roads.map`, mapfile('0 0 200'));
    expect(await msUntil(join(mounted.mountPoint, 'roads.map'), mapfile('0 0 200'), performance.now())).toBeLessThan(RECONCILE_SECONDS * 1000 + 1000);
  });

  it('serves WMS through the real image from the mirrored folder, and an edit on the next request', async () => {
    const container = await runContainer({ mapfiles: mounted.mountPoint });
    const getMap = '/wms/?map=/mapfiles/roads.map&SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&CRS=EPSG:4326&BBOX=-20,-20,20,20&WIDTH=64&HEIGHT=64&LAYERS=square&STYLES=&FORMAT=image/png';
    const pixel = async (): Promise<number[]> => {
      const answer = await get(container.baseUrl, getMap);
      expect(answer.contentType).toBe('image/png');
      const png = PNG.sync.read(answer.body);
      return [...png.data.subarray(0, 3)];
    };
    expect(await pixel()).toEqual([0, 0, 200]);
    const capabilities = await get(container.baseUrl, '/wms/?map=/mapfiles/roads.map&SERVICE=WMS&REQUEST=GetCapabilities&VERSION=1.3.0');
    expect(capabilities.text).toContain('<Name>square</Name>');
    await put(`${PREFIX}roads.map`, mapfile('0 160 0'));
    const since = performance.now();
    let colour = await pixel();
    while (colour[1] !== 160 && performance.now() - since < 5000) colour = await pixel();
    expect(colour).toEqual([0, 160, 0]);
    expect(performance.now() - since).toBeLessThan(1000);
  });

  it('unmounts, stops the mirror and deletes its queue and subscription', async () => {
    await mounted.unmount();
    const sqs = new SQSClient(emulatorClientConfig());
    const sns = new SNSClient(emulatorClientConfig());
    expect((await sqs.send(new ListQueuesCommand({ QueueNamePrefix: QUEUE }))).QueueUrls ?? []).toEqual([]);
    expect((await sns.send(new ListSubscriptionsByTopicCommand({ TopicArn: topicArn }))).Subscriptions ?? []).toEqual([]);
    sqs.destroy();
    sns.destroy();
    const { stdout } = await run('findmnt', ['-n', '--mountpoint', mounted.mountPoint], { encoding: 'utf8' }).catch(() => ({ stdout: '' }));
    expect(stdout).toBe('');
  });
});

describe('a first sync that cannot finish', () => {
  it('does not mark the instance ready, says why, and leaves no mirror running', async () => {
    const closed = `http://127.0.0.1:${await freePort()}`;
    // Other stacks on this machine may run mirrors of their own: only a new one would be ours.
    const supervisors = async (): Promise<string[]> =>
      (await run('pgrep', ['-f', 'mapfiles-mount supervise-mirror'], { encoding: 'utf8' }).catch(() => ({ stdout: '' }))).stdout.split('\n').filter(Boolean);
    const before = await supervisors();
    const attempt = mountBucket({
      driver: 'mirror',
      endpoint: closed,
      bucket: BUCKET,
      prefix: PREFIX,
      mountPoint: join(scratch, 'unreachable'),
      env: { AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing', AWS_REGION: 'us-east-1', MAPFILES_MOUNT_ATTEMPTS: '1', MAPFILES_MIRROR_SYNC_SECONDS: '4' },
    });
    await expect(attempt).rejects.toThrow(/first sync did not finish within 4 s: mapfiles-mirror: the first sync has not finished[\s\S]*giving up after 1 attempts[\s\S]*reconciliation failed/);
    expect((await supervisors()).filter((pid) => !before.includes(pid))).toEqual([]);
  });
});

/** The context bootstrap runs with (the subnets and profile are not used by the mirror's part). */
function bootstrapContext(env: Record<string, string>) {
  const inputs = { command: 'bootstrap', bucket: BUCKET, 'bucket-prefix': PREFIX, 'mount-driver': 'mirror', subnets: 'subnet-0123456789abcdef0', 'instance-profile': 'instance' } as const;
  return testContext(inputs, { env, clients: createClients('us-east-1', env) });
}

function emulatorClientConfig() {
  return { endpoint: emulator.motoEndpoint, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } };
}
