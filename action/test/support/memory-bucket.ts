// An in-memory bucket for the mirror's unit tests: a listing with MD5 ETags and conditional GETs,
// with switches to fail, to hold a body mid-download, and to count the bodies left unread.
import { createHash } from 'node:crypto';
import { PassThrough, Readable } from 'node:stream';
import type { Fetched, ListedObject, ObjectSource } from '../../src/mirror/source.js';

export class MemoryBucket implements ObjectSource {
  readonly objects = new Map<string, Buffer>();
  gets: Array<{ key: string; ifNoneMatch?: string }> = [];
  lists = 0;
  /** Keys whose bodies arrive in 64 KiB chunks, one per turn of the event loop (a download in progress). */
  slowKeys: RegExp | undefined;
  /** Every body handed out: one neither read to its end nor destroyed would hold a connection. */
  readonly bodies: Readable[] = [];
  failGets = false;
  failList = false;
  /** When set, GET bodies are held until released (to look at the folder mid-download). */
  hold: { body: PassThrough; release: () => void } | undefined;

  put(key: string, body: string | Buffer): void {
    this.objects.set(key, Buffer.from(body));
  }

  etag(key: string): string {
    return `"${createHash('md5').update(this.objects.get(key) ?? '').digest('hex')}"`;
  }

  async *list(prefix: string): AsyncIterable<ListedObject> {
    this.lists += 1;
    if (this.failList) throw Object.assign(new Error('connect ECONNREFUSED'), { name: 'TimeoutError' });
    for (const [key, body] of [...this.objects].sort(([a], [b]) => (a < b ? -1 : 1))) {
      if (key.startsWith(prefix)) yield { key, etag: this.etag(key), size: body.length };
    }
  }

  async get(key: string, ifNoneMatch?: string): Promise<Fetched> {
    this.gets.push({ key, ...(ifNoneMatch ? { ifNoneMatch } : {}) });
    if (this.failGets) throw Object.assign(new Error('socket hang up'), { name: 'NetworkingError' });
    const body = this.objects.get(key);
    if (!body) return { status: 'missing' };
    if (ifNoneMatch === this.etag(key)) return { status: 'unchanged' };
    if (this.hold) {
      const held = new PassThrough();
      let release!: () => void;
      const released = new Promise<void>((r) => (release = r));
      this.hold = { body: held, release };
      void released.then(() => held.end(body));
      return { status: 'found', etag: this.etag(key), size: body.length, body: held };
    }
    const stream = this.slowKeys?.test(key) ? Readable.from(slowChunks(body)) : Readable.from([body]);
    this.bodies.push(stream);
    return { status: 'found', etag: this.etag(key), size: body.length, body: stream };
  }

  /** Bodies still holding their connection. */
  openBodies(): number {
    return this.bodies.filter((b) => !b.readableEnded && !b.destroyed).length;
  }
}

async function* slowChunks(body: Buffer): AsyncGenerator<Buffer> {
  for (let at = 0; at < body.length; at += 64 * 1024) {
    await new Promise((resolve) => setImmediate(resolve));
    yield body.subarray(at, at + 64 * 1024);
  }
}
