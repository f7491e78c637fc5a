import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectsCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AwsClients } from '../../src/aws/clients.js';
import { syncMapfilesCommand } from '../../src/commands/sync-mapfiles.js';
import { StepFailure } from '../../src/errors.js';
import {
  contentTypeFor,
  FILE_MODE,
  FOLDER_MODE,
  hasWorkerMetadata,
  md5Base64,
  objectMetadata,
  planSync,
  scanLocal,
  type LocalFile,
  type RemoteObject,
} from '../../src/mapfiles/sync.js';
import { MULTIPART_THRESHOLD } from '../../src/mapfiles/sync-bucket.js';
import { testContext } from '../../../scripts/support/command-context.js';

const md5 = (text: string): string => createHash('md5').update(text).digest('hex');
const file = (relPath: string, content: string): LocalFile => ({ relPath, absPath: `/x/${relPath}`, size: Buffer.byteLength(content), mtimeMs: 1_700_000_000_000, md5: md5(content) });
const goodMeta = (f: LocalFile): Record<string, string> => objectMetadata(f);

describe('planSync', () => {
  const roads = file('roads.map', 'MAP END');
  const sym = file('symbols/s.sym', 'SYMBOLSET END');
  const remote = (...objects: RemoteObject[]): Map<string, RemoteObject> => new Map(objects.map((o) => [o.key, o]));

  it.each<[string, LocalFile[], Map<string, RemoteObject>, boolean, Array<[string, string]>, number]>([
    ['new files upload', [roads, sym], remote(), false, [['upload', 'maps/roads.map'], ['upload', 'maps/symbols/s.sym']], 0],
    ['same MD5 ETag and headers: unchanged', [roads], remote({ key: 'maps/roads.map', size: roads.size, etag: roads.md5, metadata: goodMeta(roads) }), false, [], 1],
    ['changed content uploads', [roads], remote({ key: 'maps/roads.map', size: roads.size, etag: md5('other'), metadata: goodMeta(roads) }), false, [['upload', 'maps/roads.map']], 0],
    ['size differs: changed', [roads], remote({ key: 'maps/roads.map', size: 1, etag: roads.md5, metadata: goodMeta(roads) }), false, [['upload', 'maps/roads.map']], 0],
    ['same content without s3fs headers: headers only', [roads], remote({ key: 'maps/roads.map', size: roads.size, etag: roads.md5, metadata: {} }), false, [['metadata', 'maps/roads.map']], 0],
    ['wrong uid: headers only', [roads], remote({ key: 'maps/roads.map', size: roads.size, etag: roads.md5, metadata: { ...goodMeta(roads), uid: '0' } }), false, [['metadata', 'maps/roads.map']], 0],
    [
      'multipart ETag compared by the stored checksum',
      [roads],
      remote({ key: 'maps/roads.map', size: roads.size, etag: `${md5('x')}-3`, metadata: goodMeta(roads) }),
      false,
      [],
      1,
    ],
    [
      'multipart ETag with another checksum: changed',
      [roads],
      remote({ key: 'maps/roads.map', size: roads.size, etag: `${md5('x')}-3`, metadata: { ...goodMeta(roads), md5chksum: md5Base64(md5('old')) } }),
      false,
      [['upload', 'maps/roads.map']],
      0,
    ],
    ['removed files kept without delete', [roads], remote({ key: 'maps/roads.map', size: roads.size, etag: roads.md5, metadata: goodMeta(roads) }, { key: 'maps/old.map', size: 3, etag: md5('old') }), false, [], 1],
    [
      'removed files deleted with delete, only under the prefix',
      [roads],
      remote(
        { key: 'maps/roads.map', size: roads.size, etag: roads.md5, metadata: goodMeta(roads) },
        { key: 'maps/old.map', size: 3, etag: md5('old') },
        { key: 'maps/gone/', size: 0, etag: md5('') },
        { key: 'maps/', size: 0, etag: md5('') },
        { key: 'other/x.map', size: 3, etag: md5('x') },
      ),
      true,
      [['delete', 'maps/gone/'], ['delete', 'maps/old.map']],
      1,
    ],
  ])('%s', (_name, local, objects, deleteRemoved, expected, unchanged) => {
    const plan = planSync(local, objects, { prefix: 'maps/', deleteRemoved });
    expect(plan.actions.map((a) => [a.kind, a.key])).toEqual(expected);
    expect(plan.unchanged).toBe(unchanged);
  });

  it('writes s3fs headers: mode, uid 33, gid 33, mtime, and the MD5 checksum', () => {
    expect(objectMetadata(roads)).toEqual({ mode: String(0o100644), uid: '33', gid: '33', mtime: '1700000000', md5chksum: md5Base64(roads.md5) });
    expect(objectMetadata({ ...roads, relPath: 'symbols/', folder: true }).mode).toBe('16877');
    expect(hasWorkerMetadata({ key: 'k', size: 1, etag: 'e', metadata: goodMeta(roads) })).toBe(true);
    expect(hasWorkerMetadata({ key: 'k', size: 1, etag: 'e' })).toBe(false);
    expect(FILE_MODE).toBe(33188);
    expect(FOLDER_MODE).toBe(16877);
  });

  it.each([
    ['a.map', 'text/plain; charset=utf-8'],
    ['fonts/DejaVuSans.ttf', 'font/ttf'],
    ['templates/q.html', 'text/html; charset=utf-8'],
    ['data/a.TIF', 'image/tiff'],
    ['data/a.shp', 'application/octet-stream'],
    ['symbols/', 'application/x-directory'],
  ])('content type of %s', (name, type) => {
    expect(contentTypeFor(name)).toBe(type);
  });
});

describe('sync-mapfiles command (S3 mocked)', () => {
  let dir: string;
  const s3Mock = mockClient(S3Client);
  const clients = (): AwsClients => {
    const s3 = new S3Client({ region: 'us-east-1' });
    return { s3, destroy: () => undefined } as unknown as AwsClients;
  };
  const writes = (): number =>
    s3Mock.commandCalls(PutObjectCommand).length +
    s3Mock.commandCalls(CopyObjectCommand).length +
    s3Mock.commandCalls(DeleteObjectsCommand).length +
    s3Mock.commandCalls(CreateMultipartUploadCommand).length;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sync-command-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  beforeEach(() => {
    s3Mock.reset();
    s3Mock.on(ListObjectsV2Command).resolves({ Contents: [], IsTruncated: false });
    s3Mock.on(PutObjectCommand).resolves({});
  });

  async function folder(files: Record<string, string | Buffer>): Promise<string> {
    const root = join(dir, randomBytes(4).toString('hex'));
    for (const [name, content] of Object.entries(files)) {
      await mkdir(join(root, name, '..'), { recursive: true });
      await writeFile(join(root, name), content);
    }
    return root;
  }
  const map = 'MAP\n  NAME "m"\n  SIZE 10 10\n  EXTENT 0 0 10 10\nEND\n';

  it('uploads files and folder objects with content type, Content-MD5 and s3fs headers', async () => {
    const root = await folder({ 'roads.map': map, 'symbols/s.sym': 'SYMBOLSET END\n', '.git/config': 'x' });
    const ctx = testContext({ command: 'sync-mapfiles', bucket: 'maps-bucket', 'bucket-prefix': 'maps', 'mapfiles-dir': root }, { clients: clients() });
    await syncMapfilesCommand(ctx);
    const puts = s3Mock.commandCalls(PutObjectCommand).map((c) => c.args[0].input);
    expect(puts.map((p) => p.Key).sort()).toEqual(['maps/roads.map', 'maps/symbols/', 'maps/symbols/s.sym']);
    const roadsPut = puts.find((p) => p.Key === 'maps/roads.map');
    expect(roadsPut).toMatchObject({
      Bucket: 'maps-bucket',
      ContentType: 'text/plain; charset=utf-8',
      ContentMD5: md5Base64(md5(map)),
      Metadata: { mode: '33188', uid: '33', gid: '33', md5chksum: md5Base64(md5(map)) },
    });
    expect(puts.find((p) => p.Key === 'maps/symbols/')).toMatchObject({ ContentType: 'application/x-directory', Metadata: { mode: '16877', uid: '33', gid: '33' } });
    expect(ctx.reporter.outputs().get('synced-files')).toBe('2');
  });

  it('uploads nothing when one file fails the lint, and names it', async () => {
    const root = await folder({ 'good.map': map, 'bad.map': map.replace('END', '  CONFIG "MS_ERRORFILE" "/tmp/x.log"\nEND') });
    const ctx = testContext({ command: 'sync-mapfiles', bucket: 'maps-bucket', 'mapfiles-dir': root }, { clients: clients() });
    await expect(syncMapfilesCommand(ctx)).rejects.toThrow(StepFailure);
    await expect(syncMapfilesCommand(ctx)).rejects.toMatchObject({ state: expect.stringContaining('nothing was uploaded or deleted') });
    expect(writes()).toBe(0);
    expect(s3Mock.commandCalls(ListObjectsV2Command)).toHaveLength(0);
    expect(ctx.log()).toMatch(/bad\.map:5: error: MS_ERRORFILE/);
  });

  it('dry-run lists the plan and changes nothing', async () => {
    const root = await folder({ 'roads.map': map });
    s3Mock.on(ListObjectsV2Command).resolves({ Contents: [{ Key: 'old.map', Size: 3, ETag: `"${md5('old')}"` }], IsTruncated: false });
    const ctx = testContext({ command: 'sync-mapfiles', bucket: 'maps-bucket', 'mapfiles-dir': root, 'dry-run': 'true', delete: 'true' }, { clients: clients() });
    await syncMapfilesCommand(ctx);
    expect(writes()).toBe(0);
    expect(ctx.log()).toContain('would upload (new) roads.map');
    expect(ctx.log()).toContain('would delete s3://maps-bucket/old.map');
    expect(ctx.reporter.outputs().get('synced-files')).toBe('2');
  });

  it('fixes headers of unchanged content with a metadata-replacing copy', async () => {
    const root = await folder({ 'roads.map': map });
    s3Mock.on(ListObjectsV2Command).resolves({ Contents: [{ Key: 'roads.map', Size: Buffer.byteLength(map), ETag: `"${md5(map)}"` }], IsTruncated: false });
    s3Mock.on(HeadObjectCommand).resolves({ Metadata: {} });
    s3Mock.on(CopyObjectCommand).resolves({});
    const ctx = testContext({ command: 'sync-mapfiles', bucket: 'maps-bucket', 'mapfiles-dir': root }, { clients: clients() });
    await syncMapfilesCommand(ctx);
    expect(s3Mock.commandCalls(PutObjectCommand)).toHaveLength(0);
    expect(s3Mock.commandCalls(CopyObjectCommand)[0]?.args[0].input).toMatchObject({
      CopySource: 'maps-bucket/roads.map',
      Key: 'roads.map',
      MetadataDirective: 'REPLACE',
      Metadata: { uid: '33', gid: '33', mode: '33188' },
    });
  });

  it('uploads large files in parts with progress lines', async () => {
    const big = randomBytes(MULTIPART_THRESHOLD + 1024);
    const root = await folder({ 'data/big.tif': big });
    s3Mock.on(CreateMultipartUploadCommand).resolves({ UploadId: 'u-1' });
    s3Mock.on(UploadPartCommand).callsFake((input: { PartNumber: number }) => ({ ETag: `"etag-${input.PartNumber}"` }));
    s3Mock.on(CompleteMultipartUploadCommand).resolves({});
    const ctx = testContext({ command: 'sync-mapfiles', bucket: 'maps-bucket', 'mapfiles-dir': root }, { clients: clients() });
    await syncMapfilesCommand(ctx);
    const parts = s3Mock.commandCalls(UploadPartCommand).map((c) => c.args[0].input);
    expect(parts.map((p) => p.PartNumber)).toEqual([1, 2, 3]);
    expect(s3Mock.commandCalls(CreateMultipartUploadCommand)[0]?.args[0].input).toMatchObject({ ContentType: 'image/tiff', Metadata: { md5chksum: md5Base64(createHash('md5').update(big).digest('hex')) } });
    expect(s3Mock.commandCalls(CompleteMultipartUploadCommand)[0]?.args[0].input.MultipartUpload?.Parts).toEqual([
      { ETag: '"etag-1"', PartNumber: 1 },
      { ETag: '"etag-2"', PartNumber: 2 },
      { ETag: '"etag-3"', PartNumber: 3 },
    ]);
    expect(ctx.log()).toMatch(/waiting for upload of data\/big\.tif .*16\.0 MiB of 16\.0 MiB \(100%\)/);
  });

  it('refuses to delete everything when the folder is empty', async () => {
    const root = await folder({});
    await mkdir(root, { recursive: true });
    const ctx = testContext({ command: 'sync-mapfiles', bucket: 'maps-bucket', 'mapfiles-dir': root, delete: 'true' }, { clients: clients() });
    await expect(syncMapfilesCommand(ctx)).rejects.toThrow(/refusing to delete everything/);
    expect(writes()).toBe(0);
  });

  it('names mapfiles-dir when the folder is missing', async () => {
    const ctx = testContext({ command: 'sync-mapfiles', bucket: 'maps-bucket', 'mapfiles-dir': join(dir, 'nope') }, { clients: clients() });
    await expect(syncMapfilesCommand(ctx)).rejects.toThrow(/mapfiles-dir: expected a folder of mapfiles/);
  });

  it('scans folders into folder objects first, then files, skipping hidden ones', async () => {
    const root = await folder({ 'a/b/c.map': map, 'a/.hidden': 'x', '.github/workflows/sync.yml': 'x' });
    expect((await scanLocal(root)).map((f) => f.relPath)).toEqual(['a/', 'a/b/', 'a/b/c.map']);
  });
});
