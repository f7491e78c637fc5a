// Step 1 of a release: which ECS-optimized Amazon Linux 2023 AMI to bake from. AWS publishes the
// recommended one per architecture as a public SSM parameter; a given base-ami-id wins.
import { DescribeImagesCommand } from '@aws-sdk/client-ec2';
import { GetParameterCommand } from '@aws-sdk/client-ssm';
import type { CommandContext } from '../context.js';
import { StepFailure } from '../errors.js';
import type { Architecture } from '../values.js';
import { AMI_ID } from '../values.js';

export const BASE_AMI_PARAMETERS: Record<Architecture, string> = {
  x86_64: '/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id',
  arm64: '/aws/service/ecs/optimized-ami/amazon-linux-2023/arm64/recommended/image_id',
};

export async function resolveBaseAmi(ctx: CommandContext): Promise<string> {
  const { settings, reporter } = ctx;
  if (settings.baseAmiId) {
    await assertImageArchitecture(ctx, settings.baseAmiId);
    reporter.info(`Base AMI ${settings.baseAmiId} (given as base-ami-id)`);
    return settings.baseAmiId;
  }
  const name = BASE_AMI_PARAMETERS[settings.architecture];
  let value: string | undefined;
  try {
    const response = await ctx.clients.ssm.send(new GetParameterCommand({ Name: name }));
    value = response.Parameter?.Value;
  } catch (error) {
    const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    throw new StepFailure(`Cannot read the ECS-optimized AMI parameter ${name} in ${settings.region}: ${reason}`, {
      state: 'nothing was changed',
      cause: error,
    });
  }
  if (!value || !AMI_ID.test(value)) {
    throw new StepFailure(`SSM parameter ${name} in ${settings.region} holds ${JSON.stringify(value ?? '')}, not an AMI id`, {
      state: 'nothing was changed',
    });
  }
  reporter.info(`Base AMI ${value} (latest ECS-optimized Amazon Linux 2023, ${settings.architecture}, from ${name})`);
  return value;
}

/** A given AMI must exist and match the architecture, or the bake fails much later and less clearly. */
async function assertImageArchitecture(ctx: CommandContext, imageId: string): Promise<void> {
  let architecture: string | undefined;
  try {
    const response = await ctx.clients.ec2.send(new DescribeImagesCommand({ ImageIds: [imageId] }));
    const image = response.Images?.[0];
    if (!image) throw new StepFailure(`base-ami-id ${imageId} was not found in ${ctx.settings.region}`, { state: 'nothing was changed' });
    architecture = image.Architecture;
  } catch (error) {
    if (error instanceof StepFailure) throw error;
    const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    throw new StepFailure(`Cannot describe base-ami-id ${imageId} in ${ctx.settings.region}: ${reason}`, { state: 'nothing was changed', cause: error });
  }
  if (architecture && architecture !== ctx.settings.architecture) {
    throw new StepFailure(
      `base-ami-id ${imageId} is an ${architecture} image, but architecture is ${ctx.settings.architecture}`,
      { state: 'nothing was changed' },
    );
  }
}
