// What IAM authorizes for a request the emulator's proxy sees: the IAM action (which is not always
// the operation's name), the ARNs of the resources AWS checks it against, and the condition keys the
// generated policies use. Each non-obvious mapping is written once here, with its source.
import type { ProxyRequest } from './types.js';

export interface IamCheck {
  action: string;
  resource: string;
  context: Record<string, string | string[]>;
}

export interface RequestFacts {
  region: string;
  accountId: string;
  /** The answer's body, for what only the answer names (a task definition's revision). */
  answer: string;
}

/**
 * Operations AWS authorizes as another action.
 * - S3: the "Permissions" section of each operation in the S3 API Reference: HeadObject needs
 *   s3:GetObject, HeadBucket and ListObjects(V2) need s3:ListBucket, the multipart calls s3:PutObject,
 *   DeleteObjects s3:DeleteObject per key, Get/PutBucketNotificationConfiguration s3:Get/PutBucketNotification.
 * - SQS: batch calls are authorized as their single action (SQS Developer Guide, "Amazon SQS API
 *   permissions: Actions and resource reference").
 * - STS GetCallerIdentity needs no permission (STS API Reference).
 */
const RENAMED: Record<string, string | null> = {
  'sqs:DeleteMessageBatch': 'sqs:DeleteMessage',
  'sqs:SendMessageBatch': 'sqs:SendMessage',
  'sqs:ChangeMessageVisibilityBatch': 'sqs:ChangeMessageVisibility',
  'sts:GetCallerIdentity': null,
};

/** EC2 reads that take a resource; every other Describe* supports none ("*" in the Service Authorization Reference). */
const EC2_READS_WITH_RESOURCE = new Set(['DescribeImageAttribute', 'DescribeInstanceAttribute', 'DescribeSnapshotAttribute', 'DescribeVolumeAttribute']);
/** Resources an EC2 call creates: their ids do not exist yet, so AWS checks the type's wildcard ARN. */
const EC2_CREATES: Record<string, string[]> = {
  RunInstances: ['instance/*', 'volume/*', 'network-interface/*'],
  CreateImage: ['::image/*', '::snapshot/*'],
  RegisterImage: ['::image/*'],
  CreateSnapshot: ['::snapshot/*'],
  CreateVolume: ['volume/*'],
  CreateSecurityGroup: ['security-group/*'],
  CreateLaunchTemplate: ['launch-template/*'],
};
/** The resource type of an EC2 id by its prefix; images and snapshots have no account in their ARN. */
const EC2_ID_TYPES: Array<[RegExp, string]> = [
  [/^i-/, 'instance'],
  [/^ami-/, ':image'],
  [/^snap-/, ':snapshot'],
  [/^vol-/, 'volume'],
  [/^sg-/, 'security-group'],
  [/^subnet-/, 'subnet'],
  [/^vpc-/, 'vpc'],
  [/^lt-/, 'launch-template'],
  [/^eni-/, 'network-interface'],
];

function ec2Arn(facts: RequestFacts, path: string): string {
  return path.startsWith('::') || path.startsWith(':')
    ? `arn:aws:ec2:${facts.region}::${path.replace(/^:+/, '')}`
    : `arn:aws:ec2:${facts.region}:${facts.accountId}:${path}`;
}

function ec2Resources(operation: string, params: URLSearchParams, facts: RequestFacts): string[] {
  if ((operation.startsWith('Describe') && !EC2_READS_WITH_RESOURCE.has(operation)) || operation === 'GetConsoleOutput') return ['*'];
  const paths = [...(EC2_CREATES[operation] ?? [])];
  for (const [key, value] of params) {
    const name = key.replace(/\.\d+$/, '').replace(/\.member$/, '');
    if (name === 'KeyName') paths.push(`key-pair/${value}`);
    else if (['InstanceId', 'ImageId', 'SourceImageId', 'SnapshotId', 'VolumeId', 'GroupId', 'SecurityGroupId', 'SubnetId', 'VpcId', 'LaunchTemplateId', 'ResourceId'].includes(name) || /BlockDeviceMapping\.\d+\.Ebs\.SnapshotId$/.test(key)) {
      const type = EC2_ID_TYPES.find(([pattern]) => pattern.test(value))?.[1];
      if (type) paths.push(`${type}/${value}`);
    } else if (name === 'LaunchTemplateName') paths.push(`launch-template/${value}`);
  }
  return [...new Set(paths.map((path) => ec2Arn(facts, path)))];
}

/**
 * Hosts moto serves path-style although they have a dot: containers reach the emulator as
 * host.docker.internal (moto/s3/responses.py, subdomain_based_buckets), so the record must too.
 */
const PATH_STYLE_HOSTS = /^(localhost|localstack|host\.docker\.internal)/;

/** The bucket and key of an S3 request, path-style or virtual-hosted. */
function s3Target(request: ProxyRequest): { bucket: string; key: string; query: URLSearchParams } {
  const url = new URL(request.url, 'http://s3');
  const host = String(request.headers.host ?? '').split(':')[0] ?? '';
  const path = decodeURIComponent(url.pathname).replace(/^\//, '');
  if (host && !/^[\d.]+$/.test(host) && !PATH_STYLE_HOSTS.test(host) && host.split('.').length > 1 && !/^s3[.-]/.test(host)) {
    return { bucket: host.split('.')[0] ?? '', key: path, query: url.searchParams };
  }
  const [bucket = '', ...rest] = path.split('/');
  return { bucket, key: rest.join('/'), query: url.searchParams };
}

/** S3 REST requests as IAM actions (see RENAMED's sources). */
function s3Checks(request: ProxyRequest): IamCheck[] {
  const { bucket, key, query } = s3Target(request);
  const bucketArn = `arn:aws:s3:::${bucket}`;
  const object = (action: string, name = key): IamCheck => ({ action, resource: `${bucketArn}/${name}`, context: {} });
  const method = request.method;
  if (!bucket) return [{ action: 's3:ListAllMyBuckets', resource: '*', context: {} }];
  if (!key) {
    if (query.has('notification')) return [{ action: method === 'PUT' ? 's3:PutBucketNotification' : 's3:GetBucketNotification', resource: bucketArn, context: {} }];
    if (query.has('location')) return [{ action: 's3:GetBucketLocation', resource: bucketArn, context: {} }];
    if (query.has('delete') && method === 'POST') {
      const keys = [...request.body.toString('utf8').matchAll(/<Key>([^<]*)<\/Key>/g)].map((m) => (m[1] ?? '').replace(/&amp;/g, '&').replace(/&lt;/g, '<').replace(/&gt;/g, '>'));
      return keys.map((name) => object('s3:DeleteObject', name));
    }
    if (method === 'PUT') return [{ action: 's3:CreateBucket', resource: bucketArn, context: {} }];
    if (method === 'DELETE') return [{ action: 's3:DeleteBucket', resource: bucketArn, context: {} }];
    // ListObjects, ListObjectsV2, HeadBucket: s3:ListBucket; s3:prefix only when the request names one.
    const prefix = query.get('prefix');
    return [{ action: 's3:ListBucket', resource: bucketArn, context: prefix === null ? {} : { 's3:prefix': prefix } }];
  }
  if (method === 'GET' || method === 'HEAD') return [object(query.has('tagging') ? 's3:GetObjectTagging' : query.has('acl') ? 's3:GetObjectAcl' : 's3:GetObject')];
  if (method === 'DELETE') return [object(query.has('uploadId') ? 's3:AbortMultipartUpload' : 's3:DeleteObject')];
  const copySource = request.headers['x-amz-copy-source'];
  if (method === 'PUT' && typeof copySource === 'string') {
    return [object('s3:PutObject'), { action: 's3:GetObject', resource: `arn:aws:s3:::${decodeURIComponent(copySource.replace(/^\//, '').split('?')[0] ?? '')}`, context: {} }];
  }
  return [object('s3:PutObject')];
}

function jsonBody(request: ProxyRequest): Record<string, unknown> {
  try {
    return JSON.parse(request.body.toString('utf8') || '{}') as Record<string, unknown>;
  } catch {
    return {};
  }
}

const list = (value: unknown): string[] => (Array.isArray(value) ? value.map(String) : typeof value === 'string' ? [value] : []);
const last = (arnOrName: string): string => arnOrName.split('/').pop() ?? arnOrName;

/** ECS (JSON protocol): resources by the Service Authorization Reference's ARN formats. */
function ecsResources(operation: string, body: Record<string, unknown>, facts: RequestFacts): string[] {
  const at = `arn:aws:ecs:${facts.region}:${facts.accountId}`;
  const cluster = last(String(body.cluster ?? body.clusterName ?? 'default'));
  if (['DescribeTaskDefinition', 'ListClusters', 'ListServices', 'ListTaskDefinitions', 'ListTaskDefinitionFamilies', 'DiscoverPollEndpoint', 'DeregisterTaskDefinition', 'CreateCapacityProvider'].includes(operation)) {
    return operation === 'CreateCapacityProvider' ? [`${at}:capacity-provider/${String(body.name)}`] : ['*'];
  }
  if (operation === 'RegisterTaskDefinition') {
    const registered = /"taskDefinitionArn"\s*:\s*"([^"]+)"/.exec(facts.answer)?.[1];
    return [registered ?? `${at}:task-definition/${String(body.family)}:*`];
  }
  if (operation === 'TagResource' || operation === 'UntagResource' || operation === 'ListTagsForResource') return [String(body.resourceArn)];
  if (operation === 'DescribeCapacityProviders') return list(body.capacityProviders).map((name) => (name.startsWith('arn:') ? name : `${at}:capacity-provider/${name}`));
  if (operation === 'DescribeClusters') return list(body.clusters ?? 'default').map((name) => `${at}:cluster/${last(name)}`);
  if (operation === 'DescribeServices') return list(body.services).map((name) => `${at}:service/${cluster}/${last(name)}`);
  if (['CreateService', 'UpdateService', 'DeleteService'].includes(operation)) return [`${at}:service/${cluster}/${last(String(body.serviceName ?? body.service))}`];
  if (operation === 'DescribeContainerInstances' || operation === 'UpdateContainerInstancesState') return list(body.containerInstances).map((id) => `${at}:container-instance/${cluster}/${last(id)}`);
  if (operation === 'ListTasks') return [`${at}:container-instance/${cluster}/*`];
  if (operation === 'DescribeTasks') return list(body.tasks).map((id) => `${at}:task/${cluster}/${last(id)}`);
  return [`${at}:cluster/${cluster}`];
}

function queueArn(facts: RequestFacts, urlOrName: string): string {
  const parts = urlOrName.split('/');
  const name = parts.pop() ?? urlOrName;
  const account = parts.length > 0 && /^\d{12}$/.test(parts.at(-1) ?? '') ? parts.at(-1) : facts.accountId;
  return `arn:aws:sqs:${facts.region}:${account}:${name}`;
}

/**
 * What AWS checks on top of the call itself:
 * - iam:PassRole for a role the call hands to a service (IAM User Guide, "Granting a user permissions
 *   to pass a role"): the task and execution roles of a task definition to ecs-tasks.amazonaws.com,
 *   the instance profile's role of a launch template to ec2.amazonaws.com (its role is looked up in
 *   `instanceProfileRoles`, or taken to share the profile's name);
 * - tagging on create (ECS, ECR, SNS, SQS, Auto Scaling, EC2 TagSpecifications): the tagging action
 *   on the new resource.
 */
function impliedChecks(request: ProxyRequest, facts: RequestFacts, primary: IamCheck[], instanceProfileRoles: Record<string, string>): IamCheck[] {
  const service = request.service ?? '';
  const operation = request.action ?? '';
  const body = request.headers['x-amz-target'] ? jsonBody(request) : {};
  const implied: IamCheck[] = [];
  const pass = (role: unknown, to: string): void => {
    if (typeof role === 'string' && role !== '') implied.push({ action: 'iam:PassRole', resource: role, context: { 'iam:PassedToService': to } });
  };
  const tagged = (action: string): void => {
    for (const check of primary) implied.push({ action, resource: check.resource, context: {} });
  };
  if (service === 'ecs' && operation === 'RegisterTaskDefinition') {
    pass(body.taskRoleArn, 'ecs-tasks.amazonaws.com');
    pass(body.executionRoleArn, 'ecs-tasks.amazonaws.com');
  }
  const profile = request.params.get('LaunchTemplateData.IamInstanceProfile.Name') ?? request.params.get('LaunchTemplateData.IamInstanceProfile.Arn')?.split('/').pop();
  if (service === 'ec2' && profile) pass(instanceProfileRoles[profile] ?? `arn:aws:iam::${facts.accountId}:role/${profile}`, 'ec2.amazonaws.com');
  if (service === 'ecs' && /^(Create|Register)/.test(operation) && Array.isArray(body.tags) && body.tags.length > 0) tagged('ecs:TagResource');
  if (service === 'ecr' && operation === 'CreateRepository' && Array.isArray(body.tags) && body.tags.length > 0) tagged('ecr:TagResource');
  if (service === 'sqs' && operation === 'CreateQueue' && body.tags && Object.keys(body.tags).length > 0) tagged('sqs:TagQueue');
  if (service === 'sns' && operation === 'CreateTopic' && request.params.has('Tags.member.1.Key')) tagged('sns:TagResource');
  if (service === 'autoscaling' && operation === 'CreateAutoScalingGroup' && request.params.has('Tags.member.1.Key')) tagged('autoscaling:CreateOrUpdateTags');
  if (service === 'ec2' && [...request.params.keys()].some((key) => /^TagSpecification\.\d+\.ResourceType$/.test(key))) {
    for (const check of primary) if (check.resource.endsWith('/*') || operation.startsWith('Create')) implied.push({ action: 'ec2:CreateTags', resource: check.resource, context: {} });
  }
  return implied;
}

/**
 * The tags a CreateTags request sets, as the condition keys AWS gives it (EC2 User Guide, "Control
 * access to EC2 resources using resource tags"): aws:TagKeys lists every key, aws:RequestTag/<key>
 * carries each value. The tags the resource has before the call (ec2:ResourceTag/...) are the
 * recorder's to look up.
 */
function requestTags(params: URLSearchParams): Record<string, string | string[]> {
  const context: Record<string, string | string[]> = {};
  const keys: string[] = [];
  for (const [name, key] of params) {
    const index = /^Tag\.(\d+)\.Key$/.exec(name)?.[1];
    if (index === undefined) continue;
    keys.push(key);
    context[`aws:RequestTag/${key}`] = params.get(`Tag.${index}.Value`) ?? '';
  }
  return keys.length > 0 ? { ...context, 'aws:TagKeys': keys } : context;
}

/** The IAM checks of one request that AWS authorizes with IAM, with those AWS makes on top: empty for one that needs none. */
export function iamChecksWithImplied(request: ProxyRequest, facts: RequestFacts, instanceProfileRoles: Record<string, string> = {}): IamCheck[] {
  const primary = iamChecks(request, facts);
  return [...primary, ...impliedChecks(request, facts, primary, instanceProfileRoles)];
}

/** The IAM checks of one request that AWS authorizes with IAM: empty for one that needs none. */
export function iamChecks(request: ProxyRequest, facts: RequestFacts): IamCheck[] {
  const service = request.service ?? '';
  if (service === 's3') return s3Checks(request);
  const operation = request.action ?? '';
  const renamed = RENAMED[`${service}:${operation}`];
  if (renamed === null || !operation) return [];
  const action = renamed ?? `${service}:${operation}`;
  const body = request.headers['x-amz-target'] ? jsonBody(request) : {};
  const param = (name: string): string => request.params.get(name) ?? String(body[name] ?? body[name.charAt(0).toLowerCase() + name.slice(1)] ?? '');
  const checks = (resources: string[]): IamCheck[] => resources.map((resource) => ({ action, resource, context: {} }));
  switch (service) {
    case 'ec2':
      if (operation === 'CreateTags') return ec2Resources(operation, request.params, facts).map((resource) => ({ action, resource, context: requestTags(request.params) }));
      return checks(ec2Resources(operation, request.params, facts));
    case 'ecs':
      return checks(ecsResources(operation, body, facts));
    case 'autoscaling': {
      if (operation.startsWith('Describe')) return checks(['*']);
      const name = param('AutoScalingGroupName') || request.params.get('Tags.member.1.ResourceId') || '';
      // The group's ARN carries a UUID the request does not name; policies scope it with "*".
      return checks([`arn:aws:autoscaling:${facts.region}:${facts.accountId}:autoScalingGroup:00000000-0000-0000-0000-000000000000:autoScalingGroupName/${name}`]);
    }
    case 'ecr':
      return checks(operation === 'GetAuthorizationToken' ? ['*'] : [`arn:aws:ecr:${facts.region}:${facts.accountId}:repository/${param('RepositoryName')}`]);
    case 'ssm':
      // Public parameters (/aws/service/...) are documented without an account in their ARN; the
      // caller's account is recorded (the simulator parses no ARN without one), and the pipeline
      // policy grants both forms (":*:").
      return checks(list(body.Names ?? body.Name).map((name) => `arn:aws:ssm:${facts.region}:${facts.accountId}:parameter${name.startsWith('/') ? '' : '/'}${name}`));
    case 'sns': {
      if (operation === 'ListTopics') return checks(['*']);
      if (operation === 'CreateTopic') return checks([`arn:aws:sns:${facts.region}:${facts.accountId}:${param('Name')}`]);
      const arn = param('TopicArn') || param('ResourceArn') || param('SubscriptionArn').split(':').slice(0, 6).join(':');
      return checks([arn]);
    }
    case 'sqs':
      if (operation === 'ListQueues') return checks(['*']);
      return checks([queueArn(facts, param('QueueUrl') || param('QueueName'))]);
    default:
      return checks(['*']);
  }
}
