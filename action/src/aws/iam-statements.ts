// The statements of each role's IAM policy, with the step that needs each: the one source of the
// policy documents (iam.ts) and of the table in ecs/iam/README.md. A new AWS call is a line in the
// statement of its step and resource, or a statement of its own.
//
// AWS's rules these follow (Service Authorization Reference, IAM policy evaluation):
// - An action that supports no resource type (most ec2:Describe*, autoscaling:Describe*) matches only
//   "Resource": "*"; any ARN, even account-wide, never matches it. Those are the only actions on "*".
// - A condition on a key the request does not carry is false: s3:prefix is absent from a listing of
//   the whole bucket (and from HeadBucket), so a whole-bucket listing is granted without a condition.
import type { IamArns, IamValues } from './iam-arns.js';

/** Condition operator -> key -> value(s), as IAM writes it. */
export type PolicyCondition = Record<string, Record<string, string | string[]>>;

export interface StatementSource {
  sid: string;
  /** The step or actor that needs it, for the table in ecs/iam/README.md. */
  step: string;
  actions: readonly string[];
  resource: (arns: IamArns) => string | string[];
  condition?: (values: IamValues, arns: IamArns) => PolicyCondition | undefined;
  /** The statement is in the policy only when this holds (an optional setting is used). */
  when?: (values: IamValues) => boolean;
}

const ANY = (): string => '*';
const MANAGED_TAG_KEY = 'ec2:ResourceTag/mapserver-ecs:managed';

/** A listing of the bucket prefix: under a prefix, only listings under it; for the whole bucket, any. */
const listingOfPrefix = (values: IamValues): PolicyCondition | undefined =>
  values.bucketPrefix === '' ? undefined : { StringLike: { 's3:prefix': [values.bucketPrefix, `${values.bucketPrefix}*`] } };

const PIPELINE: StatementSource[] = [
  {
    sid: 'PackerReads',
    step: 'bake (Packer: region check, source AMI, subnet, security group, volumes, snapshots, instance state)',
    actions: ['ec2:DescribeRegions', 'ec2:DescribeImages', 'ec2:DescribeInstances', 'ec2:DescribeInstanceStatus', 'ec2:DescribeSecurityGroups', 'ec2:DescribeSubnets', 'ec2:DescribeVolumes', 'ec2:DescribeSnapshots', 'ec2:DescribeTags'],
    resource: ANY,
  },
  {
    sid: 'StateReads',
    step: 'release, deploy, roll, cleanup: find AMIs, instances, launch templates, groups, refreshes, lifecycle hooks, why a launch failed, task definitions',
    actions: [
      'ec2:DescribeImages',
      'ec2:DescribeInstances',
      'ec2:DescribeLaunchTemplates',
      'ec2:DescribeLaunchTemplateVersions',
      'autoscaling:DescribeAutoScalingGroups',
      'autoscaling:DescribeInstanceRefreshes',
      'autoscaling:DescribeLifecycleHooks',
      'autoscaling:DescribeScalingActivities',
      'ec2:DescribeTags',
      'ecs:DescribeTaskDefinition',
    ],
    resource: ANY,
  },
  { sid: 'EcrLogin', step: 'image (docker login)', actions: ['ecr:GetAuthorizationToken'], resource: ANY },
  { sid: 'ListTopicsAndQueues', step: 'bootstrap (find the topic), cleanup (queues of ended instances)', actions: ['sns:ListTopics', 'sqs:ListQueues'], resource: ANY },
  { sid: 'BaseAmiParameter', step: 'bake (the ECS-optimized base AMI)', actions: ['ssm:GetParameter'], resource: (a) => a.ssmEcsParameters },
  {
    sid: 'BakeWithPacker',
    step: 'bake (Packer: temporary instance, key pair, security group; the AMI and its snapshot)',
    actions: [
      'ec2:AttachVolume',
      'ec2:AuthorizeSecurityGroupIngress',
      'ec2:CreateImage',
      'ec2:CreateKeyPair',
      'ec2:CreateSecurityGroup',
      'ec2:CreateSnapshot',
      'ec2:CreateTags',
      'ec2:CreateVolume',
      'ec2:DeleteKeyPair',
      'ec2:DeleteSecurityGroup',
      'ec2:DeleteSnapshot',
      'ec2:DeleteVolume',
      'ec2:DescribeImageAttribute',
      'ec2:DetachVolume',
      'ec2:ModifyImageAttribute',
      'ec2:ModifyInstanceAttribute',
      'ec2:ModifySnapshotAttribute',
      'ec2:RegisterImage',
      'ec2:RunInstances',
      'ec2:StopInstances',
      'ec2:TerminateInstances',
    ],
    resource: (a) => [a.ec2Account, a.images, a.snapshots],
  },
  { sid: 'BakeSessionStart', step: 'bake (Packer over Session Manager: port forwarding to the temporary instance)', actions: ['ssm:StartSession'], resource: (a) => [a.instances, a.ssmPortForwardingDocument] },
  { sid: 'BakeSessionEnd', step: 'bake (Packer over Session Manager: its own sessions)', actions: ['ssm:TerminateSession', 'ssm:ResumeSession'], resource: (a) => a.ssmSessions },
  {
    sid: 'CleanupManagedAmis',
    step: 'cleanup (AMIs the pipeline baked, with their snapshots)',
    actions: ['ec2:DeregisterImage'],
    resource: (a) => a.images,
    condition: () => ({ StringEquals: { [MANAGED_TAG_KEY]: 'true' } }),
  },
  { sid: 'LaunchTemplates', step: 'bootstrap, roll (the launch template and its versions)', actions: ['ec2:CreateLaunchTemplate', 'ec2:CreateLaunchTemplateVersion', 'ec2:ModifyLaunchTemplate'], resource: (a) => a.launchTemplates },
  {
    sid: 'AutoScalingGroup',
    step: 'bootstrap, roll (the group, its launch hook, instance refreshes)',
    actions: ['autoscaling:CreateAutoScalingGroup', 'autoscaling:UpdateAutoScalingGroup', 'autoscaling:StartInstanceRefresh', 'autoscaling:CreateOrUpdateTags', 'autoscaling:PutLifecycleHook'],
    resource: (a) => a.autoScalingGroup,
  },
  { sid: 'EcsCluster', step: 'bootstrap, deploy (the cluster)', actions: ['ecs:CreateCluster', 'ecs:DescribeClusters', 'ecs:PutClusterCapacityProviders', 'ecs:TagResource'], resource: (a) => a.cluster },
  { sid: 'EcsCapacityProvider', step: 'bootstrap (the capacity provider)', actions: ['ecs:CreateCapacityProvider', 'ecs:DescribeCapacityProviders', 'ecs:TagResource'], resource: (a) => a.capacityProvider },
  { sid: 'EcsService', step: 'deploy (the service)', actions: ['ecs:CreateService', 'ecs:UpdateService', 'ecs:DescribeServices', 'ecs:TagResource'], resource: (a) => a.service },
  { sid: 'EcsTaskDefinitions', step: 'deploy (task definition revisions of the service family)', actions: ['ecs:RegisterTaskDefinition', 'ecs:TagResource'], resource: (a) => a.taskDefinitions },
  {
    sid: 'EcrRepository',
    step: 'image (the repository, docker push), release (find an image)',
    actions: [
      'ecr:CreateRepository',
      'ecr:DescribeRepositories',
      'ecr:DescribeImages',
      'ecr:GetLifecyclePolicy',
      'ecr:PutLifecyclePolicy',
      'ecr:PutImageScanningConfiguration',
      'ecr:TagResource',
      'ecr:BatchCheckLayerAvailability',
      'ecr:BatchGetImage',
      'ecr:CompleteLayerUpload',
      'ecr:GetDownloadUrlForLayer',
      'ecr:InitiateLayerUpload',
      'ecr:PutImage',
      'ecr:UploadLayerPart',
    ],
    resource: (a) => a.repository,
  },
  {
    sid: 'MirrorEventsTopic',
    step: 'bootstrap (the bucket topic), cleanup (subscriptions of ended instances)',
    actions: ['sns:CreateTopic', 'sns:SetTopicAttributes', 'sns:TagResource', 'sns:ListSubscriptionsByTopic', 'sns:Unsubscribe'],
    resource: (a) => a.mirrorTopic,
  },
  { sid: 'MirrorBucketNotification', step: 'bootstrap (the bucket notification)', actions: ['s3:GetBucketNotification', 's3:PutBucketNotification'], resource: (a) => a.bucket },
  { sid: 'MirrorQueuesOfEndedInstances', step: 'cleanup (queues of ended instances)', actions: ['sqs:GetQueueAttributes', 'sqs:DeleteQueue'], resource: (a) => a.mirrorQueues },
  // HeadBucket is authorized as s3:ListBucket and carries no s3:prefix: a condition would refuse it.
  { sid: 'MapfileBucketList', step: 'bootstrap (HeadBucket), sync-mapfiles (list the prefix)', actions: ['s3:ListBucket'], resource: (a) => a.bucket },
  { sid: 'MapfileBucketSync', step: 'sync-mapfiles (objects under the prefix)', actions: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject', 's3:AbortMultipartUpload'], resource: (a) => a.bucketObjects },
  {
    sid: 'PassInstanceRole',
    step: 'bootstrap, roll (the launch template names the instance profile)',
    actions: ['iam:PassRole'],
    resource: (a) => a.instanceRole,
    condition: () => ({ StringEquals: { 'iam:PassedToService': 'ec2.amazonaws.com' } }),
  },
  {
    sid: 'PassTaskRoles',
    step: 'deploy (the task definition names the task and execution roles)',
    actions: ['iam:PassRole'],
    resource: (a) => [a.taskRole, a.executionRole],
    condition: () => ({ StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } }),
  },
  // EBS encryption with a customer managed key (Amazon EBS User Guide, "Permissions for users"):
  // EC2 uses the key on the caller's behalf, through a grant only an AWS service may create.
  {
    sid: 'VolumeKey',
    step: 'bake (Packer: encrypted volume, snapshot and AMI), bootstrap and roll (launch templates with encrypted volumes); only with kms-key-id',
    actions: ['kms:DescribeKey', 'kms:GenerateDataKeyWithoutPlaintext', 'kms:ReEncryptFrom', 'kms:ReEncryptTo', 'kms:Decrypt'],
    resource: (a) => a.kmsKey,
    when: (values) => values.kmsKeyArn !== undefined,
  },
  {
    sid: 'VolumeKeyGrantsForEc2',
    step: 'bake, bootstrap, roll (EC2 creates a grant to use the key for the volume); only with kms-key-id',
    actions: ['kms:CreateGrant'],
    resource: (a) => a.kmsKey,
    condition: () => ({ Bool: { 'kms:GrantIsForAWSResource': 'true' } }),
    when: (values) => values.kmsKeyArn !== undefined,
  },
  {
    sid: 'ServiceLinkedRolesOnFirstUse',
    step: 'bootstrap (first use of Auto Scaling and ECS in the account)',
    actions: ['iam:CreateServiceLinkedRole'],
    resource: (a) => a.serviceLinkedRoles,
    condition: () => ({ StringEquals: { 'iam:AWSServiceName': ['autoscaling.amazonaws.com', 'ecs.amazonaws.com'] } }),
  },
];

const INSTANCE: StatementSource[] = [
  {
    sid: 'EcsAgentCluster',
    step: 'ECS agent (register, report task and container state)',
    actions: ['ecs:RegisterContainerInstance', 'ecs:DeregisterContainerInstance', 'ecs:SubmitTaskStateChange', 'ecs:SubmitContainerStateChange', 'ecs:SubmitAttachmentStateChanges'],
    resource: (a) => a.cluster,
  },
  {
    sid: 'EcsAgentInstance',
    step: 'ECS agent (poll, telemetry, tags), instance drain on the launch hook',
    actions: ['ecs:Poll', 'ecs:StartTelemetrySession', 'ecs:UpdateContainerInstancesState', 'ecs:TagResource'],
    resource: (a) => a.containerInstances,
  },
  { sid: 'EcsAgentDiscovery', step: 'ECS agent (poll endpoint, instance tags)', actions: ['ecs:DiscoverPollEndpoint', 'ec2:DescribeTags'], resource: ANY },
  {
    sid: 'LaunchHookOfOwnGroup',
    step: 'instance ready check (complete the launch hook, report health)',
    actions: ['autoscaling:CompleteLifecycleAction', 'autoscaling:RecordLifecycleActionHeartbeat', 'autoscaling:SetInstanceHealth'],
    resource: (a) => a.autoScalingGroup,
  },
  {
    // Only the launch-failure tag, only on instances of its own group (Auto Scaling tags each with
    // aws:autoscaling:groupName): an instance cannot retag others or mark itself managed.
    sid: 'LaunchFailureTag',
    step: 'instance launch check (tag itself with why it abandoned its launch)',
    actions: ['ec2:CreateTags'],
    resource: (a) => a.instances,
    condition: (values) => ({
      'ForAllValues:StringEquals': { 'aws:TagKeys': ['mapserver-ecs:launch-failure'] },
      StringEquals: { 'ec2:ResourceTag/aws:autoscaling:groupName': values.autoScalingGroup },
    }),
  },
  { sid: 'MapfileBucketList', step: 'mirror, s3fs (list the prefix; confirm a 403 for a key)', actions: ['s3:ListBucket'], resource: (a) => a.bucket, condition: listingOfPrefix },
  { sid: 'MapfileBucketRead', step: 'mirror, s3fs (read mapfiles under the prefix)', actions: ['s3:GetObject'], resource: (a) => a.bucketObjects },
  {
    sid: 'MirrorOwnQueue',
    step: 'mirror (its own queue)',
    actions: ['sqs:GetQueueUrl', 'sqs:CreateQueue', 'sqs:TagQueue', 'sqs:GetQueueAttributes', 'sqs:SetQueueAttributes', 'sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:DeleteQueue'],
    resource: (a) => a.mirrorQueues,
  },
  { sid: 'MirrorSubscription', step: 'mirror (subscribe its queue to the bucket topic)', actions: ['sns:Subscribe', 'sns:Unsubscribe'], resource: (a) => a.mirrorTopic },
];

const TASK: StatementSource[] = [
  { sid: 'ReadCogs', step: 'MapServer (GDAL /vsis3/ reads of COGs)', actions: ['s3:GetObject'], resource: (a) => a.cogObjects },
  { sid: 'ListCogBuckets', step: 'MapServer (GDAL /vsis3/ directory listings)', actions: ['s3:ListBucket'], resource: (a) => a.cogBuckets },
];

const EXECUTION: StatementSource[] = [
  { sid: 'PullImage', step: 'ECS agent for the task (pull the image)', actions: ['ecr:BatchCheckLayerAvailability', 'ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer'], resource: (a) => a.repository },
  { sid: 'EcrToken', step: 'ECS agent for the task (registry login)', actions: ['ecr:GetAuthorizationToken'], resource: ANY },
  { sid: 'CreateLogGroup', step: 'ECS agent for the task (awslogs-create-group)', actions: ['logs:CreateLogGroup'], resource: (a) => a.logGroup },
  { sid: 'WriteLogs', step: 'ECS agent for the task (log streams)', actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resource: (a) => a.logStreams },
];

export const IAM_STATEMENTS = { pipeline: PIPELINE, instance: INSTANCE, task: TASK, execution: EXECUTION } as const;
