import { describe, expect, it } from '@jest/globals';
import { InputError } from '../../src/errors.js';
import type { InputName } from '../../src/inputs.js';
import { parseSettings } from '../../src/settings.js';
import { bucketNameProblem } from '../../src/values.js';

const env = { AWS_REGION: 'eu-west-1' } as NodeJS.ProcessEnv;
const DIGEST_IMAGE = `123456789012.dkr.ecr.eu-west-1.amazonaws.com/mapserver@sha256:${'a'.repeat(64)}`;

function parse(values: Partial<Record<InputName, string>>, paths: string[] = [], environment = env) {
  return parseSettings((name) => values[name] ?? '', paths, environment);
}

function problemsOf(values: Partial<Record<InputName, string>>, environment = env) {
  try {
    parse(values, [], environment);
  } catch (error) {
    if (error instanceof InputError) return error.problems;
    throw error;
  }
  throw new Error('expected an InputError');
}

describe('parseSettings', () => {
  it('applies defaults and the region from the environment', () => {
    const settings = parse({ command: 'deploy', bucket: 'my-maps', image: DIGEST_IMAGE });
    expect(settings).toMatchObject({
      command: 'deploy',
      region: 'eu-west-1',
      bucket: 'my-maps',
      bucketPrefix: '',
      cluster: 'mapserver',
      hostPort: 8080,
      architecture: 'x86_64',
      mountDriver: 'mirror',
      mirrorReconcileSeconds: 60,
      waitMinutes: 30,
      dryRun: false,
    });
  });

  it('prefers the aws-region input over the environment', () => {
    expect(parse({ command: 'bake', 'aws-region': 'us-west-2' }).region).toBe('us-west-2');
  });

  it('normalizes the bucket prefix to one trailing slash', () => {
    expect(parse({ command: 'deploy', bucket: 'my-maps', image: DIGEST_IMAGE, 'bucket-prefix': '/maps/public' }).bucketPrefix).toBe('maps/public/');
  });

  it('splits lists on commas and newlines', () => {
    const settings = parse({
      command: 'bootstrap',
      bucket: 'my-maps',
      'instance-profile': 'ecs-instance',
      subnets: 'subnet-0123456789abcdef0, subnet-89abcdef\nsubnet-0fedcba9876543210',
      'skip-steps': 'bake,cleanup',
    });
    expect(settings.subnets).toEqual(['subnet-0123456789abcdef0', 'subnet-89abcdef', 'subnet-0fedcba9876543210']);
    expect([...settings.skipSteps]).toEqual(['bake', 'cleanup']);
  });

  it.each([
    ['true', true],
    ['TRUE', true],
    ['yes', true],
    ['false', false],
    ['', false],
  ])('reads dry-run %j as %j', (value, expected) => {
    expect(parse({ command: 'cleanup', 'dry-run': value }).dryRun).toBe(expected);
  });

  it('reports every problem at once, naming each input', () => {
    const problems = problemsOf({
      command: 'deploy',
      bucket: 'Bad_Bucket',
      'aws-region': 'mars-1',
      'host-port': '70000',
      'wait-minutes': 'soon',
      image: 'UPPER/case',
      'task-role-arn': 'arn:aws:iam::12:role/x',
    });
    expect(problems.map((p) => p.input).sort()).toEqual(
      ['aws-region', 'bucket', 'host-port', 'image', 'task-role-arn', 'wait-minutes'].sort(),
    );
    for (const p of problems) expect(p.message).toMatch(/expected/);
  });

  it.each<[Partial<Record<InputName, string>>, InputName, RegExp]>([
    [{ command: 'bogus' }, 'command', /expected one of release, bake, .*got "bogus"/],
    [{}, 'command', /is required/],
    [{ command: 'bake', architecture: 'sparc' }, 'architecture', /x86_64, arm64/],
    [{ command: 'bake', 'base-ami-id': 'ami-123' }, 'base-ami-id', /AMI id/],
    [{ command: 'bake', 'mount-driver': 'goofys' }, 'mount-driver', /s3fs, mountpoint/],
    [{ command: 'bake', 'instance-type': 'large' }, 'instance-type', /instance type/],
    [{ command: 'deploy', bucket: 'ab' }, 'bucket', /3 to 63/],
    [{ command: 'deploy', bucket: '192.168.1.1' }, 'bucket', /IP address/],
    [{ command: 'deploy', bucket: 'a..b' }, 'bucket', /adjacent dots/],
    [{ command: 'deploy', bucket: 'ok-bucket', 'bucket-prefix': 'a/../b' }, 'bucket-prefix', /no \. or \.\. parts/],
    [{ command: 'deploy', bucket: 'ok-bucket', cpu: '64' }, 'cpu', /128 to 16384/],
    [{ command: 'deploy', bucket: 'ok-bucket', 'target-group-arn': 'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/0123456789abcdef' }, 'host-port', /must be 0/],
    [{ command: 'roll', bucket: 'ok-bucket', 'min-healthy-percentage': '50', 'max-healthy-percentage': '200' }, 'max-healthy-percentage', /at most min-healthy-percentage \+ 100/],
    [{ command: 'roll', bucket: 'ok-bucket', 'min-size': '3', 'max-size': '2' }, 'min-size', /must not exceed max-size/],
    [{ command: 'bootstrap', bucket: 'ok-bucket', 'instance-profile': 'p' }, 'subnets', /required by the bootstrap command/],
    [{ command: 'bootstrap', bucket: 'ok-bucket', 'instance-profile': 'p', subnets: 'subnet-xyz' }, 'subnets', /subnet ids/],
    [{ command: 'release', 'skip-steps': 'bake,deploy-all', bucket: 'ok-bucket' }, 'skip-steps', /release steps/],
    [{ command: 'cleanup', 'dry-run': 'maybe' }, 'dry-run', /true or false/],
    [{ command: 'lint-mapfiles', format: 'xml' }, 'format', /text, json/],
    [{ command: 'preview' }, 'mapfile', /required by the preview command/],
    [{ command: 'deploy' }, 'image', /required by the deploy command/],
    [{ command: 'deploy', image: 'mapserver:latest' }, 'image', /by digest/],
    [{ command: 'preview', mapfile: 'x.txt' }, 'mapfile', /\.map file/],
    [{ command: 'roll', bucket: 'ok-bucket' }, 'ami-id', /required by the roll command/],
    [{ command: 'release', bucket: 'ok-bucket', image: 'mapserver:latest' }, 'image', /by digest.*to deploy/],
  ])('refuses %j naming %s', (values, input, message) => {
    const problems = problemsOf(values);
    const problem = problems.find((p) => p.input === input);
    expect(problem?.message).toMatch(message);
  });

  it('reads the mirror selection and budget, with defaults, and names bad values', () => {
    expect(parse({ command: 'lint-mapfiles' })).toMatchObject({ mirrorInclude: [], mirrorExclude: [], mirrorMaxObjectMib: 64, mirrorBudgetMib: 4096 });
    expect(parse({ command: 'lint-mapfiles', 'mirror-include': '*.map, symbols/**', 'mirror-exclude': 'none' })).toMatchObject({ mirrorInclude: ['*.map', 'symbols/**'], mirrorExclude: ['none'] });
    const problems = problemsOf({ command: 'lint-mapfiles', 'mirror-exclude': "it's", 'mirror-budget-mib': '0', 'mirror-max-object-mib': 'big' });
    expect(problems.map((p) => p.input).sort()).toEqual(['mirror-budget-mib', 'mirror-exclude', 'mirror-max-object-mib']);
  });

  it('takes the preview target from the paths and asks it to be a .map file', () => {
    expect(parse({ command: 'preview' }, ['maps/world.map']).paths).toEqual(['maps/world.map']);
    expect(() => parse({ command: 'preview' }, ['notes.txt'])).toThrow(/mapfile: expected the path of a \.map file, got "notes\.txt"/);
  });

  it('lets a release with deploy skipped name an image by tag', () => {
    expect(parse({ command: 'release', bucket: 'ok-bucket', image: 'mapserver:latest', 'skip-steps': 'deploy' }).image).toBe('mapserver:latest');
  });

  it('accepts image references with a registry host, a tag and a digest', () => {
    for (const image of [DIGEST_IMAGE, '127.0.0.1:5000/mapserver:abc123', 'localhost/team/mapserver', 'mapserver']) {
      expect(parse({ command: 'image', image }).image).toBe(image);
    }
  });

  it('refuses an instance family of the other architecture for commands that launch instances', () => {
    expect(problemsOf({ command: 'bake', 'instance-type': 't4g.small', architecture: 'x86_64' })).toEqual([
      { input: 'instance-type', message: expect.stringMatching(/^t4g\.small is an arm64 instance type, but architecture is x86_64/) },
    ]);
    expect(problemsOf({ command: 'roll', bucket: 'my-maps', 'ami-id': 'ami-0123456789abcdef0', architecture: 'arm64', 'instance-type': 't3.small' }).map((p) => p.input)).toEqual(['instance-type']);
    expect(parse({ command: 'bake', 'instance-type': 'm7gd.large', architecture: 'arm64' }).instanceType).toBe('m7gd.large');
    expect(parse({ command: 'bake', 'instance-type': 'g4dn.xlarge' }).architecture).toBe('x86_64');
    // deploy launches nothing: the instance type is not its concern.
    expect(parse({ command: 'deploy', image: DIGEST_IMAGE, architecture: 'arm64' }).architecture).toBe('arm64');
  });

  it('defaults instance-type and architecture from each other, and says whether the type was given', () => {
    expect(parse({ command: 'bake' })).toMatchObject({ instanceType: 't3.small', instanceTypeGiven: false, architecture: 'x86_64' });
    expect(parse({ command: 'bake', architecture: 'arm64' })).toMatchObject({ instanceType: 't4g.small', instanceTypeGiven: false, architecture: 'arm64' });
    expect(parse({ command: 'bake', 'instance-type': 'm7g.large' })).toMatchObject({ instanceType: 'm7g.large', instanceTypeGiven: true, architecture: 'arm64' });
    expect(parse({ command: 'roll', bucket: 'my-maps', 'ami-id': 'ami-0123456789abcdef0', architecture: 'arm64' }).instanceTypeGiven).toBe(false);
  });

  it('needs a region only for commands that call AWS', () => {
    expect(problemsOf({ command: 'bake' }, {}).map((p) => p.input)).toEqual(['aws-region']);
    expect(parse({ command: 'lint-mapfiles' }, [], {}).region).toBe('');
    expect(parse({ command: 'image', registry: '127.0.0.1:5000' }, [], {}).region).toBe('');
    expect(problemsOf({ command: 'image' }, {}).map((p) => p.input)).toEqual(['aws-region']);
  });

  it('shortens very long values in messages', () => {
    const problems = problemsOf({ command: 'bake', 'instance-type': 'x'.repeat(500) });
    expect(problems[0]?.message.length).toBeLessThan(200);
  });
});

describe('bucketNameProblem', () => {
  it.each(['my-maps', 'maps.example.org', 'a1b'])('accepts %s', (name) => {
    expect(bucketNameProblem(name)).toBeUndefined();
  });
  it.each(['My-Maps', '-maps', 'maps-', 'xn--maps', 'maps-s3alias', 'a'.repeat(64), 'my_maps'])('refuses %s', (name) => {
    expect(bucketNameProblem(name)).toBeDefined();
  });
});
