// `npm start` from the repository, for real: the emulator, the registry, the release pipeline
// (Packer, the image build and push), the bucket mounted by the AMI's own mount script, and the
// registered task definition running in Docker. Then WMS requests, a mapfile uploaded through the
// S3 API and edited, every AWS request of the stack's actors simulated against the IAM policy of
// its role, `npm stop` leaving nothing behind, and a second start.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { execFile, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { launchBrowser, viewerMapPixels, viewerSettled } from '../support/browser.js';
import { DEFAULT_NAMES, readRecorded, simulateRecorded } from '../support/iam-simulator.js';
import { EMULATED_ACCOUNT } from '../../../scripts/emulator/iam-recorder.js';
import { freePort } from '../../../scripts/support/ports.js';

const root = new URL('../../../', import.meta.url).pathname;
const START_TIMEOUT_MS = 25 * 60_000;

interface StackRun {
  code: number;
  stdout: string;
  stderr: string;
  seconds: number;
}

/** Runs an npm script of the repository with the stack's settings; output also goes to a log file. */
function npm(script: 'start' | 'stop', env: Record<string, string>, logFile: string): Promise<StackRun> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn('npm', ['run', '--silent', script], { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      writeFileSync(logFile, chunk, { flag: 'a' });
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr, seconds: Math.round((Date.now() - started) / 1000) }));
  });
}

function sh(file: string, args: string[]): Promise<string> {
  return new Promise((resolve) => execFile(file, args, (_error, stdout) => resolve(String(stdout))));
}

/** The `Name: value` lines `up` prints. */
function printed(stdout: string): Record<string, string> {
  const lines: Record<string, string> = {};
  for (const line of stdout.split('\n')) {
    const match = /^(Viewer|WMS|Endpoint|Bucket|GetMap|Edit|Sync): (.+)$/.exec(line);
    if (match?.[1] && match[2]) lines[match[1]] = match[2];
  }
  return lines;
}

async function getPng(url: string): Promise<PNG> {
  const response = await fetch(url);
  const body = Buffer.from(await response.arrayBuffer());
  const type = response.headers.get('content-type');
  // MapServer answers errors with status 200 and an XML exception: show it.
  if (response.status !== 200 || type !== 'image/png') throw new Error(`expected a PNG from ${url}, got ${response.status} ${type}:\n${body.toString('utf8').slice(0, 600)}`);
  return PNG.sync.read(body);
}

/**
 * The pixel at (x, y) once it is `expected`, asking again for up to a second: the mirror driver
 * (npm start's default) shows an upload within a second of the PUT returning, not on the very next
 * request. Returns what was seen last.
 */
async function pixelWithinASecond(url: string, x: number, y: number, expected: [number, number, number]): Promise<[number, number, number]> {
  const since = Date.now();
  for (;;) {
    const seen = await getPng(url)
      .then((png) => pixel(png, x, y))
      .catch(() => [-1, -1, -1] as [number, number, number]);
    if (seen.join() === expected.join() || Date.now() - since > 1000) return seen;
    await new Promise((r) => setTimeout(r, 20));
  }
}

function pixel(png: PNG, x: number, y: number): [number, number, number] {
  const at = (png.width * y + x) * 4;
  return [png.data[at] ?? -1, png.data[at + 1] ?? -1, png.data[at + 2] ?? -1];
}

/** A mapfile that draws one filled square in the middle, in the given color. */
function squareMapfile(red: number, green: number, blue: number): string {
  return `MAP
  NAME "fresh"
  SIZE 100 100
  EXTENT -10 -10 10 10
  UNITS DD
  IMAGECOLOR 255 255 255
  IMAGETYPE png
  PROJECTION "init=epsg:4326" END
  WEB METADATA "wms_title" "fresh" "wms_srs" "EPSG:4326" "wms_enable_request" "*" END END
  LAYER
    NAME "square"
    TYPE POLYGON
    STATUS ON
    PROJECTION "init=epsg:4326" END
    METADATA "wms_title" "square" END
    FEATURE POINTS -5 -5 -5 5 5 5 5 -5 -5 -5 END END
    CLASS STYLE COLOR ${red} ${green} ${blue} END END
  END
END
`;
}

describe('npm start / npm stop', () => {
  const stateDir = mkdtempSync(join(tmpdir(), 'local-stack-'));
  // MapServer's user (uid 33) must reach the mount point inside, as on an instance.
  chmodSync(stateDir, 0o755);
  const logFile = join(stateDir, 'test.log');
  let env: Record<string, string> = {};
  let first: StackRun;
  let urls: Record<string, string> = {};

  beforeAll(async () => {
    env = {
      LOCAL_STACK_DIR: stateDir,
      LOCAL_STACK_EMULATOR_PORT: String(await freePort()),
      LOCAL_STACK_MOTO_PORT: String(await freePort()),
      LOCAL_STACK_REGISTRY_PORT: String(await freePort()),
      LOCAL_STACK_WMS_PORT: String(await freePort()),
      LOCAL_STACK_BUCKET: 'mapserver-ecs-local-test',
    };
    first = await npm('start', env, logFile);
    urls = printed(first.stdout);
  }, START_TIMEOUT_MS);

  afterAll(async () => {
    // Whatever happened above, leave nothing running.
    await npm('stop', env, logFile);
    // Local tags of the images pushed to this test's registry (the build's own tag keeps the layers).
    const tags = (await sh('docker', ['image', 'ls', '--format', '{{.Repository}}:{{.Tag}}', '--filter', `reference=127.0.0.1:${env.LOCAL_STACK_REGISTRY_PORT}/*`]))
      .split('\n')
      .filter((t) => t.trim() !== '' && !t.endsWith(':<none>'));
    if (tags.length > 0) await sh('docker', ['image', 'rm', ...tags]);
    rmSync(stateDir, { recursive: true, force: true });
  }, 120_000);

  it('starts and prints the viewer URL first, the WMS URL, the emulator endpoint, the bucket, a GetMap URL and how to edit', () => {
    if (first.code !== 0) throw new Error(`npm start exited with ${first.code}; last output:\n${first.stderr.slice(-4000)}`);
    process.stderr.write(`npm start (cold) took ${first.seconds}s\n`);
    expect(Object.keys(urls).sort()).toEqual(['Bucket', 'Edit', 'Endpoint', 'GetMap', 'Sync', 'Viewer', 'WMS']);
    expect(first.stdout.split('\n')[0]).toBe(`Viewer: http://127.0.0.1:${env.LOCAL_STACK_WMS_PORT}/viewer/?map=/mapfiles/example.map`);
    expect(urls.WMS).toBe(`http://127.0.0.1:${env.LOCAL_STACK_WMS_PORT}/maps/example?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetCapabilities`);
    expect(urls.Endpoint).toBe(`http://127.0.0.1:${env.LOCAL_STACK_EMULATOR_PORT}`);
    expect(urls.Bucket).toBe('mapserver-ecs-local-test');
  });

  it('serves GetCapabilities and a GetMap PNG of the COG read through /vsis3/', async () => {
    const capabilities = await fetch(urls.WMS ?? '');
    expect(capabilities.status).toBe(200);
    const text = await capabilities.text();
    expect(text).toContain('WMS_Capabilities');
    expect(text).toContain('<Name>relief</Name>');
    const png = await getPng(urls.GetMap ?? '');
    expect([png.width, png.height]).toEqual([512, 256]);
    // The ramp colors the generated relief: many different colors, none of them the white background.
    const colors = new Set<string>();
    for (let x = 0; x < png.width; x += 16) for (let y = 0; y < png.height; y += 16) colors.add(pixel(png, x, y).join(','));
    expect(colors.size).toBeGreaterThan(20);
    expect(colors.has('255,255,255')).toBe(false);
  });

  it('shows the example in the map viewer: a headless Chromium sees the map drawn, each layer listed', async () => {
    const browser = await launchBrowser();
    try {
      const { page, status } = await browser.open(urls.Viewer ?? '');
      expect(status).toBe(200);
      await viewerSettled(page);
      expect(await page.locator('#error').isHidden()).toBe(true);
      expect(await page.locator('#layer-list input').count()).toBeGreaterThan(0);
      const shot = await viewerMapPixels(page);
      const colors = new Set<string>();
      for (let x = shot.width / 4; x < (shot.width * 3) / 4; x += 8) for (let y = shot.height / 4; y < (shot.height * 3) / 4; y += 8) colors.add(pixel(shot, Math.floor(x), Math.floor(y)).join(','));
      expect(colors.size).toBeGreaterThan(20);
      expect(browser.dialogs).toEqual([]);
      expect(browser.offLoopback).toEqual([]);
    } finally {
      await browser.close();
    }
  });

  it('serves a mapfile uploaded through the S3 API within a second, and an edit to it', async () => {
    const s3 = new S3Client({
      region: 'us-east-1',
      endpoint: urls.Endpoint ?? '',
      forcePathStyle: true,
      // The emulator's documented dummies.
      credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
    });
    const base = (urls.WMS ?? '').replace(/\/maps\/example\?.*$/, '');
    const getMap = `${base}/maps/fresh?SERVICE=WMS&VERSION=1.3.0&REQUEST=GetMap&LAYERS=square&STYLES=&CRS=EPSG:4326&BBOX=-10,-10,10,10&WIDTH=100&HEIGHT=100&FORMAT=image/png`;
    try {
      await s3.send(new PutObjectCommand({ Bucket: urls.Bucket, Key: 'fresh.map', Body: squareMapfile(255, 0, 0) }));
      expect(await pixelWithinASecond(getMap, 50, 50, [255, 0, 0])).toEqual([255, 0, 0]);
      await s3.send(new PutObjectCommand({ Bucket: urls.Bucket, Key: 'fresh.map', Body: squareMapfile(0, 0, 255) }));
      expect(await pixelWithinASecond(getMap, 50, 50, [0, 0, 255])).toEqual([0, 0, 255]);
    } finally {
      s3.destroy();
    }
  });

  it('follows its own edit instructions: the printed command changes the example map', async () => {
    const before = pixel(await getPng(urls.GetMap ?? ''), 256, 128);
    const example = join(stateDir, 'mapfiles', 'example.map');
    expect(urls.Edit).toContain(example);
    // One color for the whole ramp: every pixel of the relief turns that color.
    writeFileSync(example, readFileSync(example, 'utf8').replace(/COLORRANGE [\d ]+/, 'COLORRANGE 10 200 30 10 200 30'));
    const command = /then: (curl .+?) +- GetMap shows it/.exec(urls.Edit ?? '')?.[1] ?? '';
    expect(command).toMatch(/^curl -sS --aws-sigv4 \S+ --user testing:testing -T \S+ http:\/\/127\.0\.0\.1:\d+\/mapserver-ecs-local-test\/example\.map$/);
    const [, ...args] = command.split(/\s+/);
    await sh('curl', ['--fail', ...args]);
    const after = await pixelWithinASecond(urls.GetMap ?? '', 256, 128, [10, 200, 30]);
    expect(after).toEqual([10, 200, 30]);
    expect(after).not.toEqual(before);
  });

  it('records every request of the pipeline, Packer, the mirror and GDAL under its role, and the policies allow all (0 denials)', async () => {
    const checks = readRecorded(join(stateDir, 'iam-requests.jsonl'));
    const actors = Object.fromEntries(new Map(checks.filter((c) => c.actor).map((c) => [c.actor, c.role])));
    const expected = { pipeline: 'pipeline', packer: 'pipeline', mirror: 'instance', gdal: 'task' };
    // The health watcher signs as the instance, and calls AWS only to take an unhealthy instance out of service.
    expect(actors).toEqual(actors.instance ? { ...expected, instance: 'instance' } : expected);
    // The settings the stack runs with (scripts/local-stack.sh): the whole bucket, the inputs' defaults.
    const role = (name: string): string => `arn:aws:iam::${EMULATED_ACCOUNT}:role/${name}`;
    const values = { region: 'us-east-1', accountId: EMULATED_ACCOUNT, bucket: 'mapserver-ecs-local-test', bucketPrefix: '' };
    const roles = { instanceRoleArn: role('mapserver-ecs-local'), taskRoleArn: role('mapserver-task'), executionRoleArn: role('mapserver-execution') };
    const simulation = await simulateRecorded(checks, () => ({ ...values, ...DEFAULT_NAMES, ...roles }));
    process.stdout.write(`local stack IAM simulation: ${simulation.simulated} distinct recorded requests, ${simulation.triples} distinct (role, action, resource), ${simulation.denied.length} denied\n`);
    expect(simulation.denied).toEqual([]);
    expect(simulation.triples).toBeGreaterThan(0);
  });

  it('npm stop leaves no mount, no container and no process; a second npm start works', async () => {
    const pids = readdirSync(join(stateDir, 'run'))
      .filter((f) => f.endsWith('.pid'))
      .map((f) => Number(readFileSync(join(stateDir, 'run', f), 'utf8').split(' ')[0]));
    expect(pids.length).toBeGreaterThanOrEqual(3);
    // The mirror (npm start's driver) and its supervisor stop with the stack too.
    const mirrorStatus = JSON.parse(readFileSync(join(stateDir, 'mirror', 'status.json'), 'utf8')) as { pid: number; synced: boolean; events: { state: string } };
    expect(mirrorStatus).toMatchObject({ synced: true, events: { state: 'listening' } });
    pids.push(mirrorStatus.pid, Number(readFileSync(join(stateDir, 'mirror', 'supervisor.pid'), 'utf8')));

    const stop = await npm('stop', env, logFile);
    expect(stop.code).toBe(0);
    process.stderr.write(`npm stop took ${stop.seconds}s\n`);
    expect(readFileSync('/proc/mounts', 'utf8')).not.toContain(stateDir);
    expect((await sh('docker', ['ps', '--all', '--quiet', '--filter', `label=mapserver-ecs.local-stack=${stateDir}`])).trim()).toBe('');
    for (const pid of pids) {
      let alive = true;
      try {
        process.kill(pid, 0);
      } catch {
        alive = false;
      }
      expect({ pid, alive }).toEqual({ pid, alive: false });
    }
    // No process of the stack's group is left either (the emulator runs moto_server under it).
    const leftovers = (await sh('pgrep', ['-f', '--', `-p ${env.LOCAL_STACK_MOTO_PORT}|port ${env.LOCAL_STACK_EMULATOR_PORT}|${stateDir}`])).trim();
    expect(leftovers).toBe('');
    expect(existsSync(join(stateDir, 'run', 'emulator.pid'))).toBe(false);

    const second = await npm('start', env, logFile);
    if (second.code !== 0) throw new Error(`second npm start exited with ${second.code}:\n${second.stderr.slice(-4000)}`);
    process.stderr.write(`npm start (warm) took ${second.seconds}s\n`);
    const again = printed(second.stdout);
    const capabilities = await fetch(again.WMS ?? '');
    expect(capabilities.status).toBe(200);
    expect(await capabilities.text()).toContain('WMS_Capabilities');
  }, START_TIMEOUT_MS);
});
