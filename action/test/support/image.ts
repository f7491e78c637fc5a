// The MapServer image for integration tests: built from docker/ at most once per run (the tag is
// reused while a label holding the hash of docker/ still matches), and containers started on free
// loopback ports, waited for, and always removed.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './emulator.js';

export const IMAGE_TAG = 'mapserver-ecs:local';
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const DOCKER_DIR = join(REPO_ROOT, 'docker');
const HASH_LABEL = 'mapserver-ecs.content-hash';

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command and resolves with its exit code and output; never rejects. */
export function exec(file: string, args: readonly string[], options: { input?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<CommandResult> {
  return new Promise((resolve) => {
    const child = execFile(
      file,
      [...args],
      { timeout: options.timeoutMs ?? 600_000, maxBuffer: 64 * 1024 * 1024, env: options.env ?? process.env },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr) });
      },
    );
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}

/** Like exec, but throws with the output when the command fails. */
export async function execOk(file: string, args: readonly string[], options: { input?: string; timeoutMs?: number } = {}): Promise<string> {
  const result = await exec(file, args, options);
  if (result.code !== 0) throw new Error(`${file} ${args.join(' ')} exited with ${result.code}\n${result.stdout}\n${result.stderr}`.trim());
  return result.stdout;
}

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

export interface RunningContainer {
  id: string;
  baseUrl: string;
  port: number;
  logs(): Promise<string>;
  stop(): Promise<void>;
}

export interface ContainerOptions {
  image?: string;
  /** Host folder bind-mounted read-only at /mapfiles. */
  mapfiles?: string;
  env?: Record<string, string>;
  /**
   * Share the host's network (the container listens on a free loopback port through LISTEN_PORT),
   * so the container reaches an emulator that listens on the host's loopback only.
   */
  hostNetwork?: boolean;
  healthTimeoutMs?: number;
}

const running = new Set<RunningContainer>();

/** Starts the image on a free loopback port and waits until /healthz answers ok. */
export async function runContainer(options: ContainerOptions = {}): Promise<RunningContainer> {
  const image = options.image ?? (await ensureImage());
  const args = ['run', '--detach', '--label', 'mapserver-ecs.test=1'];
  let port: number;
  const env = { ...options.env };
  if (options.hostNetwork) {
    port = await freePort();
    env.LISTEN_PORT = String(port);
    args.push('--network', 'host');
  } else {
    args.push('--publish', '127.0.0.1::8080');
    port = 0;
  }
  if (options.mapfiles) args.push('--volume', `${options.mapfiles}:/mapfiles:ro`);
  for (const [name, value] of Object.entries(env)) args.push('--env', `${name}=${value}`);
  args.push(image);
  const id = (await execOk('docker', args)).trim();
  const container: RunningContainer = {
    id,
    port,
    baseUrl: '',
    logs: async () => {
      const r = await exec('docker', ['logs', id]);
      return `${r.stdout}${r.stderr}`;
    },
    stop: async () => {
      running.delete(container);
      await exec('docker', ['rm', '--force', '--volumes', id]);
    },
  };
  running.add(container);
  try {
    if (!options.hostNetwork) {
      const published = await execOk('docker', ['port', id, '8080/tcp']);
      const match = /127\.0\.0\.1:(\d+)/.exec(published);
      if (!match) throw new Error(`no loopback port published: ${published}`);
      port = Number(match[1]);
    }
    container.port = port;
    container.baseUrl = `http://127.0.0.1:${port}`;
    await waitHealthy(container, options.healthTimeoutMs ?? 60_000);
  } catch (error) {
    const logs = await container.logs();
    await container.stop();
    throw new Error(`${(error as Error).message}\ncontainer log:\n${logs}`);
  }
  return container;
}

async function waitHealthy(container: RunningContainer, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const response = await fetch(`${container.baseUrl}/healthz`, { signal: AbortSignal.timeout(2000) });
      if (response.ok && (await response.text()).trim() === 'ok') return;
      last = `HTTP ${response.status}`;
    } catch (error) {
      last = (error as Error).message;
    }
    const state = await exec('docker', ['inspect', '--format', '{{.State.Status}}', container.id]);
    if (state.stdout.trim() === 'exited') throw new Error(`container ${container.id} exited before it answered /healthz`);
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`container ${container.id} did not answer /healthz within ${timeoutMs} ms (${last})`);
}

/** Removes every container this test file started (for afterAll). */
export async function stopAllContainers(): Promise<void> {
  await Promise.all([...running].map((c) => c.stop()));
}

export interface HttpAnswer {
  status: number;
  contentType: string;
  body: Buffer;
  text: string;
}

/** GET on a container; the path is sent exactly as written (no normalisation of .. or //). */
export async function get(baseUrl: string, pathAndQuery: string): Promise<HttpAnswer> {
  const { request } = await import('node:http');
  const url = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path: pathAndQuery, method: 'GET', timeout: 30_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), body, text: body.toString('utf8') });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${pathAndQuery} timed out`)));
    req.on('error', reject);
    req.end();
  });
}
