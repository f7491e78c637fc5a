// The instance's own SQS queue, subscribed to the bucket's SNS topic (S3 event notifications fan
// out through SNS: one topic, one queue per instance). The mirror creates it at start, long-polls
// it, and deletes it with its subscription at a clean stop; `cleanup` removes the queues of
// instances that ended without stopping cleanly.
import { SubscribeCommand, UnsubscribeCommand, type SNSClient } from '@aws-sdk/client-sns';
import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  DeleteQueueCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ReceiveMessageCommand,
  SetQueueAttributesCommand,
  type Message,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { MIRROR_QUEUE_TAG, topicArnFor } from './naming.js';

/** Long-poll wait: the most SQS allows, so an idle mirror sends three requests a minute. */
export const RECEIVE_WAIT_SECONDS = 20;

export interface QueueOptions {
  queueName: string;
  /** The topic's name, or its ARN. */
  topic: string;
  /** Tag value naming what the queue belongs to (the instance id), for the orphan sweep. */
  owner: string;
}

export class EventQueue {
  private queueUrl: string | undefined;
  private subscriptionArn: string | undefined;
  topicArn: string | undefined;
  /** Counts of requests sent, for the status file and the benchmark. */
  readonly requests = { receive: 0, delete: 0 };

  constructor(
    private readonly sqs: SQSClient,
    private readonly sns: SNSClient,
    private readonly options: QueueOptions,
  ) {}

  get isOpen(): boolean {
    return this.queueUrl !== undefined && this.subscriptionArn !== undefined;
  }

  /** Creates (or finds) the queue, lets the topic send to it, and subscribes it. Idempotent. */
  async open(): Promise<void> {
    const url = await this.sqs
      .send(new GetQueueUrlCommand({ QueueName: this.options.queueName }))
      .then((r) => r.QueueUrl)
      .catch((error: unknown) => {
        if (isMissingQueue(error)) return undefined;
        throw error;
      });
    const queueUrl =
      url ??
      (
        await this.sqs.send(
          new CreateQueueCommand({
            QueueName: this.options.queueName,
            tags: { [MIRROR_QUEUE_TAG]: this.options.owner },
          }),
        )
      ).QueueUrl;
    if (!queueUrl) throw new Error(`SQS gave no URL for queue ${this.options.queueName}`);
    const attributes = await this.sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }));
    const queueArn = attributes.Attributes?.QueueArn;
    if (!queueArn) throw new Error(`SQS gave no ARN for queue ${this.options.queueName}`);
    const topicArn = topicArnFor(this.options.topic, queueArn);
    await this.sqs.send(
      new SetQueueAttributesCommand({
        QueueUrl: queueUrl,
        Attributes: {
          Policy: JSON.stringify(queuePolicy(queueArn, topicArn)),
          ReceiveMessageWaitTimeSeconds: String(RECEIVE_WAIT_SECONDS),
          // Events older than this are covered by reconciliation anyway.
          MessageRetentionPeriod: '3600',
          // A message whose fetch failed (or that a killed process took) comes back this soon.
          VisibilityTimeout: '20',
        },
      }),
    );
    const subscription = await this.sns.send(
      new SubscribeCommand({ TopicArn: topicArn, Protocol: 'sqs', Endpoint: queueArn, Attributes: { RawMessageDelivery: 'true' }, ReturnSubscriptionArn: true }),
    );
    this.queueUrl = queueUrl;
    this.topicArn = topicArn;
    this.subscriptionArn = subscription.SubscriptionArn;
  }

  /** Waits up to RECEIVE_WAIT_SECONDS for messages; resolves early when messages arrive. */
  async receive(signal?: AbortSignal): Promise<Message[]> {
    if (!this.queueUrl) throw new Error('the event queue is not open');
    this.requests.receive += 1;
    try {
      const answer = await this.sqs.send(
        new ReceiveMessageCommand({ QueueUrl: this.queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: RECEIVE_WAIT_SECONDS }),
        signal ? { abortSignal: signal } : {},
      );
      return answer.Messages ?? [];
    } catch (error) {
      // Deleted from outside (a sweep, a person): open() makes it again on the next round.
      if (isMissingQueue(error)) this.queueUrl = undefined;
      throw error;
    }
  }

  async remove(messages: Message[]): Promise<void> {
    if (!this.queueUrl || messages.length === 0) return;
    this.requests.delete += 1;
    await this.sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: this.queueUrl,
        Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle ?? '' })),
      }),
    );
  }

  /** Unsubscribes and deletes the queue: nothing is left behind by an instance that stops cleanly. */
  async close(): Promise<void> {
    if (this.subscriptionArn && this.subscriptionArn !== 'pending confirmation') {
      await this.sns.send(new UnsubscribeCommand({ SubscriptionArn: this.subscriptionArn }));
    }
    if (this.queueUrl) await this.sqs.send(new DeleteQueueCommand({ QueueUrl: this.queueUrl }));
    this.subscriptionArn = undefined;
    this.queueUrl = undefined;
  }
}

function isMissingQueue(error: unknown): boolean {
  const name = (error as Error | undefined)?.name ?? '';
  return name === 'QueueDoesNotExist' || name === 'AWS.SimpleQueueService.NonExistentQueue';
}

/** Only the bucket's topic may send to the queue. */
export function queuePolicy(queueArn: string, topicArn: string): Record<string, unknown> {
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'MapfileEventsFromTopic',
        Effect: 'Allow',
        Principal: { Service: 'sns.amazonaws.com' },
        Action: 'sqs:SendMessage',
        Resource: queueArn,
        Condition: { ArnEquals: { 'aws:SourceArn': topicArn } },
      },
    ],
  };
}
