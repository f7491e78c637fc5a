// The instance's event queue, with the AWS SDK mocked at the client.
import { afterEach, describe, expect, it } from '@jest/globals';
import { SNSClient, SubscribeCommand, UnsubscribeCommand } from '@aws-sdk/client-sns';
import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  DeleteQueueCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ReceiveMessageCommand,
  SetQueueAttributesCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { EventQueue, queuePolicy } from '../../src/mirror/queue.js';

const sqs = mockClient(SQSClient);
const sns = mockClient(SNSClient);
const URL = 'https://sqs.eu-west-1.amazonaws.com/123456789012/mapserver-ecs-mirror-i-0123456789abcdef0';
const QUEUE_ARN = 'arn:aws:sqs:eu-west-1:123456789012:mapserver-ecs-mirror-i-0123456789abcdef0';
const TOPIC_ARN = 'arn:aws:sns:eu-west-1:123456789012:mapserver-ecs-mapfiles-maps';
const missing = () => Object.assign(new Error('The specified queue does not exist.'), { name: 'QueueDoesNotExist' });

function queue(): EventQueue {
  return new EventQueue(new SQSClient({ region: 'eu-west-1' }), new SNSClient({ region: 'eu-west-1' }), {
    queueName: 'mapserver-ecs-mirror-i-0123456789abcdef0',
    topic: 'mapserver-ecs-mapfiles-maps',
    owner: 'i-0123456789abcdef0',
  });
}

function anAccount(): void {
  sqs.on(GetQueueUrlCommand).rejectsOnce(missing()).resolves({ QueueUrl: URL });
  sqs.on(CreateQueueCommand).resolves({ QueueUrl: URL });
  sqs.on(GetQueueAttributesCommand).resolves({ Attributes: { QueueArn: QUEUE_ARN } });
  sqs.on(SetQueueAttributesCommand).resolves({});
  sns.on(SubscribeCommand).resolves({ SubscriptionArn: `${TOPIC_ARN}:sub-1` });
}

afterEach(() => {
  sqs.reset();
  sns.reset();
});

describe('EventQueue', () => {
  it('makes its queue (tagged with the instance), lets only the topic send, and subscribes with raw delivery', async () => {
    anAccount();
    const events = queue();
    await events.open();
    expect(events.isOpen).toBe(true);
    expect(events.topicArn).toBe(TOPIC_ARN);
    expect(sqs.commandCalls(CreateQueueCommand)[0]?.args[0].input).toEqual({
      QueueName: 'mapserver-ecs-mirror-i-0123456789abcdef0',
      tags: { 'mapserver-ecs:instance-id': 'i-0123456789abcdef0' },
    });
    const attributes = sqs.commandCalls(SetQueueAttributesCommand)[0]?.args[0].input.Attributes ?? {};
    expect(JSON.parse(attributes.Policy ?? '{}')).toEqual(queuePolicy(QUEUE_ARN, TOPIC_ARN));
    expect(attributes).toMatchObject({ ReceiveMessageWaitTimeSeconds: '20', VisibilityTimeout: '20' });
    expect(sns.commandCalls(SubscribeCommand)[0]?.args[0].input).toEqual({
      TopicArn: TOPIC_ARN,
      Protocol: 'sqs',
      Endpoint: QUEUE_ARN,
      Attributes: { RawMessageDelivery: 'true' },
      ReturnSubscriptionArn: true,
    });
    // A restart finds the queue and makes no second one.
    await queue().open();
    expect(sqs.commandCalls(CreateQueueCommand)).toHaveLength(1);
  });

  it('long-polls, deletes what it applied, and opens again after its queue was deleted from outside', async () => {
    anAccount();
    const events = queue();
    await events.open();
    sqs.on(ReceiveMessageCommand).resolvesOnce({ Messages: [{ Body: '{}', ReceiptHandle: 'r1' }] }).rejects(missing());
    sqs.on(DeleteMessageBatchCommand).resolves({});
    const messages = await events.receive();
    expect(sqs.commandCalls(ReceiveMessageCommand)[0]?.args[0].input).toMatchObject({ WaitTimeSeconds: 20, MaxNumberOfMessages: 10 });
    await events.remove(messages);
    expect(sqs.commandCalls(DeleteMessageBatchCommand)[0]?.args[0].input.Entries).toEqual([{ Id: '0', ReceiptHandle: 'r1' }]);
    await expect(events.receive()).rejects.toThrow(/does not exist/);
    expect(events.isOpen).toBe(false);
  });

  it('unsubscribes and deletes its queue when it stops', async () => {
    anAccount();
    sns.on(UnsubscribeCommand).resolves({});
    sqs.on(DeleteQueueCommand).resolves({});
    const events = queue();
    await events.open();
    await events.close();
    expect(sns.commandCalls(UnsubscribeCommand)[0]?.args[0].input).toEqual({ SubscriptionArn: `${TOPIC_ARN}:sub-1` });
    expect(sqs.commandCalls(DeleteQueueCommand)[0]?.args[0].input).toEqual({ QueueUrl: URL });
    expect(events.isOpen).toBe(false);
  });
});
