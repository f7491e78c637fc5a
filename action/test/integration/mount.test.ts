// The AMI's mount script, run for real on this machine: s3fs mounts an emulated bucket through FUSE,
// read-only, owned by MapServer's user, and fresh on the next read.
// The emulator's shim runs inside this process, so the mount is only ever touched asynchronously: a
// synchronous read would block the very event loop that must answer s3fs's request.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { DeleteObjectCommand, PutObjectCommand, S3Client, CreateBucketCommand } from '@aws-sdk/client-s3';
import { execFile, execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmulator, type Emulator } from '../../../scripts/emulator/start.js';
import { lazyUnmount, mountBucket, runMountScript, unmountAll, type Mounted } from '../../../scripts/support/mount.js';

const BUCKET = 'mapfiles-mount-test';
const PREFIX = 'maps/';
const FRESHNESS_LIMIT_MS = 1000;
// testTimeout is a global option, so the integration project's value does not reach this file.
jest.setTimeout(120_000);

let emulator: Emulator;
let s3: S3Client;
let mounted: Mounted;
let scratch: string;

async function put(key: string, body: string): Promise<void> {
  await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
}

/** Reads a file through the mount until it holds `expected`; returns the milliseconds it took. */
async function msUntil(path: string, expected: string | undefined, since: number): Promise<number> {
  for (;;) {
    let content: string | undefined;
    try {
      content = await readFile(path, 'utf8');
    } catch {
      content = undefined;
    }
    const elapsed = performance.now() - since;
    if (content === expected) return elapsed;
    if (elapsed > 10_000) throw new Error(`${path} still reads ${JSON.stringify(content)} after 10 s, expected ${JSON.stringify(expected)}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const run = promisify(execFile);

async function asUser(uid: number, gid: number, args: string[]): Promise<string> {
  return (await run('setpriv', [`--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', ...args], { encoding: 'utf8' })).stdout;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** findmnt's line for a mount point, '' when nothing is mounted there. */
async function findmnt(mountPoint: string, columns = 'FSTYPE,OPTIONS'): Promise<string> {
  return run('findmnt', ['-n', '-o', columns, '--mountpoint', mountPoint], { encoding: 'utf8' }).then(
    (r) => r.stdout.trim(),
    () => '',
  );
}

/**
 * S3 straight from moto: the emulator's shim answers HEAD requests with Content-Length 0, which s3fs
 * takes for the object's size (every file would read empty through the shim).
 */
let s3Endpoint: string;

beforeAll(async () => {
  emulator = await startEmulator();
  s3Endpoint = emulator.motoEndpoint;
  s3 = new S3Client({ endpoint: s3Endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  await put(`${PREFIX}roads.map`, 'MAP NAME "roads" END\n');
  await put(`${PREFIX}data/roads.csv`, 'id,name\n1,main\n');
  await put('outside.map', 'MAP NAME "outside" END\n');
  scratch = mkdtempSync(join(tmpdir(), 'mount-test-'));
  // MapServer's user must be able to reach the mount point through its parent folders.
  chmodSync(scratch, 0o755);
  mounted = await mountBucket({
    endpoint: s3Endpoint,
    bucket: BUCKET,
    prefix: PREFIX,
    mountPoint: join(scratch, 'mapfiles'),
    uid: 33,
    gid: 33,
    umask: '0022',
    env: emulator.env,
  });
});

afterAll(async () => {
  await unmountAll();
  // Whatever a failed test left mounted is detached before the folder goes, never descended into.
  for (const name of ['mapfiles', 'second', 'late', 'missing', 'tmpfs']) await lazyUnmount(join(scratch, name));
  s3?.destroy();
  await emulator?.stop();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

describe('mapfiles-mount with s3fs', () => {
  it('mounts the prefix read-only with allow_other and writes the ECS ready attribute', async () => {
    const options = await findmnt(mounted.mountPoint);
    expect(options).toMatch(/^fuse\.s3fs\s/);
    expect(options.split(/\s+/)[1]?.split(',')).toEqual(expect.arrayContaining(['ro', 'allow_other']));
    expect((await readdir(mounted.mountPoint)).sort()).toEqual(['data', 'roads.map']);
    expect(readFileSync(mounted.readyFile, 'utf8')).toBe('ECS_INSTANCE_ATTRIBUTES={"mapserver-ecs.mount":"ready"}\n');
  });

  it('shows objects without s3fs metadata as owned by the configured uid/gid and readable by that user', async () => {
    const file = await stat(join(mounted.mountPoint, 'roads.map'));
    expect([file.uid, file.gid]).toEqual([33, 33]);
    expect(file.mode & 0o777).toBe(0o755);
    const folder = await stat(join(mounted.mountPoint, 'data'));
    expect(folder.isDirectory()).toBe(true);
    expect([folder.uid, folder.gid]).toEqual([33, 33]);
    expect(await asUser(33, 33, ['cat', join(mounted.mountPoint, 'data', 'roads.csv')])).toBe('id,name\n1,main\n');
    // Any other user can read too (allow_other, umask 0022), as the container's www-data needs.
    expect(await asUser(4242, 4242, ['cat', join(mounted.mountPoint, 'roads.map')])).toBe('MAP NAME "roads" END\n');
  });

  it('refuses writes, deletions and new folders', async () => {
    await expect(writeFile(join(mounted.mountPoint, 'roads.map'), 'changed')).rejects.toThrow(/EROFS/);
    await expect(writeFile(join(mounted.mountPoint, 'new.map'), 'x')).rejects.toThrow(/EROFS/);
    await expect(rm(join(mounted.mountPoint, 'roads.map'))).rejects.toThrow(/EROFS/);
    await expect(mkdir(join(mounted.mountPoint, 'folder'))).rejects.toThrow(/EROFS/);
  });

  it('shows an overwritten object, a new object and a deleted object within 1 s', async () => {
    const roads = join(mounted.mountPoint, 'roads.map');
    // Warm every cache first, so the figures measure staleness rather than a cold start.
    expect(await readFile(roads, 'utf8')).toBe('MAP NAME "roads" END\n');
    const figures: Record<string, number> = {};

    let started = performance.now();
    await put(`${PREFIX}roads.map`, 'MAP NAME "roads-v2" EXTENT 0 0 1 1 END\n');
    figures['overwrite (new size)'] = await msUntil(roads, 'MAP NAME "roads-v2" EXTENT 0 0 1 1 END\n', started);

    await readFile(roads, 'utf8');
    started = performance.now();
    // Same length and the same second: only the content tells the versions apart.
    await put(`${PREFIX}roads.map`, 'MAP NAME "roads-v3" EXTENT 0 0 1 1 END\n');
    figures['overwrite (same size)'] = await msUntil(roads, 'MAP NAME "roads-v3" EXTENT 0 0 1 1 END\n', started);

    const fresh = join(mounted.mountPoint, 'fresh.map');
    expect(await exists(fresh)).toBe(false); // a lookup that a negative cache would remember
    started = performance.now();
    await put(`${PREFIX}fresh.map`, 'MAP NAME "fresh" END\n');
    figures['new object'] = await msUntil(fresh, 'MAP NAME "fresh" END\n', started);

    started = performance.now();
    await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: `${PREFIX}fresh.map` }));
    figures['deleted object'] = await msUntil(fresh, undefined, started);

    process.stdout.write(`mount freshness (ms after the S3 request returned): ${JSON.stringify(Object.fromEntries(Object.entries(figures).map(([k, v]) => [k, Math.round(v)])))}\n`);
    for (const elapsed of Object.values(figures)) expect(elapsed).toBeLessThan(FRESHNESS_LIMIT_MS);
  });

  it('check passes while mounted and ecs-config merges the ready attribute into the agent config', async () => {
    expect(await runMountScript('check', mounted.scriptEnv)).toMatchObject({ code: 0 });
    const ecsConfig = mounted.scriptEnv.MAPFILES_ECS_CONFIG as string;
    writeFileSync(ecsConfig, 'ECS_CLUSTER=mapserver\nECS_INSTANCE_ATTRIBUTES={"team":"maps"}\n');
    expect(await runMountScript('ecs-config', mounted.scriptEnv)).toMatchObject({ code: 0 });
    expect(await runMountScript('ecs-config', mounted.scriptEnv)).toMatchObject({ code: 0 });
    expect(readFileSync(ecsConfig, 'utf8')).toBe('ECS_CLUSTER=mapserver\nECS_INSTANCE_ATTRIBUTES={"mapserver-ecs.mount":"ready","team":"maps"}\n');
  });
});

describe('mapfiles-mount without a mount', () => {
  it('check fails once the bucket is unmounted, and unmount withdraws the ready attribute', async () => {
    const second = await mountBucket({ endpoint: s3Endpoint, bucket: BUCKET, mountPoint: join(scratch, 'second'), env: emulator.env });
    expect(await readdir(second.mountPoint)).toEqual(expect.arrayContaining(['outside.map', 'maps']));
    const env = second.scriptEnv;
    const configCopy = join(scratch, 'second.conf');
    writeFileSync(configCopy, readFileSync(second.configPath));
    await second.unmount();
    expect(existsSync(second.readyFile)).toBe(false);
    const result = await runMountScript('check', { ...env, MAPFILES_MOUNT_CONFIG: configCopy });
    expect(result.code).not.toBe(0);
    expect(result.output).toContain('is not mounted');
    const ecs = await runMountScript('ecs-config', { ...env, MAPFILES_MOUNT_CONFIG: configCopy, MAPFILES_ECS_CONFIG: join(scratch, 'ecs.config') });
    expect(ecs.code).not.toBe(0);
    expect(existsSync(join(scratch, 'ecs.config'))).toBe(false);
  });

  it('check fails for a mount that is read-write', async () => {
    const folder = join(scratch, 'tmpfs');
    mkdirSync(folder, { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', folder]);
    try {
      const config = join(scratch, 'rw.conf');
      writeFileSync(config, `BUCKET='${BUCKET}'\nMOUNT_POINT='${folder}'\n`);
      const result = await runMountScript('check', { MAPFILES_MOUNT_CONFIG: config });
      expect(result.code).not.toBe(0);
      expect(result.output).toContain('expected read-only');
    } finally {
      execFileSync('umount', [folder]);
    }
  });

  it.each([
    ["BUCKET='Bad_Bucket'\n", 'BUCKET must be an S3 bucket name'],
    ["BUCKET='ok-bucket'\nBUCKET_PREFIX='../etc/'\n", 'BUCKET_PREFIX must not contain . or .. parts'],
    ["BUCKET='ok-bucket'\nMOUNT_UMASK='777777'\n", 'MOUNT_UMASK must be octal'],
    ["BUCKET='ok-bucket'\nEXTRA_OPTIONS='allow_root -o rw'\n", 'EXTRA_OPTIONS must be comma-separated options'],
    ['BUCKET=$(touch /tmp/mapfiles-mount-injected)\n', 'BUCKET has a value that is not shell-quoted'],
    ["BUCKET='ok-bucket'\nMIRROR_BUDGET_MIB='4G'\n", 'MIRROR_BUDGET_MIB must be a whole number'],
    ["BUCKET='ok-bucket'\nMIRROR_EXCLUDE='*.tif \\x'\n", 'MIRROR_EXCLUDE must be glob patterns'],
  ])('refuses a bad config %j', async (content, message) => {
    const config = join(scratch, 'bad.conf');
    writeFileSync(config, content);
    const result = await runMountScript('check', { MAPFILES_MOUNT_CONFIG: config });
    expect(result.code).not.toBe(0);
    expect(result.output).toContain(message);
    expect(existsSync('/tmp/mapfiles-mount-injected')).toBe(false);
  });

  it('waits at boot for user data to write the config, then mounts', async () => {
    const config = join(scratch, 'late.conf');
    const mountPoint = join(scratch, 'late');
    const env = { ...emulator.env, MAPFILES_MOUNT_CONFIG: config, MAPFILES_READY_FILE: join(scratch, 'late.ready'), MAPFILES_CONFIG_WAIT_SECONDS: '20', MAPFILES_MOUNT_ATTEMPTS: '2' };
    const pending = runMountScript('mount', env);
    await new Promise((r) => setTimeout(r, 1500));
    writeFileSync(config, `BUCKET='${BUCKET}'\nAWS_REGION='us-east-1'\nMOUNT_POINT='${mountPoint}'\nS3_ENDPOINT='${s3Endpoint}'\n`);
    try {
      const result = await pending;
      expect(result.output).toContain(`waiting for ${config}`);
      expect(result.code).toBe(0);
      expect(await readdir(mountPoint)).toContain('outside.map');
    } finally {
      expect(await runMountScript('unmount', env)).toMatchObject({ code: 0 });
      await lazyUnmount(mountPoint);
    }
  });

  it('fails when the config never appears', async () => {
    const result = await runMountScript('mount', { MAPFILES_MOUNT_CONFIG: join(scratch, 'never.conf'), MAPFILES_CONFIG_WAIT_SECONDS: '1' });
    expect(result.code).not.toBe(0);
    expect(result.output).toContain('did not appear within 1 s');
  });

  it('gives up after its attempts when the bucket does not exist, leaving nothing mounted', async () => {
    const mountPoint = join(scratch, 'missing');
    const env = { ...emulator.env, MAPFILES_MOUNT_ATTEMPTS: '2', MAPFILES_MOUNT_APPEAR_SECONDS: '3' };
    await expect(mountBucket({ endpoint: s3Endpoint, bucket: 'no-such-bucket', mountPoint, env })).rejects.toThrow(/giving up after 2 attempts/);
    expect(await findmnt(mountPoint, 'TARGET')).toBe('');
  });
});
