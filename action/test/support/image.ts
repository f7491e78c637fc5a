// MapServer containers of the project's image (scripts/support/image.ts) for integration tests:
// started on free loopback ports, waited for, and always removed.
import { ensureImage } from '../../../scripts/support/image.js';
import { exec, execOk } from '../../../scripts/support/exec.js';
import { freePort } from '../../../scripts/support/ports.js';

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
    throw new Error(`${(error as Error).message}\ncontainer log:\n${logs}`, { cause: error });
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
