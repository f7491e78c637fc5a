// Least-privilege IAM policy documents for the roles around the pipeline (ecs/iam/*.json.hbs): the
// GitHub OIDC role that runs the action, the container instances' role, the MapServer task role and
// the task execution role. Rendered from the same settings the action runs with.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MIRROR_QUEUE_PREFIX, mirrorTopicName } from '../mirror/naming.js';
import { render } from '../render.js';

export const IAM_POLICIES = ['pipeline', 'instance', 'task', 'execution'] as const;
export type IamPolicyName = (typeof IAM_POLICIES)[number];

export interface IamValues {
  partition?: string;
  region: string;
  accountId: string;
  bucket: string;
  /** '' or 'maps/' as in settings. */
  bucketPrefix: string;
  /** Buckets whose COGs MapServer reads through /vsis3/ (defaults to the mapfile bucket). */
  cogBuckets?: string[];
  cluster: string;
  service: string;
  autoScalingGroup: string;
  capacityProvider: string;
  launchTemplate: string;
  ecrRepository: string;
  logGroup: string;
  instanceRoleArn: string;
  taskRoleArn: string;
  executionRoleArn: string;
}

export interface PolicyStatement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Action: string | string[];
  Resource: string | string[];
  Condition?: Record<string, Record<string, string | string[]>>;
}

export interface PolicyDocument {
  Version: '2012-10-17';
  Statement: PolicyStatement[];
}

/** The ARNs the templates use, built here so the templates only place values. */
export function iamTemplateData(values: IamValues): Record<string, unknown> {
  const p = values.partition ?? 'aws';
  const at = `${values.region}:${values.accountId}`;
  const prefix = values.bucketPrefix;
  return {
    arns: {
      bucket: `arn:${p}:s3:::${values.bucket}`,
      bucketObjects: `arn:${p}:s3:::${values.bucket}/${prefix}*`,
      cogBuckets: (values.cogBuckets ?? [values.bucket]).map((b) => `arn:${p}:s3:::${b}`),
      cogObjects: (values.cogBuckets ?? [values.bucket]).map((b) => `arn:${p}:s3:::${b}/*`),
      cluster: `arn:${p}:ecs:${at}:cluster/${values.cluster}`,
      service: `arn:${p}:ecs:${at}:service/${values.cluster}/${values.service}`,
      capacityProvider: `arn:${p}:ecs:${at}:capacity-provider/${values.capacityProvider}`,
      containerInstances: `arn:${p}:ecs:${at}:container-instance/${values.cluster}/*`,
      taskDefinitions: `arn:${p}:ecs:${at}:task-definition/${values.service}:*`,
      autoScalingGroup: `arn:${p}:autoscaling:${at}:autoScalingGroup:*:autoScalingGroupName/${values.autoScalingGroup}`,
      launchTemplates: `arn:${p}:ec2:${at}:launch-template/*`,
      ec2Any: [`arn:${p}:ec2:${at}:*`, `arn:${p}:ec2:${values.region}::image/*`, `arn:${p}:ec2:${values.region}::snapshot/*`],
      images: `arn:${p}:ec2:${values.region}::image/*`,
      snapshots: `arn:${p}:ec2:${values.region}::snapshot/*`,
      repository: `arn:${p}:ecr:${at}:repository/${values.ecrRepository}`,
      ssmEcsParameters: `arn:${p}:ssm:${values.region}::parameter/aws/service/ecs/*`,
      logGroup: `arn:${p}:logs:${at}:log-group:${values.logGroup}`,
      logStreams: `arn:${p}:logs:${at}:log-group:${values.logGroup}:log-stream:*`,
      mirrorTopic: `arn:${p}:sns:${at}:${mirrorTopicName(values.bucket)}`,
      mirrorQueues: `arn:${p}:sqs:${at}:${MIRROR_QUEUE_PREFIX}*`,
      instanceRole: values.instanceRoleArn,
      taskRole: values.taskRoleArn,
      executionRole: values.executionRoleArn,
    },
    bucketPrefixPattern: prefix === '' ? '*' : `${prefix}*`,
    bucketPrefixFolder: prefix === '' ? '' : prefix,
  };
}

export function renderIamPolicy(template: string, values: IamValues, name: string): PolicyDocument {
  const text = render(template, iamTemplateData(values), name);
  const parsed = JSON.parse(text) as PolicyDocument;
  if (parsed.Version !== '2012-10-17' || !Array.isArray(parsed.Statement)) throw new Error(`${name} is not an IAM policy document`);
  return parsed;
}

export async function loadIamPolicy(root: string, name: IamPolicyName, values: IamValues): Promise<PolicyDocument> {
  const file = join('ecs', 'iam', `${name}-policy.json.hbs`);
  return renderIamPolicy(await readFile(join(root, file), 'utf8'), values, file);
}

/** Every Allow action of a policy, as written (wildcards kept). */
export function allowedActions(policy: PolicyDocument): string[] {
  return policy.Statement.filter((s) => s.Effect === 'Allow').flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action]));
}

/** True when an action such as ecs:Submit* or s3:Get* in the policy covers the given action. */
export function policyAllows(policy: PolicyDocument, action: string): boolean {
  return allowedActions(policy).some((pattern) => {
    const regex = new RegExp(`^${pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`, 'i');
    return regex.test(action);
  });
}
