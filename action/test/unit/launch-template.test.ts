// A roll's launch template data: what the current default holds survives unless an input sets it.
import { afterEach, describe, expect, it } from '@jest/globals';
import { DescribeLaunchTemplatesCommand, DescribeLaunchTemplateVersionsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { followClusterArchitecture, launchTemplateChanges, mergeLaunchTemplateData } from '../../src/aws/launch-template.js';
import { testContext } from '../../../scripts/support/command-context.js';

const base = {
  ImageId: 'ami-00000000000000001',
  InstanceType: 'm7i.large' as const,
  IamInstanceProfile: { Name: 'profile-a' },
  SecurityGroupIds: ['sg-00000000000000001'],
  BlockDeviceMappings: [{ DeviceName: '/dev/xvda', Ebs: { VolumeSize: 60, Encrypted: true } }],
  MetadataOptions: { HttpTokens: 'optional' as const, InstanceMetadataTags: 'enabled' as const },
};
const fromSettings = { ImageId: 'ami-00000000000000002', InstanceType: 't3.small' as const, UserData: 'IyE=', IamInstanceProfile: { Name: 'profile-b' } };
const none = { instanceType: false, instanceProfile: false, securityGroups: false };

describe('mergeLaunchTemplateData', () => {
  it('keeps the instance type, profile, groups and volume when their inputs are unset', () => {
    const data = mergeLaunchTemplateData(base, fromSettings, none);
    expect(data).toMatchObject({ ImageId: 'ami-00000000000000002', InstanceType: 'm7i.large', IamInstanceProfile: { Name: 'profile-a' }, SecurityGroupIds: ['sg-00000000000000001'], UserData: 'IyE=' });
    expect(data.BlockDeviceMappings).toEqual(base.BlockDeviceMappings);
    // IMDSv2 is enforced whatever the template said; other metadata options stay.
    expect(data.MetadataOptions).toMatchObject({ HttpTokens: 'required', InstanceMetadataTags: 'enabled' });
    expect(launchTemplateChanges(base, data)).toEqual([]);
  });

  it('takes what is given and names each change', () => {
    const data = mergeLaunchTemplateData(base, fromSettings, { instanceType: true, instanceProfile: true, securityGroups: false });
    expect(data).toMatchObject({ InstanceType: 't3.small', IamInstanceProfile: { Name: 'profile-b' } });
    expect(launchTemplateChanges(base, data)).toEqual(['instance type m7i.large -> t3.small', 'instance profile profile-a -> profile-b']);
  });

  it('takes the settings when there is no current version', () => {
    expect(mergeLaunchTemplateData({}, fromSettings, none).InstanceType).toBe('t3.small');
  });
});

describe('followClusterArchitecture', () => {
  const ec2 = mockClient(EC2Client);
  afterEach(() => {
    ec2.reset();
  });
  const template = (type: string) => {
    ec2.on(DescribeLaunchTemplatesCommand).resolves({ LaunchTemplates: [{ LaunchTemplateId: 'lt-0123456789abcdef0' }] });
    ec2.on(DescribeLaunchTemplateVersionsCommand).resolves({ LaunchTemplateVersions: [{ VersionNumber: 3, LaunchTemplateData: { InstanceType: type as never } }] });
  };

  it('makes a release for an arm64 cluster bake and build for arm64 when neither instance-type nor architecture is given', async () => {
    template('m7g.large');
    const ctx = await followClusterArchitecture(testContext({ command: 'release', bucket: 'maps-bucket' }));
    expect(ctx.settings).toMatchObject({ architecture: 'arm64', instanceType: 't4g.small', instanceTypeGiven: false });
  });

  it('leaves the settings alone when an input decides, or the cluster runs the same architecture', async () => {
    template('m7g.large');
    expect((await followClusterArchitecture(testContext({ command: 'release', bucket: 'maps-bucket', architecture: 'x86_64' }))).settings.architecture).toBe('x86_64');
    expect((await followClusterArchitecture(testContext({ command: 'bake', 'instance-type': 'c7i.large' }))).settings.architecture).toBe('x86_64');
    template('m7i.large');
    const ctx = testContext({ command: 'bake' });
    expect(await followClusterArchitecture(ctx)).toBe(ctx);
  });
});
