// The replacement phase of an emulated instance refresh on a group with a launch lifecycle hook:
// launch the new instances first (desired capacity raised by their number, on the desired launch
// template), hold them for the hook, then keep whichever side the hook decides. Every new instance
// continued: the old ones are terminated. One abandoned: the new ones are terminated and the group
// goes back to its launch template and capacity, the old instances never having been touched.
import type { LaunchHook, LifecycleHooks } from './lifecycle-hooks.js';
import type { Upstream } from './types.js';
import { internalRequest } from './wire.js';

interface TemplateSpec {
  id?: string;
  name?: string;
  version?: string;
}

export interface Launching {
  group: string;
  hook: string;
  oldInstances: string[];
  newInstances: string[];
  previous: { template: TemplateSpec | undefined; desired: number; max: number };
}

interface GroupState {
  instances: string[];
  desired: number;
  max: number;
  template: TemplateSpec | undefined;
}

async function autoScaling(upstream: Upstream, action: string, params: Record<string, string>): Promise<string> {
  const answer = await upstream(internalRequest('autoscaling', action, new URLSearchParams({ Action: action, Version: '2011-01-01', ...params }).toString()));
  if (answer.status !== 200) throw new Error(`${action} answered HTTP ${answer.status}: ${answer.body.toString().slice(0, 300)}`);
  return answer.body.toString();
}

async function groupState(upstream: Upstream, group: string): Promise<GroupState> {
  const xml = await autoScaling(upstream, 'DescribeAutoScalingGroups', { 'AutoScalingGroupNames.member.1': group });
  // The group's own fields come before its <Instances>, whose members carry their own templates.
  const [own = '', instances = ''] = xml.split('<Instances>');
  const value = (text: string, name: string): string | undefined => new RegExp(`<${name}>([^<]*)</${name}>`).exec(text)?.[1];
  const template = own.includes('<LaunchTemplate>') ? { id: value(own, 'LaunchTemplateId'), name: value(own, 'LaunchTemplateName'), version: value(own, 'Version') } : undefined;
  return {
    instances: [...instances.matchAll(/<InstanceId>([^<]*)<\/InstanceId>/g)].map((m) => m[1] ?? ''),
    desired: Number(value(own, 'DesiredCapacity') ?? 0),
    max: Number(value(own, 'MaxSize') ?? 0),
    template,
  };
}

function templateParams(spec: TemplateSpec | undefined): Record<string, string> {
  if (!spec) return {};
  const params: Record<string, string> = { 'LaunchTemplate.Version': spec.version ?? '$Default' };
  if (spec.id) params['LaunchTemplate.LaunchTemplateId'] = spec.id;
  else if (spec.name) params['LaunchTemplate.LaunchTemplateName'] = spec.name;
  return params;
}

async function terminate(upstream: Upstream, instanceIds: string[]): Promise<void> {
  for (const id of instanceIds) await autoScaling(upstream, 'TerminateInstanceInAutoScalingGroup', { InstanceId: id, ShouldDecrementDesiredCapacity: 'true' });
}

/** Launches as many new instances as the group has, on the desired template, held for the hook. */
export async function launchFirst(upstream: Upstream, hooks: LifecycleHooks, group: string, desired: TemplateSpec | undefined, hook: LaunchHook): Promise<Launching> {
  const before = await groupState(upstream, group);
  const count = Math.max(1, before.instances.length);
  await autoScaling(upstream, 'UpdateAutoScalingGroup', {
    AutoScalingGroupName: group,
    ...templateParams(desired),
    MaxSize: String(Math.max(before.max, before.desired + count)),
    DesiredCapacity: String(before.desired + count),
  });
  const after = await groupState(upstream, group);
  const newInstances = after.instances.filter((id) => !before.instances.includes(id));
  hooks.hold(group, newInstances, hook);
  return { group, hook: hook.name, oldInstances: before.instances, newInstances, previous: { template: before.template, desired: before.desired, max: before.max } };
}

/** One poll: still waiting ({}), or the refresh's new status once every hook answered or one abandoned. */
export async function settleLaunches(upstream: Upstream, hooks: LifecycleHooks, launching: Launching, autoRollback: boolean): Promise<{ status?: string; reason?: string }> {
  const outcomes = launching.newInstances.map((id) => ({ id, result: hooks.outcome(id) }));
  const abandoned = outcomes.filter((o) => o.result === 'ABANDON').map((o) => o.id);
  if (abandoned.length === 0 && outcomes.some((o) => o.result === undefined)) return {};
  const { group, previous } = launching;
  if (abandoned.length > 0) {
    await terminate(upstream, launching.newInstances);
    await autoScaling(upstream, 'UpdateAutoScalingGroup', { AutoScalingGroupName: group, ...templateParams(previous.template), MaxSize: String(previous.max), DesiredCapacity: String(previous.desired) });
    launching.newInstances.forEach((id) => hooks.release(id));
    const reason = `Instance ${abandoned.join(', ')} failed to launch: lifecycle hook ${launching.hook} was abandoned (ABANDON).`;
    return autoRollback ? { status: 'RollbackInProgress', reason: `${reason} Rolling back to the previous configuration.` } : { status: 'Failed', reason };
  }
  await terminate(upstream, launching.oldInstances);
  await autoScaling(upstream, 'UpdateAutoScalingGroup', { AutoScalingGroupName: group, MaxSize: String(previous.max) });
  launching.newInstances.forEach((id) => hooks.release(id));
  return { status: 'Successful', reason: undefined };
}
