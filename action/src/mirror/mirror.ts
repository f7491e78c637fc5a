// The mirror's engine: keeps a local folder equal to s3://bucket/prefix. Every change, whether an
// event or the periodic reconciliation noticed it, goes through refresh(key): fetch the key as it
// is now (by ETag), then place it, replace it or remove it. Refreshes of one key never overlap, and
// requests for a key already waiting to be refreshed join that refresh, so duplicates cost nothing.
import { readFile, rename, writeFile } from 'node:fs/promises';
import { placeOfKey, type KeyEvent, SequencerLog } from './keys.js';
import type { ObjectSource } from './source.js';
import { PathConflict, type LocalTree } from './tree.js';

export type RefreshOutcome = 'fetched' | 'unchanged' | 'deleted' | 'absent' | 'refused';

interface Entry {
  etag: string;
  size: number;
  folder: boolean;
}

export interface ReconcileReport {
  listed: number;
  fetched: number;
  deleted: number;
  failed: number;
  durationMs: number;
}

export interface MirrorOptions {
  prefix: string;
  tree: LocalTree;
  source: ObjectSource;
  /** Where the ETags of the mirrored files are kept across restarts. */
  stateFile: string;
  /** Parallel fetches at most. */
  concurrency?: number;
  log: (line: string) => void;
  now?: () => number;
}

export class Mirror {
  private readonly entries = new Map<string, Entry>();
  private readonly waiting = new Map<string, Promise<RefreshOutcome>>();
  private readonly running = new Map<string, Promise<RefreshOutcome>>();
  private readonly refused = new Map<string, string>();
  /** Keys whose last refresh failed: served from the last good copy until a refresh succeeds. */
  readonly stale = new Map<string, string>();
  readonly sequencers = new SequencerLog();
  private active = 0;
  private readonly slots: Array<() => void> = [];
  private stateDirty = false;
  private strays: Map<string, number> | undefined;
  private readonly now: () => number;

  constructor(private readonly options: MirrorOptions) {
    this.now = options.now ?? Date.now;
  }

  get objectCount(): number {
    return this.entries.size;
  }

  get byteCount(): number {
    let total = 0;
    for (const entry of this.entries.values()) total += entry.size;
    return total;
  }

  get refusedKeys(): ReadonlyMap<string, string> {
    return this.refused;
  }

  /**
   * Loads the ETags kept by an earlier run, trusting only entries whose file is still there with
   * the same size; files nobody accounts for are removed by the first reconciliation unless listed.
   */
  async load(): Promise<void> {
    const files = await this.options.tree.listFiles();
    let saved: Record<string, Entry>;
    try {
      saved = JSON.parse(await readFile(this.options.stateFile, 'utf8')) as Record<string, Entry>;
    } catch {
      saved = {};
    }
    for (const [key, entry] of Object.entries(saved)) {
      const place = placeOfKey(key, this.options.prefix);
      if (place.kind === 'refused' || typeof entry?.etag !== 'string') continue;
      if (entry.folder || files.get(place.path) === entry.size) this.entries.set(key, entry);
      files.delete(place.path);
    }
    this.strays = files;
  }

  /** Looks at the key again and makes the local copy match it. Never throws for a refused key. */
  refresh(key: string): Promise<RefreshOutcome> {
    const queued = this.waiting.get(key);
    if (queued) return queued;
    const before = this.running.get(key);
    const next = (before ? before.catch(() => undefined) : Promise.resolve()).then(async () => {
      this.waiting.delete(key);
      const run = this.withSlot(() => this.apply(key));
      this.running.set(key, run);
      try {
        return await run;
      } finally {
        if (this.running.get(key) === run) this.running.delete(key);
      }
    });
    this.waiting.set(key, next);
    return next;
  }

  /** Applies queue events: keys outside the prefix and changes already applied cost nothing. */
  async applyEvents(events: KeyEvent[]): Promise<{ refreshed: number; skipped: number }> {
    let refreshed = 0;
    let skipped = 0;
    await Promise.all(
      events.map(async (event) => {
        if (!event.key.startsWith(this.options.prefix) || this.sequencers.isApplied(event)) {
          skipped += 1;
          return;
        }
        await this.refresh(event.key);
        this.sequencers.remember(event);
        refreshed += 1;
      }),
    );
    return { refreshed, skipped };
  }

  /**
   * Lists the prefix and refreshes every key whose ETag differs from ours, and every key we hold
   * that the listing lacks (a GET, not the listing, decides a delete: the key may have been written
   * after the listing began). Throws when the listing fails; failed fetches are counted and kept stale.
   */
  async reconcile(): Promise<ReconcileReport> {
    const started = this.now();
    const listed = new Map<string, { etag: string; size: number }>();
    for await (const object of this.options.source.list(this.options.prefix)) listed.set(object.key, object);
    const work: Array<Promise<RefreshOutcome | 'failed'>> = [];
    const attempt = (key: string): void => {
      work.push(this.refresh(key).catch(() => 'failed' as const));
    };
    for (const [key, object] of listed) {
      const known = this.entries.get(key);
      if (!known || known.etag !== object.etag || this.stale.has(key)) attempt(key);
    }
    for (const key of this.entries.keys()) if (!listed.has(key)) attempt(key);
    const outcomes = await Promise.all(work);
    await this.removeStrays(listed);
    await this.saveState();
    return {
      listed: listed.size,
      fetched: outcomes.filter((o) => o === 'fetched').length,
      deleted: outcomes.filter((o) => o === 'deleted').length,
      failed: outcomes.filter((o) => o === 'failed').length,
      durationMs: this.now() - started,
    };
  }

  /** Writes the ETags kept across restarts, when they changed. */
  async saveState(): Promise<void> {
    if (!this.stateDirty) return;
    this.stateDirty = false;
    const temporary = `${this.options.stateFile}.tmp`;
    await writeFile(temporary, JSON.stringify(Object.fromEntries(this.entries)));
    await rename(temporary, this.options.stateFile);
  }

  private async apply(key: string): Promise<RefreshOutcome> {
    const place = placeOfKey(key, this.options.prefix);
    if (place.kind === 'refused') return this.refuse(key, place.reason);
    const known = this.entries.get(key);
    try {
      const fetched = await this.options.source.get(key, known?.etag);
      if (fetched.status === 'unchanged') {
        this.stale.delete(key);
        return 'unchanged';
      }
      if (fetched.status === 'missing') {
        this.stale.delete(key);
        if (!known) return 'absent';
        this.entries.delete(key);
        this.stateDirty = true;
        if (known.folder) await this.options.tree.pruneFolders(place.path, (path) => this.keepsFolder(path));
        else await this.options.tree.removeFile(place.path, (path) => this.keepsFolder(path));
        this.options.log(`removed ${key}`);
        return 'deleted';
      }
      if (place.kind === 'folder') {
        fetched.body.resume();
        await this.options.tree.ensureFolders(place.path);
      } else {
        await this.options.tree.writeFile(place.path, fetched.body);
      }
      this.entries.set(key, { etag: fetched.etag, size: fetched.size, folder: place.kind === 'folder' });
      this.stateDirty = true;
      this.stale.delete(key);
      this.refused.delete(key);
      this.options.log(`${known ? 'updated' : 'added'} ${key} (${fetched.size} bytes)`);
      return 'fetched';
    } catch (error) {
      if (error instanceof PathConflict) return this.refuse(key, error.message);
      const reason = `${(error as Error).name}: ${(error as Error).message}`;
      if (!this.stale.has(key)) this.options.log(`cannot refresh ${key}, serving the last good copy: ${reason}`);
      this.stale.set(key, reason);
      throw error;
    }
  }

  private refuse(key: string, reason: string): RefreshOutcome {
    if (!this.refused.has(key)) this.options.log(`refused ${JSON.stringify(key)}: ${reason}`);
    this.refused.set(key, reason);
    return 'refused';
  }

  /** A folder stays when a folder-marker key names it. */
  private keepsFolder(path: string): boolean {
    return this.entries.get(`${this.options.prefix}${path}/`)?.folder === true;
  }

  private async removeStrays(listed: Map<string, unknown>): Promise<void> {
    const strays = this.strays;
    if (!strays) return;
    this.strays = undefined;
    for (const path of strays.keys()) {
      if (listed.has(`${this.options.prefix}${path}`)) continue;
      await this.options.tree.removeFile(path, (folder) => this.keepsFolder(folder)).catch(() => undefined);
      this.options.log(`removed ${path}, which is not in the bucket`);
    }
  }

  private async withSlot<T>(work: () => Promise<T>): Promise<T> {
    const limit = this.options.concurrency ?? 8;
    // A finished fetch hands its slot straight to the next waiter, so the limit is never exceeded.
    if (this.active >= limit) await new Promise<void>((resolve) => this.slots.push(resolve));
    else this.active += 1;
    try {
      return await work();
    } finally {
      const next = this.slots.shift();
      if (next) next();
      else this.active -= 1;
    }
  }
}
