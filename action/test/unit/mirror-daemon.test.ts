// The mirror's loops with a scripted queue and an in-memory bucket: what is deleted from the queue,
// what the status file says, and how failures show.
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import type { Message } from '@aws-sdk/client-sqs';
import { mkdtempSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { MirrorDaemon } from '../../src/mirror/daemon.js';
import type { MirrorStatus } from '../../src/mirror/health.js';
import { Mirror } from '../../src/mirror/mirror.js';
import type { EventQueue } from '../../src/mirror/queue.js';
import type { Fetched, ListedObject, ObjectSource } from '../../src/mirror/source.js';
import { LocalTree } from '../../src/mirror/tree.js';

class Bucket implements ObjectSource {
  readonly objects = new Map<string, string>();
  failGets = false;
  async *list(prefix: string): AsyncIterable<ListedObject> {
    for (const [key, body] of this.objects) if (key.startsWith(prefix)) yield { key, etag: `"${body}"`, size: body.length };
  }
  async get(key: string, ifNoneMatch?: string): Promise<Fetched> {
    if (this.failGets) throw Object.assign(new Error('socket hang up'), { name: 'NetworkingError' });
    const body = this.objects.get(key);
    if (body === undefined) return { status: 'missing' };
    if (ifNoneMatch === `"${body}"`) return { status: 'unchanged' };
    return { status: 'found', etag: `"${body}"`, size: body.length, body: Readable.from([Buffer.from(body)]) };
  }
}

/** A queue that hands out scripted answers, then waits like a long poll until stopped. */
class ScriptedQueue {
  isOpen = false;
  topicArn = 'arn:aws:sns:eu-west-1:123456789012:topic';
  readonly removed: string[] = [];
  closed = false;
  constructor(private readonly answers: Array<Message[] | Error>) {}
  async open(): Promise<void> {
    this.isOpen = true;
  }
  async receive(signal?: AbortSignal): Promise<Message[]> {
    const next = this.answers.shift();
    if (next instanceof Error) throw next;
    if (next) return next;
    await new Promise<void>((resolve) => signal?.addEventListener('abort', () => resolve()));
    throw Object.assign(new Error('aborted'), { name: 'AbortError' });
  }
  async remove(messages: Message[]): Promise<void> {
    this.removed.push(...messages.map((m) => m.ReceiptHandle ?? ''));
  }
  async close(): Promise<void> {
    this.closed = true;
    this.isOpen = false;
  }
}

const event = (key: string, handle: string): Message => ({
  ReceiptHandle: handle,
  Body: JSON.stringify({ Records: [{ eventName: 'ObjectCreated:Put', eventTime: new Date().toISOString(), s3: { bucket: { name: 'maps-bucket' }, object: { key } } }] }),
});

let work: string;
let bucket: Bucket;
let daemon: MirrorDaemon | undefined;
const lines: string[] = [];

function start(queue: ScriptedQueue, statusFile = join(work, 'status.json')): Promise<void> {
  const tree = new LocalTree({ root: join(work, 'data'), staging: join(work, 'staging'), umask: 0o022 });
  const mirror = new Mirror({ prefix: 'maps/', tree, source: bucket, stateFile: join(work, 'state.json'), log: (l) => lines.push(l) });
  daemon = new MirrorDaemon({
    mirror,
    queue: queue as unknown as EventQueue,
    bucket: 'maps-bucket',
    prefix: 'maps/',
    reconcileSeconds: 3600,
    graceSeconds: 300,
    budgetBytes: 1024 * 1024 * 1024,
    statusFile,
    requests: () => ({}),
    log: (l) => lines.push(l),
  });
  return tree.prepare().then(() => daemon?.start());
}

async function until<T>(read: () => Promise<T>, ok: (value: T) => boolean): Promise<T> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const value = await read();
    if (ok(value) || Date.now() > deadline) return value;
    await new Promise((r) => setTimeout(r, 20));
  }
}

const status = async (): Promise<MirrorStatus> => JSON.parse(await readFile(join(work, 'status.json'), 'utf8').catch(() => '{}')) as MirrorStatus;

beforeEach(() => {
  work = mkdtempSync(join(tmpdir(), 'mirror-daemon-'));
  bucket = new Bucket();
  lines.length = 0;
});

afterEach(async () => {
  await daemon?.stop();
  daemon = undefined;
  rmSync(work, { recursive: true, force: true });
});

describe('MirrorDaemon', () => {
  it('syncs first, applies events, deletes each message once applied, and says so in its status', async () => {
    bucket.objects.set('maps/a.map', 'one');
    const queue = new ScriptedQueue([[event('maps/b.map', 'r1')]]);
    bucket.objects.set('maps/b.map', 'two');
    await start(queue);
    const ready = await until(status, (s) => s.synced === true && s.events?.received === 1);
    expect(ready).toMatchObject({ state: 'ready', synced: true, events: { state: 'listening', received: 1, lastEventKey: 'maps/b.map' } });
    expect(ready.events.lastLagMs).toBeGreaterThanOrEqual(0);
    expect(queue.removed).toEqual(['r1']);
    expect(await readFile(join(work, 'data', 'b.map'), 'utf8')).toBe('two');
    await daemon?.stop();
    expect(queue.closed).toBe(true);
    expect((await status()).state).toBe('stopped');
  });

  it('leaves a message whose fetch failed in the queue, and lists the key as stale', async () => {
    const queue = new ScriptedQueue([[]]);
    await start(queue);
    await until(status, (s) => s.synced === true);
    bucket.failGets = true;
    bucket.objects.set('maps/c.map', 'three');
    const failing = new ScriptedQueue([[event('maps/c.map', 'r2')]]);
    await daemon?.stop();
    await start(failing);
    const seen = await until(status, (s) => s.staleCount === 1);
    expect(seen.stale).toEqual([{ key: 'maps/c.map', reason: 'NetworkingError: socket hang up', since: expect.any(String) }]);
    expect(failing.removed).toEqual([]);
  });

  it('shows change events as unavailable while the queue fails, and keeps serving', async () => {
    bucket.objects.set('maps/a.map', 'one');
    const queue = new ScriptedQueue([Object.assign(new Error('connect ECONNREFUSED'), { name: 'Error' })]);
    await start(queue);
    const seen = await until(status, (s) => s.events?.state === 'unavailable');
    expect(seen.events).toMatchObject({ state: 'unavailable', error: 'Error: connect ECONNREFUSED' });
    expect(seen.synced).toBe(true);
    expect(lines.some((l) => /cannot receive change events, retrying with backoff/.test(l))).toBe(true);
  });

  it('lists what it does not mirror, largest first, with the reason', async () => {
    bucket.objects.set('maps/a.map', 'one');
    bucket.objects.set('maps/cogs/small.tif', 'x'.repeat(10));
    bucket.objects.set('maps/cogs/large.tif', 'x'.repeat(30));
    await start(new ScriptedQueue([]));
    const seen = await until(status, (s) => s.synced === true);
    expect(seen).toMatchObject({ objects: 1, notMirroredCount: 2, notMirroredBytes: 40 });
    expect(seen.notMirrored).toEqual([
      { key: 'maps/cogs/large.tif', size: 30, reason: 'excluded by the pattern *.tif' },
      { key: 'maps/cogs/small.tif', size: 10, reason: 'excluded by the pattern *.tif' },
    ]);
  });

  it('keeps running when its status file cannot be written, and says so once', async () => {
    bucket.objects.set('maps/a.map', 'one');
    await start(new ScriptedQueue([]), join(work, 'no-such-folder', 'status.json'));
    const placed = await until(() => readFile(join(work, 'data', 'a.map'), 'utf8').catch(() => ''), (t) => t === 'one');
    expect(placed).toBe('one');
    await new Promise((r) => setTimeout(r, 50));
    expect(lines.filter((l) => l.startsWith('cannot write the status file: Error: ENOENT'))).toHaveLength(1);
  });
});
