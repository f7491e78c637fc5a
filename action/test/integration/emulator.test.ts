// The emulator as users and other tests meet it: `npm run emulator -- --port N`, the instance refresh
// and deployment shims over real HTTP with the SDK, the test controls, and the interceptor hook.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import {
  AutoScalingClient,
  CancelInstanceRefreshCommand,
  CreateAutoScalingGroupCommand,
  DescribeInstanceRefreshesCommand,
  StartInstanceRefreshCommand,
} from '@aws-sdk/client-auto-scaling';
import { CreateLaunchTemplateCommand, DescribeImagesCommand, DescribeSubnetsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { CreateClusterCommand, ECSClient, ListClustersCommand } from '@aws-sdk/client-ecs';
import { queryError } from '../../../scripts/emulator/wire.js';
import { type Interceptor } from '../../../scripts/emulator/types.js';
import { freePort } from '../../../scripts/support/ports.js';
import { startEmulator, type Emulator } from '../../../scripts/emulator/start.js';

jest.setTimeout(120_000);

/** Every process under `root` (children, their children...), from /proc. */
function descendants(root: number): number[] {
  const parents = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parents.set(Number(entry), ppid);
    } catch {
      // Exited while listing.
    }
  }
  const found: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const pid = queue.shift() ?? 0;
    for (const [child, parent] of parents) {
      if (parent === pid && !found.includes(child)) {
        found.push(child);
        queue.push(child);
      }
    }
  }
  return found;
}

function alive(pid: number): boolean {
  // A zombie has exited already; only its exit status waits to be read.
  try {
    return !/^\S+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

function commandOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
  } catch {
    return '';
  }
}

/** Whether something accepts connections on the loopback port. */
function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

const credentials = { accessKeyId: 'testing', secretAccessKey: 'testing' };

describe('npm run emulator', () => {
  it('prints its endpoint, answers the AWS APIs and the shim, and stops on SIGTERM', async () => {
    const port = await freePort();
    const child = spawn('npm', ['run', '--silent', 'emulator', '--', '--port', String(port)], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    try {
      const deadline = Date.now() + 60_000;
      while (!stdout.includes('\n') && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 100));
      expect(stdout.trim()).toBe(`http://127.0.0.1:${port}`);
      const ecs = new ECSClient({ region: 'us-east-1', endpoint: stdout.trim(), credentials });
      await ecs.send(new CreateClusterCommand({ clusterName: 'probe' }));
      expect((await ecs.send(new ListClustersCommand({}))).clusterArns).toEqual(['arn:aws:ecs:us-east-1:123456789012:cluster/probe']);
      ecs.destroy();
      const health = await fetch(`http://127.0.0.1:${port}/_emulator/health`);
      expect(await health.json()).toEqual({ ok: true });
    } finally {
      const exited = new Promise((r) => child.once('exit', r));
      if (child.pid) process.kill(-child.pid, 'SIGTERM');
      await exited;
    }
    expect(stderr).toMatch(/controls under/);
  });

  it('takes everything it started down when the npm process alone is sent SIGTERM', async () => {
    const port = await freePort();
    const motoPort = await freePort();
    // Its own process group, so that a failure here can still clean up; the test signals npm only.
    const child = spawn('npm', ['run', '--silent', 'emulator', '--', '--port', String(port), '--moto-port', String(motoPort)], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let stdout = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    const npm = child.pid ?? 0;
    try {
      const deadline = Date.now() + 60_000;
      while (!stdout.includes('\n') && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 100));
      expect(stdout.trim()).toBe(`http://127.0.0.1:${port}`);
      const started = descendants(npm);
      // npm, its shell, node and moto (and whatever helpers these run).
      expect(started.length).toBeGreaterThanOrEqual(3);
      expect(await answers(port)).toBe(true);
      expect(await answers(motoPort)).toBe(true);
      const exited = new Promise((r) => child.once('exit', r));
      process.kill(npm, 'SIGTERM');
      await exited;
      const until = Date.now() + 15_000;
      while (started.some(alive) && Date.now() < until) await new Promise((r) => setTimeout(r, 200));
      expect(started.filter(alive).map((pid) => `${pid} ${commandOf(pid)}`)).toEqual([]);
      expect(await answers(port)).toBe(false);
      expect(await answers(motoPort)).toBe(false);
    } finally {
      try {
        process.kill(-npm, 'SIGKILL');
      } catch {
        // Already gone: the expected case.
      }
    }
  });

  it('refuses a bad port with a clear message', async () => {
    const child = spawn('npm', ['run', '--silent', 'emulator', '--', '--port', 'eighty'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const code = await new Promise((r) => child.once('exit', r));
    expect(code).toBe(1);
    expect(stderr).toMatch(/--port expects a port number from 0 to 65535, got eighty/);
  });
});

describe('the shim', () => {
  let emulator: Emulator;
  let autoScaling: AutoScalingClient;
  let throttleNext = 0;
  let seen: string[] = [];
  // A fault injector as the hardening part would plug in: answers a number of calls with throttling.
  const throttle: Interceptor = async (request, next) => {
    if (request.action) seen.push(`${request.service ?? '?'}:${request.action}`);
    if (request.service === 'autoscaling' && throttleNext > 0) {
      throttleNext -= 1;
      return queryError(400, 'Throttling', 'Rate exceeded');
    }
    return next();
  };

  beforeAll(async () => {
    emulator = await startEmulator({ faults: [throttle] });
    const config = { region: 'us-east-1', endpoint: emulator.endpoint, credentials };
    autoScaling = new AutoScalingClient({ ...config, maxAttempts: 4 });
    const ec2 = new EC2Client(config);
    const image = ((await ec2.send(new DescribeImagesCommand({ Owners: ['amazon'] }))).Images ?? []).find((i) => (i.Platform ?? '').toLowerCase() !== 'windows')?.ImageId;
    const subnet = (await ec2.send(new DescribeSubnetsCommand({}))).Subnets?.[0]?.SubnetId;
    const template = await ec2.send(new CreateLaunchTemplateCommand({ LaunchTemplateName: 'probe', LaunchTemplateData: { ImageId: image, UserData: Buffer.from('#!/bin/sh\n').toString('base64') } }));
    await autoScaling.send(
      new CreateAutoScalingGroupCommand({
        AutoScalingGroupName: 'probe',
        MinSize: 1,
        MaxSize: 2,
        LaunchTemplate: { LaunchTemplateId: template.LaunchTemplate?.LaunchTemplateId, Version: '1' },
        VPCZoneIdentifier: subnet,
      }),
    );
    ec2.destroy();
  });

  afterAll(async () => {
    autoScaling?.destroy();
    await emulator?.stop();
  });

  it('runs an instance refresh from Pending to Successful with progress, and refuses a second one meanwhile', async () => {
    const started = await autoScaling.send(new StartInstanceRefreshCommand({ AutoScalingGroupName: 'probe', Preferences: { MinHealthyPercentage: 100, MaxHealthyPercentage: 200 } }));
    expect(started.InstanceRefreshId).toMatch(/^[0-9a-f-]{36}$/);
    await expect(autoScaling.send(new StartInstanceRefreshCommand({ AutoScalingGroupName: 'probe' }))).rejects.toMatchObject({ name: 'InstanceRefreshInProgressFault' });
    const states: string[] = [];
    for (let i = 0; i < 5; i += 1) {
      const [refresh] = (await autoScaling.send(new DescribeInstanceRefreshesCommand({ AutoScalingGroupName: 'probe', InstanceRefreshIds: [started.InstanceRefreshId ?? ''] }))).InstanceRefreshes ?? [];
      states.push(`${refresh?.Status ?? '?'} ${refresh?.PercentageComplete ?? '?'}`);
      expect(refresh?.Preferences).toMatchObject({ MinHealthyPercentage: 100, MaxHealthyPercentage: 200 });
    }
    expect(states).toEqual(['InProgress 33', 'InProgress 67', 'Successful 100', 'Successful 100', 'Successful 100']);
  });

  it('cancels a refresh, and says when there is none to cancel', async () => {
    const started = await autoScaling.send(new StartInstanceRefreshCommand({ AutoScalingGroupName: 'probe' }));
    expect((await autoScaling.send(new CancelInstanceRefreshCommand({ AutoScalingGroupName: 'probe' }))).InstanceRefreshId).toBe(started.InstanceRefreshId);
    const [refresh] = (await autoScaling.send(new DescribeInstanceRefreshesCommand({ AutoScalingGroupName: 'probe', InstanceRefreshIds: [started.InstanceRefreshId ?? ''] }))).InstanceRefreshes ?? [];
    expect(refresh?.Status).toBe('Cancelled');
    await expect(autoScaling.send(new CancelInstanceRefreshCommand({ AutoScalingGroupName: 'probe' }))).rejects.toMatchObject({ name: 'ActiveInstanceRefreshNotFoundFault' });
  });

  it('fails the next refresh when told to through the control endpoint', async () => {
    const armed = await fetch(`${emulator.endpoint}/_emulator/instance-refresh/fail-next`, { method: 'POST', body: JSON.stringify({ status: 'Failed', reason: 'simulated health check failure' }) });
    expect(armed.status).toBe(200);
    const started = await autoScaling.send(new StartInstanceRefreshCommand({ AutoScalingGroupName: 'probe' }));
    let status = '';
    let reason = '';
    for (let i = 0; i < 4 && status !== 'Failed'; i += 1) {
      const [refresh] = (await autoScaling.send(new DescribeInstanceRefreshesCommand({ AutoScalingGroupName: 'probe', InstanceRefreshIds: [started.InstanceRefreshId ?? ''] }))).InstanceRefreshes ?? [];
      status = refresh?.Status ?? '';
      reason = refresh?.StatusReason ?? '';
    }
    expect([status, reason]).toEqual(['Failed', 'simulated health check failure']);
    const bad = await fetch(`${emulator.endpoint}/_emulator/instance-refresh/fail-next`, { method: 'POST', body: JSON.stringify({ status: 'Exploded' }) });
    expect(bad.status).toBe(400);
  });

  it('answers an unknown group the way Auto Scaling does', async () => {
    await expect(autoScaling.send(new StartInstanceRefreshCommand({ AutoScalingGroupName: 'nope' }))).rejects.toThrow(/AutoScalingGroup name not found - nope/);
  });

  it('runs fault interceptors first: throttled calls succeed through the SDK retries', async () => {
    seen = [];
    throttleNext = 2;
    const answer = await autoScaling.send(new DescribeInstanceRefreshesCommand({ AutoScalingGroupName: 'probe' }));
    expect(answer.InstanceRefreshes?.length).toBeGreaterThan(0);
    expect(answer.$metadata.attempts).toBe(3);
    expect(seen).toEqual(['autoscaling:DescribeInstanceRefreshes', 'autoscaling:DescribeInstanceRefreshes', 'autoscaling:DescribeInstanceRefreshes']);
  });

  it('fails clearly when moto_server cannot be started', async () => {
    await expect(startEmulator({ motoCommand: 'no-such-moto-server' })).rejects.toThrow(/cannot start moto_server|exited/);
  });
});
