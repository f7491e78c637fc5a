// Mounts an emulated bucket through the REAL mount script of the AMI
// (packer/files/usr/local/sbin/mapfiles-mount), with a config file written the way user data writes
// it. Every mount is tracked so a test file can always clean up, even after a failed assertion:
// call unmountAll() in afterAll.
//
// Careful: startEmulator() runs the emulator's proxy inside the calling process. Touch the mount only
// with asynchronous calls (fs/promises, execFile): a synchronous read (readFileSync, execFileSync
// of `cat`) blocks the event loop that has to answer s3fs, and the caller hangs in the kernel.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { shellWord } from '../../action/src/render.js';

export const MOUNT_SCRIPT = fileURLToPath(new URL('../../packer/files/usr/local/sbin/mapfiles-mount', import.meta.url));

export interface MountOptions {
  /** The S3 endpoint (an emulator on loopback). */
  endpoint: string;
  bucket: string;
  /** '' or a prefix with a trailing slash, such as 'maps/'. */
  prefix?: string;
  mountPoint: string;
  uid?: number;
  gid?: number;
  umask?: string;
  extraOptions?: string;
  /** Extra environment: the emulator's credentials and region, or MAPFILES_MOUNT_* tuning. */
  env?: Record<string, string>;
  /** How long `mapfiles-mount mount` may take (default 120 s; a mirror's first sync of many keys takes longer). */
  mountTimeoutMs?: number;
  /** Mount driver (default s3fs; mountpoint is not installed on Debian). */
  driver?: 's3fs' | 'mountpoint' | 'mirror';
  /** mirror driver: the bucket's SNS topic (name or ARN), the instance's queue, the interval. */
  mirror?: {
    topic?: string;
    queue?: string;
    reconcileSeconds?: number;
    /** Where the mirror keeps its files (default: in the mount's work folder), such as a small file system. */
    root?: string;
    /** More mount.conf settings: MIRROR_BUDGET_MIB, MIRROR_GRACE_SECONDS, MIRROR_EXCLUDE... */
    settings?: Record<string, string>;
  };
}

/** The mirror's bundle as the AMI carries it (kept equal to the source by the check-dist test). */
export const MIRROR_BUNDLE = fileURLToPath(new URL('../../packer/files/usr/local/lib/mapserver-ecs/mirror/index.js', import.meta.url));

export interface Mounted {
  mountPoint: string;
  configPath: string;
  /** Where the script writes the ECS attribute once the mount is ready. */
  readyFile: string;
  /** Environment that points the script at this mount's config (for `check` and friends). */
  scriptEnv: Record<string, string>;
  /** mirror driver: where it keeps its folder, state and status.json, and its log. */
  mirrorRoot: string;
  mirrorLog: string;
  unmount(): Promise<void>;
}

interface ScriptResult {
  code: number;
  output: string;
}

/** Runs the mount script with a subcommand; never throws, returns the exit code and output. */
export function runMountScript(subcommand: string, env: Record<string, string>, timeoutMs = 120_000): Promise<ScriptResult> {
  return new Promise((resolve) => {
    execFile(MOUNT_SCRIPT, [subcommand], { env: { ...process.env, ...env }, timeout: timeoutMs }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, output: `${stdout}${stderr}`.trim() });
    });
  });
}

const active = new Set<Mounted>();

/** Writes a mount config and runs `mapfiles-mount mount`; throws with the script's output on failure. */
export async function mountBucket(options: MountOptions): Promise<Mounted> {
  const workDir = mkdtempSync(join(tmpdir(), 'mapfiles-mount-'));
  const configPath = join(workDir, 'mount.conf');
  const readyFile = join(workDir, 'ecs-attributes.env');
  const region = options.env?.AWS_REGION ?? process.env.AWS_REGION ?? 'us-east-1';
  const values: Array<[string, string]> = [
    ['BUCKET', options.bucket],
    ['BUCKET_PREFIX', options.prefix ?? ''],
    ['AWS_REGION', region],
    ['MOUNT_POINT', options.mountPoint],
    ['MOUNT_DRIVER', options.driver ?? 's3fs'],
    ['MOUNT_UID', String(options.uid ?? 33)],
    ['MOUNT_GID', String(options.gid ?? 33)],
    ['MOUNT_UMASK', options.umask ?? '0022'],
    ['EXTRA_OPTIONS', options.extraOptions ?? ''],
    ['S3_ENDPOINT', options.endpoint],
    ['MIRROR_ROOT', options.mirror?.root ?? join(workDir, 'mirror')],
    ['MIRROR_TOPIC', options.mirror?.topic ?? ''],
    ['MIRROR_QUEUE', options.mirror?.queue ?? ''],
    ['MIRROR_RECONCILE_SECONDS', String(options.mirror?.reconcileSeconds ?? 60)],
    ...Object.entries(options.mirror?.settings ?? {}),
  ];
  writeFileSync(configPath, values.map(([key, value]) => `${key}=${shellWord(value, key)}\n`).join(''), { mode: 0o600 });
  mkdirSync(options.mountPoint, { recursive: true });

  const scriptEnv: Record<string, string> = {
    // Tests fail fast instead of waiting through a boot-time retry budget (env may override).
    MAPFILES_MOUNT_ATTEMPTS: '3',
    MAPFILES_MOUNT_MAX_DELAY: '2',
    ...(options.env ?? {}),
    MAPFILES_MOUNT_CONFIG: configPath,
    MAPFILES_READY_FILE: readyFile,
    MAPFILES_ECS_CONFIG: join(workDir, 'ecs.config'),
    MAPFILES_MIRROR_JS: MIRROR_BUNDLE,
    MAPFILES_MIRROR_LOG: join(workDir, 'mirror.log'),
  };

  let unmounted = false;
  const mounted: Mounted = {
    mountPoint: options.mountPoint,
    configPath,
    readyFile,
    scriptEnv,
    mirrorRoot: options.mirror?.root ?? join(workDir, 'mirror'),
    mirrorLog: join(workDir, 'mirror.log'),
    async unmount() {
      if (unmounted) return;
      unmounted = true;
      active.delete(mounted);
      const result = await runMountScript('unmount', scriptEnv, 60_000);
      if (result.code !== 0) await lazyUnmount(options.mountPoint);
      rmSync(workDir, { recursive: true, force: true });
    },
  };

  const result = await runMountScript('mount', scriptEnv, options.mountTimeoutMs);
  if (result.code !== 0) {
    // A mount script killed by the timeout leaves its mirror's supervisor running: stop it too.
    if (options.driver === 'mirror') await runMountScript('unmount', scriptEnv, 60_000);
    await lazyUnmount(options.mountPoint);
    const mirrorLog = options.driver === 'mirror' ? `\nmirror log:\n${await readFile(mounted.mirrorLog, 'utf8').catch(() => '(none)')}` : '';
    rmSync(workDir, { recursive: true, force: true });
    throw new Error(`mapfiles-mount mount exited with code ${result.code}:\n${result.output}${mirrorLog}`);
  }
  active.add(mounted);
  return mounted;
}

/** Unmounts everything this process mounted; call it in afterAll. */
export async function unmountAll(): Promise<void> {
  for (const mounted of [...active]) await mounted.unmount();
}

/** Detaches a mount even while busy; quiet when nothing is mounted there. */
export function lazyUnmount(mountPoint: string): Promise<void> {
  return new Promise((resolve) => {
    execFile('umount', ['-l', mountPoint], () => resolve());
  });
}
