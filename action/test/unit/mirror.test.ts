// The mirror's engine against an in-memory bucket and a real folder on disk.
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { Mirror } from '../../src/mirror/mirror.js';
import { LocalTree } from '../../src/mirror/tree.js';
import { MemoryBucket } from '../support/memory-bucket.js';

let work: string;
let bucket: MemoryBucket;
let lines: string[];

function makeMirror(prefix = 'maps/'): Mirror {
  const tree = new LocalTree({ root: join(work, 'data'), staging: join(work, 'staging'), umask: 0o022 });
  return new Mirror({ prefix, tree, source: bucket, stateFile: join(work, 'state.json'), log: (line) => lines.push(line) });
}

async function ready(prefix = 'maps/'): Promise<Mirror> {
  const mirror = makeMirror(prefix);
  const tree = new LocalTree({ root: join(work, 'data'), staging: join(work, 'staging'), umask: 0o022 });
  await tree.prepare();
  await mirror.load();
  return mirror;
}

const local = (path: string): Promise<string | undefined> => readFile(join(work, 'data', path), 'utf8').catch(() => undefined);
const mode = async (path: string): Promise<string> => ((await stat(join(work, 'data', path))).mode & 0o777).toString(8);

beforeEach(() => {
  work = mkdtempSync(join(tmpdir(), 'mirror-'));
  bucket = new MemoryBucket();
  lines = [];
});

afterEach(() => rmSync(work, { recursive: true, force: true }));

describe('first sync and reconciliation', () => {
  it('copies the prefix with the mount modes, makes folders, and refuses keys that are not paths', async () => {
    bucket.put('maps/roads.map', 'MAP END');
    bucket.put('maps/data/roads.csv', 'id\n1\n');
    bucket.put('maps/empty/', '');
    bucket.put('maps/../escape', 'no');
    bucket.put('other/elsewhere.map', 'no');
    const mirror = await ready();
    expect(await mirror.reconcile()).toMatchObject({ listed: 4, fetched: 3, deleted: 0, failed: 0 });
    expect(await local('roads.map')).toBe('MAP END');
    expect(await local('data/roads.csv')).toBe('id\n1\n');
    expect((await stat(join(work, 'data', 'empty'))).isDirectory()).toBe(true);
    expect(await mode('roads.map')).toBe('644');
    expect(await mode('data')).toBe('755');
    expect((await readdir(join(work))).sort()).toEqual(['data', 'staging', 'state.log']);
    expect(mirror.ledger.refused.get('maps/../escape')?.reason).toMatch(/".." is not a valid path segment/);
    expect(lines.filter((l) => l.startsWith('refused'))).toHaveLength(1);

    // Nothing changed: one LIST, no GET.
    bucket.gets = [];
    expect(await mirror.reconcile()).toMatchObject({ fetched: 0, deleted: 0 });
    expect(bucket.gets).toEqual([]);
    expect(lines.filter((l) => l.startsWith('refused'))).toHaveLength(1);
  });

  it('replaces changed files, removes deleted ones and the folders they leave empty, keeps folder markers', async () => {
    bucket.put('maps/a/b/c.map', 'one');
    bucket.put('maps/kept/', '');
    bucket.put('maps/kept/x.map', 'x');
    bucket.put('maps/top.map', 'top');
    const mirror = await ready();
    await mirror.reconcile();
    bucket.put('maps/top.map', 'top v2');
    bucket.objects.delete('maps/a/b/c.map');
    bucket.objects.delete('maps/kept/x.map');
    expect(await mirror.reconcile()).toMatchObject({ fetched: 1, deleted: 2 });
    expect(await local('top.map')).toBe('top v2');
    expect(await readdir(join(work, 'data'))).toEqual(expect.not.arrayContaining(['a']));
    expect((await stat(join(work, 'data', 'kept'))).isDirectory()).toBe(true);
  });

  it('lets a GET, not the listing, decide a delete (a key written after the listing began stays)', async () => {
    const mirror = await ready();
    bucket.put('maps/new.map', 'new');
    await mirror.refresh('maps/new.map');
    const listing = bucket.list.bind(bucket);
    // The listing misses the new key, as one that started before the PUT would.
    bucket.list = async function* (prefix: string) {
      for await (const object of listing(prefix)) if (object.key !== 'maps/new.map') yield object;
    };
    expect(await mirror.reconcile()).toMatchObject({ deleted: 0 });
    expect(await local('new.map')).toBe('new');
    expect(bucket.gets.at(-1)).toEqual({ key: 'maps/new.map', ifNoneMatch: bucket.etag('maps/new.map') });
  });

  it('keeps the last good copy when S3 fails, marks the key stale, and catches up when S3 is back', async () => {
    bucket.put('maps/a.map', 'good');
    const mirror = await ready();
    await mirror.reconcile();
    bucket.put('maps/a.map', 'newer');
    bucket.failGets = true;
    expect(await mirror.reconcile()).toMatchObject({ failed: 1 });
    expect(await local('a.map')).toBe('good');
    expect([...mirror.ledger.stale.keys()]).toEqual(['maps/a.map']);
    expect(lines.some((l) => /cannot refresh maps\/a.map, serving the last good copy: NetworkingError/.test(l))).toBe(true);
    bucket.failList = true;
    await expect(mirror.reconcile()).rejects.toThrow(/ECONNREFUSED/);
    bucket.failGets = false;
    bucket.failList = false;
    expect(await mirror.reconcile()).toMatchObject({ fetched: 1, failed: 0 });
    expect(await local('a.map')).toBe('newer');
    expect(mirror.ledger.stale.size).toBe(0);
  });

  it('refuses a key whose folder is a file, or the other way round, and keeps serving the one placed first', async () => {
    bucket.put('maps/a', 'file');
    bucket.put('maps/a/b.map', 'nested');
    const mirror = await ready();
    expect(await mirror.reconcile()).toMatchObject({ fetched: 1, failed: 0 });
    const refused = [...mirror.ledger.refused].map(([key, r]) => [key, r.reason] as const);
    expect(refused).toHaveLength(1);
    if (refused[0]?.[0] === 'maps/a/b.map') {
      expect(await local('a')).toBe('file');
      expect(refused[0][1]).toMatch(/needs a folder where the file a is|collides/);
    } else {
      expect(await local('a/b.map')).toBe('nested');
      expect(refused[0]?.[1]).toMatch(/a is a folder of other keys|collides/);
    }
    // The next reconciliation changes nothing and logs nothing new.
    const logged = lines.length;
    expect(await mirror.reconcile()).toMatchObject({ fetched: 0, deleted: 0 });
    expect(lines.length).toBe(logged);
  });
});

describe('events', () => {
  it('fetches by key and ETag: a duplicate event is a 304, an event outside the prefix costs nothing', async () => {
    bucket.put('maps/a.map', 'v1');
    const mirror = await ready();
    await mirror.reconcile();
    bucket.gets = [];
    bucket.put('maps/a.map', 'v2');
    await mirror.applyEvents([{ key: 'maps/a.map', action: 'created', sequencer: '0A' }]);
    expect(await local('a.map')).toBe('v2');
    // Redelivery of the same event: skipped by its sequencer; a late older event too.
    await mirror.applyEvents([
      { key: 'maps/a.map', action: 'created', sequencer: '0A' },
      { key: 'maps/a.map', action: 'created', sequencer: '09' },
      { key: 'other/x.map', action: 'created' },
    ]);
    expect(bucket.gets).toHaveLength(1);
    // Without a sequencer every event is looked at, and an unchanged key is a 304.
    await mirror.applyEvents([{ key: 'maps/a.map', action: 'created' }]);
    expect(bucket.gets.at(-1)).toEqual({ key: 'maps/a.map', ifNoneMatch: bucket.etag('maps/a.map') });
    expect(await local('a.map')).toBe('v2');
  });

  it('treats a removed event as "look again": a key written again since is kept', async () => {
    bucket.put('maps/a.map', 'v1');
    const mirror = await ready();
    await mirror.reconcile();
    await mirror.applyEvents([{ key: 'maps/a.map', action: 'removed' }]);
    expect(await local('a.map')).toBe('v1');
    bucket.objects.delete('maps/a.map');
    await mirror.applyEvents([{ key: 'maps/a.map', action: 'removed' }]);
    expect(await local('a.map')).toBeUndefined();
  });

  it('runs one refresh of a key at a time, and joins requests that arrive meanwhile', async () => {
    bucket.put('maps/a.map', 'v1');
    const mirror = await ready();
    const many = Array.from({ length: 20 }, () => mirror.refresh('maps/a.map'));
    await Promise.all(many);
    expect(bucket.gets.length).toBeLessThanOrEqual(2);
    expect(await local('a.map')).toBe('v1');
  });

  it('never shows half a file: the old content stays in place until the new one is complete', async () => {
    bucket.put('maps/a.map', 'old content');
    const mirror = await ready();
    await mirror.reconcile();
    bucket.put('maps/a.map', 'new content that is longer');
    bucket.hold = { body: new PassThrough(), release: () => undefined };
    const refreshing = mirror.refresh('maps/a.map');
    while (bucket.gets.length === 0) await new Promise((r) => setTimeout(r, 5));
    await new Promise((r) => setTimeout(r, 20));
    expect(await local('a.map')).toBe('old content');
    bucket.hold.release();
    await refreshing;
    bucket.hold = undefined;
    expect(await local('a.map')).toBe('new content that is longer');
    expect(await readdir(join(work, 'staging'))).toEqual([]);
  });

  it('streams large side files without holding them whole', async () => {
    const big = Buffer.alloc(24 * 1024 * 1024, 7);
    bucket.put('maps/big.csv', big);
    const mirror = await ready();
    await mirror.reconcile();
    expect((await stat(join(work, 'data', 'big.csv'))).size).toBe(big.length);
  });
});

describe('restarts', () => {
  it('keeps what an earlier run fetched (no GET), and removes files the bucket does not hold', async () => {
    bucket.put('maps/a.map', 'a');
    bucket.put('maps/d/b.map', 'b');
    const first = await ready();
    await first.reconcile();
    await mkdir(join(work, 'data', 'stray'), { recursive: true });
    await writeFile(join(work, 'data', 'stray', 'left.map'), 'left over');
    bucket.gets = [];
    const second = await ready();
    expect(await second.reconcile()).toMatchObject({ fetched: 0, deleted: 0 });
    expect(bucket.gets).toEqual([]);
    expect(await local('stray/left.map')).toBeUndefined();
    expect(await readdir(join(work, 'data'))).toEqual(expect.not.arrayContaining(['stray']));
    expect(lines.some((l) => /removed stray\/left.map, which is not in the bucket/.test(l))).toBe(true);
  });

  it('fetches again a file whose size no longer matches what was saved', async () => {
    bucket.put('maps/a.map', 'abc');
    await (await ready()).reconcile();
    await writeFile(join(work, 'data', 'a.map'), 'truncated by a crash?');
    bucket.gets = [];
    await (await ready()).reconcile();
    expect(bucket.gets).toEqual([{ key: 'maps/a.map' }]);
    expect(await local('a.map')).toBe('abc');
  });
});
