// The AMI's boot under real systemd: a container whose PID 1 is systemd (Debian base made with
// debootstrap, scripts/base-image.sh), the overlay installed by packer/scripts/install-overlay.sh,
// and stand-ins for AL2023's cloud-final (runs the rendered user data), docker.service and ecs.service
// (After=cloud-final, Requires=docker, settings read at start). The mount serves an emulated bucket
// with the mirror driver; the launch hook is completed against the emulator on this machine's
// loopback (--network host). Each boot is checked from inside: systemd's own view of the ordering,
// the journal's timestamps, and what the stand-in agent started with. The instance signs with the
// instance role's key: every request it makes is recorded and simulated against the instance policy.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { CreateAutoScalingGroupCommand, DescribeAutoScalingGroupsCommand, PutLifecycleHookCommand } from '@aws-sdk/client-auto-scaling';
import { CreateLaunchTemplateCommand, DescribeImagesCommand, DescribeSubnetsCommand, DescribeTagsCommand } from '@aws-sdk/client-ec2';
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createClients, type AwsClients } from '../../src/aws/clients.js';
import { LAUNCH_FAILURE_TAG, LAUNCH_HOOK } from '../../src/aws/lifecycle-hook.js';
import { parseSettings } from '../../src/settings.js';
import { renderUserData } from '../../src/steps/user-data.js';
import type { IamValues } from '../../src/aws/iam.js';
import { DEFAULT_NAMES, readRecorded, simulateRecorded, type RecordedRequest } from '../support/iam-simulator.js';
import { freePort } from '../../../scripts/support/ports.js';
import { ACTORS, EMULATED_ACCOUNT } from '../../../scripts/emulator/iam-recorder.js';
import { startEmulator, type Emulator } from '../../../scripts/emulator/start.js';

jest.setTimeout(300_000);

const run = promisify(execFile);
const IMAGE = 'mapserver-ecs-systemd-boot:test';
const GROUP = 'mapserver-ecs';
let emulator: Emulator;
const recordFile = join(mkdtempSync(join(tmpdir(), 'systemd-boot-iam-')), 'iam-requests.jsonl');
let clients: AwsClients;
const containers: string[] = [];
const savedEnv = { ...process.env };

async function docker(args: string[], timeoutMs = 120_000): Promise<string> {
  return (await run('docker', args, { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 })).stdout;
}

/** A command inside the container; its output, whatever its exit code. */
async function inside(container: string, script: string): Promise<string> {
  return docker(['exec', container, 'bash', '-c', script]).catch((error: { stdout?: string }) => error.stdout ?? '');
}

/** The user data the pipeline renders, pointed at the emulator (no IMDS here) and without change events. */
function userData(bucket: string): string {
  const inputs: Record<string, string> = { command: 'roll', bucket, 'mount-driver': 'mirror', 'ami-id': 'ami-0123456789abcdef0' };
  const settings = parseSettings((name) => inputs[name] ?? '', [], { AWS_REGION: 'us-east-1' });
  return renderUserData(readFileSync(join(process.cwd(), 'ecs/user-data.sh.hbs'), 'utf8'), settings)
    .replace(/^MIRROR_TOPIC=.*$/m, "MIRROR_TOPIC=''")
    .replace('\nMOUNT_CONF\n', `\nS3_ENDPOINT='${emulator.endpoint}'\nMOUNT_CONF\n`);
}

interface Boot {
  container: string;
  instanceId: string;
}

/** Boots one instance: user data (or none), cloud-final before or after multi-user.target. */
async function boot(options: { bucket?: string; cloudFinal: 'before' | 'after' }): Promise<Boot> {
  const group = (await clients.autoScaling.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [GROUP] }))).AutoScalingGroups?.[0];
  const instanceId = group?.Instances?.[containers.length % (group.Instances?.length ?? 1)]?.InstanceId ?? '';
  await emulator.proxy.holdLaunch(GROUP, instanceId);
  const port = await freePort();
  const files = mkdtempSync(join(tmpdir(), 'systemd-boot-'));
  writeFileSync(
    join(files, 'standin.env'),
    [
      `AWS_ACCESS_KEY_ID=${ACTORS.instance.accessKeyId}`,
      'AWS_SECRET_ACCESS_KEY=testing',
      `MAPFILES_INSTANCE_ID=${instanceId}`,
      `MAPFILES_AGENT_URL=http://127.0.0.1:${port}`,
      `ECS_STANDIN_PORT=${port}`,
      'MAPFILES_CONFIG_WAIT_SECONDS=8',
      'MAPFILES_MOUNT_ATTEMPTS=1',
      'MAPFILES_MIRROR_SYNC_SECONDS=10',
      'MAPFILES_AGENT_WAIT_SECONDS=30',
      '',
    ].join('\n'),
  );
  writeFileSync(join(files, 'order.conf'), `[Unit]\n${options.cloudFinal === 'before' ? 'Before' : 'After'}=multi-user.target\n`);
  if (options.bucket) writeFileSync(join(files, 'user-data'), userData(options.bucket), { mode: 0o755 });
  const container = (
    await docker(['create', '--cap-add', 'SYS_ADMIN', '--tmpfs', '/run', '--tmpfs', '/run/lock', '--network', 'host', '--label', 'mapserver-ecs-test=systemd-boot', IMAGE])
  ).trim();
  containers.push(container);
  await docker(['cp', join(files, 'standin.env'), `${container}:/etc/standin.env`]);
  await copyDropIn(container, join(files, 'order.conf'));
  if (options.bucket) await docker(['cp', join(files, 'user-data'), `${container}:/var/lib/cloud/user-data`]);
  rmSync(files, { recursive: true, force: true });
  await docker(['start', container]);
  return { container, instanceId };
}

/** The cloud-final drop-in, in a folder of its own (docker cp copies folders whole). */
async function copyDropIn(container: string, file: string): Promise<void> {
  const staging = mkdtempSync(join(tmpdir(), 'systemd-dropin-'));
  cpSync(file, join(staging, 'cloud-final.service.d', 'order.conf'), { recursive: true });
  await docker(['cp', `${staging}/cloud-final.service.d`, `${container}:/etc/systemd/system/`]);
  rmSync(staging, { recursive: true, force: true });
}

async function waitInside(container: string, what: string, script: string, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await inside(container, `${script} && echo yes`)).trim() !== 'yes') {
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}:\n${await inside(container, 'systemctl list-units --all --no-pager "mapfiles*" ecs.service docker.service cloud-final.service; journalctl -b --no-pager -o short-monotonic | tail -n 60')}`);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** A unit's property as systemd reports it. */
async function property(container: string, unit: string, name: string): Promise<string> {
  return (await inside(container, `systemctl show -p ${name} --value ${unit}`)).trim();
}

/** What proves the order: no cycle anywhere, and the mount active before Docker and the agent started. */
async function expectOrdered(container: string): Promise<void> {
  expect(await inside(container, 'journalctl -b --no-pager -o cat | grep -i "ordering cycle" || true')).toBe('');
  expect(await inside(container, 'systemd-analyze verify --man=no default.target 2>&1 | grep -i cycle || true')).toBe('');
  const after = await inside(container, 'systemctl list-dependencies --after --plain --no-pager ecs.service');
  expect(after).toContain('mapfiles-mount.service');
  expect(after).toContain('cloud-final.service');
  expect(await inside(container, 'systemctl list-dependencies --after --plain --no-pager docker.service')).toContain('mapfiles-mount.service');
  const mounted = Number(await property(container, 'mapfiles-mount.service', 'ActiveEnterTimestampMonotonic'));
  const dockerStarted = Number(await property(container, 'docker.service', 'ExecMainStartTimestampMonotonic'));
  const agentStarted = Number(await property(container, 'ecs.service', 'ExecMainStartTimestampMonotonic'));
  expect(mounted).toBeGreaterThan(0);
  expect(dockerStarted).toBeGreaterThanOrEqual(mounted);
  expect(agentStarted).toBeGreaterThanOrEqual(mounted);
}

/** A failed boot: the agent never started, no ready attribute anywhere. */
async function expectAgentNeverStarted(container: string): Promise<void> {
  expect(await property(container, 'ecs.service', 'ExecMainStartTimestampMonotonic')).toBe('0');
  expect(await inside(container, 'test -e /run/ecs-agent-started && echo started || echo never')).toBe('never\n');
  expect(await inside(container, 'grep -s mapserver-ecs.mount /etc/ecs/ecs.config /run/mapserver-ecs/ecs-attributes.env || echo none')).toBe('none\n');
}

/** The abandon unit ran to its end (OnFailure= of the mount). */
const ABANDON_RAN =
  'journalctl -b -o cat -u mapfiles-launch-abandon.service | grep -q "mapfiles-instance:" && [[ $(systemctl show -p ActiveState --value mapfiles-launch-abandon.service) != activating ]]';

async function launchFailureTag(instanceId: string): Promise<string | undefined> {
  const tags = await clients.ec2.send(new DescribeTagsCommand({ Filters: [{ Name: 'resource-id', Values: [instanceId] }, { Name: 'key', Values: [LAUNCH_FAILURE_TAG] }] }));
  return tags.Tags?.[0]?.Value;
}

beforeAll(async () => {
  emulator = await startEmulator({ iamRecordFile: recordFile });
  Object.assign(process.env, emulator.env);
  clients = createClients('us-east-1', process.env);
  // The image: the overlay as the bake installs it, with the stand-ins (packer/ and the fixture as context).
  const context = mkdtempSync(join(tmpdir(), 'systemd-boot-context-'));
  cpSync(join(process.cwd(), 'packer/files'), join(context, 'files'), { recursive: true });
  cpSync(join(process.cwd(), 'packer/scripts'), join(context, 'scripts'), { recursive: true });
  cpSync(join(process.cwd(), 'action/test/fixtures/systemd-boot'), join(context, 'systemd-boot'), { recursive: true });
  await docker(['build', '-q', '-t', IMAGE, '-f', join(context, 'systemd-boot/Dockerfile'), context], 600_000);
  rmSync(context, { recursive: true, force: true });

  await clients.s3.send(new CreateBucketCommand({ Bucket: 'maps-bucket' }));
  await clients.s3.send(new PutObjectCommand({ Bucket: 'maps-bucket', Key: 'roads.map', Body: 'MAP NAME "roads" END\n' }));
  await clients.s3.send(new CreateBucketCommand({ Bucket: 'sync-fails' }));
  // A bucket the mirror can never list: its first sync cannot finish.
  emulator.proxy.use(async (request, next) =>
    request.service === 's3' && /^\/sync-fails(\/|\?|$)/.test(request.url) && request.method === 'GET'
      ? { status: 500, headers: { 'content-type': 'application/xml' }, body: '<Error><Code>InternalError</Code><Message>simulated</Message></Error>' }
      : next(),
  );
  const subnet = (await clients.ec2.send(new DescribeSubnetsCommand({}))).Subnets?.[0]?.SubnetId ?? '';
  const ami = ((await clients.ec2.send(new DescribeImagesCommand({ Owners: ['amazon'] }))).Images ?? [])[0]?.ImageId ?? '';
  await clients.ec2.send(new CreateLaunchTemplateCommand({ LaunchTemplateName: GROUP, LaunchTemplateData: { ImageId: ami, InstanceType: 't3.small' } }));
  await clients.autoScaling.send(
    new CreateAutoScalingGroupCommand({ AutoScalingGroupName: GROUP, LaunchTemplate: { LaunchTemplateName: GROUP, Version: '1' }, MinSize: 5, MaxSize: 5, DesiredCapacity: 5, VPCZoneIdentifier: subnet }),
  );
  await clients.autoScaling.send(new PutLifecycleHookCommand({ AutoScalingGroupName: GROUP, ...LAUNCH_HOOK }));
}, 600_000);

afterAll(async () => {
  if (containers.length > 0) await docker(['rm', '-f', ...containers]).catch(() => undefined);
  clients?.destroy();
  await emulator?.stop();
  rmSync(join(recordFile, '..'), { recursive: true, force: true });
  for (const key of Object.keys(process.env)) if (!(key in savedEnv)) delete process.env[key];
  Object.assign(process.env, savedEnv);
});

describe('the AMI booting under systemd', () => {
  it.each(['before', 'after'] as const)('cloud-final %s multi-user.target: no ordering cycle, the mount before Docker and the agent, the ready attribute only once served, the launch continued', async (cloudFinal) => {
    const { container, instanceId } = await boot({ bucket: 'maps-bucket', cloudFinal });
    await waitInside(container, 'the launch hook to be completed', 'systemctl is-active --quiet mapfiles-launch.service');
    await expectOrdered(container);
    // cloud-final's place relative to multi-user.target is the one asked for.
    const finalDone = Number(await property(container, 'cloud-final.service', 'ActiveEnterTimestampMonotonic'));
    const multiUser = Number(await property(container, 'multi-user.target', 'ActiveEnterTimestampMonotonic'));
    expect(cloudFinal === 'after' ? finalDone >= multiUser : finalDone <= multiUser).toBe(true);
    // The agent started with the ready attribute, the mount then being active and passing its check.
    expect(await inside(container, 'cat /run/ecs-agent-started')).toContain('ECS_INSTANCE_ATTRIBUTES={"mapserver-ecs.mount":"ready"}');
    expect(await inside(container, '/usr/local/sbin/mapfiles-mount check && ls /mnt/mapfiles')).toBe('roads.map\n');
    expect(emulator.proxy.launchAnswer(instanceId)).toBe('CONTINUE');
    // The mirror is a unit of its own: killed, systemd restarts it, and the bucket is served again.
    const mirror = await property(container, 'mapfiles-mirror.service', 'MainPID');
    expect(Number(mirror)).toBeGreaterThan(0);
    await inside(container, `kill -KILL ${mirror}`);
    await waitInside(container, 'systemd to restart the mirror', '[[ $(systemctl show -p NRestarts --value mapfiles-mirror.service) -ge 1 ]] && systemctl is-active --quiet mapfiles-mirror.service');
    await waitInside(container, 'the restarted mirror to serve', '/usr/local/sbin/mapfiles-mount check');
    expect(await property(container, 'mapfiles-mirror.service', 'MainPID')).not.toBe(mirror);
  });

  it('without user data: the mount gives up, the agent never starts, and the hook is left to time out into ABANDON', async () => {
    const { container, instanceId } = await boot({ cloudFinal: 'after' });
    await waitInside(container, 'the abandon unit to run', ABANDON_RAN);
    expect(await property(container, 'mapfiles-mount.service', 'Result')).toBe('exit-code');
    await expectAgentNeverStarted(container);
    expect(await inside(container, 'journalctl -b --no-pager -o cat -u mapfiles-launch-abandon.service')).toMatch(/cannot read the mount settings: the launch hook times out and abandons the launch/);
    expect(emulator.proxy.launchAnswer(instanceId)).toBeUndefined();
    expect(LAUNCH_HOOK.DefaultResult).toBe('ABANDON');
  });

  it.each([
    ['a missing bucket', 'no-such-bucket', 'after'],
    ['a mirror that cannot sync', 'sync-fails', 'before'],
  ] as const)('%s: the mount fails, the agent never starts with the attribute, the launch is abandoned with the cause', async (_, bucket, cloudFinal) => {
    const { container, instanceId } = await boot({ bucket, cloudFinal });
    await waitInside(container, 'the launch to be abandoned', ABANDON_RAN);
    await expectAgentNeverStarted(container);
    expect(emulator.proxy.launchAnswer(instanceId)).toBe('ABANDON');
    expect(await launchFailureTag(instanceId)).toMatch(/first sync|mirror/);
  });
});

describe('the instance role', () => {
  const role = (name: string): string => `arn:aws:iam::${EMULATED_ACCOUNT}:role/${name}`;
  const values: IamValues = {
    region: 'us-east-1',
    accountId: EMULATED_ACCOUNT,
    bucket: 'maps-bucket',
    bucketPrefix: '',
    ...DEFAULT_NAMES,
    instanceRoleArn: role('mapserver-ecs-instance'),
    taskRoleArn: role('mapserver-task'),
    executionRoleArn: role('mapserver-execution'),
  };
  // Each boot serves its own bucket, and its policy is generated for that bucket.
  const valuesOf = (check: RecordedRequest): IamValues => ({ ...values, bucket: /^arn:aws:s3:::([^/]+)/.exec(check.resource)?.[1] ?? values.bucket });

  it('allows every request the booted instances made (0 denials): the bucket, the hook completed and abandoned, the failure tag', async () => {
    const checks = readRecorded(recordFile).filter((check) => check.role === 'instance');
    expect(new Set(checks.map((check) => check.action))).toEqual(new Set(['s3:ListBucket', 's3:GetObject', 'autoscaling:CompleteLifecycleAction', 'ec2:CreateTags']));
    const { simulated, denied } = await simulateRecorded(checks, valuesOf);
    process.stdout.write(`IAM simulation (systemd boots): ${checks.length} recorded checks, ${simulated} distinct simulated, ${denied.length} denied\n`);
    expect(denied).toEqual([]);
  });
});
