// Fault injection for the emulator's proxy: at a set rate, and reproducibly from a seed, a request
// is answered the way AWS answers an overloaded or failing service (throttling in each protocol's
// own shape, server errors), its connection is reset, or it is delayed. The AWS SDK's retry logic
// sees exactly what it would see from AWS, so the pipeline's retries and idempotency are tested.
//
// CLI: npm run emulator -- --fault-rate 0.2 [--fault-seed 7] [--fault-kinds throttle,server-error,reset,latency]
//      [--fault-latency-ms 300] [--fault-services ec2,ecs,autoscaling,ssm,ecr,s3]
import { randomUUID } from 'node:crypto';
import type { Interceptor, ProxyRequest, ProxyResponse } from './types.js';

export const FAULT_KINDS = ['throttle', 'server-error', 'reset', 'latency'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface FaultOptions {
  /** Share of requests that get a fault, 0..1. */
  rate: number;
  /** Seed of the pseudo-random sequence: the same seed and requests give the same faults. */
  seed?: number;
  kinds?: readonly FaultKind[];
  /** Delay of a latency fault (default 250 ms). */
  latencyMs?: number;
  /** Only requests to these signing names (default: all AWS requests). */
  services?: readonly string[];
}

export interface FaultStats {
  requests: number;
  injected: Record<FaultKind, number>;
  /** Every injected fault, in order: kind and service:operation. */
  log: Array<{ kind: FaultKind; call: string }>;
}

export interface FaultInjector {
  interceptor: Interceptor;
  stats: FaultStats;
  /** Stops or resumes injecting (the rate stays). */
  enabled: boolean;
}

/** mulberry32: a tiny, well-spread 32-bit PRNG; enough to make runs reproducible. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Protocol = 'ec2' | 'query' | 'json' | 's3';

/** How a service speaks errors: EC2's own query XML, the other query services, JSON, or S3's REST XML. */
export function protocolOf(request: Pick<ProxyRequest, 'service' | 'headers'>): Protocol {
  if (request.service === 'ec2') return 'ec2';
  if (request.service === 'autoscaling' || request.service === 'sts' || request.service === 'iam') return 'query';
  if (request.headers['x-amz-target']) return 'json';
  return 's3';
}

function xml(status: number, body: string, requestId: string): ProxyResponse {
  return { status, headers: { 'content-type': 'text/xml', 'x-amzn-requestid': requestId }, body: `<?xml version="1.0" encoding="UTF-8"?>\n${body}` };
}

/** The error answer AWS gives in `protocol` for a code, status and message. */
export function awsError(protocol: Protocol, status: number, code: string, message: string): ProxyResponse {
  const id = randomUUID();
  switch (protocol) {
    case 'ec2':
      return xml(status, `<Response><Errors><Error><Code>${code}</Code><Message>${message}</Message></Error></Errors><RequestID>${id}</RequestID></Response>`, id);
    case 'query':
      return xml(status, `<ErrorResponse><Error><Type>${status >= 500 ? 'Receiver' : 'Sender'}</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>${id}</RequestId></ErrorResponse>`, id);
    case 'json':
      return { status, headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': id, 'x-amzn-errortype': code }, body: JSON.stringify({ __type: code, message }) };
    case 's3':
      return { ...xml(status, `<Error><Code>${code}</Code><Message>${message}</Message><RequestId>${id}</RequestId></Error>`, id), headers: { 'content-type': 'application/xml', 'x-amz-request-id': id } };
  }
}

/** AWS's throttling answer per protocol: EC2 RequestLimitExceeded, query Throttling, JSON ThrottlingException, S3 SlowDown. */
export function throttlingError(protocol: Protocol): ProxyResponse {
  if (protocol === 'ec2') return awsError(protocol, 503, 'RequestLimitExceeded', 'Request limit exceeded.');
  if (protocol === 'query') return awsError(protocol, 400, 'Throttling', 'Rate exceeded');
  if (protocol === 'json') return awsError(protocol, 400, 'ThrottlingException', 'Rate exceeded');
  return awsError(protocol, 503, 'SlowDown', 'Please reduce your request rate.');
}

/** AWS's "try again" server errors per protocol. */
export function serverError(protocol: Protocol, pick: number): ProxyResponse {
  if (protocol === 'json') return pick < 0.5 ? awsError(protocol, 500, 'InternalFailure', 'The request processing has failed because of an unknown error.') : awsError(protocol, 503, 'ServiceUnavailable', 'Service unavailable.');
  if (protocol === 's3') return pick < 0.5 ? awsError(protocol, 500, 'InternalError', 'We encountered an internal error. Please try again.') : awsError(protocol, 503, 'ServiceUnavailable', 'Service unavailable.');
  return pick < 0.5 ? awsError(protocol, 500, 'InternalError', 'An internal error has occurred.') : awsError(protocol, 503, 'Unavailable', 'The service is unavailable. Please try again shortly.');
}

export function validateFaultOptions(options: FaultOptions): void {
  if (!(options.rate >= 0 && options.rate <= 1)) throw new Error(`fault rate must be from 0 to 1, got ${options.rate}`);
  if (options.seed !== undefined && !Number.isInteger(options.seed)) throw new Error(`fault seed must be a whole number, got ${options.seed}`);
  const unknown = (options.kinds ?? []).filter((k) => !FAULT_KINDS.includes(k));
  if (unknown.length) throw new Error(`unknown fault kind ${unknown.join(', ')}: expected ${FAULT_KINDS.join(', ')}`);
  if (options.kinds && options.kinds.length === 0) throw new Error('fault kinds must name at least one kind');
  if (options.latencyMs !== undefined && !(options.latencyMs >= 0 && options.latencyMs <= 60_000)) throw new Error(`fault latency must be from 0 to 60000 ms, got ${options.latencyMs}`);
}

export function createFaultInjector(options: FaultOptions): FaultInjector {
  validateFaultOptions(options);
  const random = seededRandom(options.seed ?? 1);
  const kinds = options.kinds ?? FAULT_KINDS;
  const latencyMs = options.latencyMs ?? 250;
  const stats: FaultStats = { requests: 0, injected: { throttle: 0, 'server-error': 0, reset: 0, latency: 0 }, log: [] };
  const injector: FaultInjector = {
    stats,
    enabled: true,
    interceptor: async (request, next) => {
      // Emulator plumbing (moto's own API) and calls outside the chosen services pass untouched.
      if (!request.service || (options.services && !options.services.includes(request.service))) return next();
      stats.requests += 1;
      // Draw every time, so the sequence depends on the request order only, not on `enabled`.
      const roll = random();
      const which = random();
      const detail = random();
      if (!injector.enabled || roll >= options.rate) return next();
      const kind = kinds[Math.min(kinds.length - 1, Math.floor(which * kinds.length))] as FaultKind;
      stats.injected[kind] += 1;
      stats.log.push({ kind, call: `${request.service}:${request.action ?? request.method}` });
      const protocol = protocolOf(request);
      switch (kind) {
        case 'throttle':
          return throttlingError(protocol);
        case 'server-error':
          return serverError(protocol, detail);
        case 'reset':
          return { status: 0, headers: {}, body: '', reset: true };
        case 'latency':
          await new Promise((r) => setTimeout(r, latencyMs));
          return next();
      }
    },
  };
  return injector;
}

/** Reads --fault-* flags (as `npm run emulator` takes them); undefined when none is given. */
export function parseFaultArgs(args: readonly string[]): FaultOptions | undefined {
  const options: Partial<FaultOptions> = {};
  for (let i = 0; i < args.length; i += 2) {
    const flag = args[i] ?? '';
    const value = args[i + 1];
    if (value === undefined || value.startsWith('--')) throw new Error(`${flag} expects a value`);
    const number = (): number => {
      if (!/^\d+(\.\d+)?$/.test(value)) throw new Error(`${flag} expects a number, got ${value}`);
      return Number(value);
    };
    if (flag === '--fault-rate') options.rate = number();
    else if (flag === '--fault-seed') options.seed = number();
    else if (flag === '--fault-latency-ms') options.latencyMs = number();
    else if (flag === '--fault-kinds') options.kinds = value.split(',') as FaultKind[];
    else if (flag === '--fault-services') options.services = value.split(',');
    else throw new Error(`unknown flag ${flag}; fault flags: --fault-rate, --fault-seed, --fault-kinds, --fault-latency-ms, --fault-services`);
  }
  if (Object.keys(options).length === 0) return undefined;
  if (options.rate === undefined) throw new Error('--fault-rate is required with the other --fault-* flags');
  const parsed = options as FaultOptions;
  validateFaultOptions(parsed);
  return parsed;
}
