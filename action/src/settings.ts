// Every input parsed once into one typed object, validated before any AWS call or file change.
// Steps read Settings, never raw inputs; all problems are collected and reported together.
import { InputError, type InputProblem } from './errors.js';
import { COMMANDS, INPUTS, RELEASE_STEPS, type CommandName, type InputName, type ReleaseStep } from './inputs.js';

export type Architecture = 'x86_64' | 'arm64';
export type MountDriver = 's3fs' | 'mountpoint' | 'mirror';
export type LintFormat = 'text' | 'json';

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
  instanceType: string;
  minSize: number;
  maxSize: number;
  architecture: Architecture;
  baseAmiId: string | undefined;
  amiId: string | undefined;
  /** Bake and build even when an AMI or image with the same input hash exists. */
  force: boolean;
  mountDriver: MountDriver;
  /** mirror driver: seconds between listings of the prefix (bounds what a lost event can delay). */
  mirrorReconcileSeconds: number;
  amiNamePrefix: string;
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
  /** Files and folders given after the command on the command line (lint-mapfiles, preview). */
  paths: string[];
}

/** Reads one raw input by its public name; returns '' when unset. */
export type InputSource = (name: InputName) => string;

/** Inputs each command cannot run without (beyond those with defaults). */
export const REQUIRED_INPUTS: Record<CommandName, readonly InputName[]> = {
  release: ['bucket'],
  bake: [],
  image: [],
  deploy: ['image'],
  roll: ['bucket'],
  bootstrap: ['bucket', 'subnets', 'instance-profile'],
  cleanup: [],
  'sync-mapfiles': ['bucket'],
  'lint-mapfiles': [],
  preview: [],
};

/** Commands that launch instances of `instance-type`, whose family must match `architecture`. */
const INSTANCE_TYPE_COMMANDS: ReadonlySet<CommandName> = new Set(['release', 'bake', 'bootstrap', 'roll']);

/** Graviton (arm64) instance families carry a `g` after the generation (t4g, m7gd, c8g) or are a1. */
export function instanceArchitecture(instanceType: string): Architecture {
  const family = instanceType.split('.')[0] ?? '';
  return /^a1$|^[a-z]+\d+g/.test(family) ? 'arm64' : 'x86_64';
}

/** Commands that work on local files only; every other command calls AWS and needs a region. */
const LOCAL_COMMANDS: ReadonlySet<CommandName> = new Set(['lint-mapfiles', 'preview']);

/** Whether a command calls AWS: all but the local ones and the image command pushing elsewhere. */
export function callsAws(command: CommandName, registry: string | undefined): boolean {
  return !LOCAL_COMMANDS.has(command) && !(command === 'image' && registry);
}

const REGION = /^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$/;
const AMI_ID = /^ami-([0-9a-f]{8}|[0-9a-f]{17})$/;
const SUBNET_ID = /^subnet-([0-9a-f]{8}|[0-9a-f]{17})$/;
const SECURITY_GROUP_ID = /^sg-([0-9a-f]{8}|[0-9a-f]{17})$/;
const IAM_ROLE_ARN = /^arn:aws(-[a-z]+)*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/;
const INSTANCE_PROFILE = /^(arn:aws(-[a-z]+)*:iam::\d{12}:instance-profile\/)?[\w+=,.@/-]{1,128}$/;
const TARGET_GROUP_ARN = /^arn:aws(-[a-z]+)*:elasticloadbalancing:[a-z0-9-]+:\d{12}:targetgroup\/[\w-]{1,32}\/[0-9a-f]{16}$/;
const INSTANCE_TYPE = /^[a-z][a-z0-9-]*\.[a-z0-9]+$/;
/** ECS cluster/service, launch template, Auto Scaling group and capacity provider names share this shape. */
const RESOURCE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
const ECR_REPOSITORY = /^(?=.{2,256}$)[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$/;
const IMAGE_TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const REGISTRY = /^[A-Za-z0-9.-]+(:\d{1,5})?$/;
const LOG_GROUP = /^[\w#/.-]{1,512}$/;
const AMI_NAME_PREFIX = /^[A-Za-z0-9()[\]./_-]{3,100}$/;
/** repository[:tag][@sha256:digest]; a registry host has a dot or a port, or is localhost (Docker's rule). */
const IMAGE_REFERENCE =
  /^(?:(?:[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+(?::\d+)?|[A-Za-z0-9-]+:\d+|localhost)\/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[\w][\w.-]{0,127})?(?:@sha256:[0-9a-f]{64})?$/;

/** S3 bucket naming rules for general-purpose buckets. */
export function bucketNameProblem(name: string): string | undefined {
  if (name.length < 3 || name.length > 63) return `must be 3 to 63 characters long, got ${name.length}`;
  if (!/^[a-z0-9][a-z0-9.-]*[a-z0-9]$/.test(name)) {
    return 'may hold only lowercase letters, digits, dots and hyphens, and must start and end with a letter or digit';
  }
  if (name.includes('..')) return 'must not contain two adjacent dots';
  if (/^\d+\.\d+\.\d+\.\d+$/.test(name)) return 'must not be formatted as an IP address';
  if (/^(xn--|sthree-|amzn-s3-demo-)/.test(name) || /(-s3alias|--ol-s3|--x-s3|\.mrap)$/.test(name)) {
    return 'uses a prefix or suffix that S3 reserves';
  }
  return undefined;
}

export function parseSettings(read: InputSource, paths: string[] = [], env: NodeJS.ProcessEnv = process.env): Settings {
  const problems: InputProblem[] = [];
  const problem = (input: InputName, message: string): void => {
    problems.push({ input, message });
  };
  const raw = (name: InputName): string => {
    const value = read(name).trim();
    if (value !== '') return value;
    return (INPUTS.find((i) => i.name === name)?.default ?? '').trim();
  };
  const optional = (name: InputName, pattern: RegExp, expected: string): string | undefined => {
    const value = raw(name);
    if (value === '') return undefined;
    if (!pattern.test(value)) problem(name, `expected ${expected}, got ${quote(value)}`);
    return value;
  };
  const required = (name: InputName, pattern: RegExp, expected: string): string => {
    const value = raw(name);
    if (value === '') problem(name, `is required: expected ${expected}`);
    else if (!pattern.test(value)) problem(name, `expected ${expected}, got ${quote(value)}`);
    return value;
  };
  const oneOf = <T extends string>(name: InputName, values: readonly T[]): T => {
    const value = raw(name);
    if (!(values as readonly string[]).includes(value)) {
      problem(name, `expected one of ${values.join(', ')}, got ${quote(value)}`);
    }
    return value as T;
  };
  const integer = (name: InputName, min: number, max: number): number => {
    const value = raw(name);
    if (!/^-?\d+$/.test(value)) {
      problem(name, `expected a whole number from ${min} to ${max}, got ${quote(value)}`);
      return min;
    }
    const parsed = Number(value);
    if (parsed < min || parsed > max) problem(name, `expected a whole number from ${min} to ${max}, got ${value}`);
    return parsed;
  };
  const boolean = (name: InputName): boolean => {
    const value = raw(name).toLowerCase();
    if (['true', 'yes', '1', 'on'].includes(value)) return true;
    if (['false', 'no', '0', 'off', ''].includes(value)) return false;
    problem(name, `expected true or false, got ${quote(raw(name))}`);
    return false;
  };
  const list = (name: InputName, pattern: RegExp, expected: string): string[] => {
    const items = raw(name)
      .split(/[\s,]+/)
      .map((s) => s.trim())
      .filter((s) => s !== '');
    for (const item of items) {
      if (!pattern.test(item)) problem(name, `expected ${expected}, got ${quote(item)}`);
    }
    return items;
  };
  const path = (name: InputName): string => {
    const value = raw(name);
    if (value.includes('\0')) problem(name, 'expected a file path, got a value with a NUL character');
    return value;
  };

  const command = raw('command');
  if (command === '') problem('command', `is required: expected one of ${COMMANDS.join(', ')}`);
  else if (!(COMMANDS as readonly string[]).includes(command)) {
    problem('command', `expected one of ${COMMANDS.join(', ')}, got ${quote(command)}`);
  }
  const commandName = command as CommandName;

  const regionValue = raw('aws-region') || env.AWS_REGION?.trim() || env.AWS_DEFAULT_REGION?.trim() || '';
  if (regionValue === '') {
    if ((COMMANDS as readonly string[]).includes(command) && callsAws(commandName, raw('registry'))) {
      problem('aws-region', 'is required: expected an AWS region such as us-east-1 (or set AWS_REGION)');
    }
  } else if (!REGION.test(regionValue)) {
    problem('aws-region', `expected an AWS region such as us-east-1, got ${quote(regionValue)}`);
  }

  const bucketValue = raw('bucket');
  let bucket: string | undefined;
  if (bucketValue !== '') {
    const why = bucketNameProblem(bucketValue);
    if (why) problem('bucket', `expected an S3 bucket name: it ${why}, got ${quote(bucketValue)}`);
    bucket = bucketValue;
  }

  const prefixValue = raw('bucket-prefix');
  let bucketPrefix = '';
  if (prefixValue !== '') {
    const trimmed = prefixValue.replace(/^\/+/, '').replace(/\/+$/, '');
    if (!/^[A-Za-z0-9!_.*'()/-]+$/.test(trimmed) || trimmed.split('/').some((part) => part === '' || part === '.' || part === '..')) {
      problem(
        'bucket-prefix',
        `expected a key prefix of letters, digits and !_.*'()- separated by single slashes (no . or .. parts), got ${quote(prefixValue)}`,
      );
    }
    bucketPrefix = `${trimmed}/`;
  }

  const name = (input: InputName): string =>
    required(input, RESOURCE_NAME, 'a name of up to 128 letters, digits, hyphens, underscores and dots');

  const settings: Settings = {
    command: commandName,
    region: regionValue,
    bucket,
    bucketPrefix,
    cluster: name('cluster'),
    service: name('service'),
    autoScalingGroup: name('auto-scaling-group'),
    launchTemplate: name('launch-template'),
    capacityProvider: name('capacity-provider'),
    subnets: list('subnets', SUBNET_ID, 'subnet ids such as subnet-0123456789abcdef0'),
    securityGroups: list('security-groups', SECURITY_GROUP_ID, 'security group ids such as sg-0123456789abcdef0'),
    instanceProfile: optional('instance-profile', INSTANCE_PROFILE, 'an instance profile name or ARN'),
    instanceType: required('instance-type', INSTANCE_TYPE, 'an EC2 instance type such as t3.small'),
    minSize: integer('min-size', 0, 100),
    maxSize: integer('max-size', 1, 100),
    architecture: oneOf('architecture', ['x86_64', 'arm64'] as const),
    baseAmiId: optional('base-ami-id', AMI_ID, 'an AMI id such as ami-0123456789abcdef0'),
    amiId: optional('ami-id', AMI_ID, 'an AMI id such as ami-0123456789abcdef0'),
    force: boolean('force'),
    mountDriver: oneOf('mount-driver', ['s3fs', 'mountpoint', 'mirror'] as const),
    mirrorReconcileSeconds: integer('mirror-reconcile-seconds', 5, 86400),
    amiNamePrefix: required('ami-name-prefix', AMI_NAME_PREFIX, '3 to 100 letters, digits and ()[]./_- characters'),
    ecrRepository: required('ecr-repository', ECR_REPOSITORY, 'an ECR repository name such as mapserver or team/mapserver'),
    registry: optional('registry', REGISTRY, 'a registry host[:port] such as 127.0.0.1:5000'),
    image: optional('image', IMAGE_REFERENCE, 'an image reference such as 123456789012.dkr.ecr.us-east-1.amazonaws.com/mapserver@sha256:<64 hex>'),
    keepImages: integer('keep-images', 1, 1000),
    imageTag: optional('image-tag', IMAGE_TAG, 'a Docker tag: up to 128 letters, digits, _ . and -, not starting with . or -'),
    taskRoleArn: optional('task-role-arn', IAM_ROLE_ARN, 'an IAM role ARN such as arn:aws:iam::123456789012:role/mapserver-task'),
    executionRoleArn: optional('execution-role-arn', IAM_ROLE_ARN, 'an IAM role ARN such as arn:aws:iam::123456789012:role/ecsTaskExecutionRole'),
    hostPort: integer('host-port', 0, 65535),
    targetGroupArn: optional('target-group-arn', TARGET_GROUP_ARN, 'an Elastic Load Balancing target group ARN'),
    cpu: integer('cpu', 128, 16384),
    memory: integer('memory', 128, 122880),
    desiredCount: integer('desired-count', 0, 100),
    logGroup: required('log-group', LOG_GROUP, 'a CloudWatch Logs group name such as /ecs/mapserver'),
    waitMinutes: integer('wait-minutes', 1, 360),
    minHealthyPercentage: integer('min-healthy-percentage', 0, 100),
    maxHealthyPercentage: integer('max-healthy-percentage', 100, 200),
    instanceWarmup: integer('instance-warmup', 0, 3600),
    keepAmis: integer('keep-amis', 1, 100),
    skipSteps: new Set(list('skip-steps', new RegExp(`^(${RELEASE_STEPS.join('|')})$`), `release steps from ${RELEASE_STEPS.join(', ')}`) as ReleaseStep[]),
    mapfilesDir: path('mapfiles-dir'),
    delete: boolean('delete'),
    format: oneOf('format', ['text', 'json'] as const),
    mapfile: path('mapfile') || undefined,
    output: path('output'),
    dryRun: boolean('dry-run'),
    paths,
  };

  // Relations between inputs.
  if (settings.minSize > settings.maxSize) {
    problem('min-size', `must not exceed max-size (${settings.maxSize}), got ${settings.minSize}`);
  }
  if (settings.desiredCount > settings.maxSize && settings.maxSize > 0) {
    problem('desired-count', `must not exceed max-size (${settings.maxSize}), got ${settings.desiredCount}`);
  }
  if (settings.targetGroupArn && settings.hostPort !== 0) {
    problem('host-port', `must be 0 (a dynamic port) when target-group-arn is set, got ${settings.hostPort}`);
  }
  // Packer and EC2 would find out only at launch, after credentials and a base AMI lookup.
  if (INSTANCE_TYPE_COMMANDS.has(commandName) && INSTANCE_TYPE.test(settings.instanceType) && ['x86_64', 'arm64'].includes(settings.architecture)) {
    const actual = instanceArchitecture(settings.instanceType);
    if (actual !== settings.architecture) {
      const example = settings.architecture === 'arm64' ? 't4g.small' : 't3.small';
      problem('instance-type', `${settings.instanceType} is an ${actual} instance type, but architecture is ${settings.architecture}: use an ${settings.architecture} type such as ${example}, or set architecture to ${actual}`);
    }
  }
  if (settings.maxHealthyPercentage - settings.minHealthyPercentage > 100) {
    problem('max-healthy-percentage', `must be at most min-healthy-percentage + 100 (${settings.minHealthyPercentage + 100}), got ${settings.maxHealthyPercentage}`);
  }

  if ((COMMANDS as readonly string[]).includes(command)) {
    for (const input of REQUIRED_INPUTS[commandName]) {
      if (raw(input) === '' && !problems.some((p) => p.input === input)) {
        problem(input, `is required by the ${commandName} command`);
      }
    }
    if (commandName === 'deploy' && settings.image && !settings.image.includes('@sha256:') && !problems.some((p) => p.input === 'image')) {
      problem('image', `expected an image by digest for the deploy command (repository@sha256:<64 hex>), got ${quote(settings.image)}`);
    }
    if (commandName === 'preview' && !settings.mapfile && paths.length === 0) {
      problem('mapfile', 'is required by the preview command: expected the path of a .map file');
    }
    if (commandName === 'preview' && settings.mapfile && !/\.map$/i.test(settings.mapfile)) {
      problem('mapfile', `expected the path of a .map file, got ${quote(settings.mapfile)}`);
    }
    if (settings.output !== '' && commandName === 'preview' && !/\.png$/i.test(settings.output)) {
      problem('output', `expected a path ending in .png, got ${quote(settings.output)}`);
    }
  }

  if (problems.length > 0) throw new InputError(problems);
  return settings;
}

function quote(value: string): string {
  const shown = value.length > 80 ? `${value.slice(0, 77)}...` : value;
  return JSON.stringify(shown);
}
