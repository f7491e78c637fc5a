// The mirror on buckets as users have them: imagery beside the mapfiles, keys that conflict, a
// budget, a kill between a file's rename and the save of its ETag, and a folder pruned mid-write.
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { readFile, readdir, rmdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { Ledger } from '../../src/mirror/ledger.js';
import { Mirror } from '../../src/mirror/mirror.js';
import { DEFAULT_SELECTION, type Selection } from '../../src/mirror/selection.js';
import { LocalTree } from '../../src/mirror/tree.js';
import { MemoryBucket } from '../support/memory-bucket.js';

let work: string;
let bucket: MemoryBucket;
let lines: string[];

async function ready(options: { selection?: Selection; budgetBytes?: number } = {}): Promise<Mirror> {
  const tree = new LocalTree({ root: join(work, 'data'), staging: join(work, 'staging'), umask: 0o022 });
  await tree.prepare();
  const mirror = new Mirror({ prefix: 'maps/', tree, source: bucket, stateFile: join(work, 'state.json'), log: (line) => lines.push(line), ...options });
  await mirror.load();
  return mirror;
}

const local = (path: string): Promise<string | undefined> => readFile(join(work, 'data', path), 'utf8').catch(() => undefined);

async function until(condition: () => Promise<boolean> | boolean): Promise<void> {
  const deadline = Date.now() + 2000;
  while (!(await condition()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
}

beforeEach(() => {
  work = mkdtempSync(join(tmpdir(), 'mirror-selection-'));
  bucket = new MemoryBucket();
  lines = [];
});

afterEach(() => rmSync(work, { recursive: true, force: true }));

describe('what is mirrored', () => {
  it('holds mapfiles and side files, lists rasters and oversized objects as not mirrored by size, logs each once, and never GETs them', async () => {
    bucket.put('maps/roads.map', 'MAP END');
    bucket.put('maps/symbols/symbols.sym', 'SYMBOLSET END');
    bucket.put('maps/cogs/ortho_2024.tif', Buffer.alloc(3000));
    bucket.put('maps/cogs/ortho_2023.TIF', Buffer.alloc(2000));
    bucket.put('maps/data/parcels.gpkg', Buffer.alloc(5000));
    const mirror = await ready({ selection: { ...DEFAULT_SELECTION, maxObjectBytes: 4096 } });
    expect(await mirror.reconcile()).toMatchObject({ listed: 5, fetched: 2, skipped: 3 });
    expect(bucket.gets.map((g) => g.key).sort()).toEqual(['maps/roads.map', 'maps/symbols/symbols.sym']);
    expect(await readdir(join(work, 'data'))).toEqual(expect.not.arrayContaining(['cogs']));
    expect(Object.fromEntries(mirror.ledger.skipped)).toEqual({
      'maps/cogs/ortho_2024.tif': { reason: 'excluded by the pattern *.tif', size: 3000 },
      'maps/cogs/ortho_2023.TIF': { reason: 'excluded by the pattern *.tif', size: 2000 },
      'maps/data/parcels.gpkg': { reason: 'larger than the largest mirrored object (5000 > 4096 bytes)', size: 5000 },
    });
    expect(await mirror.reconcile()).toMatchObject({ fetched: 0, skipped: 3 });
    expect(lines.filter((l) => l.startsWith('not mirroring'))).toHaveLength(3);

    // Deleted from the bucket: no longer listed.
    bucket.objects.delete('maps/cogs/ortho_2024.tif');
    await mirror.reconcile();
    expect([...mirror.ledger.skipped.keys()]).not.toContain('maps/cogs/ortho_2024.tif');
  });

  it('removes a copy that a narrower selection leaves out, and skips an event for an excluded name without a GET', async () => {
    bucket.put('maps/a.map', 'a');
    bucket.put('maps/notes.txt', 'notes');
    await (await ready()).reconcile();
    expect(await local('notes.txt')).toBe('notes');
    const narrower = await ready({ selection: { ...DEFAULT_SELECTION, include: ['*.map'] } });
    await narrower.reconcile();
    expect(await local('notes.txt')).toBeUndefined();
    expect(await local('a.map')).toBe('a');
    bucket.gets = [];
    await narrower.applyEvents([{ key: 'maps/other.txt', action: 'created' }]);
    expect(bucket.gets).toEqual([]);
    expect(narrower.ledger.skipped.get('maps/other.txt')?.reason).toMatch(/not matched by the include patterns/);
  });
});

describe('refused keys', () => {
  it('releases the body of a conflicting key, fetches it again only when it changes, and forgets it once deleted', async () => {
    bucket.put('maps/a', 'file');
    const mirror = await ready();
    await mirror.reconcile();
    for (let i = 0; i < 60; i++) bucket.put(`maps/a/k${i}.map`, `nested ${i}`);
    await mirror.reconcile();
    expect(mirror.ledger.refused.size).toBe(60);
    expect(bucket.openBodies()).toBe(0);
    bucket.gets = [];
    await mirror.reconcile();
    expect(bucket.gets).toEqual([]);
    bucket.put('maps/a/k0.map', 'changed');
    await mirror.reconcile();
    expect(bucket.gets.map((g) => g.key)).toEqual(['maps/a/k0.map']);
    bucket.objects.delete('maps/a/k1.map');
    bucket.put('maps/../escape', 'no');
    await mirror.reconcile();
    expect(mirror.ledger.refused.has('maps/a/k1.map')).toBe(false);
    bucket.objects.delete('maps/../escape');
    await mirror.reconcile();
    expect(mirror.ledger.refused.has('maps/../escape')).toBe(false);
    expect(bucket.openBodies()).toBe(0);
  });

  it('forgets a refusal once the key is placed, even after it was stale meanwhile', () => {
    const ledger = new Ledger(() => undefined, Date.now);
    ledger.refuse('maps/a/b.map', 'a needs a folder where the file a is', '"etag"');
    ledger.markStale('maps/a/b.map', 'NetworkingError: socket hang up', false);
    ledger.placed('maps/a/b.map');
    expect([ledger.refused.size, ledger.stale.size]).toEqual([0, 0]);
  });

  it('follows a file that becomes a folder and back on events alone, whatever order they come in', async () => {
    bucket.put('maps/a', 'file');
    const mirror = await ready();
    await mirror.reconcile();
    // The file becomes a folder: the new child's event comes before the file's delete.
    bucket.objects.delete('maps/a');
    bucket.put('maps/a/b.map', 'child');
    await mirror.applyEvents([{ key: 'maps/a/b.map', action: 'created' }]);
    await mirror.applyEvents([{ key: 'maps/a', action: 'removed' }]);
    await until(async () => (await local('a/b.map')) === 'child');
    expect(await local('a/b.map')).toBe('child');
    // And back: the file's event before the child's delete.
    bucket.objects.delete('maps/a/b.map');
    bucket.put('maps/a', 'file again');
    await mirror.applyEvents([{ key: 'maps/a', action: 'created' }]);
    await mirror.applyEvents([{ key: 'maps/a/b.map', action: 'removed' }]);
    await until(async () => (await local('a')) === 'file again');
    expect(await local('a')).toBe('file again');
    expect(mirror.ledger.refused.size).toBe(0);
  });
});

describe('restarts', () => {
  it('does not trust an ETag saved for a file replaced after the save (a kill between rename and save), even at the same size', async () => {
    bucket.put('maps/a.map', 'AAAA');
    const first = await ready();
    await first.reconcile();
    bucket.put('maps/a.map', 'BBBB');
    await first.refresh('maps/a.map'); // placed, but killed before its state is saved
    expect(await local('a.map')).toBe('BBBB');
    bucket.put('maps/a.map', 'AAAA'); // reverted while the mirror was down
    const second = await ready();
    await second.reconcile();
    expect(await local('a.map')).toBe('AAAA');
  });

  it('keeps state as a snapshot and a journal of one line per change, ignoring a line cut short', async () => {
    bucket.put('maps/a.map', 'a');
    bucket.put('maps/b.map', 'b');
    const first = await ready();
    await first.reconcile();
    bucket.put('maps/c.map', 'c');
    await first.refresh('maps/c.map');
    await first.saveState();
    const journal = await readFile(join(work, 'state.log'), 'utf8');
    expect(journal.trim().split('\n')).toHaveLength(3);
    await import('node:fs/promises').then((fs) => fs.appendFile(join(work, 'state.log'), '["maps/d.map",{"et'));
    bucket.gets = [];
    await (await ready()).reconcile();
    expect(bucket.gets).toEqual([]);
  });
});

describe('the disk budget', () => {
  it('keeps the last good copy over budget, reports it, and recovers without a restart once the bucket shrinks', async () => {
    bucket.put('maps/a.map', 'x'.repeat(60));
    const mirror = await ready({ budgetBytes: 100 });
    await mirror.reconcile();
    bucket.put('maps/a.map', 'y'.repeat(70));
    bucket.put('maps/big.csv', 'z'.repeat(60));
    expect(await mirror.reconcile()).toMatchObject({ fetched: 1, failed: 1 });
    expect(mirror.byteCount).toBeLessThanOrEqual(100);
    expect(mirror.ledger.disk?.reason).toMatch(/^over budget: maps\/big.csv \(60 bytes\) would take the mirror to 1[23]0 of 100 bytes/);
    expect(mirror.ledger.stale.get('maps/big.csv')).toMatchObject({ disk: true });
    // Within the backoff, another try does not count as a new failure.
    await mirror.refresh('maps/big.csv').catch(() => undefined);
    expect(mirror.ledger.disk?.failures).toBe(1);
    bucket.objects.delete('maps/big.csv');
    await mirror.reconcile();
    expect(mirror.ledger.disk).toBeUndefined();
    expect(mirror.ledger.stale.size).toBe(0);
    expect(await local('a.map')).toBe('y'.repeat(70));
  });
});

describe('a folder pruned mid-write', () => {
  it('places the file anyway (the rename into a folder removed meanwhile is retried)', async () => {
    const tree = new LocalTree({ root: join(work, 'data'), staging: join(work, 'staging'), umask: 0o022 });
    await tree.prepare();
    const body = new PassThrough();
    const writing = tree.writeFile('marker/child.map', body);
    await until(async () => (await readdir(join(work, 'data'))).includes('marker'));
    await rmdir(join(work, 'data', 'marker'));
    body.end('child');
    await writing;
    expect(await local('marker/child.map')).toBe('child');
  });
});
