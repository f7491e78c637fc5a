// Running Packer for a bake: its version and what it supports, the build folder a person can run
// `packer build .` in, and the AMI id read back from Packer's manifest.
import { cpSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CommandContext } from '../context.js';
import { StepFailure } from '../errors.js';
import { run } from '../process.js';
import { AMI_ID } from '../values.js';
import { VARIABLES_FILE } from './packer-variables.js';

export const MANIFEST_FILE = 'manifest.json';

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

/** The Packer version on PATH (or $PACKER); a missing Packer is said plainly. */
export async function packerVersion(ctx: CommandContext, packer: string): Promise<PackerVersion> {
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
