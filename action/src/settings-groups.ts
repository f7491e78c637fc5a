// Inputs read together because each defaults from another: instance-type and architecture, and the
// bake instance's settings (bake-subnet falls back to subnets), and mount-driver, whose absence means "the AMI's".
import type { InputReader } from './input-reader.js';
import * as value from './values.js';
import { instanceArchitecture, quote, type Architecture } from './values.js';

export type BakeConnection = 'public-ip' | 'private-ip' | 'session-manager';

/** Instance type used when none is given and nothing exists to keep it from. */
export const DEFAULT_INSTANCE_TYPE: Record<Architecture, string> = { x86_64: 't3.small', arm64: 't4g.small' };

/**
 * instance-type and architecture, each defaulting from the other: an arm64 type means arm64, and
 * arm64 means t4g.small. Whether the type was given decides whether a roll may change it.
 */
export function readInstanceType(r: InputReader): { instanceType: string; instanceTypeGiven: boolean; architecture: Architecture; architectureGiven: boolean } {
  const given = r.raw('instance-type');
  if (given !== '' && !value.INSTANCE_TYPE.test(given)) r.problem('instance-type', `expected an EC2 instance type such as t3.small, got ${quote(given)}`);
  const architecture: Architecture =
    r.raw('architecture') === '' ? (given !== '' && value.INSTANCE_TYPE.test(given) ? instanceArchitecture(given) : 'x86_64') : r.oneOf('architecture', ['x86_64', 'arm64'] as const);
  return { instanceType: given || DEFAULT_INSTANCE_TYPE[architecture] || 't3.small', instanceTypeGiven: given !== '', architecture, architectureGiven: r.raw('architecture') !== '' };
}

/** Where the bake instance runs and how Packer reaches it; bake-subnet defaults to the first of subnets. */
export function readBakeSettings(r: InputReader): { bakeSubnet: string | undefined; bakeConnection: BakeConnection; volumeSize: number; kmsKeyId: string | undefined } {
  const subnets = r.raw('subnets').split(/[\s,]+/).filter((s) => s !== '');
  return {
    bakeSubnet: r.optional('bake-subnet', value.SUBNET_ID, 'a subnet id such as subnet-0123456789abcdef0') ?? subnets[0],
    bakeConnection: r.oneOf('bake-connection', ['public-ip', 'private-ip', 'session-manager'] as const),
    volumeSize: r.integer('volume-size', 30, 1024),
    kmsKeyId: r.optional('kms-key-id', value.KMS_KEY, 'a KMS key id, alias/name, or key or alias ARN'),
  };
}

/** mount-driver, and whether it was given: unset means mirror for a bake and the AMI's recorded driver for instances. */
export function readMountDriver(r: InputReader): { mountDriver: 's3fs' | 'mountpoint' | 'mirror'; mountDriverGiven: boolean } {
  const given = r.raw('mount-driver') !== '';
  return { mountDriver: given ? r.oneOf('mount-driver', ['s3fs', 'mountpoint', 'mirror'] as const) : 'mirror', mountDriverGiven: given };
}
