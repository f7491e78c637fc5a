// Whether an AMI suits the instances it is about to run on, read before anything changes: the mount
// driver baked into it (its mapserver-ecs:mount-driver tag) must be the one the user data starts, and
// its architecture must be the instance type's.
import { DescribeImagesCommand, type Image } from '@aws-sdk/client-ec2';
import type { CommandContext } from '../context.js';
import { StepFailure } from '../errors.js';
import { instanceArchitecture } from '../values.js';

export const MOUNT_DRIVER_TAG = 'mapserver-ecs:mount-driver';

export async function describeAmi(ctx: CommandContext, amiId: string): Promise<Image | undefined> {
  try {
    return (await ctx.clients.ec2.send(new DescribeImagesCommand({ ImageIds: [amiId] }))).Images?.[0];
  } catch (error) {
    if ((error as Error).name === 'InvalidAMIID.NotFound' || (error as Error).name === 'InvalidAMIID.Unavailable') return undefined;
    throw error;
  }
}

/** Refuses, naming both values, an AMI whose mount driver or architecture disagrees; an AMI without the tag (not baked here) is taken as it is. */
export async function checkAmiFits(ctx: CommandContext, amiId: string, instanceType: string, state = 'nothing changed'): Promise<Image | undefined> {
  const { settings } = ctx;
  const image = await describeAmi(ctx, amiId);
  // One that cannot be described (not shared with DescribeImages rights) is left to EC2 at launch.
  if (!image) return undefined;
  const driver = image.Tags?.find((t) => t.Key === MOUNT_DRIVER_TAG)?.Value;
  if (driver && driver !== settings.mountDriver) {
    throw new StepFailure(
      `AMI ${amiId} was baked with mount driver ${driver}, but mount-driver is ${settings.mountDriver}: instances would start a driver the AMI does not have. Set mount-driver to ${driver}, or bake an AMI with ${settings.mountDriver}`,
      { state },
    );
  }
  const wanted = instanceArchitecture(instanceType);
  if (image.Architecture && image.Architecture !== wanted) {
    throw new StepFailure(`AMI ${amiId} is an ${image.Architecture} image, but instance type ${instanceType} is ${wanted}: set instance-type to an ${image.Architecture} type`, { state });
  }
  return image;
}
