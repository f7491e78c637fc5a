// How the emulator's recorder reads a request as IAM checks: the operations AWS authorizes under
// another action's name, the resource ARNs, the condition keys, the checks AWS makes on top, and
// which actor (by access key id) and role made it.
import { describe, expect, it } from '@jest/globals';
import type { IncomingHttpHeaders } from 'node:http';
import { iamChecks, iamChecksWithImplied } from '../../../scripts/emulator/iam-requests.js';
import { accessKeyIdOf, ACTORS } from '../../../scripts/emulator/iam-recorder.js';
import { readProxyRequest } from '../../../scripts/emulator/wire.js';

const facts = { region: 'eu-west-1', accountId: '123456789012', answer: '' };
const auth = (service: string, key = 'AKIAPIPELINE0000TEST'): IncomingHttpHeaders => ({
  authorization: `AWS4-HMAC-SHA256 Credential=${key}/20260101/eu-west-1/${service}/aws4_request, SignedHeaders=host, Signature=0`,
});
const s3 = (method: string, url: string, headers: IncomingHttpHeaders = {}, body = '') => readProxyRequest(method, url, { ...auth('s3'), host: '127.0.0.1:4566', ...headers }, Buffer.from(body));
const query = (service: string, body: string) =>
  readProxyRequest('POST', '/', { ...auth(service), 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' }, Buffer.from(body));
const json = (service: string, target: string, body: unknown) =>
  readProxyRequest('POST', '/', { ...auth(service), 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': target }, Buffer.from(JSON.stringify(body)));

describe('S3 requests as IAM actions', () => {
  it('a HEAD or GET of an object is s3:GetObject on the object', () => {
    for (const method of ['HEAD', 'GET']) expect(iamChecks(s3(method, '/maps-bucket/maps/roads.map'), facts)).toEqual([{ action: 's3:GetObject', resource: 'arn:aws:s3:::maps-bucket/maps/roads.map', context: {} }]);
  });

  it('ListObjectsV2 and HeadBucket are s3:ListBucket, with s3:prefix only when the request names one', () => {
    expect(iamChecks(s3('GET', '/maps-bucket?list-type=2&prefix=maps%2F'), facts)).toEqual([{ action: 's3:ListBucket', resource: 'arn:aws:s3:::maps-bucket', context: { 's3:prefix': 'maps/' } }]);
    expect(iamChecks(s3('GET', '/maps-bucket?list-type=2'), facts)).toEqual([{ action: 's3:ListBucket', resource: 'arn:aws:s3:::maps-bucket', context: {} }]);
    expect(iamChecks(s3('HEAD', '/maps-bucket'), facts)[0]?.action).toBe('s3:ListBucket');
  });

  it('reads the bucket of a virtual-hosted request from its host', () => {
    expect(iamChecks(s3('GET', '/maps/roads.map', { host: 'maps-bucket.s3.eu-west-1.amazonaws.com' }), facts)[0]?.resource).toBe('arn:aws:s3:::maps-bucket/maps/roads.map');
    // A container reaches the emulator as host.docker.internal, which moto serves path-style.
    expect(iamChecks(s3('GET', '/maps-bucket/roads.map', { host: 'host.docker.internal:4567' }), facts)[0]?.resource).toBe('arn:aws:s3:::maps-bucket/roads.map');
  });

  it('DeleteObjects is s3:DeleteObject for each key; a multipart abort is s3:AbortMultipartUpload; a copy reads its source', () => {
    const body = '<Delete><Object><Key>maps/a.map</Key></Object><Object><Key>maps/b&amp;c.map</Key></Object></Delete>';
    expect(iamChecks(s3('POST', '/maps-bucket?delete', {}, body), facts).map((c) => `${c.action} ${c.resource}`)).toEqual([
      's3:DeleteObject arn:aws:s3:::maps-bucket/maps/a.map',
      's3:DeleteObject arn:aws:s3:::maps-bucket/maps/b&c.map',
    ]);
    expect(iamChecks(s3('DELETE', '/maps-bucket/maps/a.map?uploadId=1'), facts)[0]?.action).toBe('s3:AbortMultipartUpload');
    expect(iamChecks(s3('PUT', '/maps-bucket/maps/b.map', { 'x-amz-copy-source': '/maps-bucket/maps/a.map' }), facts).map((c) => c.action)).toEqual(['s3:PutObject', 's3:GetObject']);
  });

  it('the bucket notification calls are s3:GetBucketNotification and s3:PutBucketNotification', () => {
    expect(iamChecks(s3('GET', '/maps-bucket?notification'), facts)[0]?.action).toBe('s3:GetBucketNotification');
    expect(iamChecks(s3('PUT', '/maps-bucket?notification'), facts)[0]?.action).toBe('s3:PutBucketNotification');
  });
});

describe('query and JSON protocol requests', () => {
  it('EC2 reads without a resource type are on "*"; calls on an id get its ARN', () => {
    expect(iamChecks(query('ec2', 'Action=DescribeRegions&Version=2016-11-15'), facts)).toEqual([{ action: 'ec2:DescribeRegions', resource: '*', context: {} }]);
    expect(iamChecks(query('ec2', 'Action=DeregisterImage&ImageId=ami-1'), facts)[0]?.resource).toBe('arn:aws:ec2:eu-west-1::image/ami-1');
    expect(iamChecks(query('ec2', 'Action=TerminateInstances&InstanceId.1=i-1'), facts)[0]?.resource).toBe('arn:aws:ec2:eu-west-1:123456789012:instance/i-1');
  });

  it('RunInstances checks the image, the subnet and the new instance', () => {
    const resources = iamChecks(query('ec2', 'Action=RunInstances&ImageId=ami-1&SubnetId=subnet-1&KeyName=packer_1'), facts).map((c) => c.resource);
    expect(resources).toEqual(expect.arrayContaining(['arn:aws:ec2:eu-west-1::image/ami-1', 'arn:aws:ec2:eu-west-1:123456789012:subnet/subnet-1', 'arn:aws:ec2:eu-west-1:123456789012:instance/*', 'arn:aws:ec2:eu-west-1:123456789012:key-pair/packer_1']));
  });

  it('a task definition implies iam:PassRole of its roles to ecs-tasks.amazonaws.com', () => {
    const request = json('ecs', 'AmazonEC2ContainerServiceV20141113.RegisterTaskDefinition', { family: 'mapserver', taskRoleArn: 'arn:aws:iam::123456789012:role/t', executionRoleArn: 'arn:aws:iam::123456789012:role/e' });
    const checks = iamChecksWithImplied(request, { ...facts, answer: '{"taskDefinition":{"taskDefinitionArn":"arn:aws:ecs:eu-west-1:123456789012:task-definition/mapserver:3"}}' });
    expect(checks).toEqual([
      { action: 'ecs:RegisterTaskDefinition', resource: 'arn:aws:ecs:eu-west-1:123456789012:task-definition/mapserver:3', context: {} },
      { action: 'iam:PassRole', resource: 'arn:aws:iam::123456789012:role/t', context: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } },
      { action: 'iam:PassRole', resource: 'arn:aws:iam::123456789012:role/e', context: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } },
    ]);
  });

  it('a launch template with an instance profile implies iam:PassRole of its role to ec2.amazonaws.com', () => {
    const request = query('ec2', 'Action=CreateLaunchTemplate&LaunchTemplateName=lt&LaunchTemplateData.IamInstanceProfile.Name=profile');
    expect(iamChecksWithImplied(request, facts, { profile: 'arn:aws:iam::123456789012:role/instance' })).toContainEqual({ action: 'iam:PassRole', resource: 'arn:aws:iam::123456789012:role/instance', context: { 'iam:PassedToService': 'ec2.amazonaws.com' } });
  });

  it('SQS batch calls are their single action on the queue; GetCallerIdentity needs no permission', () => {
    const request = json('sqs', 'AmazonSQS.DeleteMessageBatch', { QueueUrl: 'http://127.0.0.1/123456789012/mapserver-ecs-mirror-i-1', Entries: [] });
    expect(iamChecks(request, facts)).toEqual([{ action: 'sqs:DeleteMessage', resource: 'arn:aws:sqs:eu-west-1:123456789012:mapserver-ecs-mirror-i-1', context: {} }]);
    expect(iamChecks(query('sts', 'Action=GetCallerIdentity'), facts)).toEqual([]);
  });

  it('an SNS unsubscribe is checked on the subscription\'s topic', () => {
    expect(iamChecks(query('sns', 'Action=Unsubscribe&SubscriptionArn=arn%3Aaws%3Asns%3Aeu-west-1%3A123456789012%3Atopic%3Aabc'), facts)[0]?.resource).toBe('arn:aws:sns:eu-west-1:123456789012:topic');
  });
});

describe('the instance\'s own calls (mapfiles-instance)', () => {
  it('CreateTags of an instance carries aws:TagKeys and aws:RequestTag/<key> of the tags it sets', () => {
    const request = query('ec2', 'Action=CreateTags&Version=2016-11-15&ResourceId.1=i-0abc&Tag.1.Key=mapserver-ecs%3Alaunch-failure&Tag.1.Value=first%20sync');
    expect(iamChecks(request, facts)).toEqual([
      {
        action: 'ec2:CreateTags',
        resource: 'arn:aws:ec2:eu-west-1:123456789012:instance/i-0abc',
        context: { 'aws:TagKeys': ['mapserver-ecs:launch-failure'], 'aws:RequestTag/mapserver-ecs:launch-failure': 'first sync' },
      },
    ]);
  });

  it('UpdateContainerInstancesState is checked on each container instance of its cluster', () => {
    const body = { cluster: 'mapserver', containerInstances: ['arn:aws:ecs:eu-west-1:123456789012:container-instance/mapserver/abc123'], status: 'DRAINING' };
    expect(iamChecks(json('ecs', 'AmazonEC2ContainerServiceV20141113.UpdateContainerInstancesState', body), facts)).toEqual([
      { action: 'ecs:UpdateContainerInstancesState', resource: 'arn:aws:ecs:eu-west-1:123456789012:container-instance/mapserver/abc123', context: {} },
    ]);
  });
});

describe('the actor of a request', () => {
  it('is read from the SigV4 header, SigV2 header or presigned query', () => {
    expect(accessKeyIdOf({ headers: auth('s3', ACTORS.s3fs.accessKeyId), url: '/' })).toBe(ACTORS.s3fs.accessKeyId);
    expect(accessKeyIdOf({ headers: { authorization: `AWS ${ACTORS.gdal.accessKeyId}:sig` }, url: '/' })).toBe(ACTORS.gdal.accessKeyId);
    expect(accessKeyIdOf({ headers: {}, url: `/b/k?X-Amz-Credential=${ACTORS.mirror.accessKeyId}%2F20260101%2Fus-east-1%2Fs3%2Faws4_request` })).toBe(ACTORS.mirror.accessKeyId);
  });

  it('maps each actor to one role, and gives each its own key', () => {
    expect(Object.fromEntries(Object.entries(ACTORS).map(([actor, a]) => [actor, a.role]))).toEqual({ pipeline: 'pipeline', mirror: 'instance', s3fs: 'instance', gdal: 'task', instance: 'instance' });
    expect(new Set(Object.values(ACTORS).map((a) => a.accessKeyId)).size).toBe(Object.keys(ACTORS).length);
  });
});
