// Which Amazon Linux 2023 release a base AMI was built from, read from its name, and what that
// release lacks: mount-s3 is in AL2023's repository only from release 2023.9.20251110, so an older
// base AMI would fail its bake half-way through `dnf install mount-s3`.
import { DescribeImagesCommand } from '@aws-sdk/client-ec2';
import type { CommandContext } from '../context.js';
import { StepFailure } from '../errors.js';

/** The first AL2023 release whose repository has the mount-s3 package, as YYYYMMDD. */
export const MOUNT_S3_FIRST_RELEASE_DATE = '20251110';

/**
 * The release date in an AL2023 AMI name: `al2023-ami-ecs-hvm-2023.0.20251110-kernel-6.1-x86_64`
 * (ECS-optimized) or `al2023-ami-2023.9.20251110.0-kernel-6.1-x86_64` (plain). ECS-optimized AMIs
 * are built on or after the release they carry, so their date is a lower bound.
 */
export function al2023ReleaseDate(imageName: string): string | undefined {
  return /(?:^|-)2023\.\d+\.(\d{8})(?:[.-]|$)/.exec(imageName)?.[1];
}

/** Refuses mount-s3 on a base AMI whose name shows a release before mount-s3 was packaged. */
export async function assertMountS3Available(ctx: CommandContext, baseAmiId: string): Promise<void> {
  const answer = await ctx.clients.ec2.send(new DescribeImagesCommand({ ImageIds: [baseAmiId] }));
  const name = answer.Images?.[0]?.Name ?? '';
  const date = al2023ReleaseDate(name);
  if (!date) {
    ctx.reporter.warn(`Base AMI ${baseAmiId} (${name || 'no name'}) does not name its AL2023 release: mount-s3 needs release 2023.9.${MOUNT_S3_FIRST_RELEASE_DATE} or later`);
    return;
  }
  if (date < MOUNT_S3_FIRST_RELEASE_DATE) {
    throw new StepFailure(
      `mount-driver mountpoint needs a base AMI from AL2023 release 2023.9.${MOUNT_S3_FIRST_RELEASE_DATE} or later (the first with the mount-s3 package), ` +
        `but base AMI ${baseAmiId} is ${name} (${date}). Use a newer base-ami-id, or mount-driver s3fs or mirror.`,
      { state: 'nothing was changed' },
    );
  }
}
