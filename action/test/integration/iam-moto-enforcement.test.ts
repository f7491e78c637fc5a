// moto's own IAM enforcement (what INITIAL_NO_AUTH_ACTION_COUNT switches on, here through its
// /moto-api/reset-auth control) over the generated policies, where it can model the request: moto
// authorizes S3 requests against the bucket or object ARN and SQS requests against an existing
// queue's ARN, and every other request against "*"; it evaluates no condition of an identity policy
// (a statement with one counts as a denial). So it checks the instance and task roles' S3 access for
// the whole bucket, the mirror's calls on an existing queue, and the pipeline's Describe calls.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DescribeRegionsCommand, DescribeSubnetsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { CreateBucketCommand, DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateQueueCommand, DeleteQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { iamPolicy, type IamPolicyName, type IamValues } from '../../src/aws/iam.js';
import { startEmulator, type Emulator } from '../../../scripts/emulator/start.js';
import { DEFAULT_NAMES } from '../support/iam-simulator.js';

const ACCOUNT = '123456789012';
const BUCKET = 'iam-moto-maps';
const values: IamValues = {
  region: 'us-east-1',
  accountId: ACCOUNT,
  bucket: BUCKET,
  // The whole bucket: moto cannot give the s3:prefix a listing under a prefix carries.
  bucketPrefix: '',
  ...DEFAULT_NAMES,
  instanceRoleArn: `arn:aws:iam::${ACCOUNT}:role/instance`,
  taskRoleArn: `arn:aws:iam::${ACCOUNT}:role/task`,
  executionRoleArn: `arn:aws:iam::${ACCOUNT}:role/execution`,
};
const QUEUE = 'mapserver-ecs-mirror-i-moto';

let emulator: Emulator;
const keys: Partial<Record<IamPolicyName, { accessKeyId: string; secretAccessKey: string }>> = {};
const clients: Array<{ destroy(): void }> = [];

/** An IAM query call to moto, unsigned (before enforcement starts). */
async function iam(params: Record<string, string>): Promise<string> {
  const answer = await fetch(emulator.endpoint, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded; charset=utf-8',
      authorization: 'AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0',
    },
    body: new URLSearchParams({ Version: '2010-05-08', ...params }).toString(),
  });
  const text = await answer.text();
  if (!answer.ok) throw new Error(`IAM ${params.Action}: ${text}`);
  return text;
}

function as<T extends { destroy(): void }>(name: IamPolicyName, make: (config: { region: string; endpoint: string; credentials: { accessKeyId: string; secretAccessKey: string } }) => T): T {
  const credentials = keys[name];
  if (!credentials) throw new Error(`no keys for ${name}`);
  const client = make({ region: 'us-east-1', endpoint: emulator.endpoint, credentials });
  clients.push(client);
  return client;
}

const s3Of = (name: IamPolicyName): S3Client => as(name, (c) => new S3Client({ ...c, forcePathStyle: true }));
const denied = (promise: Promise<unknown>): Promise<string> => promise.then(() => 'allowed', (error: Error) => error.name);

beforeAll(async () => {
  emulator = await startEmulator();
  const fixtures = new S3Client({ region: 'us-east-1', endpoint: emulator.endpoint, forcePathStyle: true, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
  await fixtures.send(new CreateBucketCommand({ Bucket: BUCKET }));
  await fixtures.send(new CreateBucketCommand({ Bucket: 'other-bucket' }));
  for (const bucket of [BUCKET, 'other-bucket']) await fixtures.send(new PutObjectCommand({ Bucket: bucket, Key: 'maps/roads.map', Body: 'MAP END' }));
  fixtures.destroy();
  const sqs = new SQSClient({ region: 'us-east-1', endpoint: emulator.endpoint, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
  await sqs.send(new CreateQueueCommand({ QueueName: QUEUE }));
  await sqs.send(new CreateQueueCommand({ QueueName: 'orders' }));
  sqs.destroy();
  // One IAM user per role, with the role's generated policy and its own keys.
  for (const name of ['pipeline', 'instance', 'task'] as const) {
    await iam({ Action: 'CreateUser', UserName: name });
    await iam({ Action: 'PutUserPolicy', UserName: name, PolicyName: 'generated', PolicyDocument: JSON.stringify(iamPolicy(name, values)) });
    const created = await iam({ Action: 'CreateAccessKey', UserName: name });
    keys[name] = { accessKeyId: /<AccessKeyId>([^<]+)/.exec(created)?.[1] ?? '', secretAccessKey: /<SecretAccessKey>([^<]+)/.exec(created)?.[1] ?? '' };
  }
  const armed = await fetch(`${emulator.endpoint}/moto-api/reset-auth`, { method: 'POST', body: '0' });
  expect(armed.status).toBe(200);
});

afterAll(async () => {
  await fetch(`${emulator?.endpoint}/moto-api/reset-auth`, { method: 'POST', body: 'inf' }).catch(() => undefined);
  for (const client of clients) client.destroy();
  await emulator?.stop();
});

describe("moto's IAM enforcement over the generated policies", () => {
  it('lets the instance role list the whole bucket and read it, and refuses writes, deletes and another bucket', async () => {
    const s3 = s3Of('instance');
    expect((await s3.send(new ListObjectsV2Command({ Bucket: BUCKET }))).KeyCount).toBe(1);
    expect(await denied(s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'maps/roads.map' })).then((r) => r.Body?.transformToString()))).toBe('allowed');
    expect(await denied(s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'maps/roads.map', Body: 'changed' })))).toBe('AccessDenied');
    expect(await denied(s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: 'maps/roads.map' })))).toBe('AccessDenied');
    expect(await denied(s3.send(new GetObjectCommand({ Bucket: 'other-bucket', Key: 'maps/roads.map' })))).toBe('AccessDenied');
    expect(await denied(s3.send(new ListObjectsV2Command({ Bucket: 'other-bucket' })))).toBe('AccessDenied');
  });

  it("lets the mirror use its own queue and no other", async () => {
    const sqs = as('instance', (c) => new SQSClient(c));
    const url = `${emulator.endpoint}/${ACCOUNT}/${QUEUE}`;
    expect(await denied(sqs.send(new ReceiveMessageCommand({ QueueUrl: url, WaitTimeSeconds: 0 })))).toBe('allowed');
    expect(await denied(sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] })))).toBe('allowed');
    expect(await denied(sqs.send(new DeleteQueueCommand({ QueueUrl: `${emulator.endpoint}/${ACCOUNT}/orders` })))).not.toBe('allowed');
  });

  it('lets the task role read COGs and not write them', async () => {
    const s3 = s3Of('task');
    expect(await denied(s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'maps/roads.map' })).then((r) => r.Body?.transformToString()))).toBe('allowed');
    expect(await denied(s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'cogs/new.tif', Body: 'x' })))).toBe('AccessDenied');
  });

  it("lets the pipeline make the Describe calls that take no resource (Packer's region check first)", async () => {
    const ec2 = as('pipeline', (c) => new EC2Client(c));
    expect(await denied(ec2.send(new DescribeRegionsCommand({})))).toBe('allowed');
    expect(await denied(ec2.send(new DescribeSubnetsCommand({})))).toBe('allowed');
  });
});
