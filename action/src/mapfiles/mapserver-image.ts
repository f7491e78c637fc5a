// MapServer's own judgement of every mapfile, by the MapServer of the image that serves them: one
// container loads each mapfile in turn from its own folder, as map2img does with a layer name the
// map does not have (mapserver.ts explains the sentinel). The folders that are /mapfiles are
// mounted read-only at their own paths, without network, so nothing is written or fetched.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { execa } from 'execa';
import type { MapfileDocument } from './document.js';
import { redactSecrets, type Finding, type SecretSpan } from './findings.js';
import { locate, mapServerMessages } from './mapserver-messages.js';

/** The image built from docker/ (scripts/support/image.ts builds it under this tag). */
export const LOCAL_IMAGE_TAG = 'mapserver-ecs:local';

export interface ImageMapServer {
  /** The reference asked for (a tag or repository@sha256:...). */
  image: string;
  /** The image's id (sha256:...), so the report names exactly which image judged. */
  id: string;
}

/** The image to lint with: the one asked for, else the built image of docker/; undefined without Docker. */
export async function findImage(requested: string | undefined, env: NodeJS.ProcessEnv): Promise<ImageMapServer | undefined> {
  const image = requested ?? LOCAL_IMAGE_TAG;
  // Docker as the environment given finds it on its PATH, as everywhere below the entry.
  if (!(env.PATH ?? '').split(delimiter).some((dir) => dir !== '' && existsSync(join(dir, 'docker')))) return undefined;
  const inspect = await execa('docker', ['image', 'inspect', '--format', '{{.Id}}', image], { reject: false, env, extendEnv: false, timeout: 30_000 }).catch(() => undefined);
  if (inspect && inspect.exitCode === 0) return { image, id: String(inspect.stdout).trim() };
  if (!requested) return undefined;
  // An image by digest (the service's) may need pulling first.
  const pull = await execa('docker', ['pull', '--quiet', image], { reject: false, env, extendEnv: false, timeout: 600_000 }).catch(() => undefined);
  if (!pull || pull.exitCode !== 0) return undefined;
  return findImage(image, env);
}

export interface ImageTarget {
  doc: MapfileDocument;
  secrets: readonly SecretSpan[];
  /** The local folder that is /mapfiles for this file: mounted as it is. */
  root: string;
}

export interface ImageCheck {
  /** The image's MapServer version, such as 8.4.0. */
  version: string;
  findings: Map<string, Finding[]>;
}

const SEPARATOR = '\u001e';
const STATUS = '\u001f';

/**
 * Every core loads mapfiles: xargs hands batches of paths to one worker per core as each is free.
 * Each load costs ~80 ms of CPU, almost all of it the dynamic loader linking map2img's ~180
 * libraries, so the number of loads at once, not what a load does, sets the time. Each worker
 * appends to its own file so no two verdicts interleave.
 */
function script(sentinel: string): string {
  return `set -u
map2img -v | head -n 1
cat > /tmp/check <<'EOF'
for f; do
  out=$(cd "$(dirname "$f")" && timeout 60 map2img -m "$f" -o /dev/null -l ${sentinel} 2>&1)
  printf '${SEPARATOR}%s\\n%s\\n${STATUS}%s\\n' "$f" "$out" "$?"
done >> /tmp/out.$$
EOF
xargs -r -d '\\n' -n 8 -P "$(nproc)" sh /tmp/check
cat /tmp/out.* 2>/dev/null || true
`;
}

/** MapServer's loading of these mapfiles in the image, under way while the rest of the lint runs. */
export interface ImageRun {
  /** Waits for the verdicts and turns them into findings, each redacted and pinned to its line. */
  finish(targets: readonly ImageTarget[]): Promise<ImageCheck>;
}

/**
 * Starts the image's MapServer on the mapfiles at once: it reads the files themselves, so it needs
 * only their paths and the folders to mount, and runs while our own checks read the same files.
 */
export function startImageCheck(image: ImageMapServer, files: readonly { path: string; root: string }[], env: NodeJS.ProcessEnv): ImageRun {
  const roots = [...new Set(files.map((f) => f.root))];
  const sentinel = `mapserver_ecs_lint_${randomBytes(6).toString('hex')}`;
  const args = ['run', '--rm', '-i', '--network', 'none', '--entrypoint', 'sh'];
  for (const root of roots) args.push('--volume', `${root}:${root}:ro`);
  args.push(image.id, '-c', script(sentinel));
  const running = execa('docker', args, { input: files.map((f) => f.path).join('\n') + '\n', reject: false, env, extendEnv: false, timeout: 600_000, maxBuffer: 256 * 1024 * 1024 });
  return { finish: async (targets) => verdicts(image, await running, sentinel, targets) };
}

function verdicts(image: ImageMapServer, result: { exitCode?: number; stdout: unknown; stderr: unknown }, sentinel: string, targets: readonly ImageTarget[]): ImageCheck {
  const output = String(result.stdout);
  if (result.exitCode !== 0 && !output.includes(SEPARATOR)) {
    throw new Error(`the MapServer image ${image.image} could not check the mapfiles (docker exit code ${result.exitCode ?? 'none'}): ${String(result.stderr).trim()}`);
  }
  const version = /MapServer version (\S+)/.exec(output)?.[1] ?? 'unknown';
  const byPath = new Map(targets.map((t) => [t.doc.path, t]));
  const findings = new Map<string, Finding[]>();
  for (const part of output.split(SEPARATOR).slice(1)) {
    const newline = part.indexOf('\n');
    const path = part.slice(0, newline);
    const target = byPath.get(path);
    if (!target) continue;
    const said = part.slice(newline + 1).replace(new RegExp(`${STATUS}\\d+\\s*$`), '');
    findings.set(path, judge(said, sentinel, target));
  }
  for (const target of targets) {
    if (!findings.has(target.doc.path)) {
      findings.set(target.doc.path, [{ file: target.doc.path, line: 1, severity: 'error', rule: 'mapserver', message: `the image's MapServer gave no verdict on this mapfile` }]);
    }
  }
  return { version, findings };
}

/** Loaded (the sentinel line) or not: then each of MapServer's messages, pinned to its line. */
function judge(said: string, sentinel: string, target: ImageTarget): Finding[] {
  const cleaned = redactSecrets(said, target.secrets);
  if (cleaned.includes(`Layer (-l) "${sentinel}" not found`) || cleaned.includes(`Layer (-l) ${sentinel} not found`)) return [];
  const messages = mapServerMessages(cleaned, sentinel);
  if (messages.length === 0) messages.push(`the image's MapServer could not load the mapfile and said nothing`);
  return messages.map((m) => locate(m, target.doc));
}
