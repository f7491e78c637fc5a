// Every input parsed once into one typed object, validated before any AWS call or file change.
// Steps read Settings, never raw inputs; all problems are collected and reported together. What a
// valid value looks like is in values.ts; how a raw input is read is in input-reader.ts; what each
// command needs beyond that is in the two tables below.
import { InputError, type InputProblem } from './errors.js';
import { InputReader, type InputSource } from './input-reader.js';
import { readBakeSettings, readInstanceType, readMountDriver, type BakeConnection } from './settings-groups.js';
import { COMMANDS, RELEASE_STEPS, type CommandName, type InputName, type ReleaseStep } from './inputs.js';
import * as value from './values.js';
import { hasMapExtension, instanceArchitecture, isImageByDigest, quote, type Architecture } from './values.js';

export type { BakeConnection };

export type MountDriver = 's3fs' | 'mountpoint' | 'mirror';
export type LintFormat = 'text' | 'json';
export type LintMapServer = 'auto' | 'local' | 'off';

export interface Settings {
  command: CommandName;
  region: string;
  bucket: string | undefined;
  /** '' for the whole bucket, otherwise without a leading slash and with one trailing slash. */
  bucketPrefix: string;
  cluster: string;
  service: string;
  autoScalingGroup: string;
  launchTemplate: string;
  capacityProvider: string;
  subnets: string[];
  securityGroups: string[];
  instanceProfile: string | undefined;
  /** The given instance type, else the default of `architecture` (t3.small or t4g.small). */
  instanceType: string;
  /** instance-type was given: roll and release set it on the launch template; otherwise they keep the template's. */
  instanceTypeGiven: boolean;
  minSize: number;
  maxSize: number;
  architecture: Architecture;
  /** architecture was given (else it follows instance-type, or for release and bake the launch template's type). */
  architectureGiven: boolean;
  baseAmiId: string | undefined;
  amiId: string | undefined;
  /** Bake and build even when an AMI or image with the same input hash exists. */
  force: boolean;
  /** The given mount driver, else mirror (what a bake installs); instances use the AMI's recorded driver. */
  mountDriver: MountDriver;
  /** mount-driver was given: it must agree with the AMI's driver; otherwise the AMI's driver is used. */
  mountDriverGiven: boolean;
  /** mirror driver: seconds between listings of the prefix (bounds what a lost event can delay). */
  mirrorReconcileSeconds: number;
  /** mirror driver: what is mirrored; empty lists mean the mirror's defaults ('none' excludes nothing). */
  mirrorInclude: string[];
  mirrorExclude: string[];
  mirrorMaxObjectMib: number;
  mirrorBudgetMib: number;
  amiNamePrefix: string;
  /** The bake instance's subnet: bake-subnet, else the first of subnets, else none (the default VPC). */
  bakeSubnet: string | undefined;
  bakeConnection: BakeConnection;
  volumeSize: number;
  kmsKeyId: string | undefined;
  ecrRepository: string;
  registry: string | undefined;
  image: string | undefined;
  keepImages: number;
  /** Tag of the built image; undefined means the git revision. */
  imageTag: string | undefined;
  taskRoleArn: string | undefined;
  executionRoleArn: string | undefined;
  hostPort: number;
  targetGroupArn: string | undefined;
  cpu: number;
  memory: number;
  desiredCount: number;
  logGroup: string;
  waitMinutes: number;
  minHealthyPercentage: number;
  maxHealthyPercentage: number;
  instanceWarmup: number;
  keepAmis: number;
  skipSteps: ReadonlySet<ReleaseStep>;
  mapfilesDir: string;
  delete: boolean;
  format: LintFormat;
  mapfile: string | undefined;
  output: string;
  dryRun: boolean;
  /** Seconds an instance's bucket may stay unhealthy before the instance takes itself out of service. */
  unhealthyGraceSeconds: number;
  /** Files and folders given after the command on the command line (lint-mapfiles, preview). */
  paths: string[];
  /** Which MapServer lint-mapfiles (and sync-mapfiles' lint) loads mapfiles with. */
  lintMapserver: LintMapServer;
}

/** Inputs each command cannot run without (beyond those with defaults). */
export const REQUIRED_INPUTS: Record<CommandName, readonly InputName[]> = {
  release: ['bucket'],
  bake: [],
  image: [],
  deploy: ['image'],
  roll: ['bucket', 'ami-id'],
  bootstrap: ['bucket', 'subnets', 'instance-profile'],
  cleanup: [],
  'sync-mapfiles': ['bucket'],
  'lint-mapfiles': [],
  preview: [],
};

/** What a command asks of its settings beyond the required inputs. */
const COMMAND_RULES: Partial<Record<CommandName, (settings: Settings) => InputProblem[]>> = {
  deploy: ({ image }) =>
    image && !isImageByDigest(image)
      ? [{ input: 'image', message: `expected an image by digest for the deploy command (repository@sha256:<64 hex>), got ${quote(image)}` }]
      : [],
  release: ({ image, skipSteps }) =>
    image && !skipSteps.has('deploy') && !isImageByDigest(image)
      ? [{ input: 'image', message: `expected an image by digest (repository@sha256:<64 hex>) to deploy, got ${quote(image)}` }]
      : [],
  preview: ({ mapfile: target, output }) => {
    const problems: InputProblem[] = [];
    if (!target) problems.push({ input: 'mapfile', message: 'is required by the preview command: expected the path of a .map file' });
    else if (!hasMapExtension(target)) problems.push({ input: 'mapfile', message: `expected the path of a .map file, got ${quote(target)}` });
    if (output !== '' && !/\.png$/i.test(output)) problems.push({ input: 'output', message: `expected a path ending in .png, got ${quote(output)}` });
    return problems;
  },
};

/** Commands that launch instances of `instance-type`, whose family must match `architecture`. */
const INSTANCE_TYPE_COMMANDS: ReadonlySet<CommandName> = new Set(['release', 'bake', 'bootstrap', 'roll']);

/** Commands that bake an AMI. */
const BAKE_COMMANDS: ReadonlySet<CommandName> = new Set(['release', 'bake']);

/** Commands that work on local files only; every other command calls AWS and needs a region. */
const LOCAL_COMMANDS: ReadonlySet<CommandName> = new Set(['lint-mapfiles', 'preview']);

/** Whether a command calls AWS: all but the local ones and the image command pushing elsewhere. */
export function callsAws(command: CommandName, registry: string | undefined): boolean {
  return !LOCAL_COMMANDS.has(command) && !(command === 'image' && registry);
}

export function parseSettings(read: InputSource, paths: string[], env: NodeJS.ProcessEnv): Settings {
  const reader = new InputReader(read);
  const command = readCommand(reader);
  const settings = readFields(reader, command, readRegion(reader, command, env), paths);
  const problems = [...reader.problems, ...relationProblems(settings)];
  if (command) {
    for (const input of REQUIRED_INPUTS[command]) {
      if (reader.raw(input) === '' && !problems.some((p) => p.input === input)) {
        problems.push({ input, message: `is required by the ${command} command` });
      }
    }
    for (const problem of COMMAND_RULES[command]?.(settings) ?? []) {
      if (!problems.some((p) => p.input === problem.input)) problems.push(problem);
    }
  }
  if (problems.length > 0) throw new InputError(problems);
  return settings;
}

/** The command, or undefined (with a problem recorded) when it is missing or unknown. */
function readCommand(reader: InputReader): CommandName | undefined {
  const command = reader.raw('command');
  if ((COMMANDS as readonly string[]).includes(command)) return command as CommandName;
  if (command === '') reader.problem('command', `is required: expected one of ${COMMANDS.join(', ')}`);
  else reader.problem('command', `expected one of ${COMMANDS.join(', ')}, got ${quote(command)}`);
  return undefined;
}

/** The input, else the SDK's own environment variables; required only by commands that call AWS. */
function readRegion(reader: InputReader, command: CommandName | undefined, env: NodeJS.ProcessEnv): string {
  const region = reader.raw('aws-region') || env.AWS_REGION?.trim() || env.AWS_DEFAULT_REGION?.trim() || '';
  if (region === '') {
    if (command && callsAws(command, reader.raw('registry'))) {
      reader.problem('aws-region', 'is required: expected an AWS region such as us-east-1 (or set AWS_REGION)');
    }
  } else if (!value.REGION.test(region)) {
    reader.problem('aws-region', `expected an AWS region such as us-east-1, got ${quote(region)}`);
  }
  return region;
}

function readBucket(reader: InputReader): string | undefined {
  const bucket = reader.raw('bucket');
  if (bucket === '') return undefined;
  const why = value.bucketNameProblem(bucket);
  if (why) reader.problem('bucket', `expected an S3 bucket name: it ${why}, got ${quote(bucket)}`);
  return bucket;
}

/** '' for the whole bucket, otherwise without a leading slash and with one trailing slash. */
function readBucketPrefix(reader: InputReader): string {
  const prefix = reader.raw('bucket-prefix');
  if (prefix === '') return '';
  const trimmed = prefix.replace(/^\/+/, '').replace(/\/+$/, '');
  if (!value.isKeyPrefix(trimmed)) {
    reader.problem(
      'bucket-prefix',
      `expected a key prefix of letters, digits and !_.*'()- separated by single slashes (no . or .. parts), got ${quote(prefix)}`,
    );
  }
  return `${trimmed}/`;
}

const AMI_EXPECTED = 'an AMI id such as ami-0123456789abcdef0';

function readFields(reader: InputReader, command: CommandName | undefined, region: string, paths: string[]): Settings {
  const r = reader;
  const name = (input: InputName): string =>
    r.required(input, value.RESOURCE_NAME, 'a name of up to 128 letters, digits, hyphens, underscores and dots');
  const steps = new RegExp(`^(${RELEASE_STEPS.join('|')})$`);
  return {
    command: command as CommandName,
    region,
    bucket: readBucket(r),
    bucketPrefix: readBucketPrefix(r),
    cluster: name('cluster'),
    service: name('service'),
    autoScalingGroup: name('auto-scaling-group'),
    launchTemplate: name('launch-template'),
    capacityProvider: name('capacity-provider'),
    subnets: r.list('subnets', value.SUBNET_ID, 'subnet ids such as subnet-0123456789abcdef0'),
    securityGroups: r.list('security-groups', value.SECURITY_GROUP_ID, 'security group ids such as sg-0123456789abcdef0'),
    instanceProfile: r.optional('instance-profile', value.INSTANCE_PROFILE, 'an instance profile name or ARN'),
    ...readInstanceType(r),
    minSize: r.integer('min-size', 0, 100),
    maxSize: r.integer('max-size', 1, 100),
    baseAmiId: r.optional('base-ami-id', value.AMI_ID, AMI_EXPECTED),
    amiId: r.optional('ami-id', value.AMI_ID, AMI_EXPECTED),
    force: r.boolean('force'),
    ...readMountDriver(r),
    mirrorReconcileSeconds: r.integer('mirror-reconcile-seconds', 5, 86400),
    mirrorInclude: r.list('mirror-include', value.GLOB_PATTERN, 'glob patterns such as *.map or symbols/**'),
    mirrorExclude: r.list('mirror-exclude', value.GLOB_PATTERN, 'glob patterns such as *.tif or imagery/**, or none'),
    mirrorMaxObjectMib: r.integer('mirror-max-object-mib', 1, 1_048_576),
    mirrorBudgetMib: r.integer('mirror-budget-mib', 1, 16_777_216),
    amiNamePrefix: r.required('ami-name-prefix', value.AMI_NAME_PREFIX, '3 to 100 letters, digits and ()[]./_- characters'),
    ...readBakeSettings(r),
    ecrRepository: r.required('ecr-repository', value.ECR_REPOSITORY, 'an ECR repository name such as mapserver or team/mapserver'),
    registry: r.optional('registry', value.REGISTRY, 'a registry host[:port] such as 127.0.0.1:5000'),
    image: r.optional('image', value.IMAGE_REFERENCE, 'an image reference such as 123456789012.dkr.ecr.us-east-1.amazonaws.com/mapserver@sha256:<64 hex>'),
    keepImages: r.integer('keep-images', 1, 1000),
    imageTag: r.optional('image-tag', value.IMAGE_TAG, 'a Docker tag: up to 128 letters, digits, _ . and -, not starting with . or -'),
    taskRoleArn: r.optional('task-role-arn', value.IAM_ROLE_ARN, 'an IAM role ARN such as arn:aws:iam::123456789012:role/mapserver-task'),
    executionRoleArn: r.optional('execution-role-arn', value.IAM_ROLE_ARN, 'an IAM role ARN such as arn:aws:iam::123456789012:role/ecsTaskExecutionRole'),
    hostPort: r.integer('host-port', 0, 65535),
    targetGroupArn: r.optional('target-group-arn', value.TARGET_GROUP_ARN, 'an Elastic Load Balancing target group ARN'),
    cpu: r.integer('cpu', 128, 16384),
    memory: r.integer('memory', 128, 122880),
    desiredCount: r.integer('desired-count', 0, 100),
    logGroup: r.required('log-group', value.LOG_GROUP, 'a CloudWatch Logs group name such as /ecs/mapserver'),
    waitMinutes: r.integer('wait-minutes', 1, 360),
    minHealthyPercentage: r.integer('min-healthy-percentage', 0, 100),
    maxHealthyPercentage: r.integer('max-healthy-percentage', 100, 200),
    instanceWarmup: r.integer('instance-warmup', 0, 3600),
    keepAmis: r.integer('keep-amis', 1, 100),
    skipSteps: new Set(r.list('skip-steps', steps, `release steps from ${RELEASE_STEPS.join(', ')}`) as ReleaseStep[]),
    mapfilesDir: r.path('mapfiles-dir'),
    delete: r.boolean('delete'),
    format: r.oneOf('format', ['text', 'json'] as const),
    // preview takes its mapfile from the input, else from the command line.
    mapfile: r.path('mapfile') || (command === 'preview' ? paths[0] : undefined) || undefined,
    output: r.path('output'),
    dryRun: r.boolean('dry-run'),
    unhealthyGraceSeconds: r.integer('unhealthy-grace-seconds', 30, 86400),
    paths,
    lintMapserver: r.oneOf('lint-mapserver', ['auto', 'local', 'off'] as const),
  };
}

/** Relations between inputs that each look fine alone. */
function relationProblems(settings: Settings): InputProblem[] {
  const problems: InputProblem[] = [];
  const problem = (input: InputName, message: string): number => problems.push({ input, message });
  if (settings.minSize > settings.maxSize) problem('min-size', `must not exceed max-size (${settings.maxSize}), got ${settings.minSize}`);
  if (settings.desiredCount > settings.maxSize && settings.maxSize > 0) {
    problem('desired-count', `must not exceed max-size (${settings.maxSize}), got ${settings.desiredCount}`);
  }
  if (settings.targetGroupArn && settings.hostPort !== 0) {
    problem('host-port', `must be 0 (a dynamic port) when target-group-arn is set, got ${settings.hostPort}`);
  }
  // Packer and EC2 would find out only at launch, after credentials and a base AMI lookup.
  const architecture: Architecture = settings.architecture;
  if (INSTANCE_TYPE_COMMANDS.has(settings.command) && value.INSTANCE_TYPE.test(settings.instanceType) && ['x86_64', 'arm64'].includes(architecture)) {
    const actual = instanceArchitecture(settings.instanceType);
    if (actual !== architecture) {
      const example = architecture === 'arm64' ? 't4g.small' : 't3.small';
      problem('instance-type', `${settings.instanceType} is an ${actual} instance type, but architecture is ${architecture}: use an ${architecture} type such as ${example}, or set architecture to ${actual}`);
    }
  }
  if (BAKE_COMMANDS.has(settings.command) && settings.bakeConnection === 'session-manager' && !settings.instanceProfile) {
    problem('instance-profile', 'is required with bake-connection session-manager: the bake instance reaches SSM with it (AmazonSSMManagedInstanceCore)');
  }
  if (settings.maxHealthyPercentage - settings.minHealthyPercentage > 100) {
    problem('max-healthy-percentage', `must be at most min-healthy-percentage + 100 (${settings.minHealthyPercentage + 100}), got ${settings.maxHealthyPercentage}`);
  }
  return problems;
}
