// The CLI as a person runs it, from source in its own process against the emulator: its output
// holds only what the command says (no AWS SDK notice on this machine's Node), and without
// credentials it says so in one line and calls nothing.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { runCliFromSource } from '../support/cli-source.js';
import { startEmulator, type Emulator } from '../../../scripts/emulator/start.js';

jest.setTimeout(120_000);

let emulator: Emulator;

const cli = runCliFromSource;

async function recorder(action: 'reset-recording' | 'start-recording'): Promise<void> {
  await fetch(`${emulator.motoEndpoint}/moto-api/recorder/${action}`, { method: 'POST' });
}

async function recordedCalls(): Promise<number> {
  const text = await (await fetch(`${emulator.motoEndpoint}/moto-api/recorder/download-recording`)).text();
  return text.split('\n').filter((line) => line.trim() !== '').length;
}

beforeAll(async () => {
  emulator = await startEmulator();
  await recorder('reset-recording');
  await recorder('start-recording');
});

afterAll(async () => {
  await emulator?.stop();
});

const IMAGE = `127.0.0.1:5000/mapserver@sha256:${'0'.repeat(64)}`;

describe('CLI process', () => {
  it(`prints no AWS SDK Node version notice on Node ${process.version} for commands that reach AWS`, async () => {
    const before = await recordedCalls();
    const cleanup = await cli(['cleanup', '--dry-run'], emulator.env);
    expect(cleanup.stderr).not.toMatch(/NodeVersionSupportWarning|AWS SDK for JavaScript/);
    expect(cleanup.code).toBe(0);
    // deploy reaches AWS too (and fails there: the emulated account has no cluster).
    const deploy = await cli(['deploy', '--image', IMAGE, '--wait-minutes', '1'], emulator.env);
    expect(deploy.stderr).not.toMatch(/NodeVersionSupportWarning|AWS SDK for JavaScript/);
    expect(deploy.stderr).not.toMatch(/\(node:\d+\)/);
    expect(await recordedCalls()).toBeGreaterThan(before);
  });

  it('without credentials says so in one line, with how to provide them, exit 1 and no AWS call', async () => {
    const before = await recordedCalls();
    const env = {
      AWS_ENDPOINT_URL: emulator.endpoint,
      AWS_REGION: 'us-east-1',
      // No keys, no profile, no config files, and no instance metadata (never reached from here).
      AWS_CONFIG_FILE: '/nonexistent/aws-config',
      AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/aws-credentials',
      AWS_EC2_METADATA_DISABLED: 'true',
    };
    const run = await cli(['deploy', '--image', IMAGE], env);
    expect(run.code).toBe(1);
    const lines = run.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^mapserver-ecs: No AWS credentials found; nothing was changed\. .*AWS_PROFILE.*aws sso login.*configure-aws-credentials/);
    expect(run.stderr).not.toContain('CredentialsProviderError');
    expect(run.stdout).toBe('');
    expect(await recordedCalls()).toBe(before);
  });
});
