// The emulator's Auto Scaling lifecycle hooks and instance health (moto stores hooks but never holds
// an instance for them, and has no CompleteLifecycleAction): a launched instance of a group with an
// autoscaling:EC2_INSTANCE_LAUNCHING hook waits in Pending:Wait until it completes the hook with
// CONTINUE or ABANDON, or the heartbeat timeout applies the hook's default result. An abandoned
// launch is terminated and recorded as a Cancelled scaling activity, as AWS does. SetInstanceHealth
// Unhealthy replaces the instance (terminated, a new one launched), as AWS does after a health check.
// moto's instances run nothing: by default an emulated instance answers its hook as a working one
// would (CONTINUE); a test that plays the instances itself (the real mapfiles-instance) turns that off.
import type { Interceptor, ProxyResponse, Upstream } from './types.js';
import { internalRequest, queryError, queryXml, xmlEscape } from './wire.js';

export type LaunchResult = 'CONTINUE' | 'ABANDON';

export interface LaunchHook {
  name: string;
  heartbeatSeconds: number;
  defaultResult: LaunchResult;
}

interface HeldLaunch {
  group: string;
  instanceId: string;
  hook: LaunchHook;
  heldSince: number;
  result: LaunchResult | undefined;
}

interface Activity {
  group: string;
  description: string;
  cause: string;
  status: 'Successful' | 'Cancelled';
  message: string;
  start: Date;
}

const LAUNCHING = 'autoscaling:EC2_INSTANCE_LAUNCHING';

function activityXml(a: Activity, index: number): string {
  const field = (name: string, value: string): string => `<${name}>${xmlEscape(value)}</${name}>`;
  return `<member>${field('ActivityId', `emulated-${index}`)}${field('AutoScalingGroupName', a.group)}${field('Description', a.description)}${field('Cause', a.cause)}${field(
    'StartTime',
    a.start.toISOString(),
  )}${field('EndTime', a.start.toISOString())}${field('StatusCode', a.status)}${field('StatusMessage', a.message)}<Progress>100</Progress></member>`;
}

export class LifecycleHooks {
  private readonly held = new Map<string, HeldLaunch>();
  private readonly activities: Activity[] = [];
  /** Whether emulated instances answer their launch hook themselves (CONTINUE), as working ones do. */
  private autoContinue = true;

  constructor(private readonly upstream: Upstream) {}

  /** Launches wait for CompleteLifecycleAction from the test (true), or continue by themselves (false). */
  answerLaunchesManually(manual: boolean): void {
    this.autoContinue = !manual;
  }

  /** What the instance answered its launch hook, without applying any default. */
  answered(instanceId: string): LaunchResult | undefined {
    return this.held.get(instanceId)?.result;
  }

  /** Holds a running instance of the group as a fresh launch waiting for its hook (tests of one boot). */
  async holdLaunch(group: string, instanceId: string): Promise<void> {
    const hook = await this.launchHook(group);
    if (!hook) throw new Error(`Auto Scaling group ${group} has no launching lifecycle hook`);
    this.hold(group, [instanceId], hook);
  }

  /** Instances held in Pending:Wait for a hook, not yet answered. */
  waiting(group: string): string[] {
    return [...this.held.values()].filter((l) => l.group === group && !l.result).map((l) => l.instanceId);
  }

  readonly interceptor: Interceptor = async (request, next) => {
    if (request.service !== 'autoscaling') return next();
    const p = request.params;
    switch (request.action) {
      case 'CompleteLifecycleAction':
        return this.complete(p.get('AutoScalingGroupName') ?? '', p.get('LifecycleHookName') ?? '', p.get('InstanceId') ?? '', p.get('LifecycleActionResult') ?? '');
      case 'RecordLifecycleActionHeartbeat': {
        const launch = this.pending(p.get('InstanceId') ?? '');
        if (!launch) return queryError(400, 'ValidationError', `No active Lifecycle Action found with instance ID ${p.get('InstanceId') ?? ''}`);
        launch.heldSince = Date.now();
        return queryXml('RecordLifecycleActionHeartbeat', '');
      }
      case 'SetInstanceHealth':
        return this.setHealth(p.get('InstanceId') ?? '', p.get('HealthStatus') ?? '', next);
      case 'DescribeScalingActivities': {
        const group = p.get('AutoScalingGroupName') ?? '';
        const mine = this.activities.filter((a) => a.group === group).reverse();
        return queryXml('DescribeScalingActivities', `<Activities>${mine.map(activityXml).join('')}</Activities>`);
      }
      case 'DescribeAutoScalingGroups':
      case 'DescribeAutoScalingInstances':
        return this.showPendingWait(await next());
      default:
        return next();
    }
  };

  /** The group's launching hook, if it has one (read from moto, which stores hooks). */
  async launchHook(group: string): Promise<LaunchHook | undefined> {
    const params = new URLSearchParams({ Action: 'DescribeLifecycleHooks', Version: '2011-01-01', AutoScalingGroupName: group });
    const xml = (await this.upstream(internalRequest('autoscaling', 'DescribeLifecycleHooks', params.toString()))).body.toString();
    for (const member of xml.split('<member>').slice(1)) {
      const value = (name: string): string => new RegExp(`<${name}>([^<]*)</${name}>`).exec(member)?.[1] ?? '';
      if (value('LifecycleTransition') !== LAUNCHING) continue;
      return { name: value('LifecycleHookName'), heartbeatSeconds: Number(value('HeartbeatTimeout') || 3600), defaultResult: value('DefaultResult') === 'CONTINUE' ? 'CONTINUE' : 'ABANDON' };
    }
    return undefined;
  }

  /** Holds new instances of a group in Pending:Wait until they complete the hook. */
  hold(group: string, instanceIds: string[], hook: LaunchHook): void {
    for (const instanceId of instanceIds) this.held.set(instanceId, { group, instanceId, hook, heldSince: Date.now(), result: undefined });
  }

  /** CONTINUE, ABANDON (given, or the default once the heartbeat timed out), or undefined while waiting. */
  outcome(instanceId: string): LaunchResult | undefined {
    const launch = this.held.get(instanceId);
    if (!launch) return 'CONTINUE';
    if (!launch.result && this.autoContinue) launch.result = 'CONTINUE';
    if (!launch.result && Date.now() - launch.heldSince > launch.hook.heartbeatSeconds * 1000) {
      launch.result = launch.hook.defaultResult;
      this.record(launch, `Lifecycle hook ${launch.hook.name} timed out after ${launch.hook.heartbeatSeconds} s: default result ${launch.result}`);
    }
    return launch.result;
  }

  /** Forgets a held instance (its launch ended one way or the other). */
  release(instanceId: string): void {
    this.held.delete(instanceId);
  }

  /** A scaling activity, as DescribeScalingActivities lists it. */
  recordActivity(activity: Omit<Activity, 'start'>): void {
    this.activities.push({ ...activity, start: new Date() });
  }

  private pending(instanceId: string): HeldLaunch | undefined {
    const launch = this.held.get(instanceId);
    return launch && !launch.result ? launch : undefined;
  }

  private record(launch: HeldLaunch, message: string): void {
    if (launch.result !== 'ABANDON') return;
    this.recordActivity({
      group: launch.group,
      description: `Launching a new EC2 instance: ${launch.instanceId}`,
      cause: 'An instance was started in response to an instance refresh.',
      status: 'Cancelled',
      message: `Instance failed to complete user's Lifecycle Action: ${message}`,
    });
  }

  private complete(group: string, hook: string, instanceId: string, result: string): ProxyResponse {
    if (result !== 'CONTINUE' && result !== 'ABANDON') return queryError(400, 'ValidationError', `LifecycleActionResult must be CONTINUE or ABANDON, got ${result}`);
    const launch = this.pending(instanceId);
    if (!launch || launch.group !== group || launch.hook.name !== hook) {
      return queryError(400, 'ValidationError', `No active Lifecycle Action found with instance ID ${instanceId}`);
    }
    launch.result = result;
    this.record(launch, `Lifecycle Action ${hook} was completed with ${result}`);
    return queryXml('CompleteLifecycleAction', '');
  }

  /** AWS replaces an instance set Unhealthy: terminate it without lowering the desired capacity. */
  private async setHealth(instanceId: string, status: string, next: () => Promise<ProxyResponse>): Promise<ProxyResponse> {
    const answer = await next();
    if (answer.status !== 200 || status !== 'Unhealthy') return answer;
    const params = new URLSearchParams({ Action: 'TerminateInstanceInAutoScalingGroup', Version: '2011-01-01', InstanceId: instanceId, ShouldDecrementDesiredCapacity: 'false' });
    const terminated = await this.upstream(internalRequest('autoscaling', 'TerminateInstanceInAutoScalingGroup', params.toString()));
    const group = /<AutoScalingGroupName>([^<]*)</.exec(terminated.body.toString())?.[1] ?? '';
    this.recordActivity({
      group,
      description: `Terminating EC2 instance: ${instanceId}`,
      cause: `An instance was taken out of service in response to a user health-check.`,
      status: 'Successful',
      message: '',
    });
    return answer;
  }

  /** Instances held for a hook show as Pending:Wait, not InService. */
  private showPendingWait(answer: ProxyResponse): ProxyResponse {
    if (answer.status !== 200 || this.held.size === 0) return answer;
    let xml = answer.body.toString();
    for (const launch of this.held.values()) {
      if (launch.result) continue;
      const id = launch.instanceId;
      xml = xml.replace(new RegExp(`(<InstanceId>${id}</InstanceId>[\\s\\S]*?<LifecycleState>)InService(</LifecycleState>)`), '$1Pending:Wait$2');
    }
    return { ...answer, body: xml };
  }
}
