// The MapServer image of docker/, built at most once per run: the tag is reused while a label holding
// the hash of docker/ still matches.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { exec, execOk } from './exec.js';

export const IMAGE_TAG = 'mapserver-ecs:local';
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const DOCKER_DIR = join(REPO_ROOT, 'docker');
const HASH_LABEL = 'mapserver-ecs.content-hash';

/** Hash of every file under a folder: paths, modes and contents. */
export function folderHash(dir: string): string {
  const hash = createHash('sha256');
  const walk = (current: string): void => {
    for (const entry of readdirSync(current, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const path = join(current, entry.name);
      if (entry.isDirectory()) walk(path);
      else {
        hash.update(`${relative(dir, path)}\0${statSync(path).mode & 0o111 ? 'x' : '-'}\0`);
        hash.update(readFileSync(path));
        hash.update('\0');
      }
    }
  };
  walk(dir);
  return hash.digest('hex');
}

export interface BuildResult {
  tag: string;
  /** False when an up-to-date image was already there. */
  built: boolean;
  seconds: number;
}

/** Builds `dir` as `tag` unless the tag exists with the same content hash label. */
export async function buildImage(dir: string, tag: string): Promise<BuildResult> {
  const wanted = folderHash(dir);
  const inspect = await exec('docker', ['image', 'inspect', '--format', `{{ index .Config.Labels "${HASH_LABEL}" }}`, tag]);
  if (inspect.code === 0 && inspect.stdout.trim() === wanted) return { tag, built: false, seconds: 0 };
  // The Dockerfile starts FROM debian:trixie-slim; where no registry is reachable the script makes it.
  await execOk('bash', [join(REPO_ROOT, 'scripts', 'base-image.sh'), 'debian:trixie-slim'], { timeoutMs: 1_800_000 });
  const started = Date.now();
  await execOk('docker', ['build', '--label', `${HASH_LABEL}=${wanted}`, '--tag', tag, dir], { timeoutMs: 1_800_000 });
  return { tag, built: true, seconds: (Date.now() - started) / 1000 };
}

let ensured: Promise<string> | undefined;

/** The image of docker/ as mapserver-ecs:local, built when missing or when docker/ changed. */
export function ensureImage(): Promise<string> {
  ensured ??= buildImage(DOCKER_DIR, IMAGE_TAG).then((r) => r.tag);
  return ensured;
}
