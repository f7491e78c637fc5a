// What the IAM recorder must read from moto before a call, because AWS authorizes the call with
// facts the request does not carry: the tags a resource has (ec2:ResourceTag/...), and the ARN of
// the Auto Scaling group a call acts on (named by the group, or only by one of its instances).
import type { ProxyRequest, Upstream } from './types.js';
import { internalRequest } from './wire.js';

const ASG_NAME = /^autoScalingGroup:[^:]+:autoScalingGroupName\/(.*)$/;

async function query(upstream: Upstream, service: string, params: Record<string, string>): Promise<string> {
  const version = service === 'ec2' ? '2016-11-15' : '2011-01-01';
  const answer = await upstream(internalRequest(service, params.Action ?? '', new URLSearchParams({ Version: version, ...params }).toString()));
  return answer.status === 200 ? answer.body.toString() : '';
}

/** The tags of an image before a call changes it (DeregisterImage is allowed by its ec2:ResourceTag/...). */
async function imageTags(upstream: Upstream, imageId: string): Promise<Record<string, string>> {
  const text = await query(upstream, 'ec2', { Action: 'DescribeImages', 'ImageId.1': imageId });
  const tags: Record<string, string> = {};
  for (const match of text.matchAll(/<item>\s*<key>([^<]*)<\/key>\s*<value>([^<]*)<\/value>\s*<\/item>/g)) tags[`ec2:ResourceTag/${match[1]}`] = match[2] ?? '';
  return tags;
}

/**
 * The tags of the resources a CreateTags names, before it adds its own. The Auto Scaling group tags
 * each instance it launches with aws:autoscaling:groupName (EC2 Auto Scaling User Guide, "Tag Auto
 * Scaling groups and instances"); moto does so too, in its own group launches.
 */
async function taggedResourceTags(upstream: Upstream, resourceIds: string[]): Promise<Record<string, string>> {
  const params: Record<string, string> = { Action: 'DescribeTags', 'Filter.1.Name': 'resource-id' };
  resourceIds.forEach((id, i) => (params[`Filter.1.Value.${i + 1}`] = id));
  const text = await query(upstream, 'ec2', params);
  const tags: Record<string, string> = {};
  // One request tags one resource here (the instance tags itself); several would need one check each.
  for (const item of text.matchAll(/<item>([\s\S]*?)<\/item>/g)) {
    const key = /<key>([^<]*)<\/key>/.exec(item[1] ?? '')?.[1];
    if (key !== undefined) tags[`ec2:ResourceTag/${key}`] = /<value>([^<]*)<\/value>/.exec(item[1] ?? '')?.[1] ?? '';
  }
  return tags;
}

/** Condition keys of the resource a request acts on, as it stands before the call. */
export async function resourceTagsBefore(upstream: Upstream, request: ProxyRequest): Promise<Record<string, string>> {
  if (request.service !== 'ec2') return {};
  if (request.action === 'DeregisterImage') {
    const imageId = request.params.get('ImageId');
    return imageId ? imageTags(upstream, imageId) : {};
  }
  if (request.action === 'CreateTags') {
    const ids = [...request.params].filter(([name]) => /^ResourceId\.\d+$/.test(name)).map(([, id]) => id);
    return ids.length > 0 ? taggedResourceTags(upstream, ids) : {};
  }
  return {};
}

/**
 * The ARN of the Auto Scaling group a (non-Describe) call acts on, with the UUID only AWS knows:
 * by its AutoScalingGroupName, or by the group of its InstanceId (SetInstanceHealth,
 * TerminateInstanceInAutoScalingGroup name only the instance; AWS authorizes them on its group).
 * Undefined for a group that does not exist (yet).
 */
export async function autoScalingGroupArn(upstream: Upstream, request: ProxyRequest): Promise<string | undefined> {
  if (request.service !== 'autoscaling' || !request.action || request.action.startsWith('Describe')) return undefined;
  let name = request.params.get('AutoScalingGroupName') ?? '';
  const instanceId = request.params.get('InstanceId');
  if (!name && instanceId) {
    const text = await query(upstream, 'autoscaling', { Action: 'DescribeAutoScalingInstances', 'InstanceIds.member.1': instanceId });
    name = /<AutoScalingGroupName>([^<]*)<\/AutoScalingGroupName>/.exec(text)?.[1] ?? '';
  }
  if (!name) return undefined;
  const text = await query(upstream, 'autoscaling', { Action: 'DescribeAutoScalingGroups', 'AutoScalingGroupNames.member.1': name });
  return /<AutoScalingGroupARN>([^<]*)<\/AutoScalingGroupARN>/.exec(text)?.[1];
}

/** Whether `resource` is an Auto Scaling group ARN (the recorder's placeholder or AWS's). */
export function isAutoScalingGroupArn(resource: string): boolean {
  return ASG_NAME.test(resource.split(':').slice(5).join(':'));
}
