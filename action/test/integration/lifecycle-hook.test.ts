// The launch lifecycle hook and self-healing, end to end on this machine: bootstrap puts the hook on
// the group, roll starts an instance refresh on the emulator, and each new instance boots the way the
// AMI boots it (scripts/support/instance.ts: the real mapfiles-mount with the mirror driver, then the
// real mapfiles-instance completing the hook). A mount that fails abandons the launch, the refresh
// rolls back and roll names the instance and the cause; a healthy instance continues it. Then the
// mirror is killed: back within the grace period nothing changes, gone for good the instance drains
// in ECS and is set Unhealthy (and replaced) in its group. Every request the instances make (the
// mirror, s3fs, mapfiles-instance) is recorded with the instance role and simulated against the
// generated instance policy.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { DescribeAutoScalingGroupsCommand, DescribeLifecycleHooksCommand } from '@aws-sdk/client-auto-scaling';
import { DescribeImagesCommand, DescribeSecurityGroupsCommand, DescribeSubnetsCommand } from '@aws-sdk/client-ec2';
import { DescribeContainerInstancesCommand } from '@aws-sdk/client-ecs';
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { spawn } from 'node:child_process';
import { mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IamValues } from '../../src/aws/iam.js';
import { createClients, type AwsClients } from '../../src/aws/clients.js';
import { LAUNCH_HOOK_NAME } from '../../src/aws/lifecycle-hook.js';
import type { InputName } from '../../src/inputs.js';
import { bootstrap } from '../../src/steps/bootstrap.js';
import { rollInstances } from '../../src/steps/roll.js';
import { DEFAULT_NAMES, readRecorded, simulateRecorded, type RecordedRequest } from '../support/iam-simulator.js';
import { testContext } from '../../../scripts/support/command-context.js';
import { actorCredentials, EMULATED_ACCOUNT } from '../../../scripts/emulator/iam-recorder.js';
import { MOUNT_SCRIPT } from '../../../scripts/support/mount.js';
import { simulateInstance, type SimulatedInstance } from '../../../scripts/support/instance.js';
import { makeManagedAmi, registerMountedInstance } from '../../../scripts/emulator/instances.js';
import { startEmulator, type Emulator } from '../../../scripts/emulator/start.js';

// s3fs's own retries against a bucket that answers 503 take minutes before it gives up, and more on
// a loaded machine.
jest.setTimeout(480_000);

const GROUP = 'mapserver-ecs';
let emulator: Emulator;
let clients: AwsClients;
let inputs: Partial<Record<InputName, string>>;
const amis: string[] = [];
const instances: SimulatedInstance[] = [];
const savedEnv = { ...process.env };
const fast = { intervalMs: 100 };
const recordFile = join(mkdtempSync(join(tmpdir(), 'lifecycle-iam-')), 'iam-requests.jsonl');
/** Each instance signs as its actors: the mount's driver, and mapfiles-instance. */
const signing = (driver: 'mirror' | 's3fs') => ({ awsEnv: { ...emulator.env, ...actorCredentials(driver) }, instanceCredentials: actorCredentials('instance') });

function context(extra: Partial<Record<InputName, string>> = {}) {
  return testContext({ ...inputs, ...extra }, { clients, env: { ...emulator.env } });
}

async function group() {
  return (await clients.autoScaling.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [GROUP] }))).AutoScalingGroups?.[0];
}

async function until<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Boots each instance the refresh holds for the hook, the way the AMI does, against `bucket`. */
async function bootHeldInstances(bucket: string, graceSeconds = 300): Promise<Array<{ instance: SimulatedInstance; mount: { code: number; output: string }; hook: { code: number; output: string } }>> {
  const held = await until('instances held for the launch hook', () => {
    const waiting = emulator.proxy.waitingLaunches(GROUP);
    return waiting.length > 0 ? waiting : undefined;
  });
  const booted = [];
  for (const instanceId of held) {
    const instance = simulateInstance({ instanceId, endpoint: emulator.endpoint, bucket, group: GROUP, hook: LAUNCH_HOOK_NAME, graceSeconds, ...signing('mirror') });
    instances.push(instance);
    const mount = await instance.run('mount', ['mount']);
    let hook;
    if (mount.code !== 0) {
      // systemd starts mapfiles-launch-abandon.service (OnFailure= of the mount).
      hook = await instance.run('instance', ['launch-abandon']);
    } else {
      // The agent registers (ecs.service, after the mount), then mapfiles-launch.service runs.
      const arn = await registerMountedInstance(emulator.endpoint, 'mapserver', instanceId);
      await instance.registerAgent('mapserver', arn);
      hook = await instance.run('instance', ['launch-continue']);
    }
    booted.push({ instance, mount, hook });
  }
  return booted;
}

beforeAll(async () => {
  emulator = await startEmulator({ refreshSteps: 1, iamRecordFile: recordFile });
  Object.assign(process.env, emulator.env);
  clients = createClients('us-east-1', process.env);
  await clients.s3.send(new CreateBucketCommand({ Bucket: 'maps-bucket' }));
  await clients.s3.send(new PutObjectCommand({ Bucket: 'maps-bucket', Key: 'roads.map', Body: 'MAP NAME "roads" END\n' }));
  const subnets = (await clients.ec2.send(new DescribeSubnetsCommand({}))).Subnets ?? [];
  const securityGroup = (await clients.ec2.send(new DescribeSecurityGroupsCommand({ GroupNames: ['default'] }))).SecurityGroups?.[0];
  const source = ((await clients.ec2.send(new DescribeImagesCommand({ Owners: ['amazon'] }))).Images ?? []).find((i) => (i.Platform ?? '').toLowerCase() !== 'windows')?.ImageId ?? '';
  for (const day of ['01', '02', '03']) {
    amis.push(await makeManagedAmi(clients.ec2, { name: `mapserver-ecs-2026-12-${day}`, buildTime: `2026-12-${day}T10:00:00Z`, sourceAmi: source, subnet: subnets[0]?.SubnetId ?? '', mountDriver: 's3fs' }));
  }
  inputs = {
    command: 'bootstrap',
    bucket: 'maps-bucket',
    'mount-driver': 's3fs',
    subnets: subnets[0]?.SubnetId ?? '',
    'security-groups': securityGroup?.GroupId ?? '',
    'instance-profile': 'mapserver-ecs-instance',
    'ami-id': amis[0] ?? '',
    'min-size': '1',
    'wait-minutes': '2',
  };
  await bootstrap(context());
  emulator.proxy.answerLaunchesManually(true);
}, 120_000);

afterAll(async () => {
  for (const instance of instances) await instance.stop();
  clients?.destroy();
  await emulator?.stop();
  if (process.env.IAM_SIMULATION_KEEP) writeFileSync(process.env.IAM_SIMULATION_KEEP, readFileSync(recordFile));
  rmSync(join(recordFile, '..'), { recursive: true, force: true });
  for (const key of Object.keys(process.env)) if (!(key in savedEnv)) delete process.env[key];
  Object.assign(process.env, savedEnv);
});

describe('launch lifecycle hook', () => {
  it('bootstrap gives the group a launching hook that abandons an instance that does not answer', async () => {
    const hooks = (await clients.autoScaling.send(new DescribeLifecycleHooksCommand({ AutoScalingGroupName: GROUP }))).LifecycleHooks ?? [];
    expect(hooks).toEqual([expect.objectContaining({ LifecycleHookName: LAUNCH_HOOK_NAME, LifecycleTransition: 'autoscaling:EC2_INSTANCE_LAUNCHING', HeartbeatTimeout: 2100, DefaultResult: 'ABANDON' })]);
  });

  it('a roll onto an AMI whose mount fails ends in a rolled-back refresh, keeps the old instances and names the instance and the cause', async () => {
    const before = await group();
    const old = (before?.Instances ?? []).map((i) => i.InstanceId);
    expect(old.length).toBe(1);
    // The new AMI's instances serve a bucket that does not exist: the mirror's first sync cannot finish.
    const rolling = rollInstances(context({ command: 'roll', 'ami-id': amis[1] ?? '', bucket: 'no-such-bucket' }), amis[1] ?? '', fast);
    const outcome = rolling.then(
      () => undefined,
      (error: unknown) => error as Error,
    );
    const [booted] = await bootHeldInstances('no-such-bucket');
    expect(booted?.mount.code).not.toBe(0);
    expect(booted?.hook).toMatchObject({ code: 0, output: expect.stringContaining('with ABANDON') });
    const error = await outcome;
    const failed = booted?.instance.env.MAPFILES_INSTANCE_ID ?? '';
    expect(error?.message).toMatch(new RegExp(`ended RollbackSuccessful: Instance ${failed} failed to launch`));
    expect(error?.message).toMatch(new RegExp(`instance ${failed} did not launch: .*(first sync|mirror)`));
    const after = await group();
    expect((after?.Instances ?? []).map((i) => [i.InstanceId, i.LifecycleState])).toEqual([[old[0], 'InService']]);
    expect(after?.LaunchTemplate?.Version).toBe(before?.LaunchTemplate?.Version);
  });

  it('a roll whose instances serve the bucket and register completes once each continued', async () => {
    const old = ((await group())?.Instances ?? []).map((i) => i.InstanceId);
    const rolling = rollInstances(context({ command: 'roll', 'ami-id': amis[2] ?? '' }), amis[2] ?? '', fast);
    const [booted] = await bootHeldInstances('maps-bucket', 8);
    expect(booted?.mount.output).toContain('mounted s3://maps-bucket/ read-only');
    expect(booted?.hook).toMatchObject({ code: 0, output: expect.stringContaining('with CONTINUE') });
    await expect(rolling).resolves.toMatchObject({ launchTemplateVersion: expect.any(String) });
    const now = ((await group())?.Instances ?? []).map((i) => i.InstanceId);
    expect(now).toEqual([booted?.instance.env.MAPFILES_INSTANCE_ID]);
    expect(now).not.toContain(old[0]);
  });
});

describe('self-healing', () => {
  /** Kills the mirror and its supervisor for good (what a crash of both would leave). */
  function killMirror(instance: SimulatedInstance): void {
    const pid = Number(readFileSync(join(instance.mirrorRoot, 'supervisor.pid'), 'utf8'));
    process.kill(-pid, 'SIGKILL');
  }

  /** Starts the mirror's supervisor again, as systemd restarts a dead one. */
  function restartMirror(instance: SimulatedInstance): void {
    const log = openSync(instance.env.MAPFILES_MIRROR_LOG ?? '/dev/null', 'a');
    const child = spawn(MOUNT_SCRIPT, ['supervise-mirror'], { env: { ...process.env, ...instance.env }, detached: true, stdio: ['ignore', log, log] });
    writeFileSync(join(instance.mirrorRoot, 'supervisor.pid'), `${child.pid ?? ''}\n`);
    child.unref();
  }

  async function containerInstance(arn: string) {
    return (await clients.ecs.send(new DescribeContainerInstancesCommand({ cluster: 'mapserver', containerInstances: [arn] }))).containerInstances?.[0];
  }

  it('a mirror back within the grace period changes nothing; one dead for good drains the instance and has it replaced', async () => {
    const instance = instances.at(-1);
    if (!instance) throw new Error('the previous test left no running instance');
    const instanceId = instance.env.MAPFILES_INSTANCE_ID ?? '';
    const agent = JSON.parse(await fetch(`${instance.env.MAPFILES_AGENT_URL ?? ''}/v1/metadata`).then((r) => r.text())) as { ContainerInstanceArn: string };
    const watch = instance.watch();
    try {
      killMirror(instance);
      await until('the watch to see the stale mirror', () => (/unhealthy: .*not running/.test(watch.output()) ? true : undefined), 60_000);
      restartMirror(instance);
      await until('the watch to see the mirror back', () => (/healthy again after \d+ s: nothing changed/.test(watch.output()) ? true : undefined), 30_000);
      expect((await containerInstance(agent.ContainerInstanceArn))?.status).toBe('ACTIVE');
      expect(((await group())?.Instances ?? []).map((i) => [i.InstanceId, i.HealthStatus])).toEqual([[instanceId, 'Healthy']]);

      killMirror(instance);
      await expect(watch.exited).resolves.toBe(0);
      expect(watch.output()).toMatch(new RegExp(`taking ${instanceId} out of service: unhealthy for \\d+ s: .*not running`));
      expect((await containerInstance(agent.ContainerInstanceArn))?.status).toBe('DRAINING');
      // Auto Scaling replaces an Unhealthy instance: it leaves the group, a new one takes its place.
      const replaced = (await group())?.Instances ?? [];
      expect(replaced.map((i) => i.InstanceId)).not.toContain(instanceId);
      expect(replaced).toHaveLength(1);
    } finally {
      watch.child.kill('SIGTERM');
    }
  });

  /** The pid of the s3fs that serves this mount point (found by its own command line). */
  function s3fsPid(mountPoint: string): number | undefined {
    for (const entry of readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
      const args = (() => {
        try {
          return readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
        } catch {
          return [];
        }
      })();
      if (args[0]?.endsWith('s3fs') && args.includes(mountPoint)) return Number(entry);
    }
    return undefined;
  }

  it('s3fs that dies is remounted; one that cannot remount has the instance drained and replaced after the grace period', async () => {
    const instanceId = ((await group())?.Instances ?? [])[0]?.InstanceId ?? '';
    const instance = simulateInstance({ instanceId, endpoint: emulator.endpoint, bucket: 'maps-bucket', group: GROUP, hook: LAUNCH_HOOK_NAME, graceSeconds: 5, driver: 's3fs', ...signing('s3fs') });
    instances.push(instance);
    const mounted = await instance.run('mount', ['mount']);
    expect(mounted.output).toContain('mounted s3://maps-bucket/ read-only');
    const arn = await registerMountedInstance(emulator.endpoint, 'mapserver', instanceId);
    await instance.registerAgent('mapserver', arn);
    const watch = instance.watch();
    try {
      const first = s3fsPid(instance.mountPoint);
      expect(first).toBeDefined();
      process.kill(first ?? 0, 'SIGKILL');
      await until(`s3fs to be remounted (watch said: ${watch.output()})`, () => {
        const pid = s3fsPid(instance.mountPoint);
        return pid !== undefined && pid !== first ? pid : undefined;
      }).catch((error: Error) => Promise.reject(new Error(`${error.message}\nwatch: ${watch.output()}`)));
      await until('the remount to pass its check', async () => ((await instance.run('mount', ['check'])).code === 0 ? true : undefined));
      expect((await containerInstance(arn))?.status).toBe('ACTIVE');

      // From now on the bucket cannot be reached: s3fs cannot mount it again.
      emulator.proxy.use(async (request, next) => (request.service === 's3' && request.url.startsWith('/maps-bucket') ? { status: 503, headers: {}, body: '' } : next()));
      process.kill(s3fsPid(instance.mountPoint) ?? 0, 'SIGKILL');
      await expect(watch.exited).resolves.toBe(0);
      expect(watch.output()).toMatch(/remounting/);
      expect(watch.output()).toMatch(new RegExp(`taking ${instanceId} out of service: unhealthy for \\d+ s: .*the remount failed`));
      expect((await containerInstance(arn))?.status).toBe('DRAINING');
      expect(((await group())?.Instances ?? []).map((i) => i.InstanceId)).not.toContain(instanceId);
    } finally {
      watch.child.kill('SIGTERM');
    }
  });
});

describe('the instance role', () => {
  /** The instance policy as the settings of this stack generate it: the whole bucket, the group, the cluster. */
  const values: IamValues = {
    region: 'us-east-1',
    accountId: EMULATED_ACCOUNT,
    bucket: 'maps-bucket',
    bucketPrefix: '',
    ...DEFAULT_NAMES,
    instanceRoleArn: `arn:aws:iam::${EMULATED_ACCOUNT}:role/mapserver-ecs-instance`,
    taskRoleArn: `arn:aws:iam::${EMULATED_ACCOUNT}:role/mapserver-task`,
    executionRoleArn: `arn:aws:iam::${EMULATED_ACCOUNT}:role/mapserver-execution`,
  };
  // The broken roll's instances serve another bucket: their policy is generated for it.
  const valuesOf = (check: RecordedRequest): IamValues => (check.resource.startsWith('arn:aws:s3:::no-such-bucket') ? { ...values, bucket: 'no-such-bucket' } : values);

  it('allows every request the instances made (0 denials): the hook, the failure tag, the drain, the health report, the bucket', async () => {
    const checks = readRecorded(recordFile).filter((check) => check.role === 'instance');
    const made = (actor: string, action: string, context: Record<string, unknown> = {}): boolean =>
      checks.some((c) => c.actor === actor && c.action === action && Object.entries(context).every(([key, value]) => JSON.stringify(c.context?.[key]) === JSON.stringify(value)));
    expect(made('instance', 'autoscaling:CompleteLifecycleAction')).toBe(true);
    expect(made('instance', 'autoscaling:SetInstanceHealth')).toBe(true);
    expect(made('instance', 'ecs:UpdateContainerInstancesState')).toBe(true);
    expect(made('instance', 'ec2:CreateTags', { 'aws:TagKeys': ['mapserver-ecs:launch-failure'], 'ec2:ResourceTag/aws:autoscaling:groupName': GROUP })).toBe(true);
    expect(made('mirror', 's3:GetObject') && made('s3fs', 's3:ListBucket')).toBe(true);
    // Each is authorized on its own resource: the group's real ARN, the container instance, the instance.
    const group = checks.find((c) => c.action === 'autoscaling:SetInstanceHealth')?.resource ?? '';
    expect(group).toMatch(new RegExp(`^arn:aws:autoscaling:us-east-1:${EMULATED_ACCOUNT}:autoScalingGroup:[0-9a-f-]{36}:autoScalingGroupName/${GROUP}$`));
    expect(checks.find((c) => c.action === 'ecs:UpdateContainerInstancesState')?.resource).toMatch(/:container-instance\/mapserver\/[^/]+$/);
    expect(checks.find((c) => c.action === 'ec2:CreateTags')?.resource).toMatch(/:instance\/i-[0-9a-f]+$/);

    const { simulated, denied } = await simulateRecorded(checks, valuesOf);
    process.stdout.write(`IAM simulation (instances): ${checks.length} recorded checks, ${simulated} distinct simulated, ${denied.length} denied\n`);
    expect(denied).toEqual([]);
  });

  it('denies the same requests under the policy of another group: the hook, the health report, the failure tag', async () => {
    const checks = readRecorded(recordFile).filter((check) => check.role === 'instance');
    const { denied } = await simulateRecorded(checks, (check) => ({ ...valuesOf(check), autoScalingGroup: 'another-group' }));
    expect([...new Set(denied.map((line) => /: (\S+) /.exec(line)?.[1]))].sort()).toEqual(['autoscaling:CompleteLifecycleAction', 'autoscaling:SetInstanceHealth', 'ec2:CreateTags']);
  });
});
