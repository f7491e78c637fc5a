// The shipped IAM policies against what the code actually calls: every AWS SDK command used in
// action/src maps to an IAM action the pipeline policy allows, and the policy allows nothing that
// neither the code nor the tools it runs (Packer, docker push) need.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { allowedActions, iamArns, iamPolicy, iamPolicyTable, policyAllows, withIamPolicyTable, type IamPolicyName, type IamValues, type PolicyDocument } from '../../src/aws/iam.js';
import { parseSettings } from '../../src/settings.js';
import { renderTaskDefinition } from '../../src/steps/task-definition.js';
import { DIGEST_IMAGE } from '../../../scripts/support/command-context.js';
import { DEFAULT_NAMES } from '../support/iam-simulator.js';

const values: IamValues = {
  region: 'eu-west-1',
  accountId: '123456789012',
  bucket: 'maps-bucket',
  bucketPrefix: 'maps/',
  ...DEFAULT_NAMES,
  instanceRoleArn: 'arn:aws:iam::123456789012:role/mapserver-instance',
  taskRoleArn: 'arn:aws:iam::123456789012:role/mapserver-task',
  executionRoleArn: 'arn:aws:iam::123456789012:role/mapserver-execution',
};

/** IAM service prefix of each SDK client package. */
const SERVICE_PREFIX: Record<string, string> = { ec2: 'ec2', ecs: 'ecs', 'auto-scaling': 'autoscaling', ecr: 'ecr', ssm: 'ssm', s3: 's3', sns: 'sns', sqs: 'sqs' };
/** Operations whose IAM action has another name (S3's, and batch calls). */
const RENAMED: Record<string, string[]> = {
  'sqs:DeleteMessageBatch': ['sqs:DeleteMessage'],
};
/** S3 operations whose IAM action has another name. */
const S3_ACTIONS: Record<string, string[]> = {
  ListObjectsV2: ['s3:ListBucket'],
  ListObjects: ['s3:ListBucket'],
  HeadBucket: ['s3:ListBucket'],
  HeadObject: ['s3:GetObject'],
  GetObject: ['s3:GetObject'],
  PutObject: ['s3:PutObject'],
  CopyObject: ['s3:GetObject', 's3:PutObject'],
  DeleteObject: ['s3:DeleteObject'],
  DeleteObjects: ['s3:DeleteObject'],
  CreateMultipartUpload: ['s3:PutObject'],
  UploadPart: ['s3:PutObject'],
  CompleteMultipartUpload: ['s3:PutObject'],
  AbortMultipartUpload: ['s3:AbortMultipartUpload'],
  GetBucketNotificationConfiguration: ['s3:GetBucketNotification'],
  PutBucketNotificationConfiguration: ['s3:PutBucketNotification'],
};
/** Calls made by tools the action runs, not by the SDK: Packer's amazon-ebs builder and docker push to ECR. */
const TOOL_ACTIONS = [
  ...[
    'AttachVolume', 'AuthorizeSecurityGroupIngress', 'CreateImage', 'CreateKeyPair', 'CreateSecurityGroup', 'CreateSnapshot', 'CreateTags', 'CreateVolume',
    'DeleteKeyPair', 'DeleteSecurityGroup', 'DeleteSnapshot', 'DeleteVolume', 'DescribeImageAttribute', 'DescribeImages', 'DescribeInstances',
    'DescribeInstanceStatus', 'DescribeRegions', 'DescribeSecurityGroups', 'DescribeSnapshots', 'DescribeSubnets', 'DescribeTags', 'DescribeVolumes',
    'DetachVolume', 'ModifyImageAttribute', 'ModifyInstanceAttribute', 'ModifySnapshotAttribute', 'RegisterImage', 'RunInstances', 'StopInstances',
    'TerminateInstances',
  ].map((a) => `ec2:${a}`),
  ...['BatchCheckLayerAvailability', 'BatchGetImage', 'CompleteLayerUpload', 'GetDownloadUrlForLayer', 'InitiateLayerUpload', 'PutImage', 'UploadLayerPart'].map((a) => `ecr:${a}`),
];
/** Actions AWS checks on top of the API call itself (tags on create, roles handed over, first use of a service). */
const IMPLIED_ACTIONS = ['ecs:TagResource', 'ecr:TagResource', 'autoscaling:CreateOrUpdateTags', 'sns:TagResource', 'iam:PassRole', 'iam:CreateServiceLinkedRole'];
/**
 * Calls announced for the pipeline and granted ahead of the code that makes them: the launch lifecycle
 * hook (bootstrap), and Packer's connection over Session Manager (bake).
 */
const ANNOUNCED_ACTIONS = ['autoscaling:PutLifecycleHook', 'autoscaling:DescribeLifecycleHooks', 'ssm:StartSession', 'ssm:TerminateSession', 'ssm:ResumeSession'];
/** The mirror runs on the instances, with the instance role: its calls are not the pipeline's. */
const MIRROR_SOURCE = join('action', 'src', 'mirror');

function sourceFiles(dir: string, skip?: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (path === skip) return [];
    if (entry.isDirectory()) return sourceFiles(path, skip);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** Every `new XCommand(` in action/src whose class is imported from an AWS SDK client, as IAM actions. */
function actionsTheCodeCalls(files = sourceFiles(join('action', 'src'), MIRROR_SOURCE)): Map<string, string[]> {
  const found = new Map<string, string[]>();
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    for (const match of text.matchAll(/import\s*\{([^}]*)\}\s*from\s*'@aws-sdk\/client-([a-z0-9-]+)'/g)) {
      const client = match[2] ?? '';
      const prefix = SERVICE_PREFIX[client];
      for (const raw of (match[1] ?? '').split(',')) {
        // `DescribeImagesCommand as DescribeEcrImagesCommand`: the SDK name decides, the local one is called.
        const [name = '', local = name] = raw.trim().replace(/^type\s+/, '').split(/\s+as\s+/);
        if (!name.endsWith('Command') || !text.includes(`new ${local}(`)) continue;
        const operation = name.slice(0, -'Command'.length);
        if (!prefix) throw new Error(`${file}: no IAM prefix known for @aws-sdk/client-${client}`);
        const actions = client === 's3' ? S3_ACTIONS[operation] : (RENAMED[`${prefix}:${operation}`] ?? [`${prefix}:${operation}`]);
        if (!actions) throw new Error(`${file}: map the S3 operation ${operation} to its IAM actions in this test`);
        for (const action of actions) found.set(action, [...(found.get(action) ?? []), file]);
      }
    }
  }
  return found;
}

const load = async (name: IamPolicyName, over: Partial<IamValues> = {}): Promise<PolicyDocument> => iamPolicy(name, { ...values, ...over });

describe('the pipeline (GitHub OIDC) role policy', () => {
  it('allows every AWS call the code makes', async () => {
    const policy = await load('pipeline');
    const calls = actionsTheCodeCalls();
    expect(calls.size).toBeGreaterThan(25);
    expect([...calls.keys()]).toEqual(expect.arrayContaining(['ecs:UpdateService', 'autoscaling:StartInstanceRefresh', 'ec2:DeregisterImage', 's3:ListBucket']));
    const missing = [...calls].filter(([action]) => !policyAllows(policy, action)).map(([action, files]) => `${action} (${files.join(', ')})`);
    expect(missing).toEqual([]);
  });

  it('allows nothing the code or its tools do not call', async () => {
    const policy = await load('pipeline');
    const needed = new Set([...actionsTheCodeCalls().keys(), ...TOOL_ACTIONS, ...IMPLIED_ACTIONS, ...ANNOUNCED_ACTIONS]);
    const extra = allowedActions(policy).filter((action) => !needed.has(action));
    expect(extra).toEqual([]);
    expect(allowedActions(policy).some((a) => a.includes('*'))).toBe(false);
  });

  it('scopes resources: only read and register calls that support no resource ARN use "*"', async () => {
    const policy = await load('pipeline');
    const unscoped = policy.Statement.filter((s) => s.Resource === '*' && !s.Condition).flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action]));
    for (const action of unscoped) expect(action).toMatch(/^(ec2:Describe|autoscaling:Describe|ecs:Describe|ecs:RegisterTaskDefinition$|ecr:GetAuthorizationToken$|sns:ListTopics$|sqs:ListQueues$)/);
    const statement = (sid: string) => policy.Statement.find((s) => s.Sid === sid);
    expect(statement('MapfileBucketSync')?.Resource).toBe('arn:aws:s3:::maps-bucket/maps/*');
    expect(statement('EcsService')?.Resource).toBe('arn:aws:ecs:eu-west-1:123456789012:service/mapserver/mapserver');
    expect(statement('CleanupManagedAmis')?.Condition).toEqual({ StringEquals: { 'ec2:ResourceTag/mapserver-ecs:managed': 'true' } });
    expect(statement('MirrorQueuesOfEndedInstances')?.Resource).toBe('arn:aws:sqs:eu-west-1:123456789012:mapserver-ecs-mirror-*');
    expect(statement('MirrorEventsTopic')?.Resource).toBe('arn:aws:sns:eu-west-1:123456789012:mapserver-ecs-mapfiles-maps-bucket');
    expect(statement('PassInstanceRole')).toMatchObject({ Resource: values.instanceRoleArn, Condition: { StringEquals: { 'iam:PassedToService': 'ec2.amazonaws.com' } } });
    expect(statement('PassTaskRoles')).toMatchObject({ Resource: [values.taskRoleArn, values.executionRoleArn], Condition: { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } } });
  });
});

describe('the instance role policy', () => {
  it('lets the ECS agent register and the mount read the bucket, and nothing more', async () => {
    const policy = await load('instance');
    for (const action of ['ecs:RegisterContainerInstance', 'ecs:DiscoverPollEndpoint', 'ecs:Poll', 'ecs:SubmitTaskStateChange', 'ecs:StartTelemetrySession']) {
      expect(policyAllows(policy, action)).toBe(true);
    }
    expect(policyAllows(policy, 'ecs:CreateCluster')).toBe(false);
    const s3 = allowedActions(policy).filter((a) => a.startsWith('s3:'));
    expect(s3.sort()).toEqual(['s3:GetObject', 's3:ListBucket']);
    const s3Resources = policy.Statement.filter((s) => (Array.isArray(s.Action) ? s.Action : [s.Action]).some((a) => a.startsWith('s3:'))).map((s) => s.Resource);
    expect(s3Resources).toEqual(['arn:aws:s3:::maps-bucket', 'arn:aws:s3:::maps-bucket/maps/*']);
  });

  it('allows every call of the mirror (action/src/mirror), on its own queue and the bucket topic only', async () => {
    const policy = await load('instance');
    const calls = actionsTheCodeCalls(sourceFiles(MIRROR_SOURCE));
    expect([...calls.keys()]).toEqual(expect.arrayContaining(['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sns:Subscribe', 's3:GetObject', 's3:ListBucket']));
    const missing = [...calls.keys()].filter((action) => !policyAllows(policy, action));
    expect(missing).toEqual([]);
    const mirrorActions = allowedActions(policy).filter((a) => a.startsWith('sqs:') || a.startsWith('sns:'));
    const needed = new Set([...calls.keys(), 'sqs:TagQueue']);
    expect(mirrorActions.filter((a) => !needed.has(a))).toEqual([]);
    const statement = (sid: string) => policy.Statement.find((s) => s.Sid === sid);
    expect(statement('MirrorOwnQueue')?.Resource).toBe('arn:aws:sqs:eu-west-1:123456789012:mapserver-ecs-mirror-*');
    expect(statement('MirrorSubscription')?.Resource).toBe('arn:aws:sns:eu-west-1:123456789012:mapserver-ecs-mapfiles-maps-bucket');
  });

  it('covers the whole bucket when there is no prefix', async () => {
    const policy = await load('instance', { bucketPrefix: '' });
    expect(policy.Statement.find((s) => s.Sid === 'MapfileBucketRead')?.Resource).toBe('arn:aws:s3:::maps-bucket/*');
    // A listing of the whole bucket carries no s3:prefix: any condition on it would refuse the listing.
    expect(policy.Statement.find((s) => s.Sid === 'MapfileBucketList')?.Condition).toBeUndefined();
  });

  it('under a prefix, lists only under it', async () => {
    const policy = await load('instance');
    expect(policy.Statement.find((s) => s.Sid === 'MapfileBucketList')?.Condition).toEqual({ StringLike: { 's3:prefix': ['maps/', 'maps/*'] } });
  });
});

describe('the task role policy', () => {
  it('only reads COGs', async () => {
    const policy = await load('task', { cogBuckets: ['maps-bucket', 'imagery-cogs'] });
    expect(allowedActions(policy).sort()).toEqual(['s3:GetObject', 's3:ListBucket']);
    expect(policy.Statement.find((s) => s.Sid === 'ReadCogs')?.Resource).toEqual(['arn:aws:s3:::maps-bucket/*', 'arn:aws:s3:::imagery-cogs/*']);
  });
});

describe('the execution role policy', () => {
  it('covers what the task definition asks of it: pull the image and create the log group and streams', async () => {
    const policy = await load('execution');
    const settings = parseSettings((name) => ({ command: 'deploy', bucket: 'maps-bucket', image: DIGEST_IMAGE })[name as 'command' | 'image'] ?? '', [], { AWS_REGION: 'eu-west-1' });
    const td = renderTaskDefinition(readFileSync('ecs/task-definition.json.hbs', 'utf8'), settings, DIGEST_IMAGE);
    const logging = td.containerDefinitions?.[0]?.logConfiguration?.options ?? {};
    if (logging['awslogs-create-group'] === 'true') expect(policyAllows(policy, 'logs:CreateLogGroup')).toBe(true);
    for (const action of ['ecr:GetAuthorizationToken', 'ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer', 'logs:CreateLogStream', 'logs:PutLogEvents']) {
      expect(policyAllows(policy, action)).toBe(true);
    }
    expect(policy.Statement.find((s) => s.Sid === 'WriteLogs')?.Resource).toBe('arn:aws:logs:eu-west-1:123456789012:log-group:/ecs/mapserver:log-stream:*');
  });
});

describe('iamArns', () => {
  it('builds ARNs in another partition', () => {
    expect(iamArns({ ...values, partition: 'aws-us-gov', region: 'us-gov-west-1' }).cluster).toBe('arn:aws-us-gov:ecs:us-gov-west-1:123456789012:cluster/mapserver');
  });
});

describe('the table in ecs/iam/README.md', () => {
  it('is generated from the statements (run npm run gen)', () => {
    const readme = readFileSync(join('ecs', 'iam', 'README.md'), 'utf8');
    expect(readme).toBe(withIamPolicyTable(readme));
  });

  it('has a row per role and action, with its resource, condition and step', () => {
    const table = iamPolicyTable();
    expect(table).toContain('| pipeline | `ec2:DescribeRegions` | `*` |  | bake (Packer');
    expect(table).toContain('| instance | `s3:ListBucket` | `arn:aws:s3:::<bucket>` | StringLike `s3:prefix`: `<bucket-prefix>`, `<bucket-prefix>*` | mirror, s3fs');
    expect(table).toMatch(/\| pipeline \| `iam:PassRole` \| `<task-role-arn>`<br>`<execution-role-arn>` \| StringEquals `iam:PassedToService`: `ecs-tasks.amazonaws.com` \| deploy/);
  });
});
