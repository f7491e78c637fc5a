// Launch template data of the container instances, and lookups of launch templates by name.
import {
  DescribeLaunchTemplatesCommand,
  DescribeLaunchTemplateVersionsCommand,
  type EC2Client,
  type LaunchTemplate,
  type LaunchTemplateVersion,
  type RequestLaunchTemplateData,
  type _InstanceType,
} from '@aws-sdk/client-ec2';
import type { CommandContext } from '../context.js';
import type { Settings } from '../settings.js';
import { DEFAULT_INSTANCE_TYPE } from '../settings-groups.js';
import { instanceArchitecture } from '../values.js';
import { isAwsError } from './errors.js';

/**
 * IMDSv2 only. A hop limit of 1 keeps bridge-mode containers away from the instance role: tasks get
 * credentials from their task role through the ECS agent instead.
 */
export const METADATA_OPTIONS = { HttpTokens: 'required', HttpEndpoint: 'enabled', HttpPutResponseHopLimit: 1 } as const;

export function instanceProfileSpec(profile: string): { Arn: string } | { Name: string } {
  return profile.startsWith('arn:') ? { Arn: profile } : { Name: profile };
}

export function launchTemplateData(
  settings: Pick<Settings, 'instanceType' | 'instanceProfile' | 'securityGroups' | 'cluster'>,
  amiId: string,
  userDataBase64: string,
): RequestLaunchTemplateData {
  return {
    ImageId: amiId,
    // Validated in settings by shape; EC2 itself names an unknown type.
    InstanceType: settings.instanceType as _InstanceType,
    ...(settings.instanceProfile ? { IamInstanceProfile: instanceProfileSpec(settings.instanceProfile) } : {}),
    ...(settings.securityGroups.length > 0 ? { SecurityGroupIds: settings.securityGroups } : {}),
    UserData: userDataBase64,
    MetadataOptions: { ...METADATA_OPTIONS },
    TagSpecifications: [
      {
        ResourceType: 'instance',
        Tags: [
          { Key: 'Name', Value: `${settings.cluster}-ecs` },
          { Key: 'mapserver-ecs:cluster', Value: settings.cluster },
        ],
      },
    ],
  };
}

/**
 * A new version's data: the current default's (so what bootstrap or the console set survives: volume,
 * network, instance type...) with the AMI, user data and the inputs that were given on top. An unset
 * instance-type keeps the current type; unset instance-profile or security-groups keep theirs.
 */
export function mergeLaunchTemplateData(
  base: RequestLaunchTemplateData,
  fromSettings: RequestLaunchTemplateData,
  given: { instanceType: boolean; instanceProfile: boolean; securityGroups: boolean },
): RequestLaunchTemplateData {
  return {
    ...base,
    ...fromSettings,
    ...(given.instanceType || !base.InstanceType ? {} : { InstanceType: base.InstanceType }),
    ...(given.instanceProfile || !base.IamInstanceProfile ? {} : { IamInstanceProfile: base.IamInstanceProfile }),
    ...(given.securityGroups || !base.SecurityGroupIds ? {} : { SecurityGroupIds: base.SecurityGroupIds }),
    MetadataOptions: { ...base.MetadataOptions, ...METADATA_OPTIONS },
  };
}

/** The settings a new version changes besides the AMI and user data, said for the plan ("instance type t3.medium -> m7i.large"). */
export function launchTemplateChanges(base: RequestLaunchTemplateData, data: RequestLaunchTemplateData): string[] {
  const changes: string[] = [];
  const profile = (d: RequestLaunchTemplateData): string => d.IamInstanceProfile?.Arn ?? d.IamInstanceProfile?.Name ?? 'none';
  const groups = (d: RequestLaunchTemplateData): string => [...(d.SecurityGroupIds ?? [])].sort().join(', ') || 'none';
  if (base.InstanceType && base.InstanceType !== data.InstanceType) changes.push(`instance type ${base.InstanceType} -> ${data.InstanceType ?? 'none'}`);
  if (base.IamInstanceProfile && profile(base) !== profile(data)) changes.push(`instance profile ${profile(base)} -> ${profile(data)}`);
  if (base.SecurityGroupIds && groups(base) !== groups(data)) changes.push(`security groups ${groups(base)} -> ${groups(data)}`);
  return changes;
}

export async function findLaunchTemplate(ec2: EC2Client, name: string): Promise<LaunchTemplate | undefined> {
  try {
    const response = await ec2.send(new DescribeLaunchTemplatesCommand({ LaunchTemplateNames: [name] }));
    return response.LaunchTemplates?.[0];
  } catch (error) {
    if (isAwsError(error, 'InvalidLaunchTemplateName.NotFoundException', 'InvalidLaunchTemplateName.NotFound')) return undefined;
    throw error;
  }
}

/** Versions of one launch template by number or $Default/$Latest; missing ones are left out. */
export async function launchTemplateVersions(ec2: EC2Client, launchTemplateId: string, versions: string[]): Promise<LaunchTemplateVersion[]> {
  if (versions.length === 0) return [];
  const response = await ec2.send(new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateId: launchTemplateId, Versions: [...new Set(versions)] }));
  return response.LaunchTemplateVersions ?? [];
}

/**
 * Unless instance-type or architecture is given, bake (and release) work for the architecture the
 * cluster runs, read from the default launch template version: an arm64 cluster gets an arm64 AMI
 * and image. Without a template (or when it cannot be read: the roll's plan reads it again and
 * says why) the settings stay as they are.
 */
export async function followClusterArchitecture(ctx: CommandContext): Promise<CommandContext> {
  const { settings } = ctx;
  if (settings.instanceTypeGiven || settings.architectureGiven) return ctx;
  let type: string | undefined;
  try {
    const template = await findLaunchTemplate(ctx.clients.ec2, settings.launchTemplate);
    if (template?.LaunchTemplateId) type = (await launchTemplateVersions(ctx.clients.ec2, template.LaunchTemplateId, ['$Default']))[0]?.LaunchTemplateData?.InstanceType;
  } catch {
    return ctx;
  }
  if (!type) return ctx;
  const architecture = instanceArchitecture(type);
  if (architecture === settings.architecture) return ctx;
  ctx.reporter.info(`Launch template ${settings.launchTemplate} runs ${type}: the AMI and image are made for ${architecture}`);
  return { ...ctx, settings: { ...settings, architecture, instanceType: DEFAULT_INSTANCE_TYPE[architecture] } };
}
