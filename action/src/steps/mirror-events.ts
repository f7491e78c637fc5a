// What the mirror driver needs in the account, made by bootstrap and kept tidy by cleanup: the
// bucket's SNS topic, the topic policy that lets S3 publish to it, and the bucket notification that
// sends created/removed events under the prefix. Each instance makes its own queue at boot; cleanup
// deletes the queues (and subscriptions) of instances that ended without stopping cleanly.
import { GetBucketNotificationConfigurationCommand, PutBucketNotificationConfigurationCommand, type TopicConfiguration } from '@aws-sdk/client-s3';
import { CreateTopicCommand, ListSubscriptionsByTopicCommand, ListTopicsCommand, SetTopicAttributesCommand, UnsubscribeCommand } from '@aws-sdk/client-sns';
import { DeleteQueueCommand, GetQueueAttributesCommand, ListQueuesCommand } from '@aws-sdk/client-sqs';
import { DescribeInstancesCommand } from '@aws-sdk/client-ec2';
import { MANAGED_TAG } from '../aws/tags.js';
import type { CommandContext } from '../context.js';
import { MIRROR_NOTIFICATION_ID, MIRROR_QUEUE_PREFIX, mirrorTopicName } from '../mirror/naming.js';

export const MIRROR_EVENTS: NonNullable<TopicConfiguration['Events']> = ['s3:ObjectCreated:*', 's3:ObjectRemoved:*'];

/** Lets the bucket (and only this bucket, in this account) publish to the topic. */
export function topicPolicy(topicArn: string, bucket: string): Record<string, unknown> {
  const account = topicArn.split(':')[4];
  const partition = topicArn.split(':')[1];
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'MapfileBucketEvents',
        Effect: 'Allow',
        Principal: { Service: 's3.amazonaws.com' },
        Action: 'SNS:Publish',
        Resource: topicArn,
        Condition: { ArnLike: { 'aws:SourceArn': `arn:${partition}:s3:::${bucket}` }, StringEquals: { 'aws:SourceAccount': account } },
      },
    ],
  };
}

/** The bucket's notification configuration with ours set, and whether it changed. */
export function withMirrorNotification(
  current: { TopicConfigurations?: TopicConfiguration[] } & Record<string, unknown>,
  topicArn: string,
  prefix: string,
): { configuration: Record<string, unknown>; changed: boolean } {
  const ours: TopicConfiguration = {
    Id: MIRROR_NOTIFICATION_ID,
    TopicArn: topicArn,
    Events: [...MIRROR_EVENTS],
    ...(prefix ? { Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: prefix }] } } } : {}),
  };
  const existing = (current.TopicConfigurations ?? []).find((c) => c.Id === MIRROR_NOTIFICATION_ID);
  const samePrefix = (existing?.Filter?.Key?.FilterRules ?? []).find((r) => r.Name?.toLowerCase() === 'prefix')?.Value ?? '';
  const changed =
    !existing || existing.TopicArn !== topicArn || samePrefix !== prefix || [...(existing.Events ?? [])].sort().join() !== [...MIRROR_EVENTS].sort().join();
  const others = (current.TopicConfigurations ?? []).filter((c) => c.Id !== MIRROR_NOTIFICATION_ID);
  const { TopicConfigurations: _replaced, $metadata: _metadata, ...rest } = current as Record<string, unknown>;
  return { configuration: { ...rest, TopicConfigurations: [...others, ours] }, changed };
}

export interface MirrorEventsResult {
  topic: { name: string; arn: string | undefined; created: boolean };
  notification: { changed: boolean };
}

/** Makes the topic, its policy and the bucket notification; changes nothing that is already right. */
export async function ensureMirrorEvents(ctx: CommandContext): Promise<MirrorEventsResult> {
  const { settings, clients } = ctx;
  const bucket = settings.bucket as string;
  const name = mirrorTopicName(bucket);
  let arn = await findTopic(ctx, name);
  const created = arn === undefined;
  if (!settings.dryRun) {
    // CreateTopic is idempotent and returns the ARN; the policy is set every time (cheap, no drift).
    arn = (await clients.sns.send(new CreateTopicCommand({ Name: name, Tags: [{ Key: MANAGED_TAG, Value: 'true' }] }))).TopicArn;
    if (!arn) throw new Error(`SNS gave no ARN for topic ${name}`);
    await clients.sns.send(new SetTopicAttributesCommand({ TopicArn: arn, AttributeName: 'Policy', AttributeValue: JSON.stringify(topicPolicy(arn, bucket)) }));
  }
  const current = await clients.s3.send(new GetBucketNotificationConfigurationCommand({ Bucket: bucket }));
  const { configuration, changed } = withMirrorNotification(current as unknown as Record<string, unknown>, arn ?? `arn:aws:sns:${settings.region}:<account>:${name}`, settings.bucketPrefix);
  if (changed && !settings.dryRun) {
    await clients.s3.send(new PutBucketNotificationConfigurationCommand({ Bucket: bucket, NotificationConfiguration: configuration }));
  }
  return { topic: { name, arn, created }, notification: { changed } };
}

async function findTopic(ctx: CommandContext, name: string): Promise<string | undefined> {
  let token: string | undefined;
  do {
    const page = await ctx.clients.sns.send(new ListTopicsCommand(token ? { NextToken: token } : {}));
    const found = page.Topics?.find((t) => t.TopicArn?.endsWith(`:${name}`));
    if (found?.TopicArn) return found.TopicArn;
    token = page.NextToken;
  } while (token);
  return undefined;
}

const INSTANCE_ID = /^i-[0-9a-f]{8,17}$/;
const LIVE_STATES = new Set(['pending', 'running', 'stopping', 'stopped']);

export interface QueueSweep {
  deleted: string[];
  kept: number;
}

/**
 * Deletes the mirror queues of instances that no longer exist or are terminated, and their topic
 * subscriptions. Queues whose name holds no instance id (a local stack's) are left alone.
 */
export async function sweepMirrorQueues(ctx: CommandContext): Promise<QueueSweep> {
  const { clients, settings } = ctx;
  const urls: string[] = [];
  let token: string | undefined;
  do {
    const page = await clients.sqs.send(new ListQueuesCommand({ QueueNamePrefix: MIRROR_QUEUE_PREFIX, ...(token ? { NextToken: token } : {}) }));
    urls.push(...(page.QueueUrls ?? []));
    token = page.NextToken;
  } while (token);
  const byInstance = new Map<string, string>();
  for (const url of urls) {
    const instanceId = (url.split('/').pop() ?? '').slice(MIRROR_QUEUE_PREFIX.length);
    if (INSTANCE_ID.test(instanceId)) byInstance.set(instanceId, url);
  }
  if (byInstance.size === 0) return { deleted: [], kept: urls.length };
  const live = new Set<string>();
  const ids = [...byInstance.keys()];
  for (let i = 0; i < ids.length; i += 100) {
    let next: string | undefined;
    do {
      const page = await clients.ec2.send(new DescribeInstancesCommand({ Filters: [{ Name: 'instance-id', Values: ids.slice(i, i + 100) }], ...(next ? { NextToken: next } : {}) }));
      for (const instance of (page.Reservations ?? []).flatMap((r) => r.Instances ?? [])) {
        if (instance.InstanceId && LIVE_STATES.has(instance.State?.Name ?? '')) live.add(instance.InstanceId);
      }
      next = page.NextToken;
    } while (next);
  }
  const orphans = [...byInstance].filter(([id]) => !live.has(id));
  if (orphans.length === 0 || settings.dryRun) return { deleted: orphans.map(([, url]) => url), kept: urls.length - orphans.length };
  const topicArn = settings.bucket ? await findTopic(ctx, mirrorTopicName(settings.bucket)) : undefined;
  const subscriptions = topicArn ? await topicSubscriptions(ctx, topicArn) : new Map<string, string>();
  const deleted: string[] = [];
  for (const [, url] of orphans) {
    const queueArn = (await clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }))).Attributes?.QueueArn;
    const subscription = queueArn ? subscriptions.get(queueArn) : undefined;
    if (subscription) await clients.sns.send(new UnsubscribeCommand({ SubscriptionArn: subscription }));
    await clients.sqs.send(new DeleteQueueCommand({ QueueUrl: url }));
    deleted.push(url);
  }
  return { deleted, kept: urls.length - deleted.length };
}

/** Subscription ARN per endpoint (queue ARN) of the topic. */
async function topicSubscriptions(ctx: CommandContext, topicArn: string): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  let token: string | undefined;
  do {
    const page = await ctx.clients.sns.send(new ListSubscriptionsByTopicCommand({ TopicArn: topicArn, ...(token ? { NextToken: token } : {}) }));
    for (const s of page.Subscriptions ?? []) if (s.Endpoint && s.SubscriptionArn) found.set(s.Endpoint, s.SubscriptionArn);
    token = page.NextToken;
  } while (token);
  return found;
}
