// The Packer variables file of a bake: its values, checked before Packer runs (each refusal names
// the input it came from), and rendered from packer/templates into HCL.
import { isBareEndpoint } from '../endpoint.js';
import { InputError, type InputProblem } from '../errors.js';
import { isGitRevision } from '../git.js';
import { render, RenderError } from '../render.js';
import type { MountDriver, Settings } from '../settings.js';
import { AMI_ID, AMI_NAME_PREFIX, INSTANCE_TYPE, instanceArchitecture, REGION, type Architecture } from '../values.js';

/** What the variables template needs; each value names the input it came from. */
export interface PackerVariables {
  region: string;
  sourceAmi: string;
  architecture: Architecture;
  instanceType: string;
  amiNamePrefix: string;
  mountDriver: MountDriver;
  gitRevision: string;
  /** The bake instance's subnet; '' for the default VPC. */
  subnetId: string;
  sshInterface: 'public_ip' | 'private_ip' | 'session_manager';
  associatePublicIp: boolean;
  /** Name of the bake instance's profile; '' unless Session Manager needs one. */
  iamInstanceProfile: string;
  volumeSize: number;
  kmsKeyId: string;
  /** EC2 endpoint of an API emulator; provisioners cannot run against it. */
  ec2Endpoint?: string;
  /** The input hash and manifest tags (fingerprint.ts); none when rendered by hand. */
  inputTags?: Array<{ key: string; value: string }>;
  /** The workflow run that bakes (provenance.ts); none outside GitHub Actions. Not an input of the bake. */
  provenanceTags?: Array<{ key: string; value: string }>;
}

/** Where each template value comes from, so a refused value names its input. */
const VARIABLE_INPUTS: Record<keyof PackerVariables, string> = {
  region: 'aws-region',
  sourceAmi: 'base-ami-id',
  architecture: 'architecture',
  instanceType: 'instance-type',
  amiNamePrefix: 'ami-name-prefix',
  mountDriver: 'mount-driver',
  gitRevision: 'GITHUB_SHA',
  subnetId: 'bake-subnet',
  sshInterface: 'bake-connection',
  associatePublicIp: 'bake-connection',
  iamInstanceProfile: 'instance-profile',
  volumeSize: 'volume-size',
  kmsKeyId: 'kms-key-id',
  ec2Endpoint: 'AWS_ENDPOINT_URL',
  inputTags: 'bake',
  provenanceTags: 'GITHUB_REPOSITORY',
};

export const VARIABLES_TEMPLATE = 'packer/templates/mapserver-ecs.auto.pkrvars.hcl.hbs';
export const VARIABLES_FILE = 'mapserver-ecs.auto.pkrvars.hcl';
/**
 * Checks every value the variables file will hold, before anything runs. Settings were validated
 * already; this guards the values that come from elsewhere (SSM, the environment) and the
 * relation between instance type and architecture, which Packer would only find out at launch.
 */
export function packerVariables(settings: Settings, baseAmiId: string, gitRevision: string | undefined, endpoint: string | undefined): PackerVariables {
  const problems: InputProblem[] = [];
  const expect = (ok: boolean, input: string, message: string): void => {
    if (!ok) problems.push({ input, message });
  };
  expect(REGION.test(settings.region), 'aws-region', `expected an AWS region such as us-east-1, got ${JSON.stringify(settings.region)}`);
  expect(AMI_ID.test(baseAmiId), 'base-ami-id', `expected an AMI id such as ami-0123456789abcdef0, got ${JSON.stringify(baseAmiId)}`);
  expect(
    settings.architecture === 'x86_64' || settings.architecture === 'arm64',
    'architecture',
    `expected one of x86_64, arm64, got ${JSON.stringify(settings.architecture)}`,
  );
  if (INSTANCE_TYPE.test(settings.instanceType)) {
    const actual = instanceArchitecture(settings.instanceType);
    expect(
      actual === settings.architecture,
      'instance-type',
      `${settings.instanceType} is an ${actual} instance type, but architecture is ${settings.architecture} (use for example ${settings.architecture === 'arm64' ? 't4g.small' : 't3.small'})`,
    );
  } else {
    problems.push({ input: 'instance-type', message: `expected an EC2 instance type such as t3.small, got ${JSON.stringify(settings.instanceType)}` });
  }
  expect(AMI_NAME_PREFIX.test(settings.amiNamePrefix), 'ami-name-prefix', `expected 3 to 100 letters, digits and ()[]./_- characters, got ${JSON.stringify(settings.amiNamePrefix)}`);
  expect(['s3fs', 'mountpoint', 'mirror'].includes(settings.mountDriver), 'mount-driver', `expected one of s3fs, mountpoint, mirror, got ${JSON.stringify(settings.mountDriver)}`);
  if (endpoint !== undefined) {
    expect(isBareEndpoint(endpoint), 'AWS_ENDPOINT_URL', `expected http(s)://host[:port] of an emulator, got ${JSON.stringify(endpoint)}`);
  }
  if (problems.length > 0) throw new InputError(problems);
  return {
    region: settings.region,
    sourceAmi: baseAmiId,
    architecture: settings.architecture,
    instanceType: settings.instanceType,
    amiNamePrefix: settings.amiNamePrefix,
    mountDriver: settings.mountDriver,
    gitRevision: gitRevision && isGitRevision(gitRevision) ? gitRevision : 'unknown',
    ...bakeInstance(settings),
    ...(endpoint ? { ec2Endpoint: endpoint.replace(/\/$/, '') } : {}),
  };
}

/** Where the bake instance runs and how Packer reaches it (bake-subnet, bake-connection, volume-size, kms-key-id). */
function bakeInstance(settings: Settings): Pick<PackerVariables, 'subnetId' | 'sshInterface' | 'associatePublicIp' | 'iamInstanceProfile' | 'volumeSize' | 'kmsKeyId'> {
  const sessionManager = settings.bakeConnection === 'session-manager';
  return {
    subnetId: settings.bakeSubnet ?? '',
    sshInterface: sessionManager ? 'session_manager' : settings.bakeConnection === 'private-ip' ? 'private_ip' : 'public_ip',
    associatePublicIp: settings.bakeConnection === 'public-ip',
    // Packer takes the profile's name; an ARN ends with it.
    iamInstanceProfile: sessionManager ? (settings.instanceProfile ?? '').split('/').pop() ?? '' : '',
    volumeSize: settings.volumeSize,
    kmsKeyId: settings.kmsKeyId ?? '',
  };
}

/** Renders the variables file; a value that cannot be written as HCL is refused, naming its input. */
export function renderPackerVariables(template: string, variables: PackerVariables): string {
  try {
    return render(template, { inputTags: [], provenanceTags: [], ...variables }, VARIABLES_TEMPLATE);
  } catch (error) {
    if (!(error instanceof RenderError)) throw error;
    const name = Object.keys(VARIABLE_INPUTS).find((key) => error.message.includes(`{{${key}}}`)) as keyof PackerVariables | undefined;
    const input = name ? VARIABLE_INPUTS[name] : 'bake';
    throw new InputError([{ input, message: `cannot be written into the Packer variables file: ${error.message}` }]);
  }
}
