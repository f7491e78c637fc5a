// A container instance's boot as the AMI runs it, on this machine: the REAL mapfiles-mount serves the
// bucket (mirror driver, against the emulator), then the REAL mapfiles-instance completes the launch
// hook (CONTINUE, or ABANDON when the mount failed) and watches the bucket's health. What the
// instance reads from IMDS and the ECS agent (its id, its container instance ARN) comes from the
// environment instead, and the agent's introspection API is a small local server.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { shellWord } from '../../action/src/render.js';
import { MIRROR_BUNDLE, MOUNT_SCRIPT, lazyUnmount, runMountScript } from './mount.js';

export const INSTANCE_SCRIPT = fileURLToPath(new URL('../../packer/files/usr/local/sbin/mapfiles-instance', import.meta.url));

export interface InstanceOptions {
  instanceId: string;
  /** The emulator's proxy (S3 and the Auto Scaling hooks both go there). */
  endpoint: string;
  bucket: string;
  group: string;
  hook: string;
  graceSeconds?: number;
  /** How the bucket is served (default mirror). */
  driver?: 'mirror' | 's3fs';
  /** The emulator's credentials and region. */
  awsEnv: Record<string, string>;
  /**
   * The credentials mapfiles-instance signs with (and the mount it remounts), when they differ from
   * the mount's (awsEnv's): each actor of the instance role is then recorded under its own key.
   */
  instanceCredentials?: Record<string, string>;
}

export interface SimulatedInstance {
  dir: string;
  mountPoint: string;
  /** Environment of both scripts for this instance. */
  env: Record<string, string>;
  mirrorRoot: string;
  run(script: 'mount' | 'instance', args: string[], timeoutMs?: number): Promise<{ code: number; output: string }>;
  /** `mapfiles-instance watch` in the background, its output collected. */
  watch(): { child: ChildProcess; output: () => string; exited: Promise<number> };
  /** The ECS agent's introspection answer, once it "registered". */
  registerAgent(cluster: string, containerInstanceArn: string): Promise<void>;
  stop(): Promise<void>;
}

export function simulateInstance(options: InstanceOptions): SimulatedInstance {
  const dir = mkdtempSync(join(tmpdir(), `instance-${options.instanceId}-`));
  // MapServer's user (uid 33) must reach the mount point, as /mnt/mapfiles on an instance.
  chmodSync(dir, 0o755);
  const mountPoint = join(dir, 'mnt');
  mkdirSync(mountPoint);
  const values: Array<[string, string]> = [
    ['BUCKET', options.bucket],
    ['AWS_REGION', 'us-east-1'],
    ['MOUNT_POINT', mountPoint],
    ['MOUNT_DRIVER', options.driver ?? 'mirror'],
    ['S3_ENDPOINT', options.endpoint],
    ['MIRROR_ROOT', join(dir, 'mirror')],
    ['MIRROR_RECONCILE_SECONDS', '5'],
    ['AUTO_SCALING_GROUP', options.group],
    ['LAUNCH_HOOK', options.hook],
    ['UNHEALTHY_GRACE_SECONDS', String(options.graceSeconds ?? 300)],
  ];
  writeFileSync(join(dir, 'mount.conf'), values.map(([key, value]) => `${key}=${shellWord(value, key)}\n`).join(''));
  let agent: Server | undefined;
  const env: Record<string, string> = {
    ...options.awsEnv,
    MAPFILES_MOUNT_CONFIG: join(dir, 'mount.conf'),
    MAPFILES_READY_FILE: join(dir, 'run', 'ecs-attributes.env'),
    MAPFILES_ECS_CONFIG: join(dir, 'ecs.config'),
    MAPFILES_MIRROR_JS: MIRROR_BUNDLE,
    MAPFILES_MIRROR_LOG: join(dir, 'mirror.log'),
    MAPFILES_MOUNT_ATTEMPTS: '1',
    MAPFILES_MIRROR_SYNC_SECONDS: '8',
    MAPFILES_MOUNT: MOUNT_SCRIPT,
    MAPFILES_RUN_DIR: join(dir, 'run'),
    MAPFILES_INSTANCE_ID: options.instanceId,
    MAPFILES_WATCH_SECONDS: '1',
    MAPFILES_AGENT_WAIT_SECONDS: '20',
    // Nothing answers here until registerAgent() starts the stand-in introspection API.
    MAPFILES_AGENT_URL: 'http://127.0.0.1:9',
  };
  const run = (script: 'mount' | 'instance', args: string[], timeoutMs = 120_000): Promise<{ code: number; output: string }> => {
    if (script === 'mount') return runMountScript(args[0] ?? '', env, timeoutMs);
    return new Promise((resolve) => {
      execFile(INSTANCE_SCRIPT, args, { env: { ...process.env, ...env, ...options.instanceCredentials }, timeout: timeoutMs }, (error, stdout, stderr) => {
        resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, output: `${stdout}${stderr}`.trim() });
      });
    });
  };
  return {
    dir,
    mountPoint,
    env,
    mirrorRoot: join(dir, 'mirror'),
    run,
    watch() {
      const child = spawn(INSTANCE_SCRIPT, ['watch'], { env: { ...process.env, ...env, ...options.instanceCredentials }, stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      child.stdout?.on('data', (c: Buffer) => (output += c.toString()));
      child.stderr?.on('data', (c: Buffer) => (output += c.toString()));
      const exited = new Promise<number>((resolve) => child.on('exit', (code) => resolve(code ?? 1)));
      return { child, output: () => output, exited };
    },
    async registerAgent(cluster: string, containerInstanceArn: string) {
      agent = createServer((_, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ Cluster: cluster, ContainerInstanceArn: containerInstanceArn, Version: 'Amazon ECS Agent - simulated' }));
      });
      await new Promise<void>((resolve) => agent?.listen(0, '127.0.0.1', resolve));
      const address = agent.address();
      env.MAPFILES_AGENT_URL = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    },
    async stop() {
      await runMountScript('unmount', env, 60_000);
      await lazyUnmount(mountPoint);
      await new Promise<void>((resolve) => (agent ? agent.close(() => resolve()) : resolve()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
