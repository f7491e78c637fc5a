// The ARNs the IAM statements (iam-statements.ts) scope to, built once from the settings the action
// runs with, so statements only name them.
import { MIRROR_QUEUE_PREFIX, mirrorTopicName } from '../mirror/naming.js';

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
  /** The customer managed key of kms-key-id (its key ARN); without one, no KMS statement. */
  kmsKeyArn?: string;
}


export function iamArns(values: IamValues) {
  const p = values.partition ?? 'aws';
  const at = `${values.region}:${values.accountId}`;
  const cogBuckets = values.cogBuckets ?? [values.bucket];
  return {
    bucket: `arn:${p}:s3:::${values.bucket}`,
    bucketObjects: `arn:${p}:s3:::${values.bucket}/${values.bucketPrefix}*`,
    cogBuckets: cogBuckets.map((b) => `arn:${p}:s3:::${b}`),
    cogObjects: cogBuckets.map((b) => `arn:${p}:s3:::${b}/*`),
    cluster: `arn:${p}:ecs:${at}:cluster/${values.cluster}`,
    service: `arn:${p}:ecs:${at}:service/${values.cluster}/${values.service}`,
    capacityProvider: `arn:${p}:ecs:${at}:capacity-provider/${values.capacityProvider}`,
    containerInstances: `arn:${p}:ecs:${at}:container-instance/${values.cluster}/*`,
    taskDefinitions: `arn:${p}:ecs:${at}:task-definition/${values.service}:*`,
    autoScalingGroup: `arn:${p}:autoscaling:${at}:autoScalingGroup:*:autoScalingGroupName/${values.autoScalingGroup}`,
    launchTemplates: `arn:${p}:ec2:${at}:launch-template/*`,
    /** What the bake's temporary resources are: instance, volumes, key pair, security group, network interface, subnet. */
    ec2Account: `arn:${p}:ec2:${at}:*`,
    images: `arn:${p}:ec2:${values.region}::image/*`,
    snapshots: `arn:${p}:ec2:${values.region}::snapshot/*`,
    instances: `arn:${p}:ec2:${at}:instance/*`,
    repository: `arn:${p}:ecr:${at}:repository/${values.ecrRepository}`,
    // Public parameters: AWS documents their ARNs without an account and grants them as ":*:" or "::".
    ssmEcsParameters: `arn:${p}:ssm:${values.region}:*:parameter/aws/service/ecs/*`,
    // An AWS-owned document: AWS writes its ARN without an account; ":*:" matches that form and any other.
    ssmPortForwardingDocument: `arn:${p}:ssm:${values.region}:*:document/AWS-StartPortForwardingSession`,
    ssmSessions: `arn:${p}:ssm:${at}:session/*`,
    logGroup: `arn:${p}:logs:${at}:log-group:${values.logGroup}`,
    logStreams: `arn:${p}:logs:${at}:log-group:${values.logGroup}:log-stream:*`,
    mirrorTopic: `arn:${p}:sns:${at}:${mirrorTopicName(values.bucket)}`,
    mirrorQueues: `arn:${p}:sqs:${at}:${MIRROR_QUEUE_PREFIX}*`,
    serviceLinkedRoles: `arn:${p}:iam::${values.accountId}:role/aws-service-role/*`,
    instanceRole: values.instanceRoleArn,
    taskRole: values.taskRoleArn,
    executionRole: values.executionRoleArn,
    kmsKey: values.kmsKeyArn ?? '',
  };
}

export type IamArns = ReturnType<typeof iamArns>;
