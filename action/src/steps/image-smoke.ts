// The image step's smoke test: start the built image with the sample mapfile mounted as on an
// instance, and check its health, its capabilities and a rendered map before anything is pushed.
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { CONTAINER_PORT, MAPFILES_CONTAINER_PATH } from '../container.js';
import type { CommandContext } from '../context.js';
import type { DockerCli } from '../docker.js';
import { StepFailure } from '../errors.js';
import type { Reporter } from '../reporter.js';
import { poll, sleep } from '../wait.js';

/** The sample mapfile the smoke test renders, mounted read-only at /mapfiles as on an instance. */
export const SMOKE_DIR = join('docker', 'smoke');
export const SMOKE_MAPFILE = `${MAPFILES_CONTAINER_PATH}/smoke.map`;
export const SMOKE_LAYER = 'square';

export interface SmokeResult {
  capabilitiesLayers: string[];
  width: number;
  height: number;
}

const SMOKE_BBOX = '-20,-20,20,20';

/** Starts the image with the sample mapfile, checks health, capabilities and a rendered map, and removes it. */
export async function smokeTest(ctx: CommandContext, docker: DockerCli, image: string): Promise<SmokeResult> {
  const name = `mapserver-ecs-smoke-${process.pid}-${Date.now().toString(36)}`;
  const { stdout } = await docker(
    ['run', '--detach', '--name', name, '--publish', `127.0.0.1::${CONTAINER_PORT}`, '--volume', `${join(ctx.root, SMOKE_DIR)}:${MAPFILES_CONTAINER_PATH}:ro`, image],
    { stream: false, stateOnFailure: `image ${image} built, not pushed` },
  );
  const containerId = stdout.trim();
  try {
    const baseUrl = await publishedUrl(docker, containerId);
    return await probeImage(ctx.reporter, baseUrl, { awaited: `${image} to answer /healthz`, timeoutMs: 60_000 });
  } catch (error) {
    const logs = await docker(['logs', '--tail', '30', containerId], { stream: false }).then(
      (r) => `${r.stdout}\n${r.stderr}`.trim(),
      () => '',
    );
    const message = error instanceof Error ? error.message : String(error);
    throw new StepFailure(`Smoke test of ${image} failed, so it was not pushed: ${message}${logs ? `\nContainer log:\n${logs}` : ''}`, {
      state: `image ${image} built locally, not pushed; smoke-test container removed`,
    });
  } finally {
    await docker(['rm', '--force', '--volumes', containerId], { stream: false }).catch(() => undefined);
  }
}

async function publishedUrl(docker: DockerCli, containerId: string): Promise<string> {
  // `docker port` answers once the container runs; the port is picked by Docker, so no race.
  for (let attempt = 0; attempt < 50; attempt++) {
    const { stdout } = await docker(['port', containerId, `${CONTAINER_PORT}/tcp`], { stream: false }).catch(() => ({ stdout: '' }));
    const match = /127\.0\.0\.1:(\d+)/.exec(stdout);
    if (match) return `http://127.0.0.1:${match[1]}`;
    const { stdout: state } = await docker(['inspect', '--format', '{{.State.Status}}', containerId], { stream: false });
    if (state.trim() === 'exited' || state.trim() === 'dead') throw new Error(`the container ${state.trim()} right after it started`);
    await sleep(200);
  }
  throw new Error(`docker port ${containerId} published no loopback port`);
}

export interface ProbeOptions {
  awaited: string;
  timeoutMs: number;
  mapfile?: string;
  pathPrefix?: string;
}

/** Health, GetCapabilities 1.3.0 and GetMap of the sample mapfile, with the PNG decoded and checked. */
export async function probeImage(reporter: Reporter, baseUrl: string, options: ProbeOptions): Promise<SmokeResult> {
  const mapfile = options.mapfile ?? SMOKE_MAPFILE;
  await poll(
    reporter,
    async () => {
      try {
        const response = await fetch(`${baseUrl}/healthz`, { signal: AbortSignal.timeout(5000) });
        const body = await response.text();
        return response.ok && body.trim() === 'ok' ? { done: true, state: 'healthy' } : { state: `HTTP ${response.status}` };
      } catch (error) {
        return { state: (error as Error).message };
      }
    },
    { awaited: options.awaited, timeoutMs: options.timeoutMs, intervalMs: 250, progressEveryMs: 10_000 },
  );
  const query = (params: Record<string, string>): string => `${baseUrl}/?${new URLSearchParams({ map: mapfile, SERVICE: 'WMS', ...params }).toString()}`;

  const capabilities = await fetchChecked(query({ REQUEST: 'GetCapabilities', VERSION: '1.3.0' }), 'GetCapabilities');
  const text = capabilities.body.toString('utf8');
  if (!text.includes('<WMS_Capabilities')) throw new Error(`GetCapabilities answered no WMS_Capabilities document: ${text.slice(0, 300)}`);
  const layers = [...text.matchAll(/<Layer[^>]*>\s*<Name>([^<]+)<\/Name>/g)].map((m) => m[1] ?? '');
  if (!layers.includes(SMOKE_LAYER)) throw new Error(`GetCapabilities does not list the layer ${SMOKE_LAYER} (lists: ${layers.join(', ') || 'none'})`);

  const size = 64;
  const map = await fetchChecked(
    query({ REQUEST: 'GetMap', VERSION: '1.3.0', CRS: 'EPSG:4326', BBOX: SMOKE_BBOX, WIDTH: String(size), HEIGHT: String(size), LAYERS: SMOKE_LAYER, STYLES: '', FORMAT: 'image/png' }),
    'GetMap',
  );
  if (!map.contentType.startsWith('image/png')) throw new Error(`GetMap answered ${map.contentType}, not a PNG: ${map.body.toString('utf8').slice(0, 300)}`);
  const png = decodePng(map.body);
  // The sample draws a red square over the middle half of the extent on a white background.
  const centre = pixel(png, size / 2, size / 2);
  const corner = pixel(png, 2, 2);
  if (!(centre.r > 200 && centre.g < 60 && centre.b < 60)) throw new Error(`GetMap: expected red in the middle of the map, got rgb(${centre.r},${centre.g},${centre.b})`);
  if (!(corner.r > 200 && corner.g > 200 && corner.b > 200)) throw new Error(`GetMap: expected white in the corner of the map, got rgb(${corner.r},${corner.g},${corner.b})`);
  return { capabilitiesLayers: layers, width: png.width, height: png.height };
}

async function fetchChecked(url: string, what: string): Promise<{ body: Buffer; contentType: string }> {
  const response = await fetch(url, { signal: AbortSignal.timeout(30_000) });
  const body = Buffer.from(await response.arrayBuffer());
  if (!response.ok) throw new Error(`${what} answered HTTP ${response.status}: ${body.toString('utf8').slice(0, 300)}`);
  return { body, contentType: response.headers.get('content-type') ?? '' };
}

export function decodePng(data: Buffer): PNG {
  try {
    return PNG.sync.read(data);
  } catch (error) {
    throw new Error(`the PNG does not decode: ${(error as Error).message}`, { cause: error });
  }
}

export function pixel(png: PNG, x: number, y: number): { r: number; g: number; b: number; a: number } {
  const i = (png.width * Math.floor(y) + Math.floor(x)) * 4;
  return { r: png.data[i] ?? 0, g: png.data[i + 1] ?? 0, b: png.data[i + 2] ?? 0, a: png.data[i + 3] ?? 0 };
}
