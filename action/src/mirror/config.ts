// The mirror's settings, from the environment the mount script passes (it reads them from
// /etc/mapserver-ecs/mount.conf). Every problem is reported at once, naming the variable.
import { join } from 'node:path';
import { DEFAULT_GRACE_SECONDS } from './health.js';
import { mirrorQueueName } from './naming.js';
import { DEFAULT_BUDGET_BYTES, DEFAULT_MAX_OBJECT_BYTES, PATTERN, parsePatterns, selectionFrom, type Selection } from './selection.js';

export interface MirrorConfig {
  bucket: string;
  prefix: string;
  /** Holds data/ (the mirrored folder), staging/, state.json and status.json. */
  root: string;
  uid: number | undefined;
  gid: number | undefined;
  umask: number;
  reconcileSeconds: number;
  /** SNS topic name or ARN; '' runs on reconciliation alone. */
  topic: string;
  queueName: string;
  /** Instance id (tag of the queue); the queue's name comes from it when MIRROR_QUEUE is empty. */
  owner: string;
  region: string | undefined;
  selection: Selection;
  budgetBytes: number;
  /** How long a full disk or a stale key is tolerated before `check` fails. */
  graceSeconds: number;
}

const MIB = 1024 * 1024;

export const DEFAULT_RECONCILE_SECONDS = 60;

export const paths = (root: string): { data: string; staging: string; state: string; status: string } => ({
  data: join(root, 'data'),
  staging: join(root, 'staging'),
  state: join(root, 'state.json'),
  status: join(root, 'status.json'),
});

export class MirrorConfigError extends Error {
  override readonly name = 'MirrorConfigError';
}

const ROOT = /^(\/[A-Za-z0-9_.-]+)+$/;

/**
 * MIRROR_ROOT alone: `check` and `status` only read the status file the running mirror writes, so
 * they must not depend on the settings only `run` needs (the queue is named from the instance id,
 * which the mount script looks up for `run` only).
 */
export function readMirrorRoot(env: NodeJS.ProcessEnv): string {
  const root = env.MIRROR_ROOT ?? '';
  if (!ROOT.test(root)) throw new MirrorConfigError(`mapfiles-mirror: invalid settings:\n  - MIRROR_ROOT must be an absolute path, got ${JSON.stringify(root)}`);
  return root;
}

export function readMirrorConfig(env: NodeJS.ProcessEnv): MirrorConfig {
  const problems: string[] = [];
  const text = (name: string, pattern: RegExp, expected: string, fallback = ''): string => {
    const value = env[name] || fallback;
    if (!pattern.test(value)) problems.push(`${name} must be ${expected}, got ${JSON.stringify(value)}`);
    return value;
  };
  const number = (name: string, min: number, max: number, fallback?: number, radix = 10): number | undefined => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const value = Number.parseInt(raw, radix);
    if (!/^[0-9]+$/.test(raw) || Number.isNaN(value) || value < min || value > max) {
      problems.push(`${name} must be a whole number from ${min} to ${max}${radix === 8 ? ' in octal' : ''}, got ${JSON.stringify(raw)}`);
    }
    return value;
  };
  const bucket = text('MIRROR_BUCKET', /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'an S3 bucket name');
  const prefix = text('MIRROR_PREFIX', /^(|([^/]+\/)+)$/, "empty or a key prefix ending in '/', such as maps/");
  const root = text('MIRROR_ROOT', ROOT, 'an absolute path');
  const topic = text('MIRROR_TOPIC', /^(|[A-Za-z0-9_-]{1,256}|arn:[a-z-]+:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256})$/, 'an SNS topic name or ARN, or empty');
  // The mount script passes only the instance id (MIRROR_OWNER) unless the config names a queue.
  const owner = env.MIRROR_OWNER ?? '';
  const queueName = text(
    'MIRROR_QUEUE',
    topic ? /^[A-Za-z0-9_-]{1,80}$/ : /^[A-Za-z0-9_-]{0,80}$/,
    'an SQS queue name (required with MIRROR_TOPIC unless MIRROR_OWNER names the instance)',
    owner ? mirrorQueueName(owner) : '',
  );
  const uid = number('MIRROR_UID', 0, 4294967294);
  const gid = number('MIRROR_GID', 0, 4294967294);
  const umask = number('MIRROR_UMASK', 0, 0o777, 0o022, 8) ?? 0o022;
  const reconcileSeconds = number('MIRROR_RECONCILE_SECONDS', 5, 86_400, DEFAULT_RECONCILE_SECONDS) ?? DEFAULT_RECONCILE_SECONDS;
  const patterns = (name: string): string[] => {
    const list = parsePatterns(env[name] ?? '');
    if (list.some((p) => !PATTERN.test(p))) problems.push(`${name} must be glob patterns separated by spaces or commas (or none), got ${JSON.stringify(env[name])}`);
    return list;
  };
  const selection = selectionFrom(patterns('MIRROR_INCLUDE'), patterns('MIRROR_EXCLUDE'), number('MIRROR_MAX_OBJECT_MIB', 1, 1_048_576) ?? DEFAULT_MAX_OBJECT_BYTES / MIB);
  const budgetBytes = (number('MIRROR_BUDGET_MIB', 1, 16_777_216) ?? DEFAULT_BUDGET_BYTES / MIB) * MIB;
  const graceSeconds = number('MIRROR_GRACE_SECONDS', 0, 86_400, DEFAULT_GRACE_SECONDS) ?? DEFAULT_GRACE_SECONDS;
  if (problems.length > 0) throw new MirrorConfigError(`mapfiles-mirror: invalid settings:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  return {
    bucket,
    prefix,
    root,
    uid,
    gid,
    umask,
    reconcileSeconds,
    topic,
    queueName,
    owner: owner || queueName,
    region: env.AWS_REGION || env.AWS_DEFAULT_REGION || undefined,
    selection,
    budgetBytes,
    graceSeconds,
  };
}
