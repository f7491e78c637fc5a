// The mirror driver (booted by the AMI's mapfiles-mount) where buckets and instances push back:
// an S3 that keeps connections open (the emulator's proxy in keep-alive mode) with 60 keys the
// mirror must refuse, and a mirror root on a 50 MiB file system that the bucket outgrows and that
// is then filled to the last byte. Events are real (moto: S3 -> SNS -> the instance's SQS queue).
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { CreateBucketCommand, DeleteObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createClients } from '../../src/aws/clients.js';
import { ensureMirrorEvents } from '../../src/steps/mirror-events.js';
import { testContext } from '../../../scripts/support/command-context.js';
import { emulatorEnv, startEmulator, type Emulator } from '../../../scripts/emulator/start.js';
import { mountBucket, runMountScript, unmountAll, type Mounted } from '../../../scripts/support/mount.js';

jest.setTimeout(300_000);

const BUCKET = 'mapfiles-mirror-limits';
const TOPIC = 'mapserver-ecs-mapfiles-mapfiles-mirror-limits';
const RECONCILE_SECONDS = 5;
const GRACE_SECONDS = 3;
const MIB = 1024 * 1024;
const run = promisify(execFile);

let emulator: Emulator;
let s3: S3Client;
let scratch: string;
const savedEnv = { ...process.env };

const put = (key: string, body: string | Buffer): Promise<unknown> => s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
const remove = (key: string): Promise<unknown> => s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: key }));

async function waitFor<T>(what: string, read: () => Promise<T>, ok: (value: T) => boolean, limitMs: number): Promise<T> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    const value = await read();
    if (ok(value)) return value;
    if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(value)} after ${limitMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

interface Status {
  pid: number;
  state: string;
  reconcile: { count: number };
  refusedCount: number;
  degraded?: { reason: string };
}

const status = (mounted: Mounted): Promise<Status> => readFile(join(mounted.mirrorRoot, 'status.json'), 'utf8').then((t) => JSON.parse(t) as Status);
const check = (mounted: Mounted): Promise<{ code: number; output: string }> => runMountScript('check', mounted.scriptEnv, 30_000);

function mount(prefix: string, mirror: { root?: string; settings?: Record<string, string> } = {}): Promise<Mounted> {
  const mountPoint = join(scratch, prefix.replace(/\/$/, ''), 'mnt');
  return mountBucket({
    driver: 'mirror',
    endpoint: emulator.endpoint,
    bucket: BUCKET,
    prefix,
    mountPoint,
    env: { AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing', AWS_REGION: 'us-east-1' },
    mirror: { topic: TOPIC, queue: `mapserver-ecs-mirror-${prefix.replace(/\W/g, '')}`, reconcileSeconds: RECONCILE_SECONDS, ...mirror },
  });
}

beforeAll(async () => {
  emulator = await startEmulator({ keepAlive: true });
  s3 = new S3Client({ endpoint: emulator.motoEndpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  const env = emulatorEnv(emulator.motoEndpoint);
  Object.assign(process.env, env);
  const inputs = { command: 'bootstrap', bucket: BUCKET, 'mount-driver': 'mirror', subnets: 'subnet-0123456789abcdef0', 'instance-profile': 'instance' } as const;
  const ctx = testContext(inputs, { env, clients: createClients('us-east-1', env) });
  await ensureMirrorEvents(ctx);
  ctx.clients.destroy();
  scratch = mkdtempSync(join(tmpdir(), 'mirror-limits-'));
  chmodSync(scratch, 0o755);
});

afterAll(async () => {
  await unmountAll();
  s3?.destroy();
  await emulator?.stop();
  if (scratch) {
    await run('umount', ['-l', join(scratch, 'small')]).catch(() => undefined);
    rmSync(scratch, { recursive: true, force: true });
  }
  for (const key of Object.keys(process.env)) if (!(key in savedEnv)) delete process.env[key];
  Object.assign(process.env, savedEnv);
});

describe('against an S3 that keeps connections open', () => {
  it('keeps connections bounded with 60 conflicting keys, keeps reconciling, and applies a new key within 1 s', async () => {
    await put('conflicts/a', 'a file where a folder goes');
    const mounted = await mount('conflicts/');
    for (let i = 0; i < 60; i++) await put(`conflicts/a/k${i}.map`, `nested ${i}`);
    const first = await waitFor('refused keys', () => status(mounted), (s) => s.refusedCount === 60, 20_000);
    // Three more reconciliations, each of which used to fetch all 60 and leave their bodies unread.
    await waitFor('reconciliations', () => status(mounted), (s) => s.reconcile.count >= first.reconcile.count + 3, 30_000);
    expect(await emulator.proxy.connections()).toBeLessThanOrEqual(20);
    const started = performance.now();
    await put('conflicts/new.map', 'new');
    await waitFor('the new key', () => readFile(join(mounted.mountPoint, 'new.map'), 'utf8').catch(() => ''), (t) => t === 'new', 5000);
    expect(performance.now() - started).toBeLessThan(1000);
    expect((await check(mounted)).code).toBe(0);
  });
});

describe('kill -9 mid-overwrite, then a revert while the mirror is down', () => {
  it('converges within one reconciliation', async () => {
    const A = (i: number): string => `MAP NAME "A${String(i).padStart(3, '0')}" END`;
    const B = (i: number): string => `MAP NAME "B${String(i).padStart(3, '0')}" END`;
    const count = 40;
    for (let i = 0; i < count; i++) await put(`revert/k${i}.map`, A(i));
    const mounted = await mount('revert/');
    const before = await status(mounted);
    const supervisor = Number(await readFile(join(mounted.mirrorRoot, 'supervisor.pid'), 'utf8'));
    const overwrites = Array.from({ length: count }, (_, i) => put(`revert/k${i}.map`, B(i)));
    // Kill the mirror while it applies them: once some, not all, are in place.
    await waitFor('some overwrites applied', async () => {
      let applied = 0;
      for (let i = 0; i < count; i++) if ((await readFile(join(mounted.mountPoint, `k${i}.map`), 'utf8').catch(() => '')) === B(i)) applied += 1;
      return applied;
    }, (applied) => applied > 0, 20_000);
    process.kill(supervisor, 'SIGSTOP');
    process.kill(before.pid, 'SIGKILL');
    try {
      await Promise.all(overwrites);
      for (let i = 0; i < count; i++) await put(`revert/k${i}.map`, A(i));
    } finally {
      process.kill(supervisor, 'SIGCONT');
    }
    const restarted = await waitFor('a restarted mirror', () => status(mounted).catch(() => before), (s) => s.pid !== before.pid && s.reconcile.count >= 1, 60_000);
    expect(restarted.pid).not.toBe(before.pid);
    for (let i = 0; i < count; i++) expect(await readFile(join(mounted.mountPoint, `k${i}.map`), 'utf8')).toBe(A(i));
    await mounted.unmount();
  });
});

describe('a mirror root on a 50 MiB file system', () => {
  let mounted: Mounted;
  const small = (): string => join(scratch, 'small');

  beforeAll(async () => {
    mkdirSync(small());
    await run('mount', ['-t', 'tmpfs', '-o', 'size=50m', 'tmpfs', small()]);
    await put('small/roads.map', 'MAP NAME "roads" END');
    await put('small/symbols.sym', 'SYMBOLSET END');
    mounted = await mount('small/', { root: join(small(), 'mirror'), settings: { MIRROR_GRACE_SECONDS: String(GRACE_SECONDS) } });
  });

  afterAll(async () => {
    await mounted?.unmount();
  });

  it('serves the old files when 80 MiB arrive, fails its check with "disk full" after the grace period, and recovers once they are deleted', async () => {
    const big = Buffer.alloc(20 * MIB, 1);
    for (let i = 0; i < 4; i++) await put(`small/data/big${i}.csv`, big);
    await put('small/roads.map', 'MAP NAME "roads v2" END');
    const degraded = await waitFor('degraded', () => status(mounted), (s) => s.degraded !== undefined, 30_000);
    expect(degraded.degraded?.reason).toMatch(/^disk full: ENOSPC/);
    const failing = await waitFor('a check failing for the full disk', () => check(mounted), (r) => r.code !== 0 && /disk full/.test(r.output), (GRACE_SECONDS + 10) * 1000);
    expect(failing.output).toMatch(/disk full: ENOSPC/);
    expect(await readFile(join(mounted.mountPoint, 'symbols.sym'), 'utf8')).toBe('SYMBOLSET END');
    for (let i = 0; i < 4; i++) await remove(`small/data/big${i}.csv`);
    await waitFor('recovered', () => status(mounted), (s) => s.degraded === undefined && s.state === 'ready', 30_000);
    await waitFor('a passing check', () => check(mounted), (r) => r.code === 0, 15_000);
    expect(await readFile(join(mounted.mountPoint, 'roads.map'), 'utf8')).toBe('MAP NAME "roads v2" END');
  });

  it('neither crashes nor fails to restart on a disk filled to the last byte, and recovers when space returns', async () => {
    const filler = join(small(), 'filler');
    await run('dd', ['if=/dev/zero', `of=${filler}`, 'bs=1M', 'count=60']).catch(() => undefined);
    await put('small/after-full.map', 'MAP NAME "after" END');
    const before = await status(mounted);
    process.kill(before.pid, 'SIGKILL');
    // The check fails within 10 s of the process dying (its id is gone; its heartbeat stops).
    const died = performance.now();
    await waitFor('a failing check', () => check(mounted), (r) => r.code !== 0, 10_000);
    expect(performance.now() - died).toBeLessThan(10_000);
    await new Promise((r) => setTimeout(r, 5000));
    await rm(filler);
    const back = await waitFor('a restarted mirror', () => status(mounted).catch(() => before), (s) => s.pid !== before.pid && s.state === 'ready', 60_000);
    expect(back.state).toBe('ready');
    await waitFor('the key written while full', () => readFile(join(mounted.mountPoint, 'after-full.map'), 'utf8').catch(() => ''), (t) => t.includes('after'), 30_000);
    await waitFor('a passing check', () => check(mounted), (r) => r.code === 0, 15_000);
    const log = await readFile(mounted.mirrorLog, 'utf8');
    // One restart: the kill. A mirror that crashed on the full disk would have been restarted again and again.
    expect(log.match(/exited with code/g) ?? []).toHaveLength(1);
  });
});
