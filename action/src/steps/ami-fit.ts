// Whether an AMI suits the instances it is about to run on, read before anything changes: the mount
// driver baked into it (its mapserver-ecs:mount-driver tag) must be the one the user data starts, and
// its architecture must be the instance type's.
import { DescribeImagesCommand, type Image } from '@aws-sdk/client-ec2';
import type { CommandContext } from '../context.js';
import { StepFailure } from '../errors.js';
import type { MountDriver, Settings } from '../settings.js';
import { instanceArchitecture } from '../values.js';

export const MOUNT_DRIVER_TAG = 'mapserver-ecs:mount-driver';
const MOUNT_DRIVERS: readonly MountDriver[] = ['s3fs', 'mountpoint', 'mirror'];

export async function describeAmi(ctx: CommandContext, amiId: string): Promise<Image | undefined> {
  try {
    return (await ctx.clients.ec2.send(new DescribeImagesCommand({ ImageIds: [amiId] }))).Images?.[0];
  } catch (error) {
    if ((error as Error).name === 'InvalidAMIID.NotFound' || (error as Error).name === 'InvalidAMIID.Unavailable') return undefined;
    throw error;
  }
}

/**
 * The mount driver instances on this AMI start: the one recorded on it (its mapserver-ecs:mount-driver
 * tag). A given mount-driver that disagrees is refused, naming both. An AMI without the tag was not
 * baked here: it is used only with mount-driver given, since nothing says which driver it has.
 */
export function amiMountDriver(settings: Pick<Settings, 'mountDriver' | 'mountDriverGiven'>, amiId: string, image: Image, state: string): MountDriver {
  const recorded = image.Tags?.find((t) => t.Key === MOUNT_DRIVER_TAG)?.Value;
  if (recorded === undefined) {
    if (settings.mountDriverGiven) return settings.mountDriver;
    throw new StepFailure(
      `AMI ${amiId} has no ${MOUNT_DRIVER_TAG} tag, so it was not baked by mapserver-ecs and nothing says which mount driver it has. Bake an AMI (mapserver-ecs bake), or set mount-driver to the driver installed on this AMI`,
      { state },
    );
  }
  if (!MOUNT_DRIVERS.includes(recorded as MountDriver)) {
    throw new StepFailure(`AMI ${amiId} has ${MOUNT_DRIVER_TAG} ${JSON.stringify(recorded)}, expected one of ${MOUNT_DRIVERS.join(', ')}: bake the AMI again`, { state });
  }
  if (settings.mountDriverGiven && recorded !== settings.mountDriver) {
    throw new StepFailure(
      `AMI ${amiId} was baked with mount driver ${recorded}, but mount-driver is ${settings.mountDriver}: instances would start a driver the AMI does not have. Set mount-driver to ${recorded} (or leave it unset to use the AMI's), or bake an AMI with ${settings.mountDriver}`,
      { state },
    );
  }
  return recorded as MountDriver;
}

/**
 * Refuses, naming both values, an AMI whose mount driver or architecture disagrees; returns the driver
 * its instances start. One that cannot be described (not shared with DescribeImages rights) is left to
 * EC2 at launch, with the settings' driver.
 */
export async function checkAmiFits(ctx: CommandContext, amiId: string, instanceType: string, state = 'nothing changed'): Promise<MountDriver> {
  const { settings } = ctx;
  const image = await describeAmi(ctx, amiId);
  if (!image) return settings.mountDriver;
  const driver = amiMountDriver(settings, amiId, image, state);
  const wanted = instanceArchitecture(instanceType);
  if (image.Architecture && image.Architecture !== wanted) {
    throw new StepFailure(`AMI ${amiId} is an ${image.Architecture} image, but instance type ${instanceType} is ${wanted}: set instance-type to an ${image.Architecture} type`, { state });
  }
  return driver;
}
