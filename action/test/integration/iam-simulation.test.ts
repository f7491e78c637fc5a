// Every AWS request the product makes, simulated against the IAM policies it generates. Against the
// emulator, each actor signs with its own access key id (scripts/emulator/iam-recorder.ts): the CLI
// runs bootstrap, a release that bakes (real Packer), builds and pushes the image, deploys, rolls and
// cleans up, and a sync-mapfiles; the mirror runs through the AMI's mount script and applies change
// events; s3fs mounts the prefix; GDAL reads a COG through /vsis3/. The proxy records each request as
// the IAM checks AWS makes, and each is run through an independent IAM policy simulator against the
// generated policy of its role.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { AutoScalingClient, DescribeAutoScalingGroupsCommand } from '@aws-sdk/client-auto-scaling';
import { DescribeImagesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { CreateBucketCommand, DeleteObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { iamPolicy, IAM_POLICIES, type IamPolicyName, type IamValues } from '../../src/aws/iam.js';
import { runCliFromSource, type CliRun } from '../support/cli-source.js';
import { DEFAULT_NAMES, simulate } from '../support/iam-simulator.js';
import { ACTORS, actorCredentials, EMULATED_ACCOUNT, type RecordedCheck } from '../../../scripts/emulator/iam-recorder.js';
import { s3AccessInterceptor } from '../../../scripts/emulator/s3-access.js';
import { makeManagedAmi, registerMountedInstance } from '../../../scripts/emulator/instances.js';
import { startEmulator, type Emulator } from '../../../scripts/emulator/start.js';
import { mountBucket, unmountAll } from '../../../scripts/support/mount.js';
import { startRegistry } from '../../../scripts/support/registry.js';

jest.setTimeout(40 * 60_000);

const run = promisify(execFile);
const BUCKET = 'mapserver-ecs-iam';
const PREFIX = 'maps/';
const role = (name: string): string => `arn:aws:iam::${EMULATED_ACCOUNT}:role/${name}`;
const PROFILE = 'mapserver-ecs-instance';
const values: IamValues = {
  region: 'us-east-1',
  accountId: EMULATED_ACCOUNT,
  bucket: BUCKET,
  bucketPrefix: PREFIX,
  ...DEFAULT_NAMES,
  instanceRoleArn: role(PROFILE),
  taskRoleArn: role('mapserver-task'),
  executionRoleArn: role('mapserver-execution'),
};
const MAPFILE = `MAP
  NAME "iam"
  SIZE 64 64
  EXTENT -20 -20 20 20
  PROJECTION "init=epsg:4326" END
  WEB METADATA "wms_title" "iam" "wms_srs" "EPSG:4326" "wms_enable_request" "*" END END
  LAYER
    NAME "square"
    TYPE POLYGON
    STATUS ON
    FEATURE POINTS -20 -20 -20 20 20 20 20 -20 -20 -20 END END
    CLASS STYLE COLOR 200 0 0 END END
  END
END
`;

const work = mkdtempSync(join(tmpdir(), 'iam-simulation-'));
const recordFile = join(work, 'iam-requests.jsonl');
let emulator: Emulator;
let registry: { address: string; stop(): Promise<void> };
let fixtures: S3Client;
const runs: Record<string, CliRun> = {};

/** Milliseconds until `path` reads `expected` (undefined: gone), or throws. */
async function until(path: string, expected: string | undefined, limitMs = 60_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    if ((await readFile(path, 'utf8').catch(() => undefined)) === expected) return;
    if (Date.now() > deadline) throw new Error(`${path} never read ${JSON.stringify(expected)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The settings each request's policy is generated with: s3fs mounts the whole bucket, the rest run under the prefix. */
const policyValues = (check: RecordedCheck): IamValues => (check.actor === 's3fs' ? { ...values, bucketPrefix: '' } : values);

function recorded(): RecordedCheck[] {
  return readFileSync(recordFile, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as RecordedCheck);
}

beforeAll(async () => {
  // The mirror gets S3's answer to a caller without list rights for a missing key (403), which it
  // confirms with a listing of that key: that listing is simulated too.
  const missingKeysForbidden = s3AccessInterceptor({ missingKeysForbidden: true, callers: new Set([ACTORS.mirror.accessKeyId]) });
  emulator = await startEmulator({ iamRecordFile: recordFile, refreshSteps: 1, deploymentSteps: 1, faults: [missingKeysForbidden] });
  registry = await startRegistry(work);
  // The test's own fixtures sign as `testing`: recorded without a role, never simulated.
  fixtures = new S3Client({ region: 'us-east-1', endpoint: emulator.endpoint, forcePathStyle: true, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
  await fixtures.send(new CreateBucketCommand({ Bucket: BUCKET }));
  const network = await run(process.execPath, ['--import', 'tsx', 'scripts/local-stack/emulator-account.ts', 'network'], { env: { ...process.env, ...emulator.env, NODE_NO_WARNINGS: '1' } });
  const value = (key: string): string => new RegExp(`^${key}=(.*)$`, 'm').exec(network.stdout)?.[1] ?? '';

  const pipeline = { ...emulator.env, ...actorCredentials('pipeline'), MAPSERVER_ECS_BUILD_DIR: join(work, 'packer') };
  const common = ['--bucket', BUCKET, '--bucket-prefix', PREFIX, '--registry', registry.address, '--wait-minutes', '10'];
  const cli = async (name: string, args: string[]): Promise<void> => {
    runs[name] = await runCliFromSource(args, pipeline);
    if (runs[name].code !== 0) throw new Error(`${name} exited with ${runs[name].code}:\n${runs[name].stderr.slice(-6000)}`);
  };
  // Older AMIs the pipeline baked: bootstrap starts the group on one (it refuses to start without a
  // baked AMI), and the release's cleanup deregisters them once it has baked a newer one.
  const ec2 = new EC2Client({ region: 'us-east-1', endpoint: emulator.endpoint, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
  const source = ((await ec2.send(new DescribeImagesCommand({ Owners: ['amazon'] }))).Images ?? []).find((i) => (i.Platform ?? '').toLowerCase() !== 'windows')?.ImageId ?? '';
  const older: string[] = [];
  for (const day of ['01', '02']) {
    older.push(await makeManagedAmi(ec2, { name: `mapserver-ecs-2026-11-${day}`, buildTime: `2026-11-${day}T10:00:00Z`, sourceAmi: source, subnet: value('subnets').split(',')[0] ?? '' }));
  }
  ec2.destroy();
  await cli('bootstrap', ['bootstrap', ...common, '--subnets', value('subnets'), '--security-groups', value('security-groups'), '--instance-profile', PROFILE, '--ami-id', older[1] ?? '']);
  // The ECS agent of the group's instance registers once its mount is ready (a fixture here).
  const autoScaling = new AutoScalingClient({ region: 'us-east-1', endpoint: emulator.endpoint, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
  const described = await autoScaling.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: ['mapserver-ecs'] }));
  autoScaling.destroy();
  for (const instance of described.AutoScalingGroups?.[0]?.Instances ?? []) await registerMountedInstance(emulator.endpoint, 'mapserver', instance.InstanceId ?? '');
  await cli('release', ['release', ...common, '--task-role-arn', values.taskRoleArn, '--execution-role-arn', values.executionRoleArn, '--keep-amis', '1']);

  const folder = join(work, 'mapfiles');
  mkdirSync(folder, { recursive: true });
  writeFileSync(join(folder, 'roads.map'), MAPFILE);
  await cli('sync-mapfiles', ['sync-mapfiles', ...common, '--mapfiles-dir', folder]);

  // The mirror as an instance runs it, then a change event for a new key and for a deleted one.
  const mnt = join(work, 'mnt');
  mkdirSync(mnt, { recursive: true });
  chmodSync(work, 0o755);
  const instanceEnv = { ...actorCredentials('mirror'), AWS_REGION: 'us-east-1' };
  const mirror = await mountBucket({ driver: 'mirror', endpoint: emulator.endpoint, bucket: BUCKET, prefix: PREFIX, mountPoint: join(mnt, 'mirror'), env: instanceEnv, mirror: { topic: 'mapserver-ecs-mapfiles-mapserver-ecs-iam', queue: 'mapserver-ecs-mirror-i-iam', reconcileSeconds: 5 } });
  await until(join(mirror.mountPoint, 'roads.map'), MAPFILE);
  await fixtures.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${PREFIX}rivers.map`, Body: MAPFILE }));
  await until(join(mirror.mountPoint, 'rivers.map'), MAPFILE);
  await fixtures.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: `${PREFIX}rivers.map` }));
  await until(join(mirror.mountPoint, 'rivers.map'), undefined);
  await mirror.unmount();

  // s3fs with the instance role, on the whole bucket: this host's s3fs (1.90) checks the bucket root
  // at mount, where the AMI's (1.92 or later, with compat_dir) lists under the prefix.
  const s3fs = await mountBucket({ driver: 's3fs', endpoint: emulator.endpoint, bucket: BUCKET, prefix: '', mountPoint: join(mnt, 's3fs'), env: { ...actorCredentials('s3fs'), AWS_REGION: 'us-east-1' } });
  expect(await readFile(join(s3fs.mountPoint, PREFIX, 'roads.map'), 'utf8')).toBe(MAPFILE);
  await s3fs.unmount();

  // GDAL's /vsis3/ with the task role, as MapServer reads a COG.
  const tif = join(work, 'green.tif');
  await run('gdal_create', ['-of', 'GTiff', '-outsize', '16', '16', '-bands', '1', '-ot', 'Byte', '-burn', '200', '-a_srs', 'EPSG:4326', '-a_ullr', '-20', '20', '20', '-20', '-co', 'TILED=YES', tif]);
  await fixtures.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'cogs/green.tif', Body: readFileSync(tif) }));
  const endpoint = new URL(emulator.endpoint);
  const gdalEnv = { PATH: process.env.PATH ?? '', ...actorCredentials('gdal'), AWS_REGION: 'us-east-1', AWS_S3_ENDPOINT: endpoint.host, AWS_HTTPS: 'NO', AWS_VIRTUAL_HOSTING: 'FALSE', GDAL_DISABLE_READDIR_ON_OPEN: 'EMPTY_DIR' };
  const info = await run('gdalinfo', [`/vsis3/${BUCKET}/cogs/green.tif`], { env: gdalEnv });
  expect(info.stdout).toMatch(/Size is 16, 16/);
}, 40 * 60_000);

afterAll(async () => {
  if (process.env.IAM_SIMULATION_KEEP) writeFileSync(process.env.IAM_SIMULATION_KEEP, readFileSync(recordFile));
  await unmountAll();
  fixtures?.destroy();
  await registry?.stop();
  await emulator?.stop();
  rmSync(work, { recursive: true, force: true });
}, 120_000);

describe('every request the product makes, against the policy of its role', () => {
  it('records the pipeline, Packer, the mirror, s3fs and GDAL, each under its role', () => {
    const actors = new Map(recorded().filter((c) => c.actor).map((c) => [c.actor, c.role]));
    expect(Object.fromEntries(actors)).toEqual({ pipeline: 'pipeline', packer: 'pipeline', mirror: 'instance', s3fs: 'instance', gdal: 'task' });
  });

  it('maps operations to the IAM action AWS authorizes: HEAD of an object, listings, Packer region check', () => {
    const checks = recorded();
    const has = (actor: string, operation: string, action: string): boolean => checks.some((c) => c.actor === actor && c.operation === operation && c.action === action);
    expect(has('s3fs', 'HEAD', 's3:GetObject')).toBe(true);
    expect(checks.some((c) => c.actor === 'mirror' && c.action === 's3:ListBucket' && c.context['s3:prefix'] === PREFIX)).toBe(true);
    expect(has('packer', 'DescribeRegions', 'ec2:DescribeRegions')).toBe(true);
    expect(checks.some((c) => c.action === 'iam:PassRole' && c.resource === values.taskRoleArn && c.context['iam:PassedToService'] === 'ecs-tasks.amazonaws.com')).toBe(true);
    // Cleanup's deregistration carries the image's tags, which the policy's condition reads.
    expect(checks.some((c) => c.actor === 'pipeline' && c.action === 'ec2:DeregisterImage' && c.context['ec2:ResourceTag/mapserver-ecs:managed'] === 'true')).toBe(true);
    expect(checks.some((c) => c.actor === 'mirror' && c.action === 'sqs:ReceiveMessage')).toBe(true);
    // The deleted key answered 403, and the mirror confirmed it with a listing of that one key.
    expect(checks.some((c) => c.actor === 'mirror' && c.action === 's3:GetObject' && c.resource.endsWith('/maps/rivers.map') && c.status === 403)).toBe(true);
    expect(checks.some((c) => c.actor === 'mirror' && c.action === 's3:ListBucket' && c.context['s3:prefix'] === `${PREFIX}rivers.map`)).toBe(true);
  });

  it('allows every one of them (0 denials), and says how many it simulated', async () => {
    const distinct = new Map<string, RecordedCheck>();
    for (const check of recorded()) if (check.role) distinct.set(JSON.stringify([check.role, check.action, check.resource, check.context]), check);
    const denied: string[] = [];
    for (const check of distinct.values()) {
      const verdict = await simulate(iamPolicy(check.role as IamPolicyName, policyValues(check)), check);
      if (verdict.result !== 'Allowed' || verdict.ignoredKeys.length > 0) denied.push(`${check.actor} ${check.operation}: ${check.action} ${check.resource} ${JSON.stringify(check.context)} -> ${verdict.result} ${verdict.ignoredKeys.join(',')}`);
    }
    const triples = new Set([...distinct.values()].map((c) => `${c.role} ${c.action} ${c.resource}`));
    process.stdout.write(`IAM simulation: ${distinct.size} distinct recorded requests, ${triples.size} distinct (role, action, resource), ${denied.length} denied\n`);
    expect(denied).toEqual([]);
    expect(IAM_POLICIES.filter((name) => name !== 'execution').every((name) => [...distinct.values()].some((c) => c.role === name))).toBe(true);
  });
});
