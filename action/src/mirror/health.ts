// The one definition of a healthy mirror, read by `mapfiles-mirror check` (and so by
// `mapfiles-mount check`, which the instance's health rules call) from the status file the running
// mirror rewrites every HEARTBEAT_SECONDS.
import type { Ledger } from './ledger.js';
import type { ReconcileReport } from './mirror.js';

/** How often the status file is rewritten while nothing happens: the health check's heartbeat. */
export const HEARTBEAT_SECONDS = 2;
/** A heartbeat older than this means the mirror is dead or stuck (a check fails within 10 s). */
export const STALE_HEARTBEAT_SECONDS = 8;
/** How long a full disk or a stale key is tolerated before the check fails. */
export const DEFAULT_GRACE_SECONDS = 300;
/** The most keys of each kind the status lists (the counts are always whole). */
export const STATUS_LIST_LIMIT = 1000;

export interface KeyNote {
  key: string;
  reason: string;
  size?: number;
  since?: string;
}

export interface MirrorStatus {
  state: 'syncing' | 'ready' | 'degraded' | 'stopped';
  synced: boolean;
  pid: number;
  startedAt: string;
  heartbeatAt: string;
  bucket: string;
  prefix: string;
  reconcileSeconds: number;
  graceSeconds: number;
  budgetBytes: number;
  events: {
    state: 'off' | 'connecting' | 'listening' | 'unavailable';
    topicArn?: string;
    error?: string;
    received: number;
    lastEventAt?: string;
    lastEventKey?: string;
    /** From the time S3 gives the change to the moment it was applied here. */
    lastLagMs?: number;
  };
  /** lastOkAt is when the last successful reconciliation ended. */
  reconcile: { count: number; lastAt?: string; lastOkAt?: string; last?: ReconcileReport; error?: string };
  /** The disk cannot take what the bucket holds (full, over quota, over the budget). */
  degraded?: { reason: string; since: string };
  objects: number;
  bytes: number;
  staleCount: number;
  stale: KeyNote[];
  refusedCount: number;
  refused: KeyNote[];
  /** Keys the selection leaves out (by name or size), largest first. */
  notMirroredCount: number;
  notMirroredBytes: number;
  notMirrored: KeyNote[];
  requests: Record<string, number>;
}

type Lists = Pick<MirrorStatus, 'staleCount' | 'stale' | 'refusedCount' | 'refused' | 'notMirroredCount' | 'notMirroredBytes' | 'notMirrored' | 'degraded'>;

/** The ledger's keys as the status lists them. */
export function ledgerLists(ledger: Ledger): Lists {
  const iso = (ms: number): string => new Date(ms).toISOString();
  const notMirrored: KeyNote[] = [];
  let notMirroredBytes = 0;
  for (const [key, { reason, size }] of ledger.skipped) {
    notMirrored.push(size === undefined ? { key, reason } : { key, reason, size });
    notMirroredBytes += size ?? 0;
  }
  notMirrored.sort((a, b) => (b.size ?? 0) - (a.size ?? 0));
  const limit = <T>(items: Iterable<T>): T[] => {
    const out: T[] = [];
    for (const item of items) {
      if (out.length >= STATUS_LIST_LIMIT) break;
      out.push(item);
    }
    return out;
  };
  return {
    staleCount: ledger.stale.size,
    stale: limit([...ledger.stale].map(([key, s]) => ({ key, reason: s.reason, since: iso(s.since) }))),
    refusedCount: ledger.refused.size,
    refused: limit([...ledger.refused].map(([key, r]) => ({ key, reason: r.reason }))),
    notMirroredCount: ledger.skipped.size,
    notMirroredBytes,
    notMirrored: notMirrored.slice(0, STATUS_LIST_LIMIT),
    ...(ledger.disk ? { degraded: { reason: ledger.disk.reason, since: iso(ledger.disk.since) } } : {}),
  };
}

/** True when a process of that id runs on this host (EPERM: it runs, as another user). */
export function processRuns(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Why the mirror cannot serve as it should, or undefined when it can. */
export function unhealthy(status: MirrorStatus, now = Date.now(), runs: (pid: number) => boolean = processRuns): string | undefined {
  if (status.state === 'stopped') return 'the mirror has stopped';
  if (typeof status.pid === 'number' && !runs(status.pid)) return `the mirror's process ${status.pid} is not running`;
  const seconds = (iso: string | undefined): number => (now - Date.parse(iso ?? '')) / 1000;
  const age = seconds(status.heartbeatAt);
  if (!(age <= STALE_HEARTBEAT_SECONDS)) return `no heartbeat for ${Math.round(age)} s (the mirror is not running)`;
  if (!status.synced) return `the first sync has not finished${status.reconcile.error ? ` (${status.reconcile.error})` : ''}`;
  const grace = status.graceSeconds ?? DEFAULT_GRACE_SECONDS;
  const sinceReconcile = seconds(status.reconcile.lastOkAt ?? status.startedAt);
  if (status.reconcileSeconds && sinceReconcile > 2 * status.reconcileSeconds) {
    return `no reconciliation has completed for ${Math.round(sinceReconcile)} s (two intervals are ${2 * status.reconcileSeconds} s)${status.reconcile.error ? `: ${status.reconcile.error}` : ''}`;
  }
  if (status.degraded && seconds(status.degraded.since) > grace) return `${status.degraded.reason} (for ${Math.round(seconds(status.degraded.since))} s)`;
  const oldStale = (status.stale ?? []).find((s) => seconds(s.since) > grace);
  if (oldStale) return `${status.staleCount} key(s) stale, ${JSON.stringify(oldStale.key)} for over ${grace} s: ${oldStale.reason}`;
  return undefined;
}
