// What the mirror does not hold as the bucket does, and why: keys refused (not a path, or a file
// where a folder goes), keys not mirrored by the selection, keys stale (their last refresh failed),
// and a disk that cannot take more. Each is logged once when it starts, not at every reconciliation.
import { placeOfKey } from './keys.js';

export interface StaleKey {
  reason: string;
  since: number;
  /** Failed for want of disk: counts toward the disk state, not a network hiccup. */
  disk: boolean;
}

export interface DiskState {
  reason: string;
  since: number;
  failures: number;
  retryAt: number;
}

const MAX_DISK_BACKOFF_MS = 60_000;

/** The disk cannot take a file (full, over quota, or over the mirror's budget). */
export class DiskProblem extends Error {
  override readonly name = 'DiskProblem';
  /** Thrown while backing off, without trying: not a new failure. */
  constructor(message: string, readonly backingOff = false) {
    super(message);
  }
}

export const DISK_FULL_CODES = new Set(['ENOSPC', 'EDQUOT']);

export class Ledger {
  /** `etag` is set for a file/folder conflict: the key is looked at again only when it changes. */
  readonly refused = new Map<string, { reason: string; etag?: string }>();
  readonly skipped = new Map<string, { reason: string; size?: number }>();
  readonly stale = new Map<string, StaleKey>();
  disk: DiskState | undefined;
  /** Bumped at every change, so the status lists are rebuilt only when something changed. */
  version = 0;

  constructor(
    private readonly log: (line: string) => void,
    private readonly now: () => number,
  ) {}

  refuse(key: string, reason: string, etag?: string): 'refused' {
    if (this.refused.get(key)?.reason !== reason) this.log(`refused ${JSON.stringify(key)}: ${reason}`);
    this.refused.set(key, etag === undefined ? { reason } : { reason, etag });
    this.stale.delete(key);
    this.skipped.delete(key);
    this.changed();
    return 'refused';
  }

  isUnchangedConflict(key: string, etag: string): boolean {
    const refused = this.refused.get(key);
    return refused?.etag !== undefined && refused.etag === etag;
  }

  /** Conflicting keys whose path is above or below `path` (relative to `prefix`). */
  conflictsAround(path: string, prefix: string): string[] {
    const keys: string[] = [];
    for (const [key, refused] of this.refused) {
      if (refused.etag === undefined) continue;
      const place = placeOfKey(key, prefix);
      if (place.kind !== 'refused' && (place.path.startsWith(`${path}/`) || path.startsWith(`${place.path}/`))) keys.push(key);
    }
    return keys;
  }

  skip(key: string, reason: string, size: number | undefined): void {
    const before = this.skipped.get(key);
    if (before?.reason === reason) return;
    this.log(`not mirroring ${JSON.stringify(key)}${size === undefined ? '' : ` (${size} bytes)`}: ${reason}`);
    this.skipped.set(key, size === undefined ? { reason } : { reason, size });
    this.stale.delete(key);
    this.refused.delete(key);
    this.changed();
    this.settleDisk();
  }

  markStale(key: string, reason: string, disk: boolean): void {
    const before = this.stale.get(key);
    if (!before) this.log(`cannot refresh ${key}, serving the last good copy: ${reason}`);
    this.stale.set(key, { reason, since: before?.since ?? this.now(), disk });
    this.changed();
  }

  /** The key is as the bucket has it (unchanged, or just placed). */
  placed(key: string): void {
    const had = [this.stale, this.refused, this.skipped].map((map) => map.delete(key));
    if (had.includes(true)) this.changed();
    this.settleDisk();
  }

  /** The key is not in the bucket any more. */
  gone(key: string): void {
    this.placed(key);
  }

  /** A write failed for want of room: the disk state starts, or its backoff grows. */
  diskFailed(reason: string): void {
    const now = this.now();
    if (!this.disk) {
      this.log(`${reason}; serving the last good copy, retrying with backoff`);
      this.disk = { reason, since: now, failures: 0, retryAt: now };
    }
    this.disk.reason = reason;
    this.disk.failures += 1;
    this.disk.retryAt = now + Math.min(MAX_DISK_BACKOFF_MS, 1000 * 2 ** (this.disk.failures - 1));
    this.changed();
  }

  /** Refuses a write the budget or a full disk (still backing off) does not allow: `after` is the mirror's bytes with it. */
  checkRoom(key: string, size: number, after: number, budget: number): void {
    const backoff = this.diskBackoff();
    if (backoff) throw new DiskProblem(backoff, true);
    if (after > budget) throw new DiskProblem(`over budget: ${key} (${size} bytes) would take the mirror to ${after} of ${budget} bytes`);
  }

  /** While backing off from a full disk, why a write is not tried now. */
  diskBackoff(): string | undefined {
    const disk = this.disk;
    if (!disk || this.now() >= disk.retryAt) return undefined;
    return `${disk.reason} (next try in ${Math.ceil((disk.retryAt - this.now()) / 1000)} s)`;
  }

  /** Refused and skipped keys the listing no longer holds are forgotten. */
  forgetUnlisted(listed: ReadonlySet<string>): void {
    for (const map of [this.refused, this.skipped]) {
      for (const key of map.keys()) {
        if (listed.has(key)) continue;
        map.delete(key);
        this.changed();
      }
    }
  }

  /** The disk state ends when no key is stale for want of room any more. */
  private settleDisk(): void {
    if (!this.disk) return;
    for (const stale of this.stale.values()) if (stale.disk) return;
    this.log(`the disk takes the mirror's files again (after ${Math.round((this.now() - this.disk.since) / 1000)} s)`);
    this.disk = undefined;
    this.changed();
  }

  private changed(): void {
    this.version += 1;
  }
}
