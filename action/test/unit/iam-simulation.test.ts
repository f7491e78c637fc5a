// The generated policies under AWS's own evaluation rules, through an independent IAM policy simulator:
// what each role needs is allowed, what it must never do is denied, for the whole bucket and under a
// prefix; "*" holds exactly the actions AWS gives no resource type; the trust policy admits the
// production environment of the repository and nothing else.
import { describe, expect, it } from '@jest/globals';
import { GITHUB_OIDC_HOST, IAM_POLICIES, iamPolicy, pipelineTrustPolicy, type IamPolicyName, type IamValues, type PolicyDocument } from '../../src/aws/iam.js';
import { DEFAULT_NAMES, isWildcardOnly, simulate, simulateTrust, type IamRequest } from '../support/iam-simulator.js';

const ACCOUNT = '123456789012';
const role = (name: string): string => `arn:aws:iam::${ACCOUNT}:role/${name}`;
const values: IamValues = {
  region: 'eu-west-1',
  accountId: ACCOUNT,
  bucket: 'maps-bucket',
  bucketPrefix: 'maps/',
  ...DEFAULT_NAMES,
  instanceRoleArn: role('mapserver-instance'),
  taskRoleArn: role('mapserver-task'),
  executionRoleArn: role('mapserver-execution'),
};
const BUCKET = 'arn:aws:s3:::maps-bucket';
const TOPIC = `arn:aws:sns:eu-west-1:${ACCOUNT}:mapserver-ecs-mapfiles-maps-bucket`;
const IMAGE = 'arn:aws:ec2:eu-west-1::image/ami-0123456789abcdef0';
const GROUP = `arn:aws:autoscaling:eu-west-1:${ACCOUNT}:autoScalingGroup:0b5d5a6e-1c2f-4a7e-9d3b-2f6c8e1a4b7d:autoScalingGroupName/mapserver-ecs`;
const INSTANCE = `arn:aws:ec2:eu-west-1:${ACCOUNT}:instance/i-0123456789abcdef0`;
const MANAGED = { 'ec2:ResourceTag/mapserver-ecs:managed': 'true' };
type Row = [IamPolicyName, string, string, IamRequest['context']?];

/** Allowed for the whole bucket and under maps/. */
const ALLOWED: Row[] = [
  ...['DescribeRegions', 'DescribeSubnets', 'DescribeSecurityGroups', 'DescribeVolumes', 'DescribeSnapshots', 'DescribeImages', 'DescribeInstanceStatus'].map((a): Row => ['pipeline', `ec2:${a}`, '*']),
  ['pipeline', 'autoscaling:DescribeAutoScalingGroups', '*'],
  ['instance', 'ec2:DescribeTags', '*'],
  ['instance', 's3:ListBucket', BUCKET, { 's3:prefix': 'maps/' }],
  ['instance', 's3:ListBucket', BUCKET, { 's3:prefix': 'maps/roads.map' }],
  ['instance', 's3:GetObject', `${BUCKET}/maps/roads.map`],
  ['instance', 's3:GetObject', `${BUCKET}/maps/data/roads.csv`],
  ['pipeline', 's3:ListBucket', BUCKET],
  ['pipeline', 's3:PutObject', `${BUCKET}/maps/roads.map`],
  ['pipeline', 'iam:PassRole', values.taskRoleArn, { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' }],
  ['pipeline', 'iam:PassRole', values.instanceRoleArn, { 'iam:PassedToService': 'ec2.amazonaws.com' }],
  ['pipeline', 'ec2:DeregisterImage', IMAGE, MANAGED],
  ['instance', 'sns:Subscribe', TOPIC],
  // Announced calls: the launch lifecycle hook, the instance draining itself, Packer over Session Manager.
  ['pipeline', 'autoscaling:PutLifecycleHook', GROUP],
  ['pipeline', 'autoscaling:DescribeLifecycleHooks', '*'],
  ['instance', 'autoscaling:CompleteLifecycleAction', GROUP],
  ['instance', 'autoscaling:SetInstanceHealth', GROUP],
  ['instance', 'ecs:UpdateContainerInstancesState', `arn:aws:ecs:eu-west-1:${ACCOUNT}:container-instance/mapserver/0123456789abcdef`],
  ['pipeline', 'ssm:StartSession', `arn:aws:ec2:eu-west-1:${ACCOUNT}:instance/i-0123456789abcdef0`],
  // The simulator parses no ARN without an account; the policy's ":*:" also matches AWS's account-less form.
  ['pipeline', 'ssm:StartSession', `arn:aws:ssm:eu-west-1:${ACCOUNT}:document/AWS-StartPortForwardingSession`],
  ['pipeline', 's3:GetBucketNotification', BUCKET],
  // A failed refresh names its instances: scaling activities and the instance's launch-failure tag.
  ['pipeline', 'autoscaling:DescribeScalingActivities', '*'],
  ['pipeline', 'ec2:DescribeTags', '*'],
  ['instance', 'ec2:CreateTags', INSTANCE, { 'aws:TagKeys': ['mapserver-ecs:launch-failure'], 'ec2:ResourceTag/aws:autoscaling:groupName': 'mapserver-ecs' }],
];

/** Denied whatever the prefix: what each role must never be able to do. */
const DENIED: Row[] = [
  ['instance', 's3:PutObject', `${BUCKET}/maps/roads.map`],
  ['instance', 's3:DeleteObject', `${BUCKET}/maps/roads.map`],
  ['instance', 's3:GetObject', 'arn:aws:s3:::other-bucket/maps/roads.map'],
  ['instance', 's3:ListBucket', 'arn:aws:s3:::other-bucket'],
  ['instance', 'ecs:UpdateService', `arn:aws:ecs:eu-west-1:${ACCOUNT}:service/mapserver/mapserver`],
  ['instance', 'sqs:DeleteQueue', `arn:aws:sqs:eu-west-1:${ACCOUNT}:orders`],
  ['instance', 'autoscaling:CompleteLifecycleAction', `arn:aws:autoscaling:eu-west-1:${ACCOUNT}:autoScalingGroup:1:autoScalingGroupName/other`],
  ['instance', 'iam:PassRole', values.taskRoleArn, { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' }],
  ['pipeline', 'iam:PassRole', role('admin'), { 'iam:PassedToService': 'ec2.amazonaws.com' }],
  ['pipeline', 'iam:PassRole', role('admin'), { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' }],
  ['pipeline', 'iam:PassRole', values.instanceRoleArn, { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' }],
  ['pipeline', 'iam:PassRole', values.taskRoleArn, { 'iam:PassedToService': 'lambda.amazonaws.com' }],
  ['pipeline', 'iam:CreateUser', `arn:aws:iam::${ACCOUNT}:user/intruder`],
  ['pipeline', 'iam:CreateAccessKey', `arn:aws:iam::${ACCOUNT}:user/deployer`],
  ['pipeline', 'iam:AttachUserPolicy', `arn:aws:iam::${ACCOUNT}:user/deployer`],
  ['pipeline', 'iam:PutRolePolicy', values.instanceRoleArn],
  ['pipeline', 's3:DeleteBucket', BUCKET],
  ['pipeline', 's3:PutObject', 'arn:aws:s3:::other-bucket/maps/roads.map'],
  ['pipeline', 'ecs:DeleteCluster', `arn:aws:ecs:eu-west-1:${ACCOUNT}:cluster/mapserver`],
  ['pipeline', 'sns:DeleteTopic', TOPIC],
  ['pipeline', 'sns:SetTopicAttributes', 'arn:aws:sns:eu-west-1:999999999999:mapserver-ecs-mapfiles-maps-bucket'],
  ['instance', 'sns:Subscribe', 'arn:aws:sns:eu-west-1:999999999999:mapserver-ecs-mapfiles-maps-bucket'],
  ['pipeline', 'ec2:DeregisterImage', IMAGE],
  ['pipeline', 'ec2:DeregisterImage', IMAGE, { 'ec2:ResourceTag/mapserver-ecs:managed': 'false' }],
  ['pipeline', 'ecr:PutImage', `arn:aws:ecr:eu-west-1:${ACCOUNT}:repository/other`],
  ['instance', 'autoscaling:CompleteLifecycleAction', GROUP.replace('mapserver-ecs', 'other')],
  ['pipeline', 'ssm:StartSession', `arn:aws:ssm:eu-west-1:${ACCOUNT}:document/AWS-RunShellScript`],
  ['instance', 'ec2:CreateTags', INSTANCE, { 'aws:TagKeys': ['mapserver-ecs:managed'], 'ec2:ResourceTag/aws:autoscaling:groupName': 'mapserver-ecs' }],
  ['instance', 'ec2:CreateTags', INSTANCE, { 'aws:TagKeys': ['mapserver-ecs:launch-failure'], 'ec2:ResourceTag/aws:autoscaling:groupName': 'other' }],
  ['instance', 'ec2:CreateTags', INSTANCE, { 'aws:TagKeys': ['mapserver-ecs:launch-failure'] }],
  ['task', 's3:PutObject', `${BUCKET}/maps/roads.map`],
  ['execution', 's3:GetObject', `${BUCKET}/maps/roads.map`],
];

/** Under maps/ only: another prefix. */
const DENIED_UNDER_PREFIX: Row[] = [
  ['instance', 's3:ListBucket', BUCKET],
  ['instance', 's3:ListBucket', BUCKET, { 's3:prefix': 'other/' }],
  ['instance', 's3:GetObject', `${BUCKET}/other/roads.map`],
  ['pipeline', 's3:PutObject', `${BUCKET}/other/roads.map`],
  ['pipeline', 's3:DeleteObject', `${BUCKET}/other/roads.map`],
];

/** For the whole bucket only: listing it all, reading anywhere. */
const ALLOWED_WHOLE_BUCKET: Row[] = [
  ['instance', 's3:ListBucket', BUCKET],
  ['instance', 's3:ListBucket', BUCKET, { 's3:prefix': 'other/' }],
  ['instance', 's3:GetObject', `${BUCKET}/other/roads.map`],
];

const KEY = `arn:aws:kms:eu-west-1:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;
const OTHER_KEY = `arn:aws:kms:eu-west-1:${ACCOUNT}:key/0000abcd-12ab-34cd-56ef-1234567890ab`;
const FOR_AWS_RESOURCE = { 'kms:GrantIsForAWSResource': 'true' };
const VOLUME_KEY_ACTIONS = ['kms:DescribeKey', 'kms:GenerateDataKeyWithoutPlaintext', 'kms:ReEncryptFrom', 'kms:ReEncryptTo', 'kms:Decrypt'];

// AWS's default key policy: it delegates to the account, so the key is used as IAM policies allow.
const DEFAULT_KEY_POLICY: PolicyDocument = {
  Version: '2012-10-17',
  Statement: [{ Sid: 'Enable IAM User Permissions', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'kms:*', Resource: '*' }],
};

/** With --kms-key-id: EBS encryption with that key only, and grants only for an AWS service. */
const ALLOWED_WITH_KEY: Row[] = [...VOLUME_KEY_ACTIONS.map((a): Row => ['pipeline', a, KEY]), ['pipeline', 'kms:CreateGrant', KEY, FOR_AWS_RESOURCE]];
const DENIED_WITH_KEY: Row[] = [
  ...VOLUME_KEY_ACTIONS.map((a): Row => ['pipeline', a, OTHER_KEY]),
  ['pipeline', 'kms:CreateGrant', OTHER_KEY, FOR_AWS_RESOURCE],
  ['pipeline', 'kms:CreateGrant', KEY, { 'kms:GrantIsForAWSResource': 'false' }],
  ['pipeline', 'kms:CreateGrant', KEY],
  ['pipeline', 'kms:Encrypt', KEY],
  ['pipeline', 'kms:ScheduleKeyDeletion', KEY],
  ['pipeline', 'kms:PutKeyPolicy', KEY],
  ['instance', 'kms:Decrypt', KEY],
];

async function verdicts(prefix: string, rows: Row[], kmsKeyArn?: string): Promise<string[]> {
  return Promise.all(
    rows.map(async ([name, action, resource, context]) => {
      const verdict = await simulate(iamPolicy(name, { ...values, bucketPrefix: prefix, ...(kmsKeyArn ? { kmsKeyArn } : {}) }), { action, resource, ...(context ? { context } : {}), ...(action.startsWith('kms:') ? { resourcePolicy: DEFAULT_KEY_POLICY } : {}) });
      const ignored = verdict.ignoredKeys.length > 0 ? ` (ignored ${verdict.ignoredKeys.join(', ')})` : '';
      return `${name} ${action} ${resource} ${JSON.stringify(context ?? {})}: ${verdict.result}${ignored}`;
    }),
  );
}

const expectAll = (lines: string[], result: string): void => expect(lines.filter((line) => !line.endsWith(`: ${result}`))).toEqual([]);

describe.each([
  ['the whole bucket', ''],
  ['bucket-prefix maps/', 'maps/'],
])('simulated against the policies for %s', (_label, prefix) => {
  it('allows what each role needs, evaluating every condition key it is given', async () => {
    expectAll(await verdicts(prefix, [...ALLOWED, ...(prefix === '' ? ALLOWED_WHOLE_BUCKET : [])]), 'Allowed');
  });

  it('denies the negative table: other buckets, prefixes, roles, accounts; writes from an instance; IAM changes; deletions', async () => {
    expectAll(await verdicts(prefix, [...DENIED, ...(prefix === '' ? [] : DENIED_UNDER_PREFIX)]), 'ImplicitlyDenied');
  });
});

describe('with kms-key-id, the pipeline policy', () => {
  it('allows EBS encryption with that key, grants only for AWS resources', async () => {
    expectAll(await verdicts('', ALLOWED_WITH_KEY, KEY), 'Allowed');
  });

  it('denies another key, grants for anyone, other KMS actions, and the instance role', async () => {
    expectAll(await verdicts('', DENIED_WITH_KEY, KEY), 'ImplicitlyDenied');
  });

  it('without kms-key-id, denies every KMS action', async () => {
    expectAll(await verdicts('', ALLOWED_WITH_KEY), 'ImplicitlyDenied');
  });
});

describe('"Resource": "*"', () => {
  it.each(IAM_POLICIES)('in the %s policy, holds exactly the actions AWS gives no resource type', async (name) => {
    const misplaced: string[] = [];
    for (const statement of iamPolicy(name, { ...values, kmsKeyArn: KEY }).Statement) {
      for (const action of [statement.Action].flat()) {
        const anyResource = statement.Resource === '*';
        if ((await isWildcardOnly(action)) !== anyResource) misplaced.push(`${statement.Sid}: ${action} ${anyResource ? 'needs a resource' : 'supports no resource, only "*"'}`);
      }
    }
    expect(misplaced).toEqual([]);
  });

  it('each policy fits the size AWS allows a managed policy (6,144 characters without whitespace)', () => {
    for (const name of IAM_POLICIES) expect(JSON.stringify(iamPolicy(name, values)).length).toBeLessThanOrEqual(6144);
  });
});

describe('the pipeline trust policy', () => {
  const trust = pipelineTrustPolicy(ACCOUNT, 'o/r');
  const provider = `arn:aws:iam::${ACCOUNT}:oidc-provider/${GITHUB_OIDC_HOST}`;
  const assume = (sub: string, aud = 'sts.amazonaws.com', from = provider): string =>
    simulateTrust(trust, from, role('pipeline'), { [`${GITHUB_OIDC_HOST}:sub`]: sub, [`${GITHUB_OIDC_HOST}:aud`]: aud });

  it('admits the production environment of the repository', () => {
    expect(assume('repo:o/r:environment:production')).toBe('Allowed');
  });

  it.each([
    ['a pull request', 'repo:o/r:pull_request'],
    ['the main branch without an environment', 'repo:o/r:ref:refs/heads/main'],
    ['another branch', 'repo:o/r:ref:refs/heads/feature'],
    ['a tag', 'repo:o/r:ref:refs/tags/v1'],
    ['another environment', 'repo:o/r:environment:staging'],
    ['another repository', 'repo:o/other:environment:production'],
    ['another owner', 'repo:x/r:environment:production'],
  ])('refuses %s', (_label, sub) => {
    expect(assume(sub)).toBe('ImplicitlyDenied');
  });

  it('refuses another audience and another identity provider', () => {
    expect(assume('repo:o/r:environment:production', 'sts.example')).toBe('ImplicitlyDenied');
    expect(assume('repo:o/r:environment:production', 'sts.amazonaws.com', `arn:aws:iam::${ACCOUNT}:oidc-provider/example.com`)).toBe('ImplicitlyDenied');
  });
});
