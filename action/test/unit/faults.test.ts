// The emulator's fault injector: AWS-shaped errors per protocol that the SDK classifies as
// retryable, a reproducible sequence from a seed, the rate honoured, and flag parsing.
import { describe, expect, it } from '@jest/globals';
import { EC2Client, DescribeImagesCommand } from '@aws-sdk/client-ec2';
import { ECSClient, DescribeClustersCommand } from '@aws-sdk/client-ecs';
import { AutoScalingClient, DescribeAutoScalingGroupsCommand } from '@aws-sdk/client-auto-scaling';
import { S3Client, HeadObjectCommand } from '@aws-sdk/client-s3';
import { Readable } from 'node:stream';
import type { ProxyRequest, ProxyResponse } from '../../../scripts/emulator/types.js';
import { createFaultInjector, parseFaultArgs, protocolOf, seededRandom, serverError, throttlingError } from '../../../scripts/emulator/faults.js';

function request(service: string, target?: string): ProxyRequest {
  return { method: 'POST', url: '/', headers: target ? { 'x-amz-target': target } : {}, body: Buffer.alloc(0), service, action: 'X', params: new URLSearchParams() };
}

const ok: ProxyResponse = { status: 200, headers: {}, body: 'ok' };

/** A client whose only "network" is one canned answer, so the SDK's own error parsing runs. */
function answering(answer: ProxyResponse) {
  let calls = 0;
  return {
    calls: () => calls,
    handler: {
      handle: async () => {
        calls += 1;
        return { response: { statusCode: answer.status, headers: answer.headers, body: Readable.from([Buffer.from(answer.body)]) } };
      },
      destroy: () => undefined,
      updateHttpClientConfig: () => undefined,
      httpHandlerConfigs: () => ({}),
    },
  };
}

const base = { region: 'us-east-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' }, maxAttempts: 2, retryStrategy: undefined };

describe('AWS-shaped faults', () => {
  it('names each protocol', () => {
    expect(protocolOf(request('ec2'))).toBe('ec2');
    expect(protocolOf(request('autoscaling'))).toBe('query');
    expect(protocolOf(request('ecs', 'AmazonEC2ContainerServiceV20141113.DescribeClusters'))).toBe('json');
    expect(protocolOf(request('s3'))).toBe('s3');
  });

  it.each([
    ['EC2 RequestLimitExceeded', () => new EC2Client(base), () => new DescribeImagesCommand({}), throttlingError('ec2'), 'RequestLimitExceeded'],
    ['Auto Scaling Throttling', () => new AutoScalingClient(base), () => new DescribeAutoScalingGroupsCommand({}), throttlingError('query'), 'Throttling'],
    ['ECS ThrottlingException', () => new ECSClient(base), () => new DescribeClustersCommand({}), throttlingError('json'), 'ThrottlingException'],
    ['S3 SlowDown', () => new S3Client({ ...base, forcePathStyle: true }), () => new HeadObjectCommand({ Bucket: 'b', Key: 'k' }), throttlingError('s3'), 'SlowDown'],
    ['ECS InternalFailure', () => new ECSClient(base), () => new DescribeClustersCommand({}), serverError('json', 0.1), 'InternalFailure'],
    ['EC2 Unavailable', () => new EC2Client(base), () => new DescribeImagesCommand({}), serverError('ec2', 0.9), 'Unavailable'],
  ] as const)('%s is read by the SDK as that error and retried', async (_name, make, command, answer, code) => {
    const fake = answering(answer);
    const client = make();
    (client.config as { requestHandler: unknown }).requestHandler = fake.handler;
    // HEAD answers have no body to read a code from: the SDK names them by status.
    const expected = command().constructor.name === 'HeadObjectCommand' ? /ServiceUnavailable|SlowDown|503/ : new RegExp(code);
    await expect((client as { send(c: unknown): Promise<unknown> }).send(command())).rejects.toMatchObject({ name: expect.stringMatching(expected) });
    expect(fake.calls()).toBe(2);
    client.destroy();
  });
});

describe('createFaultInjector', () => {
  it('injects at the set rate, the same faults for the same seed', async () => {
    const { outcomes, stats } = await (async () => {
      // Latency faults sleep; keep them out of this count.
      const injector = createFaultInjector({ rate: 0.2, seed: 42, kinds: ['throttle', 'server-error', 'reset'] });
      const outcomes: string[] = [];
      for (let i = 0; i < 2000; i += 1) {
        const answer = await injector.interceptor(request('ecs', 'T.DescribeClusters'), async () => ok);
        outcomes.push(answer.reset ? 'reset' : String(answer.status));
      }
      return { outcomes, stats: injector.stats };
    })();
    const faults = outcomes.filter((o) => o !== '200').length;
    expect(faults / 2000).toBeGreaterThan(0.17);
    expect(faults / 2000).toBeLessThan(0.23);
    expect(stats.injected.throttle).toBeGreaterThan(0);
    expect(stats.injected['server-error']).toBeGreaterThan(0);
    expect(stats.injected.reset).toBeGreaterThan(0);
    expect(stats.injected.throttle + stats.injected['server-error'] + stats.injected.reset).toBe(faults);
    const again = createFaultInjector({ rate: 0.2, seed: 42, kinds: ['throttle', 'server-error', 'reset'] });
    const second: string[] = [];
    for (let i = 0; i < 2000; i += 1) {
      const answer = await again.interceptor(request('ecs', 'T.DescribeClusters'), async () => ok);
      second.push(answer.reset ? 'reset' : String(answer.status));
    }
    expect(second).toEqual(outcomes);
    const other = createFaultInjector({ rate: 0.2, seed: 43, kinds: ['throttle'] });
    const third: string[] = [];
    for (let i = 0; i < 200; i += 1) third.push(String((await other.interceptor(request('ecs', 'T.X'), async () => ok)).status));
    expect(third).not.toEqual(outcomes.slice(0, 200));
  });

  it('delays a latency fault and still answers', async () => {
    const injector = createFaultInjector({ rate: 1, kinds: ['latency'], latencyMs: 120 });
    const started = Date.now();
    const answer = await injector.interceptor(request('ec2'), async () => ok);
    expect(answer).toBe(ok);
    expect(Date.now() - started).toBeGreaterThanOrEqual(110);
  });

  it('leaves other services, emulator plumbing and a disabled injector alone', async () => {
    const injector = createFaultInjector({ rate: 1, kinds: ['throttle'], services: ['ecs'] });
    expect(await injector.interceptor(request('ec2'), async () => ok)).toBe(ok);
    expect(await injector.interceptor({ ...request('ecs'), service: undefined }, async () => ok)).toBe(ok);
    expect((await injector.interceptor(request('ecs', 'T.X'), async () => ok)).status).toBe(400);
    injector.enabled = false;
    expect(await injector.interceptor(request('ecs', 'T.X'), async () => ok)).toBe(ok);
  });

  it('is reproducible from its seed', () => {
    const a = seededRandom(7);
    const b = seededRandom(7);
    const xs = Array.from({ length: 5 }, a);
    expect(Array.from({ length: 5 }, b)).toEqual(xs);
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
  });

  it('refuses nonsense options', () => {
    expect(() => createFaultInjector({ rate: 1.5 })).toThrow(/rate must be from 0 to 1/);
    expect(() => createFaultInjector({ rate: 0.1, kinds: ['flood' as never] })).toThrow(/unknown fault kind flood/);
  });
});

describe('parseFaultArgs', () => {
  it('reads the emulator flags', () => {
    expect(parseFaultArgs([])).toBeUndefined();
    expect(parseFaultArgs(['--fault-rate', '0.2', '--fault-seed', '9', '--fault-kinds', 'throttle,reset', '--fault-latency-ms', '50', '--fault-services', 'ecs,ec2'])).toEqual({
      rate: 0.2,
      seed: 9,
      kinds: ['throttle', 'reset'],
      latencyMs: 50,
      services: ['ecs', 'ec2'],
    });
  });

  it('names the flag that is wrong', () => {
    expect(() => parseFaultArgs(['--fault-seed', '3'])).toThrow(/--fault-rate is required/);
    expect(() => parseFaultArgs(['--fault-rate', 'lots'])).toThrow(/--fault-rate expects a number, got lots/);
    expect(() => parseFaultArgs(['--fault-rate', '2'])).toThrow(/rate must be from 0 to 1/);
    expect(() => parseFaultArgs(['--fault-kinds', 'throttle', '--fault-rate', '0.1', '--fault-typo', 'x'])).toThrow(/unknown flag --fault-typo/);
  });
});
