// preview: a PNG of a mapfile's whole map (its EXTENT, SIZE and layers that are ON), rendered on
// this machine before it is published. With MapServer installed (map2img, or shp2img before 8)
// it renders a working copy whose paths point at the local folder; otherwise the image
// (mapserver-ecs:local) renders it exactly as the service would, with the folder mounted at
// /mapfiles and MapServer's CGI answering a map request.
import { readFile, stat, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { execa } from 'execa';
import { StepFailure } from '../errors.js';
import { run } from '../process.js';
import type { Reporter } from '../reporter.js';
import { blocksOf, statementIn } from './blocks.js';
import { loadMapfile, type MapfileDocument } from './document.js';
import { redactSecrets, type SecretSpan } from './findings.js';
import { MAPFILES_CONTAINER_PATH } from '../container.js';
import { containerPathOf, localRootFor } from './folder.js';
import { cleanMessage, findMapServerTool, makeWorkingCopy, writeStderrConfig, type MapServerTool } from './mapserver.js';
import { runRules } from './rules.js';
import { imageMapPattern, posixPatternToRegExp } from './served.js';

export const PREVIEW_IMAGE = 'mapserver-ecs:local';

export type Renderer = 'host' | 'docker';

export interface PreviewOptions {
  mapfile: string;
  output: string;
  /** The folder that is /mapfiles in the container, when the mapfile is inside it. */
  mapfilesDir: string;
  cwd: string;
  env: NodeJS.ProcessEnv;
  reporter: Reporter;
  projectRoot?: string;
  /** Renderers to try, in order (default: host MapServer, then the image). */
  renderers?: readonly Renderer[];
}

export interface PreviewResult {
  renderer: string;
  output: string;
  width: number;
  height: number;
  bytes: number;
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

export function pngSize(data: Buffer): { width: number; height: number } | undefined {
  if (data.length < 24 || !data.subarray(0, 8).equals(PNG_SIGNATURE) || data.subarray(12, 16).toString('latin1') !== 'IHDR') return undefined;
  return { width: data.readUInt32BE(16), height: data.readUInt32BE(20) };
}

export async function dockerImageAvailable(env: NodeJS.ProcessEnv, image = PREVIEW_IMAGE): Promise<boolean> {
  const result = await execa('docker', ['image', 'inspect', '--format', '{{.Id}}', image], { reject: false, env, extendEnv: false });
  return result.exitCode === 0;
}

export async function renderPreview(options: PreviewOptions): Promise<PreviewResult> {
  const mapfile = resolve(options.cwd, options.mapfile);
  const output = resolve(options.cwd, options.output);
  const mapfilesDir = resolve(options.cwd, options.mapfilesDir);
  const root = localRootFor(mapfile, mapfilesDir, dirname(mapfile));
  const doc = await loadMapfile(mapfile, { containerRoot: root });
  const { secrets } = runRules({ doc, root, containerPath: containerPathOf(mapfile, root), mapPattern: posixPatternToRegExp(imageMapPattern(options.projectRoot)) });
  // Whatever MapServer prints (it may quote a connection string) leaves no secret in the log.
  for (const secret of secrets) options.reporter.mask(secret.value);

  const order = options.renderers ?? ['host', 'docker'];
  const tried: string[] = [];
  for (const renderer of order) {
    if (renderer === 'host') {
      const tool = findMapServerTool(options.env);
      if (!tool) {
        tried.push('MapServer is not installed on this machine (no map2img or shp2img on PATH)');
        continue;
      }
      return finish(await renderOnHost(tool, doc, root, output, secrets, options), output);
    }
    if (!(await dockerImageAvailable(options.env))) {
      tried.push(`the image ${PREVIEW_IMAGE} is not available (docker image inspect failed)`);
      continue;
    }
    return finish(await renderInImage(mapfile, root, output, options, secrets, layersOn(doc)), output);
  }
  throw new StepFailure(
    `Cannot render ${options.mapfile}: ${tried.join('; and ')}. Install MapServer (Debian: apt-get install mapserver-bin) or build the image (docker build -t ${PREVIEW_IMAGE} docker/)`,
    { state: 'no file was written' },
  );
}

async function finish(renderer: string, output: string): Promise<PreviewResult> {
  const data = await readFile(output);
  const size = pngSize(data);
  if (!size) throw new StepFailure(`${renderer} wrote ${output}, but it is not a PNG image`, { state: `${output} holds what ${renderer} wrote` });
  return { renderer, output, ...size, bytes: data.length };
}

async function renderOnHost(
  tool: MapServerTool,
  doc: MapfileDocument,
  root: string,
  output: string,
  secrets: readonly SecretSpan[],
  options: PreviewOptions,
): Promise<string> {
  // The working copy keeps credentials (the data may need them) but anchors relative and
  // /mapfiles/ paths to the local folder, and sends MS_ERRORFILE to stderr.
  const copy = await makeWorkingCopy(doc, { secrets: [], localRoot: root, anchorData: true });
  try {
    const config = await writeStderrConfig(copy);
    const args = ['-m', copy.mainPath, '-o', output, '-i', 'png'];
    if (tool.name === 'map2img') args.push('-conf', config);
    try {
      await run(options.reporter, tool.path, args, { env: { ...options.env, MAPSERVER_CONFIG_FILE: config }, label: tool.name, stateOnFailure: 'no preview was written' });
    } catch (error) {
      throw new StepFailure(cleanMessage((error as Error).message, copy, secrets), { state: 'no preview was written' });
    }
    return tool.path;
  } finally {
    await copy.remove();
  }
}

/** Variables handed to the container so /vsis3/ data renders with this machine's AWS settings. */
const PASSED_ENV = /^(AWS_[A-Z0-9_]+|GDAL_[A-Z0-9_]+|CPL_[A-Z0-9_]+|VSI_[A-Z0-9_]+)$/;

/** Layers with STATUS ON: map2img draws them, the CGI only when asked (DEFAULT ones always). */
export function layersOn(doc: MapfileDocument): string[] {
  return blocksOf(doc.root, 'LAYER')
    .filter((layer) => statementIn(layer, 'STATUS')?.args[0]?.value.toUpperCase() === 'ON')
    .map((layer) => statementIn(layer, 'NAME')?.args[0]?.value)
    .filter((name): name is string => name !== undefined && name !== '');
}

async function renderInImage(
  mapfile: string,
  root: string,
  output: string,
  options: PreviewOptions,
  secrets: readonly SecretSpan[],
  layers: readonly string[],
): Promise<string> {
  const containerPath = containerPathOf(mapfile, root);
  const pattern = posixPatternToRegExp(imageMapPattern(options.projectRoot));
  if (!pattern.test(containerPath)) {
    throw new StepFailure(`The image refuses ${containerPath} (MS_MAP_PATTERN ${pattern.source}); rename the mapfile`, { state: 'no file was written' });
  }
  const passed = Object.keys(options.env).filter((name) => PASSED_ENV.test(name));
  const args = [
    'run',
    '--rm',
    '--volume',
    `${root}:${MAPFILES_CONTAINER_PATH}:ro`,
    '--env',
    // mode=map draws the whole map as the mapfile describes it; map.imagetype asks for PNG whatever its IMAGETYPE.
    `QUERY_STRING=map=${containerPath}&mode=map&map.imagetype=png${layers.length > 0 ? `&layers=${layers.map(encodeURIComponent).join('+')}` : ''}`,
    '--env',
    'REQUEST_METHOD=GET',
    ...passed.flatMap((name) => ['--env', name]),
    PREVIEW_IMAGE,
    '/usr/lib/cgi-bin/mapserv',
  ];
  options.reporter.info(`rendering ${containerPath} with MapServer in ${PREVIEW_IMAGE}`);
  const result = await execa('docker', args, { env: options.env, extendEnv: false, encoding: 'buffer', reject: false, timeout: 300_000 });
  const stdout = Buffer.from(result.stdout as Uint8Array);
  const stderr = redactSecrets(Buffer.from(result.stderr as Uint8Array).toString('utf8').trim(), secrets);
  const split = stdout.indexOf('\r\n\r\n');
  const headers = split >= 0 ? stdout.subarray(0, split).toString('latin1') : '';
  const body = split >= 0 ? stdout.subarray(split + 4) : stdout;
  if (result.exitCode !== 0 || !/^Content-Type:\s*image\/png/im.test(headers) || !pngSize(body)) {
    const said = redactSecrets(body.toString('utf8').replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ').trim(), secrets).slice(0, 600);
    throw new StepFailure(
      `MapServer in ${PREVIEW_IMAGE} did not return a PNG for ${containerPath} (exit code ${result.exitCode ?? 'none'}${headers ? `, ${headers.split('\r\n')[0]}` : ''}): ${said || stderr || 'no output'}`,
      { state: 'no file was written' },
    );
  }
  await writeFile(output, body);
  return `${PREVIEW_IMAGE} (mapserv)`;
}


export async function isFile(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isFile() ?? false;
}
