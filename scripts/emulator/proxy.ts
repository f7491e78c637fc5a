// The emulator's HTTP proxy in front of moto: a chain of interceptors (the IAM request recorder when
// asked for, faults, then the AWS rules moto lacks and the instance-refresh, lifecycle-hook and ECS
// deployment simulations) ending in moto, and test controls under CONTROL_PREFIX.
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { EcsDeployments } from './ecs-deployments.js';
import { iamRecorder } from './iam-recorder.js';
import { InstanceRefreshes } from './instance-refresh.js';
import { LifecycleHooks } from './lifecycle-hooks.js';
import { s3NotificationOverlap } from './s3-notifications.js';
import { SnapshotRules } from './snapshots.js';
import type { EmulatorProxy, Interceptor, ProxyOptions, ProxyRequest, ProxyResponse, RefreshFailure } from './types.js';
import { readProxyRequest, jsonResponse } from './wire.js';

export const CONTROL_PREFIX = '/_emulator/';

function forward(upstream: string, request: ProxyRequest): Promise<ProxyResponse> {
  const target = new URL(request.url, upstream);
  const headers: Record<string, string | string[]> = {};
  for (const [key, value] of Object.entries(request.headers)) {
    if (value !== undefined && !['content-length', 'transfer-encoding', 'connection'].includes(key)) headers[key] = value;
  }
  // The client's Host header goes on to moto, which builds the URLs it answers with (SQS queue URLs)
  // from it: the SDK then sends a queue's calls to the proxy, not around it to moto.
  headers['content-length'] = String(request.body.length);
  return new Promise((resolve, reject) => {
    const outgoing = httpRequest(target, { method: request.method, headers }, (incoming) => {
      const chunks: Buffer[] = [];
      incoming.on('data', (c: Buffer) => chunks.push(c));
      incoming.on('error', reject);
      incoming.on('end', () => {
        const out: Record<string, string> = {};
        for (const [key, value] of Object.entries(incoming.headers)) {
          // A HEAD answer has no body: its content-length (the object's size, which s3fs reads) is kept.
          const keep = key === 'content-length' ? request.method === 'HEAD' : !['transfer-encoding', 'connection'].includes(key);
          if (value !== undefined && keep) out[key] = Array.isArray(value) ? value.join(', ') : value;
        }
        resolve({ status: incoming.statusCode ?? 502, headers: out, body: Buffer.concat(chunks) });
      });
    });
    outgoing.on('error', reject);
    outgoing.end(request.body);
  });
}

/** Answers a test control (health, arming a failure); undefined for an unknown one. */
function control(url: string, body: string, refreshes: InstanceRefreshes, deployments: EcsDeployments, hooks: LifecycleHooks): ProxyResponse | undefined {
  const path = url.slice(CONTROL_PREFIX.length).split('?')[0];
  const input = body ? (JSON.parse(body) as { status?: string; reason?: string; manual?: boolean; group?: string }) : {};
  if (path === 'health') return jsonResponse(200, { ok: true });
  if (path === 'lifecycle/manual') {
    hooks.answerLaunchesManually(input.manual !== false);
    return jsonResponse(200, { manual: input.manual !== false });
  }
  if (path === 'lifecycle/waiting') return jsonResponse(200, { instances: hooks.waiting(input.group ?? '') });
  if (path === 'instance-refresh/fail-next') {
    const status = input.status ?? 'Failed';
    if (!['Failed', 'RollbackSuccessful', 'Cancelled'].includes(status)) return jsonResponse(400, { message: `unknown status ${status}` });
    refreshes.failNext(status as RefreshFailure, input.reason);
    return jsonResponse(200, { armed: status });
  }
  if (path === 'ecs/fail-next-deployment') {
    deployments.failNext(input.reason);
    return jsonResponse(200, { armed: 'circuit breaker' });
  }
  return undefined;
}

/** Writes an answer, or resets the connection when a fault asks for it. */
function respond(req: IncomingMessage, res: ServerResponse, answer: ProxyResponse): void {
  if (answer.reset) {
    req.socket.resetAndDestroy();
    return;
  }
  const payload = typeof answer.body === 'string' ? Buffer.from(answer.body) : answer.body;
  const length = req.method === 'HEAD' && answer.headers['content-length'] !== undefined ? answer.headers['content-length'] : String(payload.length);
  res.writeHead(answer.status, { ...answer.headers, 'content-length': length });
  res.end(payload);
}

export function createProxy(options: ProxyOptions): EmulatorProxy {
  const toMoto = (request: ProxyRequest): Promise<ProxyResponse> => forward(options.upstream, request);
  const hooks = new LifecycleHooks(toMoto);
  const refreshes = new InstanceRefreshes(toMoto, options.refreshSteps ?? 3, hooks);
  const deployments = new EcsDeployments(toMoto, options.deploymentSteps ?? 2);
  const snapshots = new SnapshotRules(toMoto, options.snapshots);
  const chain: Interceptor[] = [...(options.faults ?? []), s3NotificationOverlap, snapshots.interceptor, refreshes.interceptor, hooks.interceptor, deployments.interceptor];
  // The recorder sees every request first, whoever answers it, as AWS would authorize it.
  if (options.iamRecordFile) {
    chain.unshift(iamRecorder({ file: options.iamRecordFile, upstream: toMoto, ...(options.instanceProfileRoles ? { instanceProfileRoles: options.instanceProfileRoles } : {}) }));
  }

  const dispatch = (index: number, request: ProxyRequest): Promise<ProxyResponse> => {
    const interceptor = chain[index];
    if (!interceptor) return toMoto(request);
    return interceptor(request, (changed) => dispatch(index + 1, changed ?? request));
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const url = req.url ?? '/';
      if (url.startsWith(CONTROL_PREFIX)) {
        try {
          respond(req, res, control(url, body.toString(), refreshes, deployments, hooks) ?? jsonResponse(404, { message: `unknown control ${url}` }));
        } catch (error) {
          respond(req, res, jsonResponse(400, { message: (error as Error).message }));
        }
        return;
      }
      dispatch(0, readProxyRequest(req.method ?? 'GET', url, req.headers, body)).then(
        (answer) => respond(req, res, answer),
        (error: unknown) => respond(req, res, { status: 502, headers: { 'content-type': 'text/plain' }, body: `emulator proxy: ${(error as Error).message}` }),
      );
    });
  });

  // Node closes idle connections after 5 s; 0 keeps them, as S3 keeps a client's connections.
  if (options.keepAlive) server.keepAliveTimeout = 0;

  return {
    server,
    listen(port: number, host = '127.0.0.1') {
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          const address = server.address();
          resolve(typeof address === 'object' && address ? address.port : port);
        });
      });
    },
    close() {
      return new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
    },
    use(interceptor: Interceptor) {
      chain.unshift(interceptor);
    },
    failNextRefresh(status, reason) {
      refreshes.failNext(status, reason);
    },
    failNextDeployment(reason) {
      deployments.failNext(reason);
    },
    answerLaunchesManually(manual) {
      hooks.answerLaunchesManually(manual);
    },
    waitingLaunches(group) {
      return hooks.waiting(group);
    },
    holdLaunch(group, instanceId) {
      return hooks.holdLaunch(group, instanceId);
    },
    launchAnswer(instanceId) {
      return hooks.answered(instanceId);
    },
    snapshots,
    connections() {
      return new Promise((resolve, reject) => server.getConnections((error, count) => (error ? reject(error) : resolve(count))));
    },
  };
}
