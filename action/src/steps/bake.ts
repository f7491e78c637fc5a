// Step 2 of a release: bake the AMI with Packer. The templates in packer/ stay plain Packer: this
// step only renders their variables file, copies everything into a build folder a person can run
// `packer build .` in, runs Packer there (init, validate, build) and reads the manifest.
import { DescribeImagesCommand, DescribeSubnetsCommand, type Image } from '@aws-sdk/client-ec2';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { endpointOverride } from '../endpoint.js';
import { findLaunchTemplate, launchTemplateVersions } from '../aws/launch-template.js';
import { isAwsError } from '../aws/errors.js';
import { MANAGED_TAG } from '../aws/tags.js';
import type { CommandContext } from '../context.js';
import { StepFailure } from '../errors.js';
import { gitIn, headRevision, revisionFromEnv } from '../git.js';
import { run } from '../process.js';
import { provenanceTags, readProvenance } from '../provenance.js';
import { bakeFingerprint, INPUTS_HASH_TAG, listBriefly, manifestChanges, manifestFromTags, manifestTags, type Fingerprint } from './fingerprint.js';
import { MANIFEST_FILE, packerVersion, parseManifest, supportsRequiredPlugins, writeBuildFolder } from './packer.js';
import { packerVariables, renderPackerVariables, VARIABLES_TEMPLATE } from './packer-variables.js';
import { assertMountS3Available } from './base-ami-release.js';

export interface BakeOptions {
  /** Build folder; defaults to $MAPSERVER_ECS_BUILD_DIR or .build/packer in the working directory. */
  buildDir?: string;
  /** The packer executable (default `packer` on PATH, or $PACKER). */
  packer?: string;
  /** The inputs' fingerprint, when the caller computed it already. */
  fingerprint?: Fingerprint;
}

export async function bakeAmi(ctx: CommandContext, baseAmiId: string, options: BakeOptions = {}): Promise<{ amiId: string }> {
  const { settings, reporter, env } = ctx;
  const packer = options.packer ?? env.PACKER ?? 'packer';
  const packerDir = join(ctx.root, 'packer');
  const buildDir = resolve(options.buildDir ?? env.MAPSERVER_ECS_BUILD_DIR ?? join(process.cwd(), '.build', 'packer'));
  const endpoint = endpointOverride(env, 'EC2');

  // Everything that can be checked is checked before Packer runs; without a revision the AMI is tagged "unknown".
  if (settings.mountDriver === 'mountpoint') await assertMountS3Available(ctx, baseAmiId);
  const revision = revisionFromEnv(env) ?? (await headRevision(gitIn(reporter, ctx.root)).catch(() => undefined));
  const variables = packerVariables(settings, baseAmiId, revision, endpoint);
  const fingerprint = options.fingerprint ?? bakeFingerprint(ctx.root, settings, baseAmiId, endpoint !== undefined);
  // Provenance tags name the run that bakes; they stay out of the fingerprint, which decides whether to bake.
  const tags = { inputTags: manifestTags(fingerprint), provenanceTags: provenanceTags(readProvenance(env)) };
  const rendered = renderPackerVariables(readFileSync(join(ctx.root, VARIABLES_TEMPLATE), 'utf8'), { ...variables, ...tags });
  const version = await packerVersion(ctx, packer);
  const legacy = !supportsRequiredPlugins(version);
  if (legacy && !endpoint) {
    throw new StepFailure(
      `Packer ${version.text} is too old to bake for AWS: the pinned amazon plugin (packer/versions.pkr.hcl) needs Packer 1.7 or later, ` +
        'and its bundled builder cannot require IMDSv2 on the bake instance or the AMI. Install a current Packer.',
      { state: 'nothing was changed' },
    );
  }
  await checkBakeNetwork(ctx);

  if (endpoint) {
    reporter.warn(
      `AWS_ENDPOINT_URL is set: baking against the API emulator at ${endpoint} with communicator "none". ` +
        'No instance boots there, so NO provisioner runs: the AMI gets its name and tags but not the mount driver, ' +
        'fuse.conf, the mount service or the validate script. The provisioning scripts are tested on this machine instead.',
    );
  }
  const files = writeBuildFolder(packerDir, buildDir, rendered, legacy);
  rmSync(join(buildDir, MANIFEST_FILE), { force: true });
  reporter.info(`Build folder ${buildDir} (${files.join(', ')}); run \`packer build .\` there to bake by hand`);
  if (legacy) reporter.info(`Packer ${version.text} predates required_plugins: versions.pkr.hcl is left out and its bundled amazon builder is used`);

  const packerEnv = {
    ...env,
    AWS_REGION: settings.region,
    // No update checks from build machines; plain text in logs.
    CHECKPOINT_DISABLE: '1',
    PACKER_NO_COLOR: '1',
  };
  const state = `Packer removes its temporary instance, key pair and security group when a build fails; if it was interrupted, look for EC2 instances named "${settings.amiNamePrefix}-* (bake)"`;
  const runPacker = (args: string[]) => run(reporter, packer, args, { cwd: buildDir, env: packerEnv, label: 'packer', stateOnFailure: state, tailLines: 30 });

  await reporter.group(`Packer ${version.text}: bake ${settings.mountDriver} AMI from ${baseAmiId}`, async () => {
    if (!legacy) await runPacker(['init', '.']);
    await runPacker(['validate', '.']);
    await runPacker(['build', '-color=false', '.']);
  });

  const manifestPath = join(buildDir, MANIFEST_FILE);
  if (!existsSync(manifestPath)) throw new StepFailure(`Packer finished but wrote no ${manifestPath}`, { state });
  const { amiId } = parseManifest(readFileSync(manifestPath, 'utf8'), settings.region);
  await assertImageExists(ctx, amiId);
  reporter.info(`Baked ${amiId} in ${settings.region}${endpoint ? ' (emulator: tags only, not provisioned)' : ''}`);
  return { amiId };
}

export interface BakeDecision {
  /** An available AMI baked from the same inputs; undefined when a bake is needed. */
  reuse?: string;
  /** One line for the plan: "reuse ami-... (inputs unchanged)", "bake (packer/scripts/x.sh changed)". */
  reason: string;
  fingerprint: Fingerprint;
}

/** The newest available AMI of this account tagged with the input hash. */
export async function findBakedAmi(ctx: CommandContext, hash: string): Promise<Image | undefined> {
  const response = await ctx.clients.ec2.send(
    new DescribeImagesCommand({
      Owners: ['self'],
      Filters: [
        { Name: `tag:${INPUTS_HASH_TAG}`, Values: [hash] },
        { Name: 'state', Values: ['available'] },
      ],
    }),
  );
  return (response.Images ?? []).filter((i) => i.ImageId).sort((a, b) => (b.CreationDate ?? '').localeCompare(a.CreationDate ?? ''))[0];
}

/**
 * Bake or reuse, and why. Reading only: the AMI with the same input hash if there is one, else the
 * AMI the instances run now (the launch template's default version) and its manifest, to name what
 * changed since it was baked.
 */
export async function decideBake(ctx: CommandContext, baseAmiId: string): Promise<BakeDecision> {
  const { settings } = ctx;
  const endpoint = endpointOverride(ctx.env, 'EC2');
  packerVariables(settings, baseAmiId, undefined, endpoint);
  const fingerprint = bakeFingerprint(ctx.root, settings, baseAmiId, endpoint !== undefined);
  if (settings.force) return { fingerprint, reason: 'bake (force)' };
  const found = await findBakedAmi(ctx, fingerprint.hash);
  if (found?.ImageId) return { fingerprint, reuse: found.ImageId, reason: `reuse ${found.ImageId} (inputs unchanged)` };
  return { fingerprint, reason: `bake (${await whyBake(ctx, fingerprint, baseAmiId)})` };
}

async function whyBake(ctx: CommandContext, fingerprint: Fingerprint, baseAmiId: string): Promise<string> {
  const running = await runningImage(ctx);
  if (!running?.ImageId) return 'no AMI baked from these inputs yet';
  const tags = running.Tags ?? [];
  // Bootstrap can start the instances on the base AMI itself: there is no bake to compare with.
  if (!tags.some((t) => t.Key === MANAGED_TAG && t.Value === 'true')) return `${running.ImageId}, which the instances run, was not baked by this pipeline`;
  const reasons: string[] = [];
  const source = tags.find((t) => t.Key === 'mapserver-ecs:source-ami')?.Value;
  if (source !== baseAmiId) {
    const base = (await ctx.clients.ec2.send(new DescribeImagesCommand({ ImageIds: [baseAmiId] }))).Images?.[0];
    const published = base?.CreationDate ? ` published ${base.CreationDate.slice(0, 10)}` : '';
    reasons.push(`new base AMI ${baseAmiId}${published}${source ? `, ${running.ImageId} was baked from ${source}` : ''}`);
  }
  const manifest = manifestFromTags(tags);
  if (!manifest) {
    if (reasons.length === 0) reasons.push(`${running.ImageId}, which the instances run, has no input manifest to compare with`);
  } else {
    const changes = manifestChanges(manifest, fingerprint.manifest);
    if (changes.length > 0) reasons.push(listBriefly(changes));
  }
  return reasons.length > 0 ? reasons.join('; ') : `inputs differ from those of ${running.ImageId}`;
}

/** The AMI of the launch template's default version, described; undefined before bootstrap. */
async function runningImage(ctx: CommandContext): Promise<Image | undefined> {
  const template = await findLaunchTemplate(ctx.clients.ec2, ctx.settings.launchTemplate);
  if (!template?.LaunchTemplateId) return undefined;
  const [current] = await launchTemplateVersions(ctx.clients.ec2, template.LaunchTemplateId, ['$Default']);
  const amiId = current?.LaunchTemplateData?.ImageId;
  if (!amiId) return undefined;
  try {
    return (await ctx.clients.ec2.send(new DescribeImagesCommand({ ImageIds: [amiId] }))).Images?.[0] ?? { ImageId: amiId };
  } catch {
    // Deregistered by hand: there is nothing to compare with.
    return { ImageId: amiId };
  }
}

async function assertImageExists(ctx: CommandContext, amiId: string): Promise<void> {
  const response = await ctx.clients.ec2.send(new DescribeImagesCommand({ ImageIds: [amiId] }));
  const image = response.Images?.[0];
  if (!image) throw new StepFailure(`Packer reported ${amiId}, but EC2 does not know it in ${ctx.settings.region}`);
}

/**
 * Where the bake instance will run, checked before Packer starts: the given subnet exists, or,
 * without one, the region has a default VPC (accounts made by Control Tower and most organisations
 * have none, and EC2 would refuse the launch with VPCIdNotSpecified).
 */
async function checkBakeNetwork(ctx: CommandContext): Promise<void> {
  const { settings, reporter } = ctx;
  const unchanged = { state: 'nothing was changed' };
  if (settings.bakeSubnet) {
    let vpc: string | undefined;
    try {
      vpc = (await ctx.clients.ec2.send(new DescribeSubnetsCommand({ SubnetIds: [settings.bakeSubnet] }))).Subnets?.[0]?.VpcId;
    } catch (error) {
      if (!isAwsError(error, 'InvalidSubnetID.NotFound')) throw error;
    }
    if (!vpc) throw new StepFailure(`bake-subnet ${settings.bakeSubnet} does not exist in ${settings.region}: give a subnet of this region (bake-subnet, or the first of subnets)`, unchanged);
    reporter.info(`The bake instance runs in subnet ${settings.bakeSubnet} (${vpc}), reached over ${settings.bakeConnection}`);
    return;
  }
  // A launch without a subnet goes to the default subnet of an Availability Zone: none, no launch.
  const defaults = (await ctx.clients.ec2.send(new DescribeSubnetsCommand({ Filters: [{ Name: 'default-for-az', Values: ['true'] }] }))).Subnets ?? [];
  if (defaults.length === 0) {
    throw new StepFailure(
      `Neither bake-subnet nor subnets is given, and ${settings.region} has no default VPC (no default subnet) to bake in: set bake-subnet to a subnet with outbound internet access (through a NAT gateway with bake-connection private-ip or session-manager, or a public subnet with public-ip)`,
      unchanged,
    );
  }
  reporter.info(`The bake instance runs in a default subnet of the default VPC ${defaults[0]?.VpcId ?? ''} (no bake-subnet or subnets given)`);
}
