// The emulator's Auto Scaling instance refreshes (moto has none): a refresh moves Pending ->
// InProgress -> Successful over a few polls, then the group takes the desired launch template
// version and its instances are replaced; it can be told to fail or roll back. A group with a launch
// lifecycle hook launches the new instances first and waits for each to complete the hook: an
// abandoned launch fails the refresh, which rolls back (AutoRollback) keeping the old instances.
import { randomUUID } from 'node:crypto';
import type { LifecycleHooks } from './lifecycle-hooks.js';
import { launchFirst, settleLaunches, type Launching } from './refresh-launches.js';
import type { Interceptor, ProxyResponse, RefreshFailure, Upstream } from './types.js';
import { internalRequest, queryError, queryXml, xmlEscape } from './wire.js';

interface Refresh {
  id: string;
  group: string;
  status: string;
  reason: string | undefined;
  percentage: number;
  polls: number;
  started: Date;
  ended: Date | undefined;
  toUpdate: number;
  preferences: URLSearchParams;
  desiredTemplate: { id?: string; name?: string; version?: string } | undefined;
  failAs: string | undefined;
  /** New instances launched and held for the group's launch hook, with what to restore on rollback. */
  launching?: Launching;
}

const ACTIVE = new Set(['Pending', 'InProgress', 'Cancelling', 'RollbackInProgress', 'Baking']);

function tag(name: string, value: string | number | boolean | undefined): string {
  return value === undefined || value === '' ? '' : `<${name}>${xmlEscape(String(value))}</${name}>`;
}

function refreshXml(r: Refresh): string {
  const pref = (key: string): string | undefined => r.preferences.get(`Preferences.${key}`) ?? undefined;
  const template = r.desiredTemplate
    ? `<DesiredConfiguration><LaunchTemplate>${tag('LaunchTemplateId', r.desiredTemplate.id)}${tag('LaunchTemplateName', r.desiredTemplate.name)}${tag('Version', r.desiredTemplate.version)}</LaunchTemplate></DesiredConfiguration>`
    : '';
  return `<member>${tag('InstanceRefreshId', r.id)}${tag('AutoScalingGroupName', r.group)}${tag('Status', r.status)}${tag('StatusReason', r.reason)}${tag(
    'StartTime',
    r.started.toISOString(),
  )}${tag('EndTime', r.ended?.toISOString())}${tag('PercentageComplete', r.percentage)}${tag('InstancesToUpdate', r.toUpdate)}<Preferences>${tag(
    'MinHealthyPercentage',
    pref('MinHealthyPercentage'),
  )}${tag('MaxHealthyPercentage', pref('MaxHealthyPercentage'))}${tag('InstanceWarmup', pref('InstanceWarmup'))}${tag('SkipMatching', pref('SkipMatching'))}${tag(
    'AutoRollback',
    pref('AutoRollback'),
  )}${tag('ScaleInProtectedInstances', pref('ScaleInProtectedInstances'))}${tag('StandbyInstances', pref('StandbyInstances'))}</Preferences>${template}</member>`;
}

function xmlValues(xml: string, name: string): string[] {
  return [...xml.matchAll(new RegExp(`<${name}>([^<]*)</${name}>`, 'g'))].map((m) => m[1] ?? '');
}

/** The launch template a StartInstanceRefresh asks the group to take, if any. */
function desiredTemplateOf(p: URLSearchParams): Refresh['desiredTemplate'] {
  if (!p.get('DesiredConfiguration.LaunchTemplate.LaunchTemplateId') && !p.get('DesiredConfiguration.LaunchTemplate.LaunchTemplateName')) return undefined;
  return {
    id: p.get('DesiredConfiguration.LaunchTemplate.LaunchTemplateId') ?? undefined,
    name: p.get('DesiredConfiguration.LaunchTemplate.LaunchTemplateName') ?? undefined,
    version: p.get('DesiredConfiguration.LaunchTemplate.Version') ?? undefined,
  };
}

export class InstanceRefreshes {
  private readonly refreshes: Refresh[] = [];
  private readonly pendingFailures: Array<{ status: string; reason: string }> = [];

  constructor(
    private readonly upstream: Upstream,
    private readonly steps: number,
    private readonly hooks: LifecycleHooks,
  ) {}

  readonly interceptor: Interceptor = async (request, next) => {
    if (request.service !== 'autoscaling') return next();
    const p = request.params;
    const group = p.get('AutoScalingGroupName') ?? '';
    if (request.action === 'StartInstanceRefresh') return this.start(group, p);
    if (request.action === 'DescribeInstanceRefreshes') {
      const ids = [...p.entries()].filter(([k]) => k.startsWith('InstanceRefreshIds.member.')).map(([, v]) => v);
      const selected = this.refreshes.filter((r) => r.group === group && (ids.length === 0 || ids.includes(r.id)));
      for (const r of selected) await this.advance(r);
      return queryXml('DescribeInstanceRefreshes', `<InstanceRefreshes>${selected.map(refreshXml).join('')}</InstanceRefreshes>`);
    }
    if (request.action === 'CancelInstanceRefresh') {
      const active = this.refreshes.find((r) => r.group === group && ACTIVE.has(r.status));
      if (!active) return queryError(400, 'ActiveInstanceRefreshNotFound', `No in progress or pending Instance Refresh found for Auto Scaling group ${group}`);
      active.status = 'Cancelling';
      return queryXml('CancelInstanceRefresh', tag('InstanceRefreshId', active.id));
    }
    return next();
  };

  failNext(status: RefreshFailure, reason?: string): void {
    this.pendingFailures.push({ status, reason: reason ?? 'Instances failed to become healthy during the refresh (simulated).' });
  }

  private async start(group: string, p: URLSearchParams): Promise<ProxyResponse> {
    const instances = await this.groupInstances(group);
    if (!instances) return queryError(400, 'ValidationError', `AutoScalingGroup name not found - ${group}`);
    const active = this.refreshes.find((r) => r.group === group && ACTIVE.has(r.status));
    if (active) return queryError(400, 'InstanceRefreshInProgress', `An Instance Refresh is already in progress and blocks the execution of this Instance Refresh (${active.id}).`);
    const failure = this.pendingFailures.shift();
    const refresh: Refresh = {
      id: randomUUID(),
      group,
      status: 'Pending',
      reason: failure?.reason,
      percentage: 0,
      polls: 0,
      started: new Date(),
      ended: undefined,
      toUpdate: instances.length,
      preferences: p,
      desiredTemplate: desiredTemplateOf(p),
      failAs: failure?.status,
    };
    this.refreshes.unshift(refresh);
    return queryXml('StartInstanceRefresh', tag('InstanceRefreshId', refresh.id));
  }

  private autoScaling(action: string, params: Record<string, string>): Promise<ProxyResponse> {
    return this.upstream(internalRequest('autoscaling', action, new URLSearchParams({ Action: action, Version: '2011-01-01', ...params }).toString()));
  }

  private async groupInstances(group: string): Promise<string[] | undefined> {
    const answer = await this.autoScaling('DescribeAutoScalingGroups', { 'AutoScalingGroupNames.member.1': group });
    const xml = answer.body.toString();
    if (!xml.includes(`<AutoScalingGroupName>${xmlEscape(group)}</AutoScalingGroupName>`)) return undefined;
    return xmlValues(xml, 'InstanceId');
  }

  /** Applies the desired configuration and replaces the instances, as a finished refresh does. */
  private async complete(r: Refresh): Promise<void> {
    const checked = async (action: string, params: Record<string, string>): Promise<void> => {
      const answer = await this.autoScaling(action, params);
      if (answer.status !== 200) throw new Error(`${action} answered HTTP ${answer.status}: ${answer.body.toString().slice(0, 300)}`);
    };
    const instances = (await this.groupInstances(r.group)) ?? [];
    if (r.desiredTemplate) {
      const spec: Record<string, string> = { 'LaunchTemplate.Version': r.desiredTemplate.version ?? '$Default' };
      if (r.desiredTemplate.id) spec['LaunchTemplate.LaunchTemplateId'] = r.desiredTemplate.id;
      else if (r.desiredTemplate.name) spec['LaunchTemplate.LaunchTemplateName'] = r.desiredTemplate.name;
      await checked('UpdateAutoScalingGroup', { AutoScalingGroupName: r.group, ...spec });
    }
    for (const instance of instances) {
      await checked('TerminateInstanceInAutoScalingGroup', { InstanceId: instance, ShouldDecrementDesiredCapacity: 'false' });
    }
  }

  /** One poll's worth of progress: each DescribeInstanceRefreshes moves a refresh on. */
  private async advance(r: Refresh): Promise<void> {
    if (!ACTIVE.has(r.status)) return;
    r.polls += 1;
    if (r.status === 'Cancelling') {
      Object.assign(r, { status: 'Cancelled', reason: 'Instance refresh was cancelled.', ended: new Date() });
      return;
    }
    if (r.status === 'RollbackInProgress') {
      const rolledBack = r.failAs === 'RollbackSuccessful' || r.launching !== undefined;
      Object.assign(r, { status: rolledBack ? 'RollbackSuccessful' : 'RollbackFailed', ended: new Date(), percentage: 100 });
      return;
    }
    if (r.launching) {
      Object.assign(r, await settleLaunches(this.upstream, this.hooks, r.launching, r.preferences.get('Preferences.AutoRollback') === 'true'));
      if (r.status === 'Successful') Object.assign(r, { percentage: 100, toUpdate: 0 });
      if (!ACTIVE.has(r.status)) r.ended = new Date();
      return;
    }
    r.status = 'InProgress';
    r.percentage = Math.min(100, Math.round((100 * r.polls) / this.steps));
    if (r.failAs && r.polls >= Math.ceil(this.steps / 2)) {
      if (r.failAs === 'RollbackSuccessful') {
        Object.assign(r, { status: 'RollbackInProgress', reason: 'An instance failed its health checks; rolling back to the previous configuration.' });
      } else Object.assign(r, { status: r.failAs, reason: r.reason ?? 'An instance failed its health checks.', ended: new Date() });
      return;
    }
    if (r.polls >= this.steps) {
      const hook = await this.hooks.launchHook(r.group);
      if (hook) {
        r.launching = await launchFirst(this.upstream, this.hooks, r.group, r.desiredTemplate, hook);
        r.reason = `Waiting for ${r.launching.newInstances.length} new instance(s) to complete lifecycle hook ${hook.name}`;
        return;
      }
      try {
        await this.complete(r);
        Object.assign(r, { status: 'Successful', percentage: 100, toUpdate: 0, ended: new Date() });
      } catch (error) {
        Object.assign(r, { status: 'Failed', reason: `The emulator could not replace the instances: ${(error as Error).message}`, ended: new Date() });
      }
    }
  }
}
