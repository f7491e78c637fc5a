// Names shared by the pipeline (bootstrap makes the topic and the bucket notification, cleanup
// sweeps orphaned queues, the IAM policies scope to them) and the mirror on each instance.

/** Every instance's queue is named this plus its instance id (see mirrorQueueName). */
export const MIRROR_QUEUE_PREFIX = 'mapserver-ecs-mirror-';

/** The SQS queue of one instance's mirror: the mirror names it so when given only the instance id. */
export function mirrorQueueName(instanceId: string): string {
  return `${MIRROR_QUEUE_PREFIX}${instanceId}`;
}

/** Tag on each queue naming the instance it belongs to. */
export const MIRROR_QUEUE_TAG = 'mapserver-ecs:instance-id';

/** Id of the bucket's notification configuration that feeds the topic. */
export const MIRROR_NOTIFICATION_ID = 'mapserver-ecs-mirror';

/** The SNS topic that carries the bucket's change events (one per bucket). */
export function mirrorTopicName(bucket: string): string {
  return `mapserver-ecs-mapfiles-${bucket.replace(/\./g, '-')}`;
}

/**
 * The topic's ARN from its name and the queue's ARN (same partition, region and account), so an
 * instance needs no call and no extra setting to find its account. An ARN is returned as it is.
 */
export function topicArnFor(topic: string, queueArn: string): string {
  if (topic.startsWith('arn:')) return topic;
  const parts = queueArn.split(':');
  if (parts.length !== 6 || parts[2] !== 'sqs') throw new Error(`not an SQS queue ARN: ${queueArn}`);
  return `arn:${parts[1]}:sns:${parts[3]}:${parts[4]}:${topic}`;
}
