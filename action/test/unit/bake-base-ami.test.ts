// Which AMI the bake starts from: the ECS-optimized Amazon Linux 2023 SSM parameter per
// architecture, or a given base-ami-id that must exist and match the architecture.
import { afterEach, describe, expect, it } from '@jest/globals';
import { DescribeImagesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { GetParameterCommand, ParameterNotFound, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { StepFailure } from '../../src/errors.js';
import { BASE_AMI_PARAMETERS, resolveBaseAmi } from '../../src/steps/base-ami.js';
import { al2023ReleaseDate, assertMountS3Available } from '../../src/steps/base-ami-release.js';
import { testContext } from '../../../scripts/support/command-context.js';

const ssm = mockClient(SSMClient);
const ec2 = mockClient(EC2Client);

afterEach(() => {
  ssm.reset();
  ec2.reset();
});

describe('resolveBaseAmi', () => {
  it.each([
    ['x86_64', '/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id', 'ami-0aae19d30bab785d3'],
    ['arm64', '/aws/service/ecs/optimized-ami/amazon-linux-2023/arm64/recommended/image_id', 'ami-07033a1a30f75c132'],
  ])('reads the %s parameter %s', async (architecture, name, imageId) => {
    ssm.on(GetParameterCommand, { Name: name }).resolves({ Parameter: { Name: name, Value: imageId } });
    const ctx = testContext({ command: 'bake', architecture, 'instance-type': architecture === 'arm64' ? 't4g.small' : 't3.small' });
    await expect(resolveBaseAmi(ctx)).resolves.toBe(imageId);
    expect(ssm.commandCalls(GetParameterCommand)).toHaveLength(1);
    expect(ssm.commandCalls(GetParameterCommand)[0]?.args[0].input).toEqual({ Name: name });
    expect(BASE_AMI_PARAMETERS[architecture as 'x86_64' | 'arm64']).toBe(name);
    expect(ctx.log()).toContain(`Base AMI ${imageId}`);
  });

  it('uses a given base-ami-id after checking it exists with the right architecture, without asking SSM', async () => {
    ec2.on(DescribeImagesCommand, { ImageIds: ['ami-0123456789abcdef0'] }).resolves({ Images: [{ ImageId: 'ami-0123456789abcdef0', Architecture: 'x86_64' }] });
    const ctx = testContext({ command: 'bake', 'base-ami-id': 'ami-0123456789abcdef0' });
    await expect(resolveBaseAmi(ctx)).resolves.toBe('ami-0123456789abcdef0');
    expect(ssm.commandCalls(GetParameterCommand)).toHaveLength(0);
  });

  it('refuses a given base-ami-id of the other architecture', async () => {
    ec2.on(DescribeImagesCommand).resolves({ Images: [{ ImageId: 'ami-0123456789abcdef0', Architecture: 'arm64' }] });
    const ctx = testContext({ command: 'bake', 'base-ami-id': 'ami-0123456789abcdef0' });
    await expect(resolveBaseAmi(ctx)).rejects.toThrow('base-ami-id ami-0123456789abcdef0 is an arm64 image, but architecture is x86_64');
  });

  it('refuses a given base-ami-id that does not exist', async () => {
    ec2.on(DescribeImagesCommand).resolves({ Images: [] });
    const ctx = testContext({ command: 'bake', 'base-ami-id': 'ami-0123456789abcdef0' });
    await expect(resolveBaseAmi(ctx)).rejects.toThrow(/base-ami-id ami-0123456789abcdef0 was not found in us-east-1/);
  });

  it('names the parameter and region when SSM does not have it', async () => {
    ssm.on(GetParameterCommand).rejects(new ParameterNotFound({ message: 'not found', $metadata: {} }));
    const ctx = testContext({ command: 'bake', 'aws-region': 'eu-north-1' });
    const error = await resolveBaseAmi(ctx).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StepFailure);
    expect((error as StepFailure).message).toMatch(/amazon-linux-2023\/recommended\/image_id in eu-north-1: ParameterNotFound/);
    expect((error as StepFailure).state).toBe('nothing was changed');
  });

  it.each([[''], ['not-an-ami'], ['ami-0123\nami-4567']])('refuses a parameter value %j that is not an AMI id', async (value) => {
    ssm.on(GetParameterCommand).resolves({ Parameter: { Value: value } });
    await expect(resolveBaseAmi(testContext({ command: 'bake' }))).rejects.toThrow(/not an AMI id/);
  });
});

describe('assertMountS3Available', () => {
  it.each([
    ['al2023-ami-ecs-hvm-2023.0.20251110-kernel-6.1-x86_64', '20251110'],
    ['al2023-ami-2023.9.20251117.1-kernel-6.1-arm64', '20251117'],
    ['amzn2-ami-ecs-hvm-2.0.20240515-x86_64-ebs', undefined],
  ])('reads the release date of %s', (name, date) => {
    expect(al2023ReleaseDate(name)).toBe(date);
  });

  it('refuses mount-s3 on a base AMI released before mount-s3 was packaged, before anything changes', async () => {
    ec2.on(DescribeImagesCommand).resolves({ Images: [{ ImageId: 'ami-0123456789abcdef0', Name: 'al2023-ami-ecs-hvm-2023.0.20251020-kernel-6.1-x86_64' }] });
    const ctx = testContext({ command: 'bake', 'mount-driver': 'mountpoint' });
    const error = await assertMountS3Available(ctx, 'ami-0123456789abcdef0').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StepFailure);
    expect((error as StepFailure).message).toMatch(/mount-driver mountpoint needs a base AMI from AL2023 release 2023\.9\.20251110 or later.*ami-0123456789abcdef0.*20251020/);
    expect((error as StepFailure).state).toBe('nothing was changed');
  });

  it('accepts a base AMI from the first release with mount-s3 on', async () => {
    ec2.on(DescribeImagesCommand).resolves({ Images: [{ ImageId: 'ami-0123456789abcdef0', Name: 'al2023-ami-ecs-hvm-2023.0.20251110-kernel-6.1-x86_64' }] });
    const ctx = testContext({ command: 'bake', 'mount-driver': 'mountpoint' });
    await expect(assertMountS3Available(ctx, 'ami-0123456789abcdef0')).resolves.toBeUndefined();
  });

  it('warns, and goes on, when the AMI name does not tell its release', async () => {
    ec2.on(DescribeImagesCommand).resolves({ Images: [{ ImageId: 'ami-0123456789abcdef0', Name: 'my-golden-image' }] });
    const ctx = testContext({ command: 'bake', 'mount-driver': 'mountpoint' });
    await expect(assertMountS3Available(ctx, 'ami-0123456789abcdef0')).resolves.toBeUndefined();
    expect(ctx.log()).toContain('does not name its AL2023 release');
  });
});
