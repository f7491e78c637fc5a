// What a valid value looks like: one pattern or check for each kind of value the inputs, the steps and
// the scripts accept. Settings check inputs with these; steps check values from elsewhere (SSM, the
// environment, a previous step) with the same ones.

export type Architecture = 'x86_64' | 'arm64';

export const REGION = /^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$/;
export const AMI_ID = /^ami-([0-9a-f]{8}|[0-9a-f]{17})$/;
export const SUBNET_ID = /^subnet-([0-9a-f]{8}|[0-9a-f]{17})$/;
export const SECURITY_GROUP_ID = /^sg-([0-9a-f]{8}|[0-9a-f]{17})$/;
export const ACCOUNT_ID = /^\d{12}$/;
export const IAM_ROLE_ARN = /^arn:aws(-[a-z]+)*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/;
/** A GitHub repository as owner/name (GitHub's rules: owner 1-39 letters, digits, hyphens; name letters, digits, . _ -). */
export const GITHUB_REPOSITORY = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})\/(?!\.\.?$)[A-Za-z0-9._-]{1,100}$/;
export const INSTANCE_PROFILE = /^(arn:aws(-[a-z]+)*:iam::\d{12}:instance-profile\/)?[\w+=,.@/-]{1,128}$/;
export const TARGET_GROUP_ARN = /^arn:aws(-[a-z]+)*:elasticloadbalancing:[a-z0-9-]+:\d{12}:targetgroup\/[\w-]{1,32}\/[0-9a-f]{16}$/;
export const INSTANCE_TYPE = /^[a-z][a-z0-9-]*\.[a-z0-9]+$/;
/** A KMS key ARN (not an alias): what an IAM policy's Resource names. */
export const KMS_KEY_ARN = /^arn:aws(-[a-z]+)*:kms:[a-z0-9-]+:\d{12}:key\/(?:[0-9a-f-]{36}|mrk-[0-9a-f]{32})$/;
/** A KMS key as EC2 takes it: key id, multi-Region key id, alias name, or key or alias ARN. */
export const KMS_KEY = /^(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32}|alias\/[\w/-]{1,250}|arn:aws(-[a-z]+)*:kms:[a-z0-9-]+:\d{12}:(?:key\/(?:[0-9a-f-]{36}|mrk-[0-9a-f]{32})|alias\/[\w/-]{1,250}))$/;
/** ECS cluster/service, launch template, Auto Scaling group and capacity provider names share this shape. */
export const RESOURCE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
export const ECR_REPOSITORY = /^(?=.{2,256}$)[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$/;
export const IMAGE_TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
export const REGISTRY = /^[A-Za-z0-9.-]+(:\d{1,5})?$/;
export const LOG_GROUP = /^[\w#/.-]{1,512}$/;
/** A mirror selection pattern: a glob without spaces, commas, quotes or backslashes (checked on both sides). */
export const GLOB_PATTERN = /^[^\s,'"\\]{1,256}$/;
export const AMI_NAME_PREFIX = /^[A-Za-z0-9()[\]./_-]{3,100}$/;
/** A key prefix: letters, digits and !_.*'()- in parts separated by single slashes. */
const KEY_PREFIX = /^[A-Za-z0-9!_.*'()/-]+$/;
/** repository[:tag][@sha256:digest]; a registry host has a dot or a port, or is localhost (Docker's rule). */
export const IMAGE_REFERENCE =
  /^(?:(?:[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+(?::\d+)?|[A-Za-z0-9-]+:\d+|localhost)\/)?[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*(?::[\w][\w.-]{0,127})?(?:@sha256:[0-9a-f]{64})?$/;
const DIGEST = 'sha256:[0-9a-f]{64}';
const IMAGE_DIGEST = new RegExp(`^${DIGEST}$`);
/** host/repository@digest: the host, the repository and the digest of an image by digest. */
const IMAGE_BY_DIGEST = new RegExp(`^(?:([^/\\s@]+)/)?([^\\s@]+)@(${DIGEST})$`);

/** A content digest as registries report it: sha256:<64 hex>. */
export function isImageDigest(digest: string): boolean {
  return IMAGE_DIGEST.test(digest);
}

/** Tasks run images by digest, so a moved tag cannot change what a running service pulls. */
export function isImageByDigest(reference: string): boolean {
  return IMAGE_BY_DIGEST.test(reference);
}

/** The parts of an image by digest; undefined for any other reference. */
export function imageByDigestParts(reference: string): { host: string | undefined; repository: string; digest: string } | undefined {
  const match = IMAGE_BY_DIGEST.exec(reference);
  if (!match) return undefined;
  const [, host, repository = '', digest = ''] = match;
  return { host, repository, digest };
}

export const MAP_EXTENSION = /\.map$/i;

/** A mapfile is named *.map, in any case. */
export function hasMapExtension(path: string): boolean {
  return MAP_EXTENSION.test(path);
}

/** Graviton (arm64) instance families carry a `g` after the generation (t4g, m7gd, c8g) or are a1. */
export function instanceArchitecture(instanceType: string): Architecture {
  const family = instanceType.split('.')[0] ?? '';
  return /^a1$|^[a-z]+\d+g/.test(family) ? 'arm64' : 'x86_64';
}

/** S3 bucket naming rules for general-purpose buckets; undefined when the name follows them. */
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

/** A bucket prefix without its leading and trailing slashes; valid when it has no empty, . or .. part. */
export function isKeyPrefix(trimmed: string): boolean {
  return KEY_PREFIX.test(trimmed) && !trimmed.split('/').some((part) => part === '' || part === '.' || part === '..');
}

/** A value as an error message shows it: quoted, and cut short when long. */
export function quote(value: string): string {
  const shown = value.length > 80 ? `${value.slice(0, 77)}...` : value;
  return JSON.stringify(shown);
}
