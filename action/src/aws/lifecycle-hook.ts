// The Auto Scaling group's launch lifecycle hook: a new instance waits in Pending:Wait until it says
// it serves the bucket and its ECS agent registered with the ready attribute (CONTINUE), or that its
// mount failed (ABANDON), so an instance that cannot serve never counts as healthy, and an instance
// refresh onto a broken AMI fails and rolls back. The instance side is `mapfiles-mount`.
import {
  DescribeLifecycleHooksCommand,
  DescribeScalingActivitiesCommand,
  PutLifecycleHookCommand,
  type Activity,
  type LifecycleHook,
} from '@aws-sdk/client-auto-scaling';
import { DescribeTagsCommand } from '@aws-sdk/client-ec2';
import type { CommandContext } from '../context.js';

/** The hook's name; user data hands it to the instance, which completes it. */
export const LAUNCH_HOOK_NAME = 'mapserver-ecs-launch';

/**
 * How long an instance may take to answer: the mount service's start timeout (30 min: its retries
 * and the mirror's first sync) plus 5 min for the ECS agent to register. Unanswered means ABANDON.
 */
export const LAUNCH_HOOK_HEARTBEAT_SECONDS = 2100;

/** The tag an instance puts on itself, before it abandons its launch, saying why. */
export const LAUNCH_FAILURE_TAG = 'mapserver-ecs:launch-failure';

export const LAUNCH_HOOK = {
  LifecycleHookName: LAUNCH_HOOK_NAME,
  LifecycleTransition: 'autoscaling:EC2_INSTANCE_LAUNCHING',
  HeartbeatTimeout: LAUNCH_HOOK_HEARTBEAT_SECONDS,
  DefaultResult: 'ABANDON',
} as const;

export async function findLaunchHook(ctx: CommandContext): Promise<LifecycleHook | undefined> {
  const group = ctx.settings.autoScalingGroup;
  const answer = await ctx.clients.autoScaling.send(new DescribeLifecycleHooksCommand({ AutoScalingGroupName: group, LifecycleHookNames: [LAUNCH_HOOK_NAME] }));
  return answer.LifecycleHooks?.find((h) => h.LifecycleHookName === LAUNCH_HOOK_NAME);
}

/** True when the hook exists as this version wants it (a hook with other settings is put again). */
export function launchHookIsCurrent(hook: LifecycleHook | undefined): boolean {
  return (
    hook?.LifecycleTransition === LAUNCH_HOOK.LifecycleTransition &&
    hook.HeartbeatTimeout === LAUNCH_HOOK.HeartbeatTimeout &&
    hook.DefaultResult === LAUNCH_HOOK.DefaultResult
  );
}

export async function putLaunchHook(ctx: CommandContext): Promise<void> {
  await ctx.clients.autoScaling.send(new PutLifecycleHookCommand({ AutoScalingGroupName: ctx.settings.autoScalingGroup, ...LAUNCH_HOOK }));
}

export interface LaunchFailure {
  instanceId: string;
  /** What the instance said (its launch-failure tag), else what Auto Scaling said. */
  cause: string;
}

const LAUNCHING = /Launching a new EC2 instance:?\s+(i-[0-9a-f]+)/;

/** The launches since `since` that did not complete: the instance and, when it said so, why. */
export async function launchFailures(ctx: CommandContext, since: Date): Promise<LaunchFailure[]> {
  const answer = await ctx.clients.autoScaling.send(new DescribeScalingActivitiesCommand({ AutoScalingGroupName: ctx.settings.autoScalingGroup, MaxRecords: 100 }));
  const failed = (answer.Activities ?? []).filter(
    (a: Activity) => (a.StatusCode === 'Cancelled' || a.StatusCode === 'Failed') && (a.StartTime ?? since) >= since && LAUNCHING.test(a.Description ?? ''),
  );
  const byInstance = new Map(failed.map((a) => [LAUNCHING.exec(a.Description ?? '')?.[1] ?? '', a.StatusMessage ?? a.Cause ?? 'no reason given']));
  if (byInstance.size === 0) return [];
  const tags = await ctx.clients.ec2.send(
    new DescribeTagsCommand({
      Filters: [
        { Name: 'resource-id', Values: [...byInstance.keys()] },
        { Name: 'key', Values: [LAUNCH_FAILURE_TAG] },
      ],
    }),
  );
  for (const tag of tags.Tags ?? []) if (tag.ResourceId && tag.Value) byInstance.set(tag.ResourceId, tag.Value);
  return [...byInstance].map(([instanceId, cause]) => ({ instanceId, cause }));
}

/** "instance i-1 did not launch: mount failed; instance i-2 ..." for a failure message. */
export function describeLaunchFailures(failures: LaunchFailure[]): string {
  return failures.map((f) => `instance ${f.instanceId} did not launch: ${f.cause}`).join('; ');
}

/**
 * For a failed refresh's message: "; instance i-1 did not launch: <cause>", or '' when no launch
 * failed (or the activities cannot be read: the refresh's own reason still stands).
 */
export async function launchFailureSuffix(ctx: CommandContext, since: Date): Promise<string> {
  try {
    const failures = await launchFailures(ctx, since);
    return failures.length > 0 ? `; ${describeLaunchFailures(failures)}` : '';
  } catch (error) {
    ctx.reporter.warn(`Could not read which instances failed to launch: ${(error as Error).message}`);
    return '';
  }
}
