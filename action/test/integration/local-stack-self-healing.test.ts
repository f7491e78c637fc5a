// Self-healing on the local stack (`npm start`): after the roll the machine plays the instance the
// group has in service, registered with the cluster and watched by the AMI's mapfiles-instance. The
// mirror is killed: back within the grace period nothing changes; dead for good, the instance is
// DRAINING in ECS and Unhealthy (replaced) in its Auto Scaling group.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { AutoScalingClient, DescribeAutoScalingGroupsCommand } from '@aws-sdk/client-auto-scaling';
import { DescribeContainerInstancesCommand, ECSClient, ListContainerInstancesCommand } from '@aws-sdk/client-ecs';
import { execFile, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../../scripts/support/ports.js';

const root = new URL('../../../', import.meta.url).pathname;
const START_TIMEOUT_MS = 25 * 60_000;
// The mirror's check fails within 10 s of its process dying ("... not running") and the watcher
// checks every 10 s: 30 s leaves time to bring the mirror back before it runs out.
const GRACE_SECONDS = 30;
const GROUP = 'mapserver-ecs';
const CLUSTER = 'mapserver';

function npm(script: 'start' | 'stop', env: Record<string, string>, logFile: string): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('npm', ['run', '--silent', script], { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      writeFileSync(logFile, chunk, { flag: 'a' });
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stderr }));
  });
}

function output(file: string, args: string[]): Promise<string> {
  return new Promise((resolve) => execFile(file, args, (_error, stdout) => resolve(String(stdout))));
}

async function until<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs: number, detail: () => string = () => ''): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${detail()}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** KEY=VALUE lines of a file the stack writes (comments skipped). */
function keyValues(file: string): Record<string, string> {
  const values: Record<string, string> = {};
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const match = /^([A-Z0-9_]+)=(.*)$/.exec(line);
    if (match?.[1]) values[match[1]] = match[2] ?? '';
  }
  return values;
}

describe('npm start: the played instance heals itself', () => {
  const stateDir = mkdtempSync(join(tmpdir(), 'local-stack-healing-'));
  chmodSync(stateDir, 0o755);
  const logFile = join(stateDir, 'test.log');
  const watchLog = (): string => {
    try {
      return readFileSync(join(stateDir, 'logs', 'watch.log'), 'utf8');
    } catch {
      return '';
    }
  };
  let env: Record<string, string> = {};
  let started = { code: -1, stderr: '' };
  let awsEnv: Record<string, string> = {};
  let ecs: ECSClient;
  let autoScaling: AutoScalingClient;
  let instance: Record<string, string> = {};

  beforeAll(async () => {
    env = {
      LOCAL_STACK_DIR: stateDir,
      LOCAL_STACK_EMULATOR_PORT: String(await freePort()),
      LOCAL_STACK_MOTO_PORT: String(await freePort()),
      LOCAL_STACK_REGISTRY_PORT: String(await freePort()),
      LOCAL_STACK_WMS_PORT: String(await freePort()),
      LOCAL_STACK_BUCKET: 'mapserver-ecs-healing-test',
      LOCAL_STACK_UNHEALTHY_GRACE_SECONDS: String(GRACE_SECONDS),
    };
    started = await npm('start', env, logFile);
    if (started.code !== 0) return;
    awsEnv = keyValues(join(stateDir, 'emulator.env'));
    instance = keyValues(join(stateDir, 'instance.env'));
    const config = { region: 'us-east-1', endpoint: awsEnv.AWS_ENDPOINT_URL ?? '', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } };
    ecs = new ECSClient(config);
    autoScaling = new AutoScalingClient(config);
  }, START_TIMEOUT_MS);

  afterAll(async () => {
    ecs?.destroy();
    autoScaling?.destroy();
    await npm('stop', env, logFile);
    // Local tags of the images pushed to this test's registry (the build's own tag keeps the layers).
    const tags = (await output('docker', ['image', 'ls', '--format', '{{.Repository}}:{{.Tag}}', '--filter', `reference=127.0.0.1:${env.LOCAL_STACK_REGISTRY_PORT}/*`]))
      .split('\n')
      .filter((t) => t.trim() !== '' && !t.endsWith(':<none>'));
    if (tags.length > 0) await output('docker', ['image', 'rm', ...tags]);
    rmSync(stateDir, { recursive: true, force: true });
  }, 120_000);

  async function groupInstances() {
    return (await autoScaling.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [GROUP] }))).AutoScalingGroups?.[0]?.Instances ?? [];
  }
  async function containerInstances() {
    const arns = (await ecs.send(new ListContainerInstancesCommand({ cluster: CLUSTER }))).containerInstanceArns ?? [];
    return (await ecs.send(new DescribeContainerInstancesCommand({ cluster: CLUSTER, containerInstances: arns }))).containerInstances ?? [];
  }

  const mirrorRoot = (): string => join(stateDir, 'mirror');
  /** Kills the mirror and its supervisor for good (what a crash of both would leave). */
  function killMirror(): void {
    process.kill(-Number(readFileSync(join(mirrorRoot(), 'supervisor.pid'), 'utf8')), 'SIGKILL');
  }
  /** Starts the mirror's supervisor again, as systemd restarts a dead one; npm stop stops it. */
  function restartMirror(): void {
    const log = openSync(join(stateDir, 'logs', 'mirror.log'), 'a');
    const child = spawn(join(root, 'packer/files/usr/local/sbin/mapfiles-mount'), ['supervise-mirror'], {
      env: {
        ...process.env,
        ...awsEnv,
        MAPFILES_MOUNT_CONFIG: join(stateDir, 'mount.conf'),
        MAPFILES_READY_FILE: join(stateDir, 'run', 'ecs-attributes.env'),
        MAPFILES_MIRROR_JS: join(root, 'packer/files/usr/local/lib/mapserver-ecs/mirror/index.js'),
        MAPFILES_MIRROR_LOG: join(stateDir, 'logs', 'mirror.log'),
      },
      detached: true,
      stdio: ['ignore', log, log],
    });
    writeFileSync(join(mirrorRoot(), 'supervisor.pid'), `${child.pid ?? ''}\n`);
    child.unref();
  }

  it('serves from the instance the group has in service, registered with the ready attribute and watched', async () => {
    if (started.code !== 0) throw new Error(`npm start exited with ${started.code}; last output:\n${started.stderr.slice(-4000)}`);
    const inService = (await groupInstances()).filter((i) => i.LifecycleState === 'InService').map((i) => i.InstanceId);
    expect(inService).toEqual([instance.INSTANCE_ID]);
    const active = (await containerInstances()).filter((c) => c.status === 'ACTIVE');
    expect(active.map((c) => [c.containerInstanceArn, c.ec2InstanceId])).toEqual([[instance.CONTAINER_INSTANCE_ARN, instance.INSTANCE_ID]]);
    expect(active[0]?.attributes).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'mapserver-ecs.mount', value: 'ready' })]));
    expect(watchLog()).toContain(`out of service after ${GRACE_SECONDS} s unhealthy`);
  });

  it('a mirror back within the grace period changes nothing', async () => {
    killMirror();
    await until('the watcher to see the stale mirror', () => (/unhealthy: .*not running/.test(watchLog()) ? true : undefined), 90_000, watchLog);
    restartMirror();
    await until('the watcher to see the mirror back', () => (/healthy again after \d+ s: nothing changed/.test(watchLog()) ? true : undefined), 60_000, watchLog);
    expect(watchLog()).not.toMatch(/out of service:/);
    const arn = instance.CONTAINER_INSTANCE_ARN;
    expect((await containerInstances()).find((c) => c.containerInstanceArn === arn)?.status).toBe('ACTIVE');
    expect((await groupInstances()).map((i) => [i.InstanceId, i.LifecycleState, i.HealthStatus])).toEqual([[instance.INSTANCE_ID, 'InService', 'Healthy']]);
  }, 180_000);

  it('a mirror dead for good drains the instance and has it replaced after the grace period', async () => {
    const killedAt = Date.now();
    killMirror();
    await until('the watcher to take the instance out of service', () => (/Unhealthy in its Auto Scaling group/.test(watchLog()) ? true : undefined), 150_000, watchLog);
    const seconds = Number(new RegExp(`taking ${instance.INSTANCE_ID} out of service: unhealthy for (\\d+) s: .*not running`).exec(watchLog())?.[1]);
    expect(seconds).toBeGreaterThanOrEqual(GRACE_SECONDS);
    expect((Date.now() - killedAt) / 1000).toBeGreaterThanOrEqual(GRACE_SECONDS);
    expect((await containerInstances()).find((c) => c.containerInstanceArn === instance.CONTAINER_INSTANCE_ARN)?.status).toBe('DRAINING');
    // Auto Scaling replaces an Unhealthy instance: it leaves the group, a new one takes its place.
    const members = await groupInstances();
    expect(members.map((i) => i.InstanceId)).not.toContain(instance.INSTANCE_ID);
    expect(members).toHaveLength(1);
  }, 240_000);
});
