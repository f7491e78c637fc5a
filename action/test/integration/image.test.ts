// The image step for real: docker build of docker/, the smoke test on a loopback port, and a push to
// a local registry (Debian's docker-registry on a free loopback port); a broken image is never pushed.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClients } from '../../src/aws/clients.js';
import type { CommandContext } from '../../src/context.js';
import { imageCommand } from '../../src/commands/image.js';
import { TerminalReporter } from '../../src/reporter.js';
import { parseSettings } from '../../src/settings.js';
import { GetLifecyclePolicyCommand, DescribeRepositoriesCommand } from '@aws-sdk/client-ecr';
import { ensureRepository, lifecyclePolicy } from '../../src/aws/ecr.js';
import { buildAndPushImage } from '../../src/steps/image.js';
import { freePort } from '../../../scripts/support/ports.js';
import { startEmulator } from '../../../scripts/emulator/start.js';
import { ensureImage, REPO_ROOT } from '../../../scripts/support/image.js';
import { exec, execOk } from '../../../scripts/support/exec.js';

jest.setTimeout(900_000);

let registry: ChildProcess;
let registryHost: string;
let scratch: string;

function context(inputs: Record<string, string>, root = REPO_ROOT, runEnv: NodeJS.ProcessEnv = {}): CommandContext & { log(): string } {
  const chunks: string[] = [];
  const out = new Writable({
    write(chunk, _encoding, done) {
      chunks.push(String(chunk));
      done();
    },
  });
  const settings = parseSettings((name) => inputs[name] ?? '', [], { AWS_REGION: 'us-east-1' });
  // No AWS endpoint or credentials: pushing to the registry input must not need AWS at all.
  const env = { ...process.env, ...runEnv, AWS_ENDPOINT_URL: 'http://127.0.0.1:9', AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '' };
  return { settings, reporter: new TerminalReporter(out), clients: createClients('us-east-1', env), root, env, log: () => chunks.join('') };
}

/** The manifest digest the registry holds for a tag, or the HTTP status when it holds none. */
async function registryDigest(repository: string, tag: string): Promise<string | number> {
  const response = await fetch(`http://${registryHost}/v2/${repository}/manifests/${tag}`, {
    method: 'HEAD',
    headers: { accept: 'application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json' },
  });
  return response.ok ? (response.headers.get('docker-content-digest') ?? 'no digest header') : response.status;
}

beforeAll(async () => {
  // Same base image and layer cache as the other integration files.
  await ensureImage();
  scratch = mkdtempSync(join(tmpdir(), 'image-test-'));
  const port = await freePort();
  registryHost = `127.0.0.1:${port}`;
  const config = join(scratch, 'registry.yml');
  writeFileSync(config, `version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: ${join(scratch, 'registry')}\n  delete:\n    enabled: true\nhttp:\n  addr: ${registryHost}\n`);
  registry = spawn('docker-registry', ['serve', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  registry.stderr?.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-2000)));
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (registry.exitCode !== null) throw new Error(`docker-registry exited with ${registry.exitCode}: ${stderr}`);
    const answer = await fetch(`http://${registryHost}/v2/`).then((r) => r.status, () => 0);
    if (answer === 200) break;
    if (Date.now() > deadline) throw new Error(`docker-registry did not answer on ${registryHost}: ${stderr}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}, 1_800_000);

afterAll(async () => {
  registry?.kill('SIGTERM');
  await exec('docker', ['image', 'rm', '--force', `${registryHost}/mapserver:itest`, `${registryHost}/mapserver:latest`, `${registryHost}/broken:itest`]);
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

describe('the image command against a local registry', () => {
  it('builds, smoke-tests, pushes and outputs the image by its registry digest', async () => {
    const run = { GITHUB_ACTIONS: 'true', GITHUB_SERVER_URL: 'https://github.com', GITHUB_REPOSITORY: 'acme/maps', GITHUB_SHA: 'c0ffee'.repeat(6) + 'c0ff', GITHUB_RUN_ID: '42', GITHUB_RUN_ATTEMPT: '1' };
    const ctx = context({ command: 'image', registry: registryHost, 'image-tag': 'itest' }, REPO_ROOT, run);
    const outputs = new Map<string, string>();
    const setOutput = ctx.reporter.setOutput.bind(ctx.reporter);
    ctx.reporter.setOutput = (name, value) => {
      outputs.set(name, value);
      setOutput(name, value);
    };
    await imageCommand(ctx);
    const imageUri = outputs.get('image-uri') ?? '';
    expect(imageUri).toMatch(new RegExp(`^${registryHost.replace(/\./g, '\\.')}/mapserver@sha256:[0-9a-f]{64}$`));
    expect(await registryDigest('mapserver', 'itest')).toBe(imageUri.split('@')[1]);
    expect(await registryDigest('mapserver', 'latest')).toBe(imageUri.split('@')[1]);
    expect(ctx.log()).toMatch(/Smoke test passed: GetCapabilities lists .*square/);

    // The labels carry the version and the run that built it (over the Dockerfile's empty source and revision); the smoke-test container is gone.
    const labels = JSON.parse(await execOk('docker', ['image', 'inspect', '--format', '{{json .Config.Labels}}', `${registryHost}/mapserver:itest`])) as Record<string, string>;
    expect(labels).toMatchObject({
      'org.opencontainers.image.version': 'itest',
      'org.opencontainers.image.source': 'https://github.com/acme/maps',
      'org.opencontainers.image.revision': run.GITHUB_SHA,
      'mapserver-ecs.run': 'https://github.com/acme/maps/actions/runs/42',
    });
    expect((await execOk('docker', ['ps', '--all', '--quiet', '--filter', 'name=mapserver-ecs-smoke-'])).trim()).toBe('');

    // The pushed image runs from the registry by digest.
    await execOk('docker', ['image', 'rm', `${registryHost}/mapserver:itest`]);
    await execOk('docker', ['pull', '--quiet', imageUri]);
  });

  it('refuses to push an image whose smoke test fails, and removes the smoke-test container', async () => {
    // A copy of the project whose MapServer config admits no mapfile: the image builds, but
    // GetCapabilities of the sample mapfile fails.
    const root = join(scratch, 'broken-project');
    cpSync(join(REPO_ROOT, 'docker'), join(root, 'docker'), { recursive: true });
    const configPath = join(root, 'docker', 'mapserver', 'mapserver.conf');
    const config = readFileSync(configPath, 'utf8');
    const broken = config.replace(/MS_MAP_PATTERN "[^"]+"/, 'MS_MAP_PATTERN "^/nowhere/"');
    expect(broken).not.toBe(config);
    writeFileSync(configPath, broken);

    const ctx = context({ command: 'image', registry: registryHost, 'ecr-repository': 'broken', 'image-tag': 'itest' }, root);
    await expect(buildAndPushImage(ctx)).rejects.toThrow(/Smoke test of .*broken:itest failed, so it was not pushed: GetCapabilities/);
    expect(await registryDigest('broken', 'itest')).toBe(404);
    expect(ctx.log()).not.toMatch(/docker push/);
    expect((await execOk('docker', ['ps', '--all', '--quiet', '--filter', 'name=mapserver-ecs-smoke-'])).trim()).toBe('');
  });
});

describe('the ECR repository against the emulator', () => {
  it('is created with scan on push and the lifecycle policy, and a second run finds the same repository', async () => {
    const emulator = await startEmulator();
    try {
      const inputs = { command: 'image', 'ecr-repository': 'team/mapserver', 'keep-images': '4' };
      const settings = parseSettings((name) => (inputs as Record<string, string>)[name] ?? '', [], { AWS_REGION: 'us-east-1' });
      const env = { ...process.env, ...emulator.env };
      const clients = createClients('us-east-1', env);
      const out = new Writable({ write: (_c, _e, done) => done() });
      const ctx: CommandContext = { settings, reporter: new TerminalReporter(out), clients, root: REPO_ROOT, env };
      // The SDK takes the endpoint and credentials from the process environment.
      const saved = { ...process.env };
      Object.assign(process.env, emulator.env);
      try {
        const first = await ensureRepository(ctx);
        expect(first.repositoryUri).toMatch(/\/team\/mapserver$/);
        const second = await ensureRepository(ctx);
        expect(second.repositoryUri).toBe(first.repositoryUri);
        const described = await clients.ecr.send(new DescribeRepositoriesCommand({ repositoryNames: ['team/mapserver'] }));
        expect(described.repositories?.[0]?.imageScanningConfiguration?.scanOnPush).toBe(true);
        const policy = await clients.ecr.send(new GetLifecyclePolicyCommand({ repositoryName: 'team/mapserver' }));
        expect(JSON.parse(policy.lifecyclePolicyText ?? '{}')).toEqual(JSON.parse(lifecyclePolicy(4)));
      } finally {
        process.env = saved;
        clients.destroy();
      }
    } finally {
      await emulator.stop();
    }
  });
});

describe('the image at start', () => {
  it.each([
    ['FCGID_MAX_PROCESSES', 'many', /FCGID_MAX_PROCESSES must be a whole number from 1 to 1000, got 'many'/],
    ['FCGID_MIN_PROCESSES', '20', /FCGID_MIN_PROCESSES \(20\) must not exceed FCGID_MAX_PROCESSES \(8\)/],
    ['AWS_ENDPOINT_URL', '127.0.0.1:9000', /AWS_ENDPOINT_URL must start with http:\/\/ or https:\/\//],
    ['ACCESS_LOG', 'maybe', /ACCESS_LOG must be on or off/],
  ])('stops with a message naming %s when it is %s', async (name, value, message) => {
    const image = await ensureImage();
    const result = await exec('docker', ['run', '--rm', '--env', `${name}=${value}`, image]);
    expect(result.code).toBe(64);
    expect(result.stderr).toMatch(message);
  });
});
