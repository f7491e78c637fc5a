// Content hashes of what a bake and an image build consume, so a release can tell "nothing the
// servers run changed" from a change and name the change. A hash covers file contents and the
// executable bit (provisioners must stay executable), never times, owners or the git revision.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import type { Settings } from '../settings.js';

/** File path (relative, with /) or setting name -> short hash or value. */
export type Manifest = Record<string, string>;

export interface Fingerprint {
  /** 64 hex digits over everything in the manifest (full-length file hashes). */
  hash: string;
  manifest: Manifest;
}

const sha256 = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');

/** Files under `dir`, sorted, as paths relative to `base` with forward slashes. */
export function listFiles(dir: string, base: string, keep: (path: string, isDir: boolean) => boolean = () => true): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  const walk = (folder: string): void => {
    for (const entry of readdirSync(folder, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const full = join(folder, entry.name);
      const path = relative(base, full).split(sep).join('/');
      if (entry.isDirectory()) {
        if (keep(path, true)) walk(full);
      } else if (entry.isFile() && keep(path, false)) out.push(path);
    }
  };
  walk(dir);
  return out.sort();
}

/** Full hash of one file: its bytes and whether it is executable. */
function fileHash(path: string): string {
  const executable = (statSync(path).mode & 0o111) !== 0;
  return sha256(Buffer.concat([Buffer.from(executable ? 'x\0' : '-\0'), readFileSync(path)]));
}

/**
 * Hashes files and settings together. The manifest keeps 12 hex digits per file, enough to name a
 * changed file and short enough to fit in AMI tags; the overall hash uses the full digests.
 */
export function fingerprint(root: string, files: string[], settings: Record<string, string>): Fingerprint {
  const full: Array<[string, string]> = files.map((f) => [f, fileHash(join(root, f))]);
  for (const [name, value] of Object.entries(settings)) full.push([`${SETTING_PREFIX}${name}`, value]);
  full.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const manifest: Manifest = {};
  for (const [name, value] of full) manifest[name] = name.startsWith(SETTING_PREFIX) ? value : value.slice(0, 12);
  return { hash: sha256(full.map(([name, value]) => `${name}\0${value}\n`).join('')), manifest };
}

/** Manifest keys of settings, told apart from file paths (which never start with "@"). */
export const SETTING_PREFIX = '@';

// ---- The bake -----------------------------------------------------------------------------------

/**
 * What reaches the AMI: the Packer templates, scripts and files overlay as the build folder gets
 * them, the variables template, and the values it is rendered with. Left out on purpose: the git
 * revision (a label, not content), the bake's instance type (it only picks the machine that bakes;
 * the architecture, which is kept, decides what runs), and the emulator's port (which changes with
 * every emulator; whether the AMI was provisioned is kept instead). The legacy source only
 * counts against an emulator, the only place it is used.
 */
export function bakeFiles(root: string, emulated: boolean): string[] {
  const packer = join(root, 'packer');
  return listFiles(packer, root, (path, isDir) => {
    const inside = path.slice('packer/'.length);
    if (isDir) return ['files', 'scripts', 'templates'].some((d) => inside === d || inside.startsWith(`${d}/`)) || (emulated && inside === 'legacy');
    if (!inside.includes('/')) return inside.endsWith('.pkr.hcl');
    return true;
  });
}

export type BakeSettings = Pick<Settings, 'region' | 'architecture' | 'mountDriver' | 'amiNamePrefix'> & Partial<Pick<Settings, 'volumeSize' | 'kmsKeyId'>>;

export function bakeFingerprint(root: string, settings: BakeSettings, baseAmiId: string, emulated: boolean): Fingerprint {
  return fingerprint(root, bakeFiles(root, emulated), {
    'base-ami': baseAmiId,
    region: settings.region,
    architecture: settings.architecture,
    'mount-driver': settings.mountDriver,
    'ami-name-prefix': settings.amiNamePrefix,
    // The root volume is part of the AMI (where the bake ran and how Packer reached it are not);
    // named only when set, so AMIs baked with the defaults keep their hash.
    ...(settings.volumeSize !== undefined && settings.volumeSize !== 30 ? { 'volume-size': String(settings.volumeSize) } : {}),
    ...(settings.kmsKeyId ? { 'kms-key-id': settings.kmsKeyId } : {}),
    provisioned: emulated ? 'false' : 'true',
  });
}

/** Tag with the bake's input hash; reuse looks AMIs up by it. */
export const INPUTS_HASH_TAG = 'mapserver-ecs:inputs-hash';
/** Tags mapserver-ecs:inputs-1..n hold the manifest, so a later bake can name what changed. */
export const INPUTS_MANIFEST_TAG = 'mapserver-ecs:inputs-';
/** EC2 tag values hold at most 256 characters. */
const TAG_VALUE_LIMIT = 256;

/**
 * The manifest as AMI tags: `name=value` entries separated by spaces, split on entry boundaries.
 * Tags rather than SSM or the description: they travel and die with the AMI (cleanup needs no
 * second store), need no further permission, and the description holds only 255 characters.
 */
export function manifestTags(fp: Fingerprint): Array<{ key: string; value: string }> {
  const tags = [{ key: INPUTS_HASH_TAG, value: fp.hash }];
  let chunk = '';
  const flush = (): void => {
    if (chunk !== '') tags.push({ key: `${INPUTS_MANIFEST_TAG}${tags.length}`, value: chunk });
    chunk = '';
  };
  for (const [name, value] of Object.entries(fp.manifest)) {
    if (name.startsWith(`${SETTING_PREFIX}base-ami`)) continue; // in mapserver-ecs:source-ami already
    const entry = `${name}=${value}`;
    if (chunk.length + entry.length + 1 > TAG_VALUE_LIMIT) flush();
    chunk = chunk === '' ? entry : `${chunk} ${entry}`;
  }
  flush();
  return tags;
}

/** A manifest as one line of `name=value` entries (names and values hold no spaces). */
export function encodeManifest(manifest: Manifest): string {
  return Object.entries(manifest)
    .map(([name, value]) => `${name}=${value}`)
    .join(' ');
}

export function decodeManifest(text: string): Manifest {
  const manifest: Manifest = {};
  for (const entry of text.split(' ')) {
    const at = entry.indexOf('=');
    if (at > 0) manifest[entry.slice(0, at)] = entry.slice(at + 1);
  }
  return manifest;
}

/** Reads a manifest back from AMI tags; undefined for an AMI baked before manifests existed. */
export function manifestFromTags(tags: ReadonlyArray<{ Key?: string; Value?: string }>): Manifest | undefined {
  const parts = tags
    .filter((t) => t.Key?.startsWith(INPUTS_MANIFEST_TAG) && /^\d+$/.test(t.Key.slice(INPUTS_MANIFEST_TAG.length)))
    .sort((a, b) => Number(a.Key?.slice(INPUTS_MANIFEST_TAG.length)) - Number(b.Key?.slice(INPUTS_MANIFEST_TAG.length)));
  if (parts.length === 0) return undefined;
  const manifest = decodeManifest(parts.map((t) => t.Value ?? '').join(' '));
  const source = tags.find((t) => t.Key === 'mapserver-ecs:source-ami')?.Value;
  if (source) manifest[`${SETTING_PREFIX}base-ami`] = source;
  return manifest;
}

/** What differs between two manifests, as short phrases: "packer/scripts/x.sh changed", "mount-driver s3fs -> mirror". */
export function manifestChanges(before: Manifest, after: Manifest): string[] {
  const changes: string[] = [];
  const names = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
  for (const name of names) {
    const was = before[name];
    const now = after[name];
    if (was === now) continue;
    if (name.startsWith(SETTING_PREFIX)) {
      if (name === `${SETTING_PREFIX}base-ami`) continue; // reported on its own, with its date
      changes.push(`${name.slice(1)} ${was ?? 'unset'} -> ${now ?? 'unset'}`);
    } else if (was === undefined) changes.push(`${name} added`);
    else if (now === undefined) changes.push(`${name} removed`);
    else changes.push(`${name} changed`);
  }
  return changes;
}

/** "a, b and 3 more": a reason stays one line. */
export function listBriefly(items: string[], shown = 3): string {
  if (items.length <= shown) return items.join(', ');
  return `${items.slice(0, shown).join(', ')} and ${items.length - shown} more`;
}

// ---- The image ----------------------------------------------------------------------------------

/**
 * .dockerignore patterns as Docker reads them: one per line, # comments, ! for exceptions, the last
 * matching line wins, * within a path part, ** across parts, a pattern also excludes what is under
 * a matched folder.
 */
export function dockerignoreMatcher(text: string): (path: string) => boolean {
  const rules = text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const negate = line.startsWith('!');
      const pattern = (negate ? line.slice(1) : line).trim().replace(/^\/+/, '').replace(/\/+$/, '').replace(/^\.\//, '');
      return { negate, regex: globRegex(pattern) };
    });
  return (path) => {
    let ignored = false;
    for (const rule of rules) if (rule.regex.test(path)) ignored = !rule.negate;
    return ignored;
  };
}

function globRegex(pattern: string): RegExp {
  let out = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] ?? '';
    if (c === '*' && pattern[i + 1] === '*') {
      out += '.*';
      i++;
      if (pattern[i + 1] === '/') i++;
    } else if (c === '*') out += '[^/]*';
    else if (c === '?') out += '[^/]';
    else out += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${out}(/.*)?$`);
}

/** The build context as `docker build docker/` sends it: .dockerignore applied (never to the Dockerfile). */
export function imageFiles(root: string): string[] {
  const context = join(root, 'docker');
  const ignoreFile = join(context, '.dockerignore');
  const ignored = existsSync(ignoreFile) ? dockerignoreMatcher(readFileSync(ignoreFile, 'utf8')) : () => false;
  return listFiles(context, context, (path, isDir) => isDir || path === 'Dockerfile' || !ignored(path)).filter((path) => path === 'Dockerfile' || !ignored(path));
}

/**
 * The image's inputs: the build context and the build arguments that change its content. The
 * revision, version and source arguments only fill labels; they are left out, so a commit that
 * changes nothing in docker/ finds the image already built and its digest stays the same.
 */
export function imageFingerprint(root: string, buildArgs: Record<string, string>): Fingerprint {
  return fingerprint(
    root,
    imageFiles(root).map((path) => `docker/${path}`),
    buildArgs,
  );
}

/** Registry tag of an image built from these inputs. */
export const contentTag = (hash: string): string => `content-${hash}`;
/** Label with the same hash, for people inspecting an image. */
export const CONTENT_LABEL = 'mapserver-ecs.content-hash';
/** Label with the manifest, so the next build can name the file that changed. */
export const MANIFEST_LABEL = 'mapserver-ecs.content-manifest';
