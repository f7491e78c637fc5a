// What every benchmark part stands on: the emulator with a bucket of mapfiles, MapServer containers
// of our image on loopback, and the mapfile folder in each storage variant (local disk, s3fs with
// the product's mount script, s3fs with the seed's options, a synced local copy).
import { CreateBucketCommand, ListObjectsV2Command, GetObjectCommand, PutBucketNotificationConfigurationCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { SNSClient } from '@aws-sdk/client-sns';
import { readFile } from 'node:fs/promises';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { emulatorEnv } from '../emulator/start.js';
import { freePort } from '../support/ports.js';
import { DOCKER_DIR, ensureImage, REPO_ROOT } from '../support/image.js';
import { exec, execOk } from '../support/exec.js';
import { lazyUnmount, mountBucket } from '../support/mount.js';
import { testContext } from '../support/command-context.js';
import type { AwsClients } from '../../action/src/aws/clients.js';
import { mirrorTopicName } from '../../action/src/mirror/naming.js';
import { ensureMirrorEvents } from '../../action/src/steps/mirror-events.js';

export const BUCKET = 'mapfiles-bench';
export const PREFIX = 'maps/';
export const BENCH_MAP = 'bench.map';

/** A small but real mapfile: two vector layers with classes and labels, inline features. */
export function benchMapfile(title: string, colour = '200 60 40'): string {
  const squares = Array.from({ length: 12 }, (_, i) => {
    const x = -18 + (i % 4) * 9;
    const y = -18 + Math.floor(i / 4) * 12;
    return `    FEATURE POINTS ${x} ${y} ${x} ${y + 8} ${x + 7} ${y + 8} ${x + 7} ${y} ${x} ${y} END ITEMS "parcel-${i}" END`;
  }).join('\n');
  return `MAP
  NAME "bench"
  SIZE 256 256
  EXTENT -20 -20 20 20
  UNITS DD
  IMAGECOLOR 255 255 255
  PROJECTION "init=epsg:4326" END
  WEB
    METADATA
      "wms_title" "${title}"
      "wms_abstract" "Benchmark mapfile of mapserver-ecs"
      "wms_srs" "EPSG:4326 EPSG:3857"
      "wms_enable_request" "*"
    END
  END
  LAYER
    NAME "parcels"
    TYPE POLYGON
    STATUS ON
    PROJECTION "init=epsg:4326" END
    METADATA "wms_title" "parcels" END
    PROCESSING "ITEMS=owner"
${squares}
    CLASS
      STYLE COLOR ${colour} OUTLINECOLOR 0 0 0 END
    END
  END
  LAYER
    NAME "roads"
    TYPE LINE
    STATUS ON
    PROJECTION "init=epsg:4326" END
    METADATA "wms_title" "roads" END
    FEATURE POINTS -20 -20 20 20 END END
    FEATURE POINTS -20 20 20 -20 END END
    FEATURE POINTS -20 0 0 5 20 0 END END
    CLASS
      STYLE COLOR 40 40 40 WIDTH 3 END
    END
  END
END
`;
}

export function getMapPath(map = `/mapfiles/${BENCH_MAP}`): string {
  return `/?map=${map}&SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&CRS=EPSG:4326&BBOX=-20,-20,20,20&WIDTH=256&HEIGHT=256&LAYERS=parcels,roads&STYLES=&FORMAT=image/png`;
}

export function getCapabilitiesPath(map = `/mapfiles/${BENCH_MAP}`): string {
  return `/?map=${map}&SERVICE=WMS&VERSION=1.3.0&REQUEST=GetCapabilities`;
}

/**
 * The emulator in its own process (npm run emulator): s3fs talks to it while this process drives
 * load, and a proxy sharing the load generator's event loop would slow the mount it measures.
 */
export interface EmulatorProcess {
  endpoint: string;
  /** moto itself: the mounts read from it directly, as s3fs reads from S3 with no proxy between. */
  motoEndpoint: string;
  env: Record<string, string>;
  stop(): Promise<void>;
}

export async function startEmulatorChild(extraArgs: string[] = []): Promise<EmulatorProcess> {
  const port = await freePort();
  const child: ChildProcess = spawn('npx', ['--no-install', 'tsx', 'scripts/emulator/cli.ts', '--port', String(port), ...extraArgs], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => {
    stderr = (stderr + c.toString()).slice(-4000);
  });
  const endpoint = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the emulator did not start within 60 s:\n${stderr}`)), 60_000);
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      if (/^http:\/\/127\.0\.0\.1:\d+$/.test(line.trim())) {
        clearTimeout(timer);
        resolve(line.trim());
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the emulator exited with code ${code}:\n${stderr}`));
    });
  });
  // The line naming moto's port follows the endpoint on stderr.
  const deadline = Date.now() + 10_000;
  while (!/moto on http/.test(stderr) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  const moto = /moto on (http:\/\/127\.0\.0\.1:\d+)/.exec(stderr)?.[1];
  if (!moto) throw new Error(`the emulator did not say where moto listens:\n${stderr}`);
  return {
    endpoint,
    motoEndpoint: moto,
    env: emulatorEnv(endpoint),
    async stop() {
      if (child.exitCode !== null || !child.pid) return;
      const exited = new Promise((r) => child.once('exit', r));
      // The emulator shuts moto down on SIGTERM; npx and tsx sit in between, so signal the group.
      process.kill(-child.pid, 'SIGTERM');
      const timer = setTimeout(() => child.pid && process.kill(-child.pid, 'SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

export interface World {
  emulator: EmulatorProcess;
  s3: S3Client;
  scratch: string;
  image: string;
  put(key: string, body: string): Promise<void>;
  close(): Promise<void>;
}

// The seed's mapfiles arrive through s3fs or the console with s3fs's mode header; without it s3fs
// 1.90 shows mode 0000 to a mount without umask. Both mounts see the same objects.
const OBJECT_METADATA = { mode: String(0o100644), uid: '0', gid: '0' };

export async function startWorld(): Promise<World> {
  const emulator = await startEmulatorChild();
  const s3 = new S3Client({ endpoint: emulator.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
  await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  const scratch = mkdtempSync(join(tmpdir(), 'mapserver-bench-'));
  chmodSync(scratch, 0o755);
  const put = async (key: string, body: string): Promise<void> => {
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body, Metadata: OBJECT_METADATA }));
  };
  await put(`${PREFIX}${BENCH_MAP}`, benchMapfile('bench'));
  const image = await ensureImage();
  return {
    emulator,
    s3,
    scratch,
    image,
    put,
    async close() {
      s3.destroy();
      await emulator.stop();
      rmSync(scratch, { recursive: true, force: true });
    },
  };
}

export interface MapfileFolder {
  dir: string;
  /** What the folder is, for the report. */
  detail: string;
  close(): Promise<void>;
  /** The mirror driver's controls: its process (for CPU figures) and the bucket's change events. */
  mirror?: MirrorControls;
}

export interface MirrorControls {
  reconcileSeconds: number;
  /** The mirror's node process (it changes when the supervisor restarts it). */
  pid(): Promise<number>;
  /** Switches the bucket's change notifications off (lost events) or back on. */
  setEvents(on: boolean): Promise<void>;
}

/** The bucket's mapfiles copied once to a local folder (the local-disk limit). */
export async function localCopy(world: World, name: string): Promise<MapfileFolder> {
  const dir = join(world.scratch, name);
  mkdirSync(dir, { recursive: true });
  await syncOnce(world, dir, new Map());
  return { dir, detail: 'local folder, bind-mounted read-only', close: async () => rmSync(dir, { recursive: true, force: true }) };
}

/** The product's mount: the real packer/files/usr/local/sbin/mapfiles-mount (extra options appended). */
export async function productMount(world: World, name: string, extraOptions = ''): Promise<MapfileFolder> {
  const mounted = await mountBucket({
    endpoint: world.emulator.motoEndpoint,
    bucket: BUCKET,
    prefix: PREFIX,
    mountPoint: join(world.scratch, name),
    extraOptions,
    env: { AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing', AWS_REGION: 'us-east-1' },
  });
  const options = (await execOk('findmnt', ['-n', '-o', 'OPTIONS', '--mountpoint', mounted.mountPoint])).trim();
  return { dir: mounted.mountPoint, detail: `mapfiles-mount${extraOptions ? ` + ${extraOptions}` : ''} (${options})`, close: () => mounted.unmount() };
}

/** The pipeline's own bootstrap code sets up the bucket's topic and notification. */
async function setMirrorEvents(world: World, on: boolean): Promise<void> {
  if (!on) {
    await world.s3.send(new PutBucketNotificationConfigurationCommand({ Bucket: BUCKET, NotificationConfiguration: {} }));
    return;
  }
  const sns = new SNSClient({ endpoint: world.emulator.motoEndpoint, region: 'us-east-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
  const clients = { s3: world.s3, sns, destroy: () => sns.destroy() } as unknown as AwsClients;
  const inputs = { command: 'bootstrap', bucket: BUCKET, 'bucket-prefix': PREFIX, 'mount-driver': 'mirror', subnets: 'subnet-0123456789abcdef0', 'instance-profile': 'bench' } as const;
  try {
    await ensureMirrorEvents(testContext(inputs, { clients, env: { AWS_REGION: 'us-east-1' } }));
  } finally {
    sns.destroy();
  }
}

/** The mirror driver, booted by the real mount script, with S3 change events through SNS and SQS. */
export async function mirrorMount(world: World, name: string, reconcileSeconds: number): Promise<MapfileFolder> {
  await setMirrorEvents(world, true);
  const mounted = await mountBucket({
    driver: 'mirror',
    endpoint: world.emulator.motoEndpoint,
    bucket: BUCKET,
    prefix: PREFIX,
    mountPoint: join(world.scratch, name),
    env: { AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing', AWS_REGION: 'us-east-1' },
    mirror: { topic: mirrorTopicName(BUCKET), queue: `mapserver-ecs-mirror-bench-${name}`, reconcileSeconds },
  });
  return {
    dir: mounted.mountPoint,
    detail: `mapfiles-mount with mirror: S3 events via SNS to its SQS queue, reconciliation every ${reconcileSeconds} s, folder bind-mounted read-only`,
    close: () => mounted.unmount(),
    mirror: {
      reconcileSeconds,
      pid: async () => (JSON.parse(await readFile(join(mounted.mirrorRoot, 'status.json'), 'utf8')) as { pid: number }).pid,
      setEvents: (on) => setMirrorEvents(world, on),
    },
  };
}

/**
 * The seed's mount: `s3fs bucket /mnt -o multireq_max=5 -o allow_other`, no cache tuning. Only
 * what an emulator needs is added (its URL, path-style requests); credentials from the environment.
 */
export async function seedMount(world: World, name: string): Promise<MapfileFolder> {
  const dir = join(world.scratch, name);
  mkdirSync(dir, { recursive: true });
  const env = { ...process.env, AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing' };
  const args = [`${BUCKET}:/${PREFIX.replace(/\/$/, '')}`, dir, '-o', 'multireq_max=5', '-o', 'allow_other', '-o', `url=${world.emulator.motoEndpoint}`, '-o', 'use_path_request_style'];
  const result = await exec('s3fs', args, { env, timeoutMs: 60_000 });
  if (result.code !== 0) throw new Error(`s3fs (seed options) failed: ${result.stderr}`);
  const deadline = Date.now() + 20_000;
  while ((await exec('mountpoint', ['-q', dir])).code !== 0) {
    if (Date.now() > deadline) throw new Error(`s3fs did not mount ${dir}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    dir,
    detail: `s3fs ${args.slice(1).join(' ')}`,
    close: async () => {
      if ((await exec('umount', [dir])).code !== 0) await lazyUnmount(dir);
    },
  };
}

/** Copies changed objects of the prefix into `dir` (atomic renames); returns how many changed. */
async function syncOnce(world: World, dir: string, etags: Map<string, string>): Promise<number> {
  let changed = 0;
  let token: string | undefined;
  const seen = new Set<string>();
  do {
    const page = await world.s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: PREFIX, ContinuationToken: token }));
    for (const object of page.Contents ?? []) {
      const key = object.Key ?? '';
      const relative = key.slice(PREFIX.length);
      if (!relative || relative.endsWith('/')) continue;
      seen.add(relative);
      if (etags.get(relative) === object.ETag) continue;
      const body = await (await world.s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }))).Body?.transformToByteArray();
      const target = join(dir, relative);
      mkdirSync(dirname(target), { recursive: true });
      writeFileSync(`${target}.sync-tmp`, body ?? new Uint8Array(), { mode: 0o644 });
      renameSync(`${target}.sync-tmp`, target);
      etags.set(relative, object.ETag ?? '');
      changed += 1;
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  for (const relative of [...etags.keys()]) {
    if (!seen.has(relative)) {
      rmSync(join(dir, relative), { force: true });
      etags.delete(relative);
      changed += 1;
    }
  }
  return changed;
}

/**
 * A synced local copy (the alternative to a FUSE mount): lists the prefix every `intervalMs` and
 * copies changed objects into a local folder with atomic renames.
 */
export async function syncedCopy(world: World, name: string, intervalMs: number): Promise<MapfileFolder> {
  const dir = join(world.scratch, name);
  mkdirSync(dir, { recursive: true });
  const etags = new Map<string, string>();
  await syncOnce(world, dir, etags);
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      await new Promise((r) => setTimeout(r, intervalMs));
      if (!stopped) await syncOnce(world, dir, etags).catch(() => 0);
    }
  })();
  return {
    dir,
    detail: `ListObjectsV2 + GET of changed ETags every ${intervalMs} ms into a local folder (atomic rename)`,
    close: async () => {
      stopped = true;
      await loop;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface Server {
  baseUrl: string;
  id: string;
  logs(): Promise<string>;
  stop(): Promise<void>;
}

/**
 * MapServer as one CGI process per request (the seed's way), in the SAME image: the image's own
 * Apache site with the FastCGI handler swapped for mod_cgid, mounted over the site file at run time.
 */
export function cgiSiteConfig(): string {
  const site = readFileSync(join(DOCKER_DIR, 'apache', 'mapserver.conf'), 'utf8');
  if (!site.includes('H=fcgid-script')) throw new Error('docker/apache/mapserver.conf no longer routes to fcgid-script; update the CGI baseline');
  return `# Benchmark baseline: mapserv as one CGI process per request (mod_cgid), else the image's site.
<IfModule !mod_cgid.c>
    LoadModule cgid_module /usr/lib/apache2/modules/mod_cgid.so
</IfModule>
<IfModule !mod_env.c>
    LoadModule env_module /usr/lib/apache2/modules/mod_env.so
</IfModule>
ScriptSock /run/apache2/cgid.sock
SetEnv MAPSERVER_CONFIG_FILE \${MAPSERVER_CONFIG_FILE}
${site.replaceAll('H=fcgid-script', 'H=cgi-script')}`;
}

/** Runs our image with its port published on a free loopback port of the host. */
export async function startServer(world: World, mapfiles: string, options: { cgi?: boolean; env?: Record<string, string> } = {}): Promise<Server> {
  const port = await freePort();
  const args = ['run', '--detach', '--label', 'mapserver-ecs.bench=1', '--publish', `127.0.0.1:${port}:8080`, '--env', 'ACCESS_LOG=off'];
  args.push('--volume', `${mapfiles}:/mapfiles:ro`);
  if (options.cgi) {
    const site = join(world.scratch, 'cgi-site.conf');
    writeFileSync(site, cgiSiteConfig(), { mode: 0o644 });
    args.push('--volume', `${site}:/etc/apache2/sites-available/mapserver.conf:ro`);
  }
  for (const [key, value] of Object.entries(options.env ?? {})) args.push('--env', `${key}=${value}`);
  args.push(world.image);
  const id = (await execOk('docker', args)).trim();
  const server: Server = {
    id,
    baseUrl: `http://127.0.0.1:${port}`,
    logs: async () => {
      const r = await exec('docker', ['logs', id]);
      return `${r.stdout}${r.stderr}`;
    },
    stop: async () => {
      await exec('docker', ['rm', '--force', id]);
    },
  };
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      const answer = await fetch(`${server.baseUrl}/healthz`, { signal: AbortSignal.timeout(2000) });
      if (answer.ok) break;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) {
      const logs = await server.logs();
      await server.stop();
      throw new Error(`MapServer container did not become healthy:\n${logs}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return server;
}
