// The bad-input corpus: malformed values across the action's inputs and the CLI's flags. Each must
// be refused with a message naming the input, exit code 2 from the CLI (1 with an error annotation
// from the action), no stack trace, and no AWS call at all (checked in the emulator's record).
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { runCli } from '../../src/cli.js';
import { EXIT_BAD_INPUT } from '../../src/errors.js';
import { runActionBundle } from '../support/action-runner.js';
import { startEmulator, type Emulator } from '../../../scripts/emulator/start.js';

type Case = [command: string, input: string, value: string];

const SUBNET = 'subnet-0123456789abcdef0';
/** Inputs that make each command otherwise valid, so the case's value is the only problem. */
const VALID: Record<string, Record<string, string>> = {
  release: { bucket: 'maps-bucket' },
  bake: {},
  image: {},
  deploy: { bucket: 'maps-bucket', image: `127.0.0.1:5000/mapserver@sha256:${'0'.repeat(64)}` },
  roll: { bucket: 'maps-bucket' },
  bootstrap: { bucket: 'maps-bucket', subnets: SUBNET, 'instance-profile': 'ecs-instance' },
  cleanup: {},
  'sync-mapfiles': { bucket: 'maps-bucket' },
  'lint-mapfiles': {},
  preview: { mapfile: 'maps/a.map' },
};

const CASES: Case[] = [
  ['deploy', 'aws-region', 'useast1'],
  ['deploy', 'aws-region', 'US-EAST-1'],
  ['deploy', 'aws-region', 'us-east-1; rm -rf /'],
  ['deploy', 'bucket', 'ab'],
  ['deploy', 'bucket', 'Upper-Case'],
  ['deploy', 'bucket', 'under_score'],
  ['deploy', 'bucket', '10.0.0.1'],
  ['deploy', 'bucket', 'trailing-'],
  ['deploy', 'bucket', 'double..dot'],
  ['deploy', 'bucket', 'x'.repeat(64)],
  ['deploy', 'bucket-prefix', '../etc'],
  ['deploy', 'bucket-prefix', 'maps//public'],
  ['deploy', 'bucket-prefix', 'maps/${x}'],
  ['deploy', 'cluster', 'has space'],
  ['deploy', 'cluster', '-leading-dash'],
  ['deploy', 'service', 'x'.repeat(200)],
  ['roll', 'auto-scaling-group', 'name"quote'],
  ['roll', 'launch-template', 'tab\tname'],
  ['bootstrap', 'subnets', 'subnet-12'],
  ['bootstrap', 'subnets', `${SUBNET},vpc-01234567`],
  ['bootstrap', 'security-groups', 'sg-XYZ'],
  ['bootstrap', 'instance-profile', 'profile with spaces'],
  ['bootstrap', 'instance-type', 't3'],
  ['bootstrap', 'min-size', '-1'],
  ['bootstrap', 'max-size', '0'],
  ['bootstrap', 'desired-count', 'two'],
  ['bake', 'architecture', 'amd64'],
  // An arm64 type alone now means arm64; the mismatch with a given architecture is an ARGV case below.
  ['bake', 'bake-subnet', 'subnet-xyz'],
  ['bake', 'bake-connection', 'ssh'],
  ['bake', 'volume-size', '20'],
  ['bake', 'kms-key-id', 'my key'],
  ['bake', 'base-ami-id', 'ami-xyz'],
  ['bake', 'base-ami-id', 'ami-0123456789abcdef'],
  ['roll', 'ami-id', 'i-0123456789abcdef0'],
  ['bake', 'mount-driver', 'goofys'],
  ['bake', 'ami-name-prefix', 'a'],
  ['bake', 'ami-name-prefix', 'name${injection}'],
  ['image', 'ecr-repository', 'Mapserver'],
  ['image', 'registry', 'http://127.0.0.1:5000'],
  ['deploy', 'image', 'mapserver:latest@sha256:short'],
  ['deploy', 'image', 'Mapserver:latest'],
  ['image', 'keep-images', '0'],
  ['deploy', 'task-role-arn', 'arn:aws:iam::123:role/x'],
  ['deploy', 'execution-role-arn', 'role/ecsTaskExecutionRole'],
  ['deploy', 'host-port', '65536'],
  ['deploy', 'host-port', '80.5'],
  ['deploy', 'target-group-arn', 'arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/x/0123456789abcdef'],
  ['deploy', 'cpu', '100'],
  ['deploy', 'memory', '1e3'],
  ['deploy', 'log-group', 'group with space'],
  ['deploy', 'wait-minutes', '0'],
  ['deploy', 'wait-minutes', '1000'],
  ['roll', 'min-healthy-percentage', '101'],
  ['roll', 'max-healthy-percentage', '99'],
  ['roll', 'instance-warmup', '-5'],
  ['cleanup', 'keep-amis', '0'],
  ['release', 'skip-steps', 'bake,everything'],
  ['cleanup', 'dry-run', 'sometimes'],
  ['release', 'force', 'always'],
  ['sync-mapfiles', 'delete', 'nope'],
  ['lint-mapfiles', 'format', 'yaml'],
  ['preview', 'mapfile', 'maps/a.txt'],
  ['preview', 'output', 'out.jpg'],
];

/** Command lines the action cannot express: positionals a command does not take. */
const ARGV_CASES: Array<[argv: string[], input: string]> = [
  [['bake', '--instance-type', 't4g.small', '--architecture', 'x86_64'], 'instance-type'],
  [['roll', '--bucket', 'maps-bucket', '--instance-type', 'c8g.xlarge', '--architecture', 'x86_64'], 'instance-type'],
  [['bootstrap', '--bucket', 'maps-bucket', '--instance-type', 'm7gd.large', '--architecture', 'x86_64'], 'instance-type'],
  [['deploy', '--dry-run', 'maybe', '--image', VALID.deploy?.image ?? ''], 'dry-run'],
  [['sync-mapfiles', '--bucket', 'maps-bucket', '--delete', 'false'], 'delete'],
  [['lint-mapfiles', '--dry-run', 'no', 'maps/'], 'dry-run'],
  [['release', '--bucket', 'maps-bucket', '--force', 'yes'], 'force'],
  [['deploy', '--image', VALID.deploy?.image ?? '', 'now'], 'command'],
  [['cleanup', 'old-amis'], 'command'],
  [['bootstrap', 'maps-bucket', '--subnets', SUBNET, '--instance-profile', 'ecs-instance', '--bucket', 'maps-bucket'], 'command'],
  [['release', '--bucket', 'maps-bucket', '--', 'extra'], 'command'],
  [['preview', 'maps/a.map', 'maps/b.map'], 'mapfile'],
  [['preview', '--mapfile', 'maps/a.map', 'maps/b.map'], 'mapfile'],
];

let emulator: Emulator;

async function recordedCalls(): Promise<string[]> {
  const text = await (await fetch(`${emulator.motoEndpoint}/moto-api/recorder/download-recording`)).text();
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const entry = JSON.parse(line) as { method: string; url: string; body?: string };
      return `${entry.method} ${entry.url} ${entry.body ?? ''}`.slice(0, 200);
    });
}

beforeAll(async () => {
  emulator = await startEmulator();
  await fetch(`${emulator.motoEndpoint}/moto-api/recorder/reset-recording`, { method: 'POST' });
  await fetch(`${emulator.motoEndpoint}/moto-api/recorder/start-recording`, { method: 'POST' });
});

afterAll(async () => {
  await emulator?.stop();
});

describe('bad-input corpus', () => {
  it('has at least 40 malformed values over at least 30 inputs', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(40);
    expect(new Set(CASES.map(([, input]) => input)).size).toBeGreaterThanOrEqual(30);
  });

  /** Runs the CLI in this process and checks it refused the input by name, exit 2, no stack trace. */
  async function expectRefused(argv: string[], input: string): Promise<void> {
    const stderr: string[] = [];
    const spyErr = jest.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
      stderr.push(String(chunk));
      return true;
    });
    const spyOut = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    let code: number;
    try {
      code = await runCli(argv, { ...process.env, ...emulator.env });
    } finally {
      spyErr.mockRestore();
      spyOut.mockRestore();
    }
    const text = stderr.join('');
    expect(code).toBe(EXIT_BAD_INPUT);
    expect(text).toMatch(new RegExp(`^ {2}- ${input}: `, 'm'));
    expect(text).not.toMatch(/\n\s+at .+:\d+:\d+/);
  }

  it.each(CASES)('CLI %s --%s %j exits 2 naming the flag', async (command, input, value) => {
    const flags = Object.entries({ ...VALID[command], [input]: value }).flatMap(([k, v]) => [`--${k}=${v}`]);
    await expectRefused([command, ...flags], input);
  });

  it.each(ARGV_CASES)('CLI %j exits 2 naming %s', async (argv, input) => {
    await expectRefused(argv, input);
  });

  it.each(CASES)('action %s %s=%j fails naming the input', (command, input, value) => {
    const run = runActionBundle({ command, ...VALID[command], [input]: value }, { env: emulator.env });
    expect(run.exitCode).toBe(1);
    expect(run.stdout).toMatch(new RegExp(`::error::Invalid inputs?:.*- ${input}: `));
    expect(run.stdout + run.stderr).not.toMatch(/\n\s+at .+:\d+:\d+/);
    expect(run.outputs).toEqual({});
  });

  it('made no AWS call at all', async () => {
    expect(await recordedCalls()).toEqual([]);
  });

  it('would have seen a call in the record (the check above can fail)', async () => {
    const { S3Client, ListBucketsCommand } = await import('@aws-sdk/client-s3');
    const s3 = new S3Client({ region: 'us-east-1', endpoint: emulator.endpoint, forcePathStyle: true, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
    await s3.send(new ListBucketsCommand({}));
    s3.destroy();
    expect((await recordedCalls()).length).toBeGreaterThan(0);
  });
});
