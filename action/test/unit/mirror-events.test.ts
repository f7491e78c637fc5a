// What bootstrap and cleanup do for the mirror driver, with the AWS SDK mocked at the client.
import { afterEach, describe, expect, it } from '@jest/globals';
import { DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { GetBucketNotificationConfigurationCommand, PutBucketNotificationConfigurationCommand, S3Client, type TopicConfiguration } from '@aws-sdk/client-s3';
import { CreateTopicCommand, ListSubscriptionsByTopicCommand, ListTopicsCommand, SetTopicAttributesCommand, SNSClient, UnsubscribeCommand } from '@aws-sdk/client-sns';
import { DeleteQueueCommand, GetQueueAttributesCommand, ListQueuesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { ensureMirrorEvents, sweepMirrorQueues, topicPolicy, withMirrorNotification } from '../../src/steps/mirror-events.js';
import { testContext } from '../../../scripts/support/command-context.js';

const s3 = mockClient(S3Client);
const sns = mockClient(SNSClient);
const sqs = mockClient(SQSClient);
const ec2 = mockClient(EC2Client);
const TOPIC = 'arn:aws:sns:us-east-1:123456789012:mapserver-ecs-mapfiles-maps-bucket';
const ours: TopicConfiguration = {
  Id: 'mapserver-ecs-mirror',
  TopicArn: TOPIC,
  Events: ['s3:ObjectCreated:*', 's3:ObjectRemoved:*'],
  Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: 'maps/' }] } },
};

const context = (extra: Record<string, string> = {}) =>
  testContext({ command: 'bootstrap', bucket: 'maps-bucket', 'bucket-prefix': 'maps/', 'mount-driver': 'mirror', subnets: 'subnet-0123456789abcdef0', 'instance-profile': 'p', ...extra });

afterEach(() => {
  for (const mock of [s3, sns, sqs, ec2]) mock.reset();
});

describe('withMirrorNotification', () => {
  it('adds ours beside the bucket notifications of others, and replaces only ours', () => {
    const other = { Id: 'audit' as const, QueueArn: 'arn:aws:sqs:us-east-1:123456789012:audit', Events: ['s3:ObjectCreated:*' as const] };
    const { configuration, changed } = withMirrorNotification({ QueueConfigurations: [other], TopicConfigurations: [{ ...ours, TopicArn: 'arn:old' }] }, TOPIC, 'maps/');
    expect(changed).toBe(true);
    expect(configuration).toEqual({ QueueConfigurations: [other], TopicConfigurations: [ours] });
    expect(withMirrorNotification({ TopicConfigurations: [ours] }, TOPIC, 'maps/').changed).toBe(false);
    expect(withMirrorNotification({ TopicConfigurations: [ours] }, TOPIC, '').changed).toBe(true);
    expect(withMirrorNotification({}, TOPIC, '').configuration).toEqual({ TopicConfigurations: [{ Id: 'mapserver-ecs-mirror', TopicArn: TOPIC, Events: ours.Events }] });
  });

  it('lets only the bucket, in the topic account, publish', () => {
    expect(topicPolicy(TOPIC, 'maps-bucket').Statement).toEqual([
      expect.objectContaining({
        Principal: { Service: 's3.amazonaws.com' },
        Action: 'SNS:Publish',
        Resource: TOPIC,
        Condition: { ArnLike: { 'aws:SourceArn': 'arn:aws:s3:::maps-bucket' }, StringEquals: { 'aws:SourceAccount': '123456789012' } },
      }),
    ]);
  });
});

describe('ensureMirrorEvents', () => {
  it('creates the topic, its policy and the notification, then changes nothing on a re-run', async () => {
    sns.on(ListTopicsCommand).resolvesOnce({ Topics: [] }).resolves({ Topics: [{ TopicArn: TOPIC }] });
    sns.on(CreateTopicCommand).resolves({ TopicArn: TOPIC });
    sns.on(SetTopicAttributesCommand).resolves({});
    s3.on(GetBucketNotificationConfigurationCommand).resolvesOnce({}).resolves({ TopicConfigurations: [ours] } as never);
    s3.on(PutBucketNotificationConfigurationCommand).resolves({});
    expect(await ensureMirrorEvents(context())).toEqual({ topic: { name: 'mapserver-ecs-mapfiles-maps-bucket', arn: TOPIC, created: true }, notification: { changed: true } });
    expect(s3.commandCalls(PutBucketNotificationConfigurationCommand)[0]?.args[0].input).toEqual({
      Bucket: 'maps-bucket',
      NotificationConfiguration: { TopicConfigurations: [ours] },
    });
    expect(await ensureMirrorEvents(context())).toEqual({ topic: { name: 'mapserver-ecs-mapfiles-maps-bucket', arn: TOPIC, created: false }, notification: { changed: false } });
    expect(s3.commandCalls(PutBucketNotificationConfigurationCommand)).toHaveLength(1);
  });

  it('changes nothing in a dry run', async () => {
    sns.on(ListTopicsCommand).resolves({ Topics: [] });
    s3.on(GetBucketNotificationConfigurationCommand).resolves({});
    const result = await ensureMirrorEvents(context({ 'dry-run': 'true' }));
    expect(result).toMatchObject({ topic: { created: true }, notification: { changed: true } });
    expect(sns.commandCalls(CreateTopicCommand)).toHaveLength(0);
    expect(s3.commandCalls(PutBucketNotificationConfigurationCommand)).toHaveLength(0);
  });
});

describe('sweepMirrorQueues', () => {
  const url = (name: string) => `https://sqs.us-east-1.amazonaws.com/123456789012/${name}`;

  it('deletes the queues and subscriptions of terminated or vanished instances, and nothing else', async () => {
    sqs.on(ListQueuesCommand).resolves({
      QueueUrls: [url('mapserver-ecs-mirror-i-0aaaaaaaaaaaaaaa1'), url('mapserver-ecs-mirror-i-0bbbbbbbbbbbbbbb2'), url('mapserver-ecs-mirror-i-0ccccccccccccccc3'), url('mapserver-ecs-mirror-local')],
    });
    ec2.on(DescribeInstancesCommand).resolves({
      Reservations: [{ Instances: [{ InstanceId: 'i-0aaaaaaaaaaaaaaa1', State: { Name: 'running' } }, { InstanceId: 'i-0bbbbbbbbbbbbbbb2', State: { Name: 'terminated' } }] }],
    });
    sns.on(ListTopicsCommand).resolves({ Topics: [{ TopicArn: TOPIC }] });
    sns.on(ListSubscriptionsByTopicCommand).resolves({
      Subscriptions: [{ Endpoint: 'arn:aws:sqs:us-east-1:123456789012:mapserver-ecs-mirror-i-0bbbbbbbbbbbbbbb2', SubscriptionArn: `${TOPIC}:sub-b` }],
    });
    sqs.on(GetQueueAttributesCommand).callsFake((input: { QueueUrl: string }) => ({
      Attributes: { QueueArn: `arn:aws:sqs:us-east-1:123456789012:${input.QueueUrl.split('/').pop()}` },
    }));
    sqs.on(DeleteQueueCommand).resolves({});
    sns.on(UnsubscribeCommand).resolves({});
    const sweep = await sweepMirrorQueues(context({ command: 'cleanup' }));
    expect(sweep.deleted).toEqual([url('mapserver-ecs-mirror-i-0bbbbbbbbbbbbbbb2'), url('mapserver-ecs-mirror-i-0ccccccccccccccc3')]);
    expect(sweep.kept).toBe(2);
    expect(sns.commandCalls(UnsubscribeCommand).map((c) => c.args[0].input)).toEqual([{ SubscriptionArn: `${TOPIC}:sub-b` }]);
    expect(sqs.commandCalls(DeleteQueueCommand).map((c) => c.args[0].input.QueueUrl)).toEqual(sweep.deleted);
  });

  it('only reports in a dry run', async () => {
    sqs.on(ListQueuesCommand).resolves({ QueueUrls: [url('mapserver-ecs-mirror-i-0bbbbbbbbbbbbbbb2')] });
    ec2.on(DescribeInstancesCommand).resolves({ Reservations: [] });
    const sweep = await sweepMirrorQueues(context({ command: 'cleanup', 'dry-run': 'true' }));
    expect(sweep.deleted).toHaveLength(1);
    expect(sqs.commandCalls(DeleteQueueCommand)).toHaveLength(0);
  });
});
