// Step 2 of a release: bake the AMI with Packer. The templates in packer/ stay plain Packer: this
// step only renders their variables file, copies everything into a build folder a person can run
// `packer build .` in, runs Packer there (init, validate, build) and reads the manifest.
import { DescribeImagesCommand, type Image } from '@aws-sdk/client-ec2';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { CommandContext } from '../context.js';
import { InputError, StepFailure, type InputProblem } from '../errors.js';
import { run } from '../process.js';
import { render, RenderError } from '../render.js';
import type { Architecture, MountDriver, Settings } from '../settings.js';
import { instanceArchitecture } from '../values.js';
import { findLaunchTemplate, launchTemplateVersions } from '../aws/launch-template.js';
import { bakeFingerprint, INPUTS_HASH_TAG, listBriefly, manifestChanges, manifestFromTags, manifestTags, type Fingerprint } from './fingerprint.js';

export { instanceArchitecture };

/** What the variables template needs; each value names the input it came from. */
export interface PackerVariables {
  region: string;
  sourceAmi: string;
  architecture: Architecture;
  instanceType: string;
  amiNamePrefix: string;
  mountDriver: MountDriver;
  gitRevision: string;
  /** EC2 endpoint of an API emulator; provisioners cannot run against it. */
  emulatorEndpoint?: string;
  /** The input hash and manifest tags (fingerprint.ts); none when rendered by hand. */
  inputTags?: Array<{ key: string; value: string }>;
}

/** Where each template value comes from, so a refused value names its input. */
const VARIABLE_INPUTS: Record<keyof PackerVariables, string> = {
  region: 'aws-region',
  sourceAmi: 'base-ami-id',
  architecture: 'architecture',
  instanceType: 'instance-type',
  amiNamePrefix: 'ami-name-prefix',
  mountDriver: 'mount-driver',
  gitRevision: 'GITHUB_SHA',
  emulatorEndpoint: 'AWS_ENDPOINT_URL',
  inputTags: 'bake',
};

export const VARIABLES_TEMPLATE = 'packer/templates/mapserver-ecs.auto.pkrvars.hcl.hbs';
export const VARIABLES_FILE = 'mapserver-ecs.auto.pkrvars.hcl';
const MANIFEST_FILE = 'manifest.json';

const REGION = /^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$/;
const AMI_ID = /^ami-([0-9a-f]{8}|[0-9a-f]{17})$/;
const INSTANCE_TYPE = /^[a-z][a-z0-9-]*\.[a-z0-9]+$/;
const AMI_NAME_PREFIX = /^[A-Za-z0-9()[\]./_-]{3,100}$/;
const GIT_REVISION = /^[0-9a-f]{7,40}$/;
const ENDPOINT = /^https?:\/\/[A-Za-z0-9.-]+(:\d{1,5})?\/?$/;


/** The EC2 endpoint override, when an emulator stands in for AWS. */
export function emulatorEndpoint(env: NodeJS.ProcessEnv): string | undefined {
  return env.AWS_ENDPOINT_URL_EC2 || env.AWS_ENDPOINT_URL || undefined;
}

/**
 * Checks every value the variables file will hold, before anything runs. Settings were validated
 * already; this guards the values that come from elsewhere (SSM, the environment) and the
 * relation between instance type and architecture, which Packer would only find out at launch.
 */
export function packerVariables(settings: Settings, baseAmiId: string, gitRevision: string | undefined, endpoint: string | undefined): PackerVariables {
  const problems: InputProblem[] = [];
  const expect = (ok: boolean, input: string, message: string): void => {
    if (!ok) problems.push({ input, message });
  };
  expect(REGION.test(settings.region), 'aws-region', `expected an AWS region such as us-east-1, got ${JSON.stringify(settings.region)}`);
  expect(AMI_ID.test(baseAmiId), 'base-ami-id', `expected an AMI id such as ami-0123456789abcdef0, got ${JSON.stringify(baseAmiId)}`);
  expect(
    settings.architecture === 'x86_64' || settings.architecture === 'arm64',
    'architecture',
    `expected one of x86_64, arm64, got ${JSON.stringify(settings.architecture)}`,
  );
  if (INSTANCE_TYPE.test(settings.instanceType)) {
    const actual = instanceArchitecture(settings.instanceType);
    expect(
      actual === settings.architecture,
      'instance-type',
      `${settings.instanceType} is an ${actual} instance type, but architecture is ${settings.architecture} (use for example ${settings.architecture === 'arm64' ? 't4g.small' : 't3.small'})`,
    );
  } else {
    problems.push({ input: 'instance-type', message: `expected an EC2 instance type such as t3.small, got ${JSON.stringify(settings.instanceType)}` });
  }
  expect(AMI_NAME_PREFIX.test(settings.amiNamePrefix), 'ami-name-prefix', `expected 3 to 100 letters, digits and ()[]./_- characters, got ${JSON.stringify(settings.amiNamePrefix)}`);
  expect(['s3fs', 'mountpoint', 'mirror'].includes(settings.mountDriver), 'mount-driver', `expected one of s3fs, mountpoint, mirror, got ${JSON.stringify(settings.mountDriver)}`);
  if (endpoint !== undefined) {
    expect(ENDPOINT.test(endpoint), 'AWS_ENDPOINT_URL', `expected http(s)://host[:port] of an emulator, got ${JSON.stringify(endpoint)}`);
  }
  if (problems.length > 0) throw new InputError(problems);
  return {
    region: settings.region,
    sourceAmi: baseAmiId,
    architecture: settings.architecture,
    instanceType: settings.instanceType,
    amiNamePrefix: settings.amiNamePrefix,
    mountDriver: settings.mountDriver,
    gitRevision: gitRevision && GIT_REVISION.test(gitRevision) ? gitRevision : 'unknown',
    ...(endpoint ? { emulatorEndpoint: endpoint.replace(/\/$/, '') } : {}),
  };
}

/** Renders the variables file; a value that cannot be written as HCL is refused, naming its input. */
export function renderPackerVariables(template: string, variables: PackerVariables): string {
  try {
    return render(template, { inputTags: [], ...variables }, VARIABLES_TEMPLATE);
  } catch (error) {
    if (!(error instanceof RenderError)) throw error;
    const name = Object.keys(VARIABLE_INPUTS).find((key) => error.message.includes(`{{${key}}}`)) as keyof PackerVariables | undefined;
    const input = name ? VARIABLE_INPUTS[name] : 'bake';
    throw new InputError([{ input, message: `cannot be written into the Packer variables file: ${error.message}` }]);
  }
}

export interface PackerVersion {
  major: number;
  minor: number;
  patch: number;
  text: string;
}

export function parsePackerVersion(output: string): PackerVersion {
  const match = /Packer v?(\d+)\.(\d+)\.(\d+)/.exec(output) ?? /^v?(\d+)\.(\d+)\.(\d+)/m.exec(output.trim());
  if (!match) throw new StepFailure(`Cannot read the Packer version from ${JSON.stringify(output.trim().slice(0, 200))}`);
  return { major: Number(match[1]), minor: Number(match[2]), patch: Number(match[3]), text: `${match[1]}.${match[2]}.${match[3]}` };
}

/** Packer 1.7 introduced `packer init` and `required_plugins`; older releases bundle their builders. */
export function supportsRequiredPlugins(version: PackerVersion): boolean {
  return version.major > 1 || (version.major === 1 && version.minor >= 7);
}

/**
 * Writes the build folder: the templates, scripts and overlay from packer/, and the rendered
 * variables file. For Packer older than 1.7 the versions file is left out (it cannot parse it)
 * and legacy/source.pkr.hcl replaces source.pkr.hcl.
 */
export function writeBuildFolder(packerDir: string, buildDir: string, variables: string, legacy: boolean): string[] {
  rmSync(buildDir, { recursive: true, force: true });
  mkdirSync(buildDir, { recursive: true });
  const written: string[] = [];
  for (const entry of readdirSync(packerDir, { withFileTypes: true })) {
    if (entry.isFile() && entry.name.endsWith('.pkr.hcl')) {
      if (legacy && (entry.name === 'versions.pkr.hcl' || entry.name === 'source.pkr.hcl')) continue;
      cpSync(join(packerDir, entry.name), join(buildDir, entry.name));
      written.push(entry.name);
    }
  }
  if (legacy) {
    cpSync(join(packerDir, 'legacy', 'source.pkr.hcl'), join(buildDir, 'source.pkr.hcl'));
    written.push('source.pkr.hcl');
  }
  for (const folder of ['files', 'scripts']) {
    // Modes are kept: the mount script and the provisioners stay executable.
    cpSync(join(packerDir, folder), join(buildDir, folder), { recursive: true });
    written.push(`${folder}/`);
  }
  writeFileSync(join(buildDir, VARIABLES_FILE), variables, { mode: 0o644 });
  written.push(VARIABLES_FILE);
  return written.sort();
}

export interface ManifestArtifact {
  amiId: string;
  region: string;
}

/** Reads the AMI id from Packer's manifest post-processor output (the last run, in our region). */
export function parseManifest(text: string, region: string): ManifestArtifact {
  let manifest: { builds?: Array<{ artifact_id?: string; packer_run_uuid?: string }>; last_run_uuid?: string };
  try {
    manifest = JSON.parse(text) as typeof manifest;
  } catch (error) {
    throw new StepFailure(`Packer's manifest is not JSON: ${(error as Error).message}`);
  }
  const builds = manifest.builds ?? [];
  const build = builds.filter((b) => b.packer_run_uuid === manifest.last_run_uuid).at(-1) ?? builds.at(-1);
  const artifacts = (build?.artifact_id ?? '').split(',').map((pair) => {
    const [artifactRegion, amiId] = pair.split(':');
    return { region: artifactRegion ?? '', amiId: amiId ?? '' };
  });
  const artifact = artifacts.find((a) => a.region === region && AMI_ID.test(a.amiId));
  if (!artifact) throw new StepFailure(`Packer's manifest names no AMI in ${region} (artifact_id ${JSON.stringify(build?.artifact_id ?? '')})`);
  return artifact;
}

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
  const endpoint = emulatorEndpoint(env);

  // Everything that can be checked is checked before Packer runs.
  const variables = packerVariables(settings, baseAmiId, env.GITHUB_SHA || (await gitRevision(ctx)), endpoint);
  const fingerprint = options.fingerprint ?? bakeFingerprint(ctx.root, settings, baseAmiId, endpoint !== undefined);
  const rendered = renderPackerVariables(readFileSync(join(ctx.root, VARIABLES_TEMPLATE), 'utf8'), { ...variables, inputTags: manifestTags(fingerprint) });
  const version = await packerVersion(ctx, packer);
  const legacy = !supportsRequiredPlugins(version);
  if (legacy && !endpoint) {
    throw new StepFailure(
      `Packer ${version.text} is too old to bake for AWS: the pinned amazon plugin (packer/versions.pkr.hcl) needs Packer 1.7 or later, ` +
        'and its bundled builder cannot require IMDSv2 on the bake instance or the AMI. Install a current Packer.',
      { state: 'nothing was changed' },
    );
  }

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
  packerVariables(settings, baseAmiId, undefined, emulatorEndpoint(ctx.env));
  const fingerprint = bakeFingerprint(ctx.root, settings, baseAmiId, emulatorEndpoint(ctx.env) !== undefined);
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
  if (!tags.some((t) => t.Key === 'mapserver-ecs:managed' && t.Value === 'true')) return `${running.ImageId}, which the instances run, was not baked by this pipeline`;
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

async function packerVersion(ctx: CommandContext, packer: string): Promise<PackerVersion> {
  try {
    const result = await run(ctx.reporter, packer, ['version'], { env: { ...ctx.env, CHECKPOINT_DISABLE: '1' }, stream: false });
    return parsePackerVersion(result.stdout);
  } catch (error) {
    if (error instanceof StepFailure && /ENOENT/.test(error.message)) {
      throw new StepFailure(`Packer is not installed (no ${packer} on PATH); bake needs Packer 1.7 or later`, { state: 'nothing was changed' });
    }
    throw error;
  }
}

async function gitRevision(ctx: CommandContext): Promise<string | undefined> {
  try {
    const result = await run(ctx.reporter, 'git', ['rev-parse', 'HEAD'], { cwd: ctx.root, stream: false });
    return result.stdout.trim();
  } catch {
    return undefined;
  }
}

async function assertImageExists(ctx: CommandContext, amiId: string): Promise<void> {
  const response = await ctx.clients.ec2.send(new DescribeImagesCommand({ ImageIds: [amiId] }));
  const image = response.Images?.[0];
  if (!image) throw new StepFailure(`Packer reported ${amiId}, but EC2 does not know it in ${ctx.settings.region}`);
}
