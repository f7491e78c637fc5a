// sync-mapfiles from the command line against the emulated bucket, read back through a real s3fs
// mount made by the AMI's own mount script. That mount runs WITHOUT uid/gid/umask options (see
// withoutOwnerOptions), so the owner and mode seen are the ones the objects' metadata headers carry.
//
// S3 traffic goes straight to moto (motoEndpoint), not through the emulator's shim: the shim runs
// inside this test process, and a blocked event loop (spawnSync, or a read of the FUSE mount)
// would leave s3fs and the CLI waiting on it forever. Reads of the mount are asynchronous anyway.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { CreateBucketCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startEmulator, type Emulator } from '../../../scripts/emulator/start.js';
import { mountBucket, unmountAll, type Mounted } from '../../../scripts/support/mount.js';

jest.setTimeout(300_000);

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const fixtures = join(repoRoot, 'action', 'test', 'fixtures', 'mapfiles');
const tsxCli = join(repoRoot, 'node_modules', 'tsx', 'dist', 'cli.mjs');
const BUCKET = 'mapfiles-sync-test';
const PREFIX = 'maps/';

const execFileAsync = promisify(execFile);

let emulator: Emulator;
/** moto itself, and the environment that points the CLI at it. */
let s3Endpoint: string;
let s3Env: Record<string, string>;
let s3: S3Client;
let scratch: string;
let folder: string;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  outputs: Record<string, string>;
}

function sync(...flags: string[]): Run {
  const result = spawnSync(
    process.execPath,
    [tsxCli, join(repoRoot, 'action', 'src', 'index.ts'), 'sync-mapfiles', '--bucket', BUCKET, '--bucket-prefix', PREFIX, '--mapfiles-dir', folder, ...flags],
    { cwd: scratch, env: { ...process.env, NODE_NO_WARNINGS: '1', ...s3Env }, encoding: 'utf8', timeout: 180_000 },
  );
  const outputs = Object.fromEntries(
    result.stdout
      .split('\n')
      .filter((l) => /^[a-z-]+=/.test(l))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
  return { code: result.status ?? -1, stdout: result.stdout, stderr: result.stderr, outputs };
}

async function keys(prefix = ''): Promise<string[]> {
  const listed = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix }));
  return (listed.Contents ?? []).map((o) => o.Key ?? '').sort();
}

/**
 * A PATH entry whose `s3fs` drops uid=, gid=, umask= and mp_umask= from the options the real
 * mount script passes, then runs the real s3fs: the script does everything else as on an
 * instance, and ownership comes from the objects' x-amz-meta-uid/gid/mode headers alone.
 */
function withoutOwnerOptions(dir: string): string {
  const shim = join(dir, 's3fs');
  const real = execFileSync('sh', ['-c', 'command -v s3fs'], { encoding: 'utf8' }).trim();
  writeFileSync(
    shim,
    [
      '#!/usr/bin/env bash',
      'set -euo pipefail',
      'args=()',
      'while (($# > 0)); do',
      '  if [[ $1 == -o && $# -ge 2 ]]; then',
      "    kept=$(tr ',' '\\n' <<<\"$2\" | grep -Ev '^(uid|gid|umask|mp_umask)=' | paste -sd, -)",
      '    args+=(-o "$kept")',
      '    shift 2',
      '  else',
      '    args+=("$1")',
      '    shift',
      '  fi',
      'done',
      `exec ${real} "\${args[@]}"`,
      '',
    ].join('\n'),
    { mode: 0o755 },
  );
  return dir;
}

async function mountWithoutOwnerOptions(): Promise<Mounted> {
  const shimDir = mkdtempSync(join(scratch, 'shim-'));
  return mountBucket({
    endpoint: s3Endpoint,
    bucket: BUCKET,
    prefix: PREFIX,
    mountPoint: join(scratch, `mnt-${randomBytes(3).toString('hex')}`),
    env: { ...s3Env, PATH: `${withoutOwnerOptions(shimDir)}:${process.env.PATH ?? ''}` },
  });
}

const md5 = (data: Buffer | string): string => createHash('md5').update(data).digest('hex');

beforeAll(async () => {
  // Real s3fs and MapServer are required; CI installs both (scripts/setup.sh).
  execFileSync('s3fs', ['--version']);
  execFileSync('map2img', ['-v']);
  emulator = await startEmulator();
  s3Endpoint = emulator.motoEndpoint;
  s3Env = { ...emulator.env, AWS_ENDPOINT_URL: s3Endpoint };
  s3 = new S3Client({ endpoint: s3Endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  // Outside the prefix: sync must never touch it.
  await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'elsewhere/keep.map', Body: 'MAP END\n' }));
  scratch = mkdtempSync(join(tmpdir(), 'sync-mapfiles-'));
  chmodSync(scratch, 0o755);
  folder = join(scratch, 'mapfiles');
  cpSync(join(fixtures, 'good'), folder, { recursive: true });
});

afterAll(async () => {
  await unmountAll();
  s3?.destroy();
  await emulator?.stop();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

describe('sync-mapfiles against the emulated bucket', () => {
  it('uploads nothing when one file in the folder fails the lint', async () => {
    writeFileSync(join(folder, 'broken.map'), 'MAP\n  NAME "broken"\n  SIZE 10 10\n  EXTENT 0 0 10 10\n  LAYER\n    NAME "x"\n    COLOUR 1 2 3\n  END\nEND\n');
    const run = sync();
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/broken\.map:7: error: unknown keyword COLOUR in LAYER: MapServer 8\.4 refuses it/);
    expect(run.stderr).toContain('nothing was uploaded or deleted');
    expect(await keys(PREFIX)).toEqual([]);
    unlinkSync(join(folder, 'broken.map'));
  });

  it('dry-run prints the plan and changes nothing', async () => {
    const run = sync('--dry-run');
    expect(run.code).toBe(0);
    expect(run.stderr).toContain('would upload (new) constructs.map');
    expect(run.stderr).toContain('would create folder object s3://mapfiles-sync-test/maps/data/');
    expect(run.outputs['synced-files']).toBe('8');
    expect(await keys(PREFIX)).toEqual([]);
  });

  it('uploads files with checksums and s3fs headers; a large file in parts with progress', async () => {
    const big = randomBytes(20 * 1024 * 1024);
    writeFileSync(join(folder, 'data', 'big.tif'), big);
    const run = sync();
    expect(run.code).toBe(0);
    expect(run.outputs['synced-files']).toBe('9');
    expect(run.stderr).toMatch(/waiting for upload of data\/big\.tif .*20\.0 MiB of 20\.0 MiB \(100%\)/);
    expect(await keys(PREFIX)).toEqual([
      'maps/constructs.map',
      'maps/data/',
      'maps/data/big.tif',
      'maps/data/square.dbf',
      'maps/data/square.prj',
      'maps/data/square.shp',
      'maps/data/square.shx',
      'maps/included.map',
      'maps/layers/',
      'maps/layers/square.inc',
      'maps/symbols/',
      'maps/symbols/symbols.sym',
    ]);
    const head = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'maps/included.map' }));
    expect(head.ContentType).toBe('text/plain; charset=utf-8');
    expect(head.Metadata).toMatchObject({ uid: '33', gid: '33', mode: '33188', mtime: expect.stringMatching(/^\d+$/) });
    const bigHead = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'maps/data/big.tif' }));
    expect(bigHead.ETag).toMatch(/-3"$/);
    expect(bigHead.Metadata?.md5chksum).toBe(Buffer.from(md5(big), 'hex').toString('base64'));
  });

  it('reads back through a real s3fs mount without uid/gid options: owned by www-data, 0644 files, 0755 folders', async () => {
    const mounted = await mountWithoutOwnerOptions();
    try {
      const { stdout: options } = await execFileAsync('findmnt', ['-n', '-o', 'OPTIONS', '--mountpoint', mounted.mountPoint]);
      expect(options).not.toMatch(/(^|,)(uid|gid|umask)=/);
      for (const name of ['included.map', 'layers/square.inc', 'data/square.shp', 'data/big.tif']) {
        const info = await stat(join(mounted.mountPoint, name));
        expect([name, info.uid, info.gid, (info.mode & 0o7777).toString(8)]).toEqual([name, 33, 33, '644']);
      }
      for (const name of ['data', 'layers', 'symbols']) {
        const info = await stat(join(mounted.mountPoint, name));
        expect([name, info.isDirectory(), info.uid, info.gid, (info.mode & 0o7777).toString(8)]).toEqual([name, true, 33, 33, '755']);
      }
      // As MapServer's worker: through a subfolder, byte for byte.
      const { stdout: asWorker } = await execFileAsync('setpriv', ['--reuid=33', '--regid=33', '--clear-groups', 'cat', join(mounted.mountPoint, 'layers', 'square.inc')]);
      expect(asWorker).toBe(readFileSync(join(folder, 'layers', 'square.inc'), 'utf8'));
      expect(md5(await readFile(join(mounted.mountPoint, 'data', 'big.tif')))).toBe(md5(readFileSync(join(folder, 'data', 'big.tif'))));
      // MapServer loads the synced mapfile (with its INCLUDE and shapefile) from the mount.
      const png = join(scratch, 'from-mount.png');
      await execFileAsync('map2img', ['-m', join(mounted.mountPoint, 'included.map'), '-o', png]);
      expect(readFileSync(png).subarray(1, 4).toString()).toBe('PNG');
    } finally {
      await mounted.unmount();
    }
  });

  it('a re-sync uploads nothing new', async () => {
    const run = sync();
    expect(run.code).toBe(0);
    expect(run.outputs['synced-files']).toBe('0');
    expect(run.stderr).toMatch(/0 to upload, 0 to fix headers, 0 to delete, 12 unchanged/);
  });

  it('uploads only what changed, and fixes headers of an object uploaded by hand', async () => {
    writeFileSync(join(folder, 'included.map'), readFileSync(join(folder, 'included.map'), 'utf8').replace('"included"', '"included_v2"'));
    // Same content as the local file, but without s3fs headers (as a console upload would be).
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'maps/symbols/symbols.sym', Body: readFileSync(join(folder, 'symbols', 'symbols.sym')) }));
    mkdirSync(join(folder, 'notes'));
    writeFileSync(join(folder, 'notes', 'readme.txt'), 'side file\n');
    const run = sync();
    expect(run.code).toBe(0);
    expect(run.stderr).toContain('upload (changed) included.map');
    expect(run.stderr).toContain('upload (new) notes/readme.txt');
    expect(run.stderr).toContain('set owner/mode headers on s3://mapfiles-sync-test/maps/symbols/symbols.sym');
    expect(run.stderr).toMatch(/3 to upload, 1 to fix headers, 0 to delete, 10 unchanged/);
    expect(run.outputs['synced-files']).toBe('3');
    const head = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'maps/symbols/symbols.sym' }));
    expect(head.Metadata).toMatchObject({ uid: '33', gid: '33', mode: '33188' });
  });

  it('refuses to sync when a file a mapfile needs was removed', async () => {
    cpSync(join(folder, 'symbols'), join(scratch, 'symbols-backup'), { recursive: true });
    rmSync(join(folder, 'symbols'), { recursive: true });
    const run = sync('--delete');
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/constructs\.map:10: error: MapServer: .*symbols\.sym/);
    expect(await keys(PREFIX)).toContain('maps/symbols/symbols.sym');
    cpSync(join(scratch, 'symbols-backup'), join(folder, 'symbols'), { recursive: true });
  });

  it('keeps objects of removed files unless delete is set, then deletes only under the prefix', async () => {
    rmSync(join(folder, 'data', 'big.tif'));
    rmSync(join(folder, 'notes'), { recursive: true });
    const kept = sync();
    expect(kept.code).toBe(0);
    expect(kept.outputs['synced-files']).toBe('0');
    expect(await keys(PREFIX)).toContain('maps/data/big.tif');

    const dry = sync('--delete', '--dry-run');
    expect(dry.stderr).toContain('would delete s3://mapfiles-sync-test/maps/data/big.tif');
    expect(await keys(PREFIX)).toContain('maps/data/big.tif');

    const run = sync('--delete');
    expect(run.code).toBe(0);
    expect(run.outputs['synced-files']).toBe('2');
    const left = await keys();
    expect(left).not.toContain('maps/data/big.tif');
    expect(left).not.toContain('maps/notes/readme.txt');
    expect(left).not.toContain('maps/notes/');
    expect(left).toContain('maps/symbols/symbols.sym');
    expect(left).toContain('maps/data/square.shp');
    expect(left).toContain('elsewhere/keep.map');
  });
});
