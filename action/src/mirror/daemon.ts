// The mirror as a long-running service: the event loop (long-polls the instance's queue), the
// reconciliation loop (lists the prefix every interval), and a status file that the mount script's
// health check and an operator read. Any failure keeps the last good copy and retries with backoff.
import { rename, rm, writeFile } from 'node:fs/promises';
import type { Message } from '@aws-sdk/client-sqs';
import { parseEventMessage } from './keys.js';
import { HEARTBEAT_SECONDS, ledgerLists, type MirrorStatus } from './health.js';
import type { Mirror } from './mirror.js';
import type { EventQueue } from './queue.js';

const MAX_BACKOFF_MS = 60_000;
/** Messages being applied at once; the receive loop waits when this many are in flight. */
const MAX_MESSAGES_IN_FLIGHT = 50;

export interface DaemonOptions {
  mirror: Mirror;
  /** Absent when no topic is configured: the mirror then runs on reconciliation alone. */
  queue: EventQueue | undefined;
  bucket: string;
  prefix: string;
  reconcileSeconds: number;
  graceSeconds: number;
  budgetBytes: number;
  statusFile: string;
  requests: () => Record<string, number>;
  log: (line: string) => void;
}

export class MirrorDaemon {
  private stopped = false;
  private readonly abort = new AbortController();
  private readonly sleepers = new Set<() => void>();
  private reconcileSooner: (() => void) | undefined;
  private statusWrites: Promise<void> = Promise.resolve();
  private readonly status: MirrorStatus;
  private readonly loops: Array<Promise<void>> = [];
  private heartbeat: NodeJS.Timeout | undefined;
  private inFlight = 0;
  private listsVersion = -1;
  private statusWriteFailed = false;

  constructor(private readonly options: DaemonOptions) {
    const now = new Date().toISOString();
    this.status = {
      state: 'syncing',
      synced: false,
      pid: process.pid,
      startedAt: now,
      heartbeatAt: now,
      bucket: options.bucket,
      prefix: options.prefix,
      reconcileSeconds: options.reconcileSeconds,
      graceSeconds: options.graceSeconds,
      budgetBytes: options.budgetBytes,
      events: { state: options.queue ? 'connecting' : 'off', received: 0 },
      reconcile: { count: 0 },
      objects: 0,
      bytes: 0,
      staleCount: 0,
      stale: [],
      refusedCount: 0,
      refused: [],
      notMirroredCount: 0,
      notMirroredBytes: 0,
      notMirrored: [],
      requests: {},
    };
  }

  async start(): Promise<void> {
    const { log } = this.options;
    log(`mirroring s3://${this.options.bucket}/${this.options.prefix}, reconciling every ${this.options.reconcileSeconds} s${this.options.queue ? '' : ' (no topic: no change events)'}`);
    await this.options.mirror.load();
    await this.writeStatus();
    this.heartbeat = setInterval(() => void this.writeStatus(), HEARTBEAT_SECONDS * 1000);
    // Subscribe before the first listing when possible, so nothing changed meanwhile is missed.
    if (this.options.queue) await this.openQueue(1);
    this.loops.push(this.reconcileLoop());
    if (this.options.queue) this.loops.push(this.eventLoop(this.options.queue));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    for (const wake of [...this.sleepers]) wake();
    if (this.heartbeat) clearInterval(this.heartbeat);
    await Promise.allSettled(this.loops);
    if (this.options.queue?.isOpen) {
      await this.options.queue.close().then(
        () => this.options.log('deleted the event queue and its subscription'),
        (error: Error) => this.options.log(`could not delete the event queue (cleanup removes it later): ${error.name}: ${error.message}`),
      );
    }
    this.status.state = 'stopped';
    await this.options.mirror.saveState().catch(() => undefined);
    await this.writeStatus();
  }

  /** Tries to open the queue; false after `attempts` failures (the event loop keeps trying). */
  private async openQueue(attempts: number): Promise<boolean> {
    const queue = this.options.queue;
    if (!queue) return false;
    for (let attempt = 1; attempt <= attempts && !this.stopped; attempt++) {
      try {
        await queue.open();
        this.status.events.state = 'listening';
        this.status.events.topicArn = queue.topicArn;
        delete this.status.events.error;
        this.options.log(`listening for changes on ${queue.topicArn}`);
        return true;
      } catch (error) {
        const reason = `${(error as Error).name}: ${(error as Error).message}`;
        if (this.status.events.error !== reason) this.options.log(`cannot subscribe to change events (reconciliation still runs): ${reason}`);
        this.status.events.state = 'unavailable';
        this.status.events.error = reason;
      }
    }
    return false;
  }

  private async reconcileLoop(): Promise<void> {
    let failures = 0;
    while (!this.stopped) {
      const at = new Date().toISOString();
      try {
        const report = await this.options.mirror.reconcile();
        this.status.reconcile = { count: this.status.reconcile.count + 1, lastAt: at, lastOkAt: new Date().toISOString(), last: report };
        failures = 0;
        if (report.fetched + report.deleted + report.failed > 0 || !this.status.synced) {
          this.options.log(
            `reconciled ${report.listed} keys in ${report.durationMs} ms: ${report.fetched} fetched, ${report.deleted} removed, ${report.failed} failed, ${report.skipped} not mirrored`,
          );
        }
        if (!this.status.synced && report.failed === 0) {
          this.status.synced = true;
          this.status.state = 'ready';
          this.options.log('first sync complete');
        }
      } catch (error) {
        failures += 1;
        const reason = `${(error as Error).name}: ${(error as Error).message}`;
        this.status.reconcile = { ...this.status.reconcile, count: this.status.reconcile.count + 1, lastAt: at, error: reason };
        this.options.log(`reconciliation failed (attempt ${failures}), serving the last good copy: ${reason}`);
      }
      await this.writeStatus();
      // Until the first sync succeeds, retry sooner than the interval (1, 2, 4 ... s).
      const wait = this.status.synced && failures === 0 ? this.options.reconcileSeconds * 1000 : Math.min(1000 * 2 ** Math.min(failures, 6), this.options.reconcileSeconds * 1000);
      await this.sleep(wait, true);
    }
  }

  private async eventLoop(queue: EventQueue): Promise<void> {
    let failures = 0;
    while (!this.stopped) {
      if (!queue.isOpen) {
        if (!(await this.openQueue(1))) {
          failures += 1;
          await this.sleep(Math.min(1000 * 2 ** failures, MAX_BACKOFF_MS));
          continue;
        }
        // Changes made while no queue listened are found by a reconciliation now.
        failures = 0;
        this.reconcileSooner?.();
      }
      let messages: Message[];
      try {
        messages = await queue.receive(this.abort.signal);
        if (this.status.events.state !== 'listening') this.options.log('change events are back');
        this.status.events.state = 'listening';
        delete this.status.events.error;
        failures = 0;
      } catch (error) {
        if (this.stopped) return;
        failures += 1;
        const reason = `${(error as Error).name}: ${(error as Error).message}`;
        if (this.status.events.state === 'listening') this.options.log(`cannot receive change events, retrying with backoff: ${reason}`);
        this.status.events.state = 'unavailable';
        this.status.events.error = reason;
        await this.sleep(Math.min(500 * 2 ** failures, MAX_BACKOFF_MS));
        continue;
      }
      for (const message of messages) {
        this.inFlight += 1;
        void this.applyMessage(queue, message).finally(() => {
          this.inFlight -= 1;
        });
      }
      while (this.inFlight >= MAX_MESSAGES_IN_FLIGHT && !this.stopped) await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Applies one message's events and deletes it; a failed fetch leaves it for redelivery. */
  private async applyMessage(queue: EventQueue, message: Message): Promise<void> {
    let events;
    try {
      events = parseEventMessage(message.Body ?? '', this.options.bucket);
    } catch {
      this.options.log(`dropping a queue message that is not JSON (${(message.Body ?? '').slice(0, 80)})`);
      await queue.remove([message]).catch(() => undefined);
      return;
    }
    try {
      await this.options.mirror.applyEvents(events);
      await queue.remove([message]);
      const last = events.at(-1);
      if (last) {
        this.status.events.received += events.length;
        this.status.events.lastEventAt = new Date().toISOString();
        this.status.events.lastEventKey = last.key;
        const happened = last.time ? Date.parse(last.time.endsWith('Z') ? last.time : `${last.time}Z`) : Number.NaN;
        if (Number.isFinite(happened)) this.status.events.lastLagMs = Math.max(0, Date.now() - happened);
      }
      await this.options.mirror.saveState();
    } catch {
      // The key stays stale (the mirror logged why); the message comes back after its visibility timeout.
    }
  }

  /** Sleeps, unless stop() (or, for the reconciliation loop, a reopened queue) wakes it first. */
  private sleep(ms: number, reconciliation = false): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.sleepers.delete(done);
        if (this.reconcileSooner === done) this.reconcileSooner = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.sleepers.add(done);
      if (reconciliation) this.reconcileSooner = done;
    });
  }

  /**
   * Status writes run one at a time (the heartbeat and the loops share one file). A failed write
   * (a disk full to the last byte) is logged once and never stops the mirror: the heartbeat goes
   * stale, so the check says so.
   */
  private writeStatus(): Promise<void> {
    this.statusWrites = this.statusWrites
      .then(() => this.writeStatusNow())
      .then(
        () => {
          if (this.statusWriteFailed) this.options.log('the status file is written again');
          this.statusWriteFailed = false;
        },
        (error: Error) => {
          if (!this.statusWriteFailed) this.options.log(`cannot write the status file: ${error.name}: ${error.message}`);
          this.statusWriteFailed = true;
        },
      );
    return this.statusWrites;
  }

  private async writeStatusNow(): Promise<void> {
    const { mirror } = this.options;
    const status = this.status;
    status.heartbeatAt = new Date().toISOString();
    status.objects = mirror.objectCount;
    status.bytes = mirror.byteCount;
    if (this.listsVersion !== mirror.ledger.version) {
      this.listsVersion = mirror.ledger.version;
      delete status.degraded;
      Object.assign(status, ledgerLists(mirror.ledger));
    }
    if (status.state !== 'stopped') status.state = !status.synced ? 'syncing' : status.degraded ? 'degraded' : 'ready';
    status.requests = this.options.requests();
    const temporary = `${this.options.statusFile}.tmp`;
    try {
      await writeFile(temporary, `${JSON.stringify(status, null, 2)}\n`);
      await rename(temporary, this.options.statusFile);
    } catch (error) {
      await rm(temporary, { force: true });
      throw error;
    }
  }
}
