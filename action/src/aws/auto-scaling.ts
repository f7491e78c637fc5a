// The Auto Scaling group of the container instances: its launch template reference, its instance
// refreshes, and pinning it to a launch template version.
import {
  DescribeAutoScalingGroupsCommand,
  DescribeInstanceRefreshesCommand,
  UpdateAutoScalingGroupCommand,
  type AutoScalingGroup,
  type InstanceRefresh,
} from '@aws-sdk/client-auto-scaling';
import type { CommandContext } from '../context.js';

export async function describeAutoScalingGroup(ctx: CommandContext): Promise<AutoScalingGroup | undefined> {
  const response = await ctx.clients.autoScaling.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [ctx.settings.autoScalingGroup] }));
  return response.AutoScalingGroups?.find((g) => g.AutoScalingGroupName === ctx.settings.autoScalingGroup);
}

/** The launch template reference of a group, whether plain or inside a mixed instances policy. */
export function groupLaunchTemplate(group: AutoScalingGroup): { id?: string; name?: string; version?: string } | undefined {
  const spec = group.LaunchTemplate ?? group.MixedInstancesPolicy?.LaunchTemplate?.LaunchTemplateSpecification;
  if (!spec) return undefined;
  return { id: spec.LaunchTemplateId, name: spec.LaunchTemplateName, version: spec.Version };
}

/** The group's instance refreshes, newest first, or only those with the given ids. */
export async function describeInstanceRefreshes(ctx: CommandContext, ids?: string[]): Promise<InstanceRefresh[]> {
  const response = await ctx.clients.autoScaling.send(
    new DescribeInstanceRefreshesCommand({ AutoScalingGroupName: ctx.settings.autoScalingGroup, ...(ids ? { InstanceRefreshIds: ids } : {}) }),
  );
  return response.InstanceRefreshes ?? [];
}

/** Points the group (or its mixed instances policy) at one numbered launch template version. */
export async function pinGroup(ctx: CommandContext, group: AutoScalingGroup, launchTemplateId: string, version: string): Promise<void> {
  const spec = { LaunchTemplateId: launchTemplateId, Version: version };
  const mixed = group.MixedInstancesPolicy;
  await ctx.clients.autoScaling.send(
    new UpdateAutoScalingGroupCommand(
      mixed?.LaunchTemplate
        ? {
            AutoScalingGroupName: ctx.settings.autoScalingGroup,
            MixedInstancesPolicy: { ...mixed, LaunchTemplate: { ...mixed.LaunchTemplate, LaunchTemplateSpecification: spec } },
          }
        : { AutoScalingGroupName: ctx.settings.autoScalingGroup, LaunchTemplate: spec },
    ),
  );
}
