// Pure rules of the bucket mirror: which S3 keys become which local paths, how S3 event
// notifications are read, and how their sequencers order. No I/O here, so every rule is table-tested.

/** Where a key lands under the mirrored folder, or why it cannot. */
export type KeyPlace = { kind: 'file' | 'folder'; path: string } | { kind: 'refused'; reason: string };

/** Temporary files are written beside nothing the bucket can name: staging lives outside the tree. */
const MAX_SEGMENT_BYTES = 255;
const MAX_PATH_BYTES = 4000;

/**
 * The relative path of a key under `prefix`: `maps/roads/a.map` with prefix `maps/` is `roads/a.map`.
 * Keys ending in `/` are folder markers (made by the S3 console). Anything that is not a plain
 * relative path (empty, `.` or `..` segments, control characters, over-long names) is refused, so
 * nothing can ever be written outside the mirrored folder.
 */
export function placeOfKey(key: string, prefix: string): KeyPlace {
  if (!key.startsWith(prefix)) return { kind: 'refused', reason: `outside the prefix ${JSON.stringify(prefix)}` };
  let relative = key.slice(prefix.length);
  let kind: 'file' | 'folder' = 'file';
  if (relative.endsWith('/')) {
    kind = 'folder';
    relative = relative.slice(0, -1);
  }
  if (relative === '') return { kind: 'refused', reason: 'the prefix itself' };
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(relative)) return { kind: 'refused', reason: 'control characters are not valid in a path' };
  if (Buffer.byteLength(relative) > MAX_PATH_BYTES) return { kind: 'refused', reason: `longer than ${MAX_PATH_BYTES} bytes` };
  for (const segment of relative.split('/')) {
    if (segment === '') return { kind: 'refused', reason: 'empty path segment (leading, trailing or double /)' };
    if (segment === '.' || segment === '..') return { kind: 'refused', reason: `"${segment}" is not a valid path segment` };
    if (Buffer.byteLength(segment) > MAX_SEGMENT_BYTES) return { kind: 'refused', reason: `a path segment is longer than ${MAX_SEGMENT_BYTES} bytes` };
  }
  return { kind, path: relative };
}

/** One change S3 told us about: only a reason to look at the key again, never its content. */
export interface KeyEvent {
  key: string;
  /** 'created' or 'removed'; anything else S3 may add is treated as 'look again'. */
  action: 'created' | 'removed' | 'other';
  /** Orders events of one key (absent in some emulators and test events). */
  sequencer?: string;
  /** When S3 says the change happened (ISO 8601), for the lag figure. */
  time?: string;
}

/** S3 event keys are URL-encoded with `+` for spaces (application/x-www-form-urlencoded). */
export function decodeEventKey(encoded: string): string {
  return decodeURIComponent(encoded.replace(/\+/g, ' '));
}

interface S3EventRecord {
  eventName?: unknown;
  eventTime?: unknown;
  s3?: { bucket?: { name?: unknown }; object?: { key?: unknown; sequencer?: unknown } };
}

/**
 * The key events in one queue message, from `bucket` only. The body is the S3 event itself (SNS raw
 * delivery, or S3 straight to SQS) or an SNS envelope around it. Test events and messages that are
 * not S3 events give no key events; a body that is not JSON is an error for the caller to log.
 */
export function parseEventMessage(body: string, bucket: string): KeyEvent[] {
  let parsed: unknown = JSON.parse(body);
  if (isRecord(parsed) && parsed.Type === 'Notification' && typeof parsed.Message === 'string') parsed = JSON.parse(parsed.Message);
  if (!isRecord(parsed) || !Array.isArray(parsed.Records)) return [];
  const events: KeyEvent[] = [];
  for (const record of parsed.Records as S3EventRecord[]) {
    const key = record.s3?.object?.key;
    if (typeof key !== 'string' || record.s3?.bucket?.name !== bucket) continue;
    const name = typeof record.eventName === 'string' ? record.eventName : '';
    const action = name.startsWith('ObjectCreated:') ? 'created' : name.startsWith('ObjectRemoved:') ? 'removed' : 'other';
    const sequencer = record.s3?.object?.sequencer;
    events.push({
      key: decodeEventKey(key),
      action,
      ...(typeof sequencer === 'string' && /^[0-9A-Fa-f]+$/.test(sequencer) ? { sequencer } : {}),
      ...(typeof record.eventTime === 'string' ? { time: record.eventTime } : {}),
    });
  }
  return events;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Compares two sequencers of one key: S3's rule is to right-pad the shorter with zeros, then
 * compare as strings (hexadecimal, compared case-insensitively). Negative when `a` is earlier.
 */
export function compareSequencers(a: string, b: string): number {
  const width = Math.max(a.length, b.length);
  const left = a.toUpperCase().padEnd(width, '0');
  const right = b.toUpperCase().padEnd(width, '0');
  return left < right ? -1 : left > right ? 1 : 0;
}

/**
 * Remembers, per key, the newest sequencer whose change has been looked at successfully, so a
 * duplicate or late event of a change already applied costs nothing. An event without a sequencer
 * is always worth a look. Remember an event only after its key was fetched: a failed fetch leaves
 * the message in the queue, and its redelivery must not be taken for a duplicate.
 */
export class SequencerLog {
  private readonly applied = new Map<string, string>();

  /** True when a change at or after this event has already been applied. */
  isApplied(event: KeyEvent): boolean {
    if (event.sequencer === undefined) return false;
    const seen = this.applied.get(event.key);
    return seen !== undefined && compareSequencers(event.sequencer, seen) <= 0;
  }

  /** Call after the key was fetched following this event's arrival. */
  remember(event: KeyEvent): void {
    if (event.sequencer === undefined) return;
    const seen = this.applied.get(event.key);
    if (seen === undefined || compareSequencers(event.sequencer, seen) > 0) this.applied.set(event.key, event.sequencer);
  }
}
