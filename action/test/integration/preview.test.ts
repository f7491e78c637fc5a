// preview renders a PNG with known pixels: with the MapServer installed here, and with the image.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Writable } from 'node:stream';
import { PNG } from 'pngjs';
import { StepFailure } from '../../src/errors.js';
import { renderPreview, type Renderer } from '../../src/mapfiles/preview.js';
import { TerminalReporter } from '../../src/reporter.js';
import { ensureImage } from '../../../scripts/support/image.js';

jest.setTimeout(1_800_000);

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const folder = join(repoRoot, 'action', 'test', 'fixtures', 'mapfiles', 'preview');
const tsxCli = join(repoRoot, 'node_modules', 'tsx', 'dist', 'cli.mjs');
let scratch: string;

beforeAll(() => {
  execFileSync('map2img', ['-v']);
  scratch = mkdtempSync(join(tmpdir(), 'preview-'));
});
afterAll(() => {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

function pixel(png: PNG, x: number, y: number): [number, number, number] {
  const i = (png.width * y + x) * 4;
  return [png.data[i] ?? -1, png.data[i + 1] ?? -1, png.data[i + 2] ?? -1];
}

/** The fixture: 200x100 white, a red square at x 25-75 (relative DATA), a blue one at x 125-175 (/mapfiles/ DATA). */
function expectTwoSquares(path: string): void {
  const png = PNG.sync.read(readFileSync(path));
  expect([png.width, png.height]).toEqual([200, 100]);
  expect(pixel(png, 50, 50)).toEqual([255, 0, 0]);
  expect(pixel(png, 150, 50)).toEqual([0, 0, 255]);
  for (const [x, y] of [[5, 5], [100, 50], [195, 95], [50, 10]] as const) expect(pixel(png, x, y)).toEqual([255, 255, 255]);
}

function reporter(): { reporter: TerminalReporter; log: () => string } {
  let text = '';
  const sink = new Writable({
    write(chunk: Buffer, _e, done) {
      text += chunk.toString();
      done();
    },
  });
  return { reporter: new TerminalReporter(sink), log: () => text };
}

async function render(renderers: Renderer[], output: string, env: NodeJS.ProcessEnv = process.env) {
  return renderPreview({
    mapfile: join(folder, 'two-squares.map'),
    output,
    mapfilesDir: folder,
    cwd: scratch,
    env,
    reporter: reporter().reporter,
    projectRoot: repoRoot,
    renderers,
  });
}

describe('preview', () => {
  it('renders with the host MapServer from the command line, with paths anchored to the folder', () => {
    const output = join(scratch, 'cli.png');
    const run = spawnSync(
      process.execPath,
      [tsxCli, join(repoRoot, 'action', 'src', 'index.ts'), 'preview', join(folder, 'two-squares.map'), '--mapfiles-dir', folder, '--output', output],
      { cwd: scratch, env: { ...process.env, NODE_NO_WARNINGS: '1' }, encoding: 'utf8', timeout: 120_000 },
    );
    expect(run.stderr).toMatch(/wrote .*cli\.png: 200x100 PNG .* rendered by .*map2img/);
    expect(run.status).toBe(0);
    expectTwoSquares(output);
  });

  it('renders in the image when asked for it (as the service would, /mapfiles mounted)', async () => {
    await ensureImage();
    const output = join(scratch, 'docker.png');
    const result = await render(['docker'], output);
    expect(result.renderer).toBe('mapserver-ecs:local (mapserv)');
    expectTwoSquares(output);
  });

  it('fails clearly when neither MapServer nor the image is there', async () => {
    const output = join(scratch, 'none.png');
    const nothing = { PATH: join(scratch, 'empty') };
    await expect(render(['host', 'docker'], output, nothing)).rejects.toThrow(StepFailure);
    await expect(render(['host', 'docker'], output, nothing)).rejects.toThrow(
      /MapServer is not installed on this machine \(no map2img or shp2img on PATH\); and the image mapserver-ecs:local is not available .*\. Install MapServer .* or build the image/,
    );
    expect(existsSync(output)).toBe(false);
  });

  it('refuses a path that is not a mapfile before rendering anything', () => {
    const run = spawnSync(process.execPath, [tsxCli, join(repoRoot, 'action', 'src', 'index.ts'), 'preview', join(folder, 'nope.map')], {
      cwd: scratch,
      env: { ...process.env, NODE_NO_WARNINGS: '1' },
      encoding: 'utf8',
    });
    expect(run.status).toBe(2);
    expect(run.stderr).toContain('mapfile: expected an existing .map file');
  });
});
