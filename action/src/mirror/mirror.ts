// The mirror's engine: keeps a local folder equal to the selected keys of s3://bucket/prefix. Every
// change (an event, or what the reconciliation noticed) goes through refresh(key): fetch the key as it
// is now (by ETag), then place, replace or remove it. Refreshes of one key never overlap; requests
// for a key already waiting join that refresh.
import { DISK_FULL_CODES, DiskProblem, Ledger } from './ledger.js';
import { placeOfKey, type KeyEvent, SequencerLog } from './keys.js';
import { DEFAULT_BUDGET_BYTES, DEFAULT_SELECTION, excludedByName, excludedObject, type Selection } from './selection.js';
import type { ListedObject, ObjectSource } from './source.js';
import { StateStore, type Entry } from './state.js';
import { Slots } from './slots.js';
import { PathConflict, type LocalTree } from './tree.js';

export type RefreshOutcome = 'fetched' | 'unchanged' | 'deleted' | 'absent' | 'refused' | 'skipped';

export interface ReconcileReport {
  listed: number;
  fetched: number;
  deleted: number;
  failed: number;
  skipped: number; // listed keys the selection leaves out
  durationMs: number;
}

export interface MirrorOptions {
  prefix: string;
  tree: LocalTree;
  source: ObjectSource;
  /** Where the ETags of the mirrored files are kept across restarts. */
  stateFile: string;
  selection?: Selection;
  /** The most bytes the mirrored files may take. */
  budgetBytes?: number;
  /** Parallel fetches at most. */
  concurrency?: number;
  log: (line: string) => void;
  now?: () => number;
}

const RECONCILE_WINDOW = 64; // refreshes a reconciliation keeps queued (Slots bounds the fetches)

export class Mirror {
  private readonly entries = new Map<string, Entry>();
  private bytes = 0;
  private readonly waiting = new Map<string, Promise<RefreshOutcome>>();
  private readonly running = new Map<string, Promise<RefreshOutcome>>();
  /** Keys refused, skipped or stale, and the disk's state: what the status reports. */
  readonly ledger: Ledger;
  readonly sequencers = new SequencerLog();
  private readonly slots: Slots;
  private readonly state: StateStore;
  private strays: Map<string, unknown> | undefined;
  private readonly selection: Selection;
  private readonly budget: number;

  constructor(private readonly options: MirrorOptions) {
    this.ledger = new Ledger(options.log, options.now ?? Date.now);
    this.state = new StateStore(options.stateFile);
    this.selection = options.selection ?? DEFAULT_SELECTION;
    this.budget = options.budgetBytes ?? DEFAULT_BUDGET_BYTES;
    this.slots = new Slots(options.concurrency ?? 16);
  }

  get objectCount(): number {
    return this.entries.size;
  }
  get byteCount(): number {
    return this.bytes;
  }

  /**
   * Loads the ETags kept by an earlier run, trusting only those whose file is still the one they
   * were recorded with (same size, inode and modification time); files nobody accounts for are
   * removed by the first reconciliation unless listed.
   */
  async load(): Promise<void> {
    const files = await this.options.tree.listFiles();
    for (const [key, entry] of await this.state.load()) {
      const place = placeOfKey(key, this.options.prefix);
      // Refused, or left out by the current selection: its file is a stray, removed unless listed.
      if (place.kind === 'refused' || typeof entry?.etag !== 'string' || (!entry.folder && excludedObject(place.path, entry.size, this.selection))) continue;
      const file = files.get(place.path);
      if (entry.folder || (file && file.size === entry.size && file.stamp === entry.stamp)) this.setEntry(key, entry, false);
      // A file replaced since its ETag was saved: held with no ETag, so it is fetched again, or removed.
      else if (file) this.setEntry(key, { etag: '', size: file.size, folder: false, stamp: file.stamp }, false);
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
      const run = this.slots.run(() => this.apply(key));
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

  /** Resolves once no refresh runs or waits, including those started by others' deletes. */
  async idle(): Promise<void> {
    while (this.running.size + this.waiting.size > 0) await Promise.allSettled([...this.waiting.values(), ...this.running.values()]);
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
   * Streams the listing and refreshes every key whose ETag differs from ours, and every key we hold
   * that the listing lacks (a GET, not the listing, decides a delete: the key may have been written
   * after the listing began). Throws when the listing fails; failed fetches are counted, kept stale.
   */
  async reconcile(): Promise<ReconcileReport> {
    const started = Date.now();
    const seen = new Set<string>();
    const counts = { fetched: 0, deleted: 0, failed: 0, skipped: 0 };
    // A bounded window of refreshes: memory stays proportional to the keys held, not to the work queued.
    let active = 0;
    let wake: (() => void) | undefined;
    const attempt = async (key: string): Promise<void> => {
      active += 1;
      const counted = (outcome: RefreshOutcome): void => void (outcome === 'fetched' || outcome === 'deleted' ? (counts[outcome] += 1) : 0);
      void this.refresh(key)
        .then(counted, () => void (counts.failed += 1))
        .finally(() => {
          active -= 1;
          wake?.();
        });
      while (active >= RECONCILE_WINDOW) await new Promise<void>((resolve) => (wake = resolve));
    };
    for await (const object of this.options.source.list(this.options.prefix)) {
      seen.add(object.key);
      if (this.needsRefresh(object)) await attempt(object.key);
      else if (this.ledger.skipped.has(object.key)) counts.skipped += 1;
    }
    for (const key of [...this.entries.keys()]) if (!seen.has(key)) await attempt(key);
    for (const key of [...this.ledger.stale.keys()]) if (!seen.has(key) && !this.entries.has(key)) await attempt(key);
    while (active > 0) await new Promise<void>((resolve) => (wake = resolve));
    this.ledger.forgetUnlisted(seen);
    await this.removeStrays(seen);
    await this.saveState();
    return { listed: seen.size, ...counts, durationMs: Date.now() - started };
  }

  /** Writes the changed ETags (a line each); on a full disk, later. */
  async saveState(): Promise<void> {
    try {
      await this.state.save(this.entries);
    } catch (error) {
      if (!DISK_FULL_CODES.has((error as NodeJS.ErrnoException).code ?? '')) throw error;
      this.ledger.diskFailed(`disk full: cannot save the mirror's state (${(error as Error).message})`);
    }
  }

  /** Decides from a listed object alone whether it needs a GET; records what is not mirrored. */
  private needsRefresh(object: ListedObject): boolean {
    const { key } = object;
    const known = this.entries.get(key);
    // The common case of a reconciliation, first: a key held as listed.
    if (known && known.etag === object.etag && !this.ledger.stale.has(key)) return false;
    const place = placeOfKey(key, this.options.prefix);
    if (place.kind === 'refused') {
      this.ledger.refuse(key, place.reason);
      return false;
    }
    if (place.kind === 'file') {
      const reason = excludedObject(place.path, object.size, this.selection);
      if (reason) {
        // A copy made under an earlier selection goes: the GET finds it too large, or its name excluded.
        if (known) return true;
        this.ledger.skip(key, reason, object.size);
        return false;
      }
    }
    if (this.ledger.isUnchangedConflict(key, object.etag)) return false;
    return !known || known.etag !== object.etag || this.ledger.stale.has(key);
  }

  private async apply(key: string): Promise<RefreshOutcome> {
    const place = placeOfKey(key, this.options.prefix);
    if (place.kind === 'refused') return this.ledger.refuse(key, place.reason);
    const known = this.entries.get(key);
    const excluded = place.kind === 'file' ? excludedByName(place.path, this.selection) : undefined;
    if (excluded) return this.skip(key, place.path, excluded, undefined);
    let etag: string | undefined;
    try {
      const fetched = await this.options.source.get(key, known?.etag);
      if (fetched.status === 'unchanged') {
        this.ledger.placed(key);
        return 'unchanged';
      }
      if (fetched.status === 'missing') {
        this.ledger.gone(key);
        if (!known) return 'absent';
        await this.removeLocal(key, place.path, known);
        this.options.log(`removed ${key}`);
        this.retryConflicts(place.path);
        return 'deleted';
      }
      etag = fetched.etag;
      try {
        if (place.kind === 'folder') {
          await this.options.tree.ensureFolders(place.path);
          this.setEntry(key, { etag: fetched.etag, size: 0, folder: true });
        } else {
          const tooLarge = excludedObject(place.path, fetched.size, this.selection);
          if (tooLarge) return await this.skip(key, place.path, tooLarge, fetched.size);
          this.ledger.checkRoom(key, fetched.size, this.bytes - (known?.size ?? 0) + fetched.size, this.budget);
          const stamp = await this.options.tree.writeFile(place.path, fetched.body);
          this.setEntry(key, { etag: fetched.etag, size: fetched.size, folder: false, stamp });
        }
      } finally {
        // Unread bodies hold their connection: a kept-alive socket is only reused once drained or destroyed.
        fetched.body.destroy();
      }
      this.ledger.placed(key);
      this.options.log(`${known ? 'updated' : 'added'} ${key} (${fetched.size} bytes)`);
      return 'fetched';
    } catch (error) {
      if (error instanceof PathConflict) return this.ledger.refuse(key, error.message, etag);
      const code = (error as NodeJS.ErrnoException).code ?? '';
      const failure = DISK_FULL_CODES.has(code) ? new DiskProblem(`disk full: ${code} writing ${key}`) : (error as Error);
      if (failure instanceof DiskProblem && !failure.backingOff) this.ledger.diskFailed(failure.message);
      this.ledger.markStale(key, `${failure.name}: ${failure.message}`, failure instanceof DiskProblem);
      throw failure;
    }
  }

  private async skip(key: string, path: string, reason: string, size: number | undefined): Promise<RefreshOutcome> {
    const known = this.entries.get(key);
    if (known) await this.removeLocal(key, path, known);
    this.ledger.skip(key, reason, size);
    return 'skipped';
  }

  private async removeLocal(key: string, path: string, known: Entry): Promise<void> {
    this.deleteEntry(key);
    if (known.folder) await this.options.tree.pruneFolders(path, (folder) => this.keepsFolder(folder));
    else await this.options.tree.removeFile(path, (folder) => this.keepsFolder(folder));
  }

  /** A key refused because a file stood where its folder goes (or the reverse) may fit now. */
  private retryConflicts(removedPath: string): void {
    for (const key of this.ledger.conflictsAround(removedPath, this.options.prefix)) void this.refresh(key).catch(() => undefined);
  }

  private setEntry(key: string, entry: Entry, record = true): void {
    this.bytes += entry.size - (this.entries.get(key)?.size ?? 0);
    this.entries.set(key, entry);
    if (record) this.state.set(key, entry);
  }

  private deleteEntry(key: string): void {
    this.bytes -= this.entries.get(key)?.size ?? 0;
    this.entries.delete(key);
    this.state.delete(key);
  }

  /** A folder stays when a folder-marker key names it. */
  private keepsFolder(path: string): boolean {
    return this.entries.get(`${this.options.prefix}${path}/`)?.folder === true;
  }

  private async removeStrays(listed: ReadonlySet<string>): Promise<void> {
    const strays = this.strays;
    if (!strays) return;
    this.strays = undefined;
    for (const path of strays.keys()) {
      const key = `${this.options.prefix}${path}`;
      if (listed.has(key) && (this.entries.has(key) || this.ledger.stale.has(key))) continue; // the last good copy
      await this.options.tree.removeFile(path, (folder) => this.keepsFolder(folder)).catch(() => undefined);
      this.options.log(`removed ${path}, which is not in the bucket`);
    }
  }
}
