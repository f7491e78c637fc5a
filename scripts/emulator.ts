// The local AWS emulator: moto_server on an internal loopback port, behind a loopback HTTP proxy that
// answers what moto lacks or does differently from AWS, and forwards everything else:
//  - Auto Scaling StartInstanceRefresh / DescribeInstanceRefreshes / CancelInstanceRefresh (moto has
//    none): a refresh moves Pending -> InProgress -> Successful over a few polls, then the group takes
//    the desired launch template version and its instances are replaced; it can be told to fail.
//  - ECS service deployments (moto keeps the first deployment forever): UpdateService starts a new
//    PRIMARY deployment that completes once a container instance satisfies the task's placement
//    constraint; it can be told to trip the circuit breaker, which rolls back like ECS does.
// Test controls live under /_emulator/ (see CONTROL_PREFIX). Fault injection plugs in as interceptors.
//
// Usage: tsx scripts/emulator.ts [--port N] [--moto-port N] [--verbose]
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createFaultInjector, parseFaultArgs, type FaultOptions } from './faults.js';

export const CONTROL_PREFIX = '/_emulator/';

/** One request as the proxy sees it, with the AWS service and operation it addresses. */
export interface ProxyRequest {
  method: string;
  /** Path and query string. */
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** Signing name from the Authorization header's credential scope (ec2, ecs, autoscaling, s3...). */
  service: string | undefined;
  /** Operation: the query protocol's Action, or the JSON protocol's X-Amz-Target suffix. */
  action: string | undefined;
  /** Query protocol form parameters (empty for other protocols). */
  params: URLSearchParams;
}

export interface ProxyResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer | string;
  /** Drop the connection instead of answering (fault injection: a connection reset). */
  reset?: boolean;
}

/**
 * A link in the proxy's chain: answer the request itself, or call next() (optionally with a changed
 * request) and return, change or delay its response. Interceptors run outermost first: faults, then
 * the built-in simulations, then moto.
 */
export type Interceptor = (request: ProxyRequest, next: (request?: ProxyRequest) => Promise<ProxyResponse>) => Promise<ProxyResponse>;

export interface ProxyOptions {
  /** moto_server's base URL, such as http://127.0.0.1:5000. */
  upstream: string;
  /** Fault injection, outermost in the chain (throttling, latency, errors). */
  faults?: Interceptor[];
  /** Refresh polls from start to Successful (default 3). */
  refreshSteps?: number;
  /** Deployment polls from start to COMPLETED once tasks can be placed (default 2). */
  deploymentSteps?: number;
}

export interface EmulatorProxy {
  server: Server;
  listen(port: number, host?: string): Promise<number>;
  close(): Promise<void>;
  /** Adds an interceptor at the outer end of the chain at run time. */
  use(interceptor: Interceptor): void;
  /** Make the next instance refresh (of any group) end with this status. */
  failNextRefresh(status: 'Failed' | 'RollbackSuccessful' | 'Cancelled', reason?: string): void;
  /** Make the next ECS deployment trip the circuit breaker and roll back. */
  failNextDeployment(reason?: string): void;
}

const AUTOSCALING_NS = 'http://autoscaling.amazonaws.com/doc/2011-01-01/';

export function xmlEscape(text: string): string {
  return text.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c] ?? c);
}

function describeRequest(method: string, url: string, headers: IncomingHttpHeaders, body: Buffer): ProxyRequest {
  const scope = /Credential=[^/]+\/\d+\/[^/]+\/([^/]+)\//.exec(String(headers.authorization ?? ''));
  const target = String(headers['x-amz-target'] ?? '');
  const contentType = String(headers['content-type'] ?? '');
  const params = contentType.includes('application/x-www-form-urlencoded') ? new URLSearchParams(body.toString('utf8')) : new URLSearchParams();
  const action = target ? target.split('.').pop() : (params.get('Action') ?? undefined);
  return { method, url, headers, body, service: scope?.[1], action, params };
}

function forward(upstream: string, request: ProxyRequest): Promise<ProxyResponse> {
  const target = new URL(request.url, upstream);
  const headers: Record<string, string | string[]> = {};
  for (const [key, value] of Object.entries(request.headers)) {
    if (value !== undefined && !['host', 'content-length', 'transfer-encoding', 'connection'].includes(key)) headers[key] = value;
  }
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

/** A request the proxy itself makes to moto, signed in name only (moto checks no signatures). */
function internalRequest(service: string, action: string, body: string, target?: string): ProxyRequest {
  const headers: IncomingHttpHeaders = {
    authorization: `AWS4-HMAC-SHA256 Credential=testing/20200101/us-east-1/${service}/aws4_request, SignedHeaders=host, Signature=0`,
    'content-type': target ? 'application/x-amz-json-1.1' : 'application/x-www-form-urlencoded; charset=utf-8',
    ...(target ? { 'x-amz-target': target } : {}),
  };
  return describeRequest('POST', '/', headers, Buffer.from(body));
}

export function queryXml(action: string, result: string): ProxyResponse {
  return {
    status: 200,
    headers: { 'content-type': 'text/xml' },
    body: `<?xml version="1.0" encoding="UTF-8"?>\n<${action}Response xmlns="${AUTOSCALING_NS}"><${action}Result>${result}</${action}Result><ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></${action}Response>`,
  };
}

export function queryError(status: number, code: string, message: string): ProxyResponse {
  return {
    status,
    headers: { 'content-type': 'text/xml' },
    body: `<?xml version="1.0" encoding="UTF-8"?>\n<ErrorResponse xmlns="${AUTOSCALING_NS}"><Error><Type>Sender</Type><Code>${xmlEscape(code)}</Code><Message>${xmlEscape(message)}</Message></Error><RequestId>${randomUUID()}</RequestId></ErrorResponse>`,
  };
}

function jsonResponse(status: number, value: unknown): ProxyResponse {
  return { status, headers: { 'content-type': 'application/x-amz-json-1.1' }, body: JSON.stringify(value) };
}

// ---- Instance refreshes -------------------------------------------------------------------------

interface Refresh {
  id: string;
  group: string;
  status: string;
  reason: string | undefined;
  percentage: number;
  polls: number;
  started: Date;
  ended: Date | undefined;
  toUpdate: number;
  preferences: URLSearchParams;
  desiredTemplate: { id?: string; name?: string; version?: string } | undefined;
  failAs: string | undefined;
}

const ACTIVE = new Set(['Pending', 'InProgress', 'Cancelling', 'RollbackInProgress', 'Baking']);

function tag(name: string, value: string | number | boolean | undefined): string {
  return value === undefined || value === '' ? '' : `<${name}>${xmlEscape(String(value))}</${name}>`;
}

function refreshXml(r: Refresh): string {
  const pref = (key: string): string | undefined => r.preferences.get(`Preferences.${key}`) ?? undefined;
  const template = r.desiredTemplate
    ? `<DesiredConfiguration><LaunchTemplate>${tag('LaunchTemplateId', r.desiredTemplate.id)}${tag('LaunchTemplateName', r.desiredTemplate.name)}${tag('Version', r.desiredTemplate.version)}</LaunchTemplate></DesiredConfiguration>`
    : '';
  return `<member>${tag('InstanceRefreshId', r.id)}${tag('AutoScalingGroupName', r.group)}${tag('Status', r.status)}${tag('StatusReason', r.reason)}${tag(
    'StartTime',
    r.started.toISOString(),
  )}${tag('EndTime', r.ended?.toISOString())}${tag('PercentageComplete', r.percentage)}${tag('InstancesToUpdate', r.toUpdate)}<Preferences>${tag(
    'MinHealthyPercentage',
    pref('MinHealthyPercentage'),
  )}${tag('MaxHealthyPercentage', pref('MaxHealthyPercentage'))}${tag('InstanceWarmup', pref('InstanceWarmup'))}${tag('SkipMatching', pref('SkipMatching'))}${tag(
    'AutoRollback',
    pref('AutoRollback'),
  )}${tag('ScaleInProtectedInstances', pref('ScaleInProtectedInstances'))}${tag('StandbyInstances', pref('StandbyInstances'))}</Preferences>${template}</member>`;
}

function xmlValues(xml: string, name: string): string[] {
  return [...xml.matchAll(new RegExp(`<${name}>([^<]*)</${name}>`, 'g'))].map((m) => m[1] ?? '');
}

function instanceRefreshes(upstream: (r: ProxyRequest) => Promise<ProxyResponse>, steps: number) {
  const refreshes: Refresh[] = [];
  const pendingFailures: Array<{ status: string; reason: string }> = [];

  const autoScaling = (action: string, params: Record<string, string>): Promise<ProxyResponse> =>
    upstream(internalRequest('autoscaling', action, new URLSearchParams({ Action: action, Version: '2011-01-01', ...params }).toString()));

  async function groupInstances(group: string): Promise<string[] | undefined> {
    const answer = await autoScaling('DescribeAutoScalingGroups', { 'AutoScalingGroupNames.member.1': group });
    const xml = answer.body.toString();
    if (!xml.includes(`<AutoScalingGroupName>${xmlEscape(group)}</AutoScalingGroupName>`)) return undefined;
    return xmlValues(xml, 'InstanceId');
  }

  /** Applies the desired configuration and replaces the instances, as a finished refresh does. */
  async function complete(r: Refresh): Promise<void> {
    const checked = async (action: string, params: Record<string, string>): Promise<void> => {
      const answer = await autoScaling(action, params);
      if (answer.status !== 200) throw new Error(`${action} answered HTTP ${answer.status}: ${answer.body.toString().slice(0, 300)}`);
    };
    const instances = (await groupInstances(r.group)) ?? [];
    if (r.desiredTemplate) {
      const spec: Record<string, string> = { 'LaunchTemplate.Version': r.desiredTemplate.version ?? '$Default' };
      if (r.desiredTemplate.id) spec['LaunchTemplate.LaunchTemplateId'] = r.desiredTemplate.id;
      else if (r.desiredTemplate.name) spec['LaunchTemplate.LaunchTemplateName'] = r.desiredTemplate.name;
      await checked('UpdateAutoScalingGroup', { AutoScalingGroupName: r.group, ...spec });
    }
    for (const instance of instances) {
      await checked('TerminateInstanceInAutoScalingGroup', { InstanceId: instance, ShouldDecrementDesiredCapacity: 'false' });
    }
  }

  async function advance(r: Refresh): Promise<void> {
    if (!ACTIVE.has(r.status)) return;
    r.polls += 1;
    if (r.status === 'Cancelling') {
      Object.assign(r, { status: 'Cancelled', reason: 'Instance refresh was cancelled.', ended: new Date() });
      return;
    }
    if (r.status === 'RollbackInProgress') {
      Object.assign(r, { status: r.failAs === 'RollbackSuccessful' ? 'RollbackSuccessful' : 'RollbackFailed', ended: new Date(), percentage: 100 });
      return;
    }
    r.status = 'InProgress';
    r.percentage = Math.min(100, Math.round((100 * r.polls) / steps));
    if (r.failAs && r.polls >= Math.ceil(steps / 2)) {
      if (r.failAs === 'RollbackSuccessful') {
        Object.assign(r, { status: 'RollbackInProgress', reason: 'An instance failed its health checks; rolling back to the previous configuration.' });
      } else Object.assign(r, { status: r.failAs, reason: r.reason ?? 'An instance failed its health checks.', ended: new Date() });
      return;
    }
    if (r.polls >= steps) {
      try {
        await complete(r);
        Object.assign(r, { status: 'Successful', percentage: 100, toUpdate: 0, ended: new Date() });
      } catch (error) {
        Object.assign(r, { status: 'Failed', reason: `The emulator could not replace the instances: ${(error as Error).message}`, ended: new Date() });
      }
    }
  }

  const interceptor: Interceptor = async (request, next) => {
    if (request.service !== 'autoscaling') return next();
    const p = request.params;
    const group = p.get('AutoScalingGroupName') ?? '';
    if (request.action === 'StartInstanceRefresh') {
      const instances = await groupInstances(group);
      if (!instances) return queryError(400, 'ValidationError', `AutoScalingGroup name not found - ${group}`);
      const active = refreshes.find((r) => r.group === group && ACTIVE.has(r.status));
      if (active) return queryError(400, 'InstanceRefreshInProgress', `An Instance Refresh is already in progress and blocks the execution of this Instance Refresh (${active.id}).`);
      const failure = pendingFailures.shift();
      const desired =
        p.get('DesiredConfiguration.LaunchTemplate.LaunchTemplateId') || p.get('DesiredConfiguration.LaunchTemplate.LaunchTemplateName')
          ? {
              id: p.get('DesiredConfiguration.LaunchTemplate.LaunchTemplateId') ?? undefined,
              name: p.get('DesiredConfiguration.LaunchTemplate.LaunchTemplateName') ?? undefined,
              version: p.get('DesiredConfiguration.LaunchTemplate.Version') ?? undefined,
            }
          : undefined;
      const refresh: Refresh = {
        id: randomUUID(),
        group,
        status: 'Pending',
        reason: failure?.reason,
        percentage: 0,
        polls: 0,
        started: new Date(),
        ended: undefined,
        toUpdate: instances.length,
        preferences: p,
        desiredTemplate: desired,
        failAs: failure?.status,
      };
      refreshes.unshift(refresh);
      return queryXml('StartInstanceRefresh', tag('InstanceRefreshId', refresh.id));
    }
    if (request.action === 'DescribeInstanceRefreshes') {
      const ids = [...p.entries()].filter(([k]) => k.startsWith('InstanceRefreshIds.member.')).map(([, v]) => v);
      const selected = refreshes.filter((r) => r.group === group && (ids.length === 0 || ids.includes(r.id)));
      for (const r of selected) await advance(r);
      return queryXml('DescribeInstanceRefreshes', `<InstanceRefreshes>${selected.map(refreshXml).join('')}</InstanceRefreshes>`);
    }
    if (request.action === 'CancelInstanceRefresh') {
      const active = refreshes.find((r) => r.group === group && ACTIVE.has(r.status));
      if (!active) return queryError(400, 'ActiveInstanceRefreshNotFound', `No in progress or pending Instance Refresh found for Auto Scaling group ${group}`);
      active.status = 'Cancelling';
      return queryXml('CancelInstanceRefresh', tag('InstanceRefreshId', active.id));
    }
    return next();
  };
  return {
    interceptor,
    failNext(status: string, reason?: string) {
      pendingFailures.push({ status, reason: reason ?? 'Instances failed to become healthy during the refresh (simulated).' });
    },
  };
}

// ---- ECS service deployments --------------------------------------------------------------------

interface SimDeployment {
  id: string;
  status: 'PRIMARY' | 'ACTIVE';
  taskDefinition: string;
  rolloutState: 'IN_PROGRESS' | 'COMPLETED' | 'FAILED';
  rolloutStateReason: string;
  createdAt: number;
  updatedAt: number;
  ticks: number;
  failReason: string | undefined;
}

interface SimService {
  arn: string;
  cluster: string;
  desired: number;
  deployments: SimDeployment[];
  events: Array<{ id: string; createdAt: number; message: string }>;
}

function ecsDeployments(upstream: (r: ProxyRequest) => Promise<ProxyResponse>, steps: number) {
  const services = new Map<string, SimService>();
  const pendingFailures: string[] = [];
  const TARGET = 'AmazonEC2ContainerServiceV20141113';

  const ecs = async (action: string, input: object): Promise<Record<string, unknown>> => {
    const answer = await upstream(internalRequest('ecs', action, JSON.stringify(input), `${TARGET}.${action}`));
    return JSON.parse(answer.body.toString() || '{}') as Record<string, unknown>;
  };

  const newDeployment = (taskDefinition: string): SimDeployment => ({
    id: `ecs-svc/${Math.floor(Math.random() * 1e15)}`,
    status: 'PRIMARY',
    taskDefinition,
    rolloutState: 'IN_PROGRESS',
    rolloutStateReason: 'ECS deployment in progress.',
    createdAt: Date.now() / 1000,
    updatedAt: Date.now() / 1000,
    ticks: 0,
    failReason: pendingFailures.shift(),
  });

  /** True when some ACTIVE container instance of the cluster satisfies the task's memberOf constraints. */
  async function placeable(cluster: string, taskDefinition: string): Promise<boolean> {
    const described = await ecs('DescribeTaskDefinition', { taskDefinition });
    const definition = described.taskDefinition as { placementConstraints?: Array<{ type?: string; expression?: string }> } | undefined;
    const required = (definition?.placementConstraints ?? [])
      .filter((c) => c.type === 'memberOf')
      .map((c) => /^attribute:([\w.:-]+)\s*==\s*([\w.:-]+)$/.exec(c.expression ?? ''))
      .filter((m): m is RegExpExecArray => m !== null);
    const listed = await ecs('ListContainerInstances', { cluster });
    const arns = (listed.containerInstanceArns as string[] | undefined) ?? [];
    if (arns.length === 0) return false;
    const instances = await ecs('DescribeContainerInstances', { cluster, containerInstances: arns });
    const list = (instances.containerInstances as Array<{ status?: string; attributes?: Array<{ name: string; value?: string }> }> | undefined) ?? [];
    return list.some(
      (i) => (i.status ?? 'ACTIVE') === 'ACTIVE' && required.every((m) => (i.attributes ?? []).some((a) => a.name === m[1] && a.value === m[2])),
    );
  }

  async function tick(service: SimService): Promise<void> {
    const primary = service.deployments.find((d) => d.status === 'PRIMARY');
    if (!primary || primary.rolloutState !== 'IN_PROGRESS') {
      // After a rollback finished, ECS drops the failed deployment from the list.
      service.deployments = service.deployments.filter((d) => d.status === 'PRIMARY');
      return;
    }
    if (!(await placeable(service.cluster, primary.taskDefinition))) {
      primary.rolloutStateReason = 'ECS deployment in progress: no container instance meets the placement constraints.';
      return;
    }
    primary.ticks += 1;
    primary.updatedAt = Date.now() / 1000;
    if (primary.failReason && primary.ticks >= steps) {
      primary.rolloutState = 'FAILED';
      primary.rolloutStateReason = `ECS deployment circuit breaker: ${primary.failReason}`;
      primary.status = 'ACTIVE';
      const previous = service.deployments.find((d) => d !== primary && d.rolloutState === 'COMPLETED');
      service.events.unshift({ id: randomUUID(), createdAt: Date.now() / 1000, message: `(service) deployment ${primary.id} deployment failed: ${primary.failReason}` });
      if (previous) {
        const rollback = { ...newDeployment(previous.taskDefinition), failReason: undefined };
        service.deployments = [rollback, primary, ...service.deployments.filter((d) => d !== primary && d !== previous)];
        service.events.unshift({ id: randomUUID(), createdAt: Date.now() / 1000, message: `(service) rolling back to deployment ${previous.id}.` });
        await ecs('UpdateService', { cluster: service.cluster, service: service.arn, taskDefinition: previous.taskDefinition });
      }
      return;
    }
    if (primary.ticks >= steps) {
      primary.rolloutState = 'COMPLETED';
      primary.rolloutStateReason = `ECS deployment ${primary.id} completed.`;
      service.deployments = service.deployments.filter((d) => d === primary || d.rolloutState === 'FAILED');
      service.events.unshift({ id: randomUUID(), createdAt: Date.now() / 1000, message: '(service) has reached a steady state.' });
    }
  }

  const render = (service: SimService, raw: Record<string, unknown>): Record<string, unknown> => {
    const primary = service.deployments.find((d) => d.status === 'PRIMARY');
    const running = primary?.rolloutState === 'COMPLETED' ? service.desired : 0;
    return {
      ...raw,
      runningCount: running,
      pendingCount: service.desired - running,
      deployments: service.deployments.map((d) => ({
        id: d.id,
        status: d.status,
        taskDefinition: d.taskDefinition,
        desiredCount: d.status === 'PRIMARY' ? service.desired : 0,
        runningCount: d.rolloutState === 'COMPLETED' ? service.desired : 0,
        pendingCount: d.rolloutState === 'IN_PROGRESS' ? service.desired : 0,
        failedTasks: d.rolloutState === 'FAILED' ? 3 : 0,
        createdAt: d.createdAt,
        updatedAt: d.updatedAt,
        launchType: 'EC2',
        rolloutState: d.rolloutState,
        rolloutStateReason: d.rolloutStateReason,
      })),
      events: service.events.slice(0, 20),
    };
  };

  const interceptor: Interceptor = async (request, next) => {
    if (request.service !== 'ecs' || !['CreateService', 'UpdateService', 'DescribeServices'].includes(request.action ?? '')) return next();
    const input = JSON.parse(request.body.toString() || '{}') as Record<string, unknown>;
    const answer = await next();
    if (answer.status !== 200) return answer;
    const output = JSON.parse(answer.body.toString()) as Record<string, unknown>;
    const clusterOf = (raw: Record<string, unknown>): string => String(raw.clusterArn ?? input.cluster ?? 'default');
    if (request.action === 'CreateService' || request.action === 'UpdateService') {
      const raw = output.service as Record<string, unknown>;
      const arn = String(raw.serviceArn);
      let service = services.get(arn);
      if (!service) {
        service = { arn, cluster: clusterOf(raw), desired: Number(raw.desiredCount ?? 0), deployments: [], events: [] };
        services.set(arn, service);
      }
      service.desired = Number(raw.desiredCount ?? service.desired);
      const primary = service.deployments.find((d) => d.status === 'PRIMARY');
      if (!primary || primary.taskDefinition !== raw.taskDefinition || input.forceNewDeployment === true) {
        for (const d of service.deployments) if (d.status === 'PRIMARY') d.status = 'ACTIVE';
        service.deployments.unshift(newDeployment(String(raw.taskDefinition)));
      }
      return jsonResponse(200, { ...output, service: render(service, raw) });
    }
    const described = (output.services as Array<Record<string, unknown>> | undefined) ?? [];
    const rendered: Array<Record<string, unknown>> = [];
    for (const raw of described) {
      const service = services.get(String(raw.serviceArn));
      if (service) await tick(service);
      rendered.push(service ? render(service, raw) : raw);
    }
    return jsonResponse(200, { ...output, services: rendered });
  };
  return {
    interceptor,
    failNext(reason?: string) {
      pendingFailures.push(reason ?? 'tasks failed to start (simulated).');
    },
  };
}

// ---- The proxy ----------------------------------------------------------------------------------

export function createProxy(options: ProxyOptions): EmulatorProxy {
  const toMoto = (request: ProxyRequest): Promise<ProxyResponse> => forward(options.upstream, request);
  const refreshes = instanceRefreshes(toMoto, options.refreshSteps ?? 3);
  const deployments = ecsDeployments(toMoto, options.deploymentSteps ?? 2);
  const chain: Interceptor[] = [...(options.faults ?? []), refreshes.interceptor, deployments.interceptor];

  const dispatch = (index: number, request: ProxyRequest): Promise<ProxyResponse> => {
    const interceptor = chain[index];
    if (!interceptor) return toMoto(request);
    return interceptor(request, (changed) => dispatch(index + 1, changed ?? request));
  };

  const control = (url: string, body: string): ProxyResponse | undefined => {
    const path = url.slice(CONTROL_PREFIX.length).split('?')[0];
    const input = body ? (JSON.parse(body) as { status?: string; reason?: string }) : {};
    if (path === 'health') return jsonResponse(200, { ok: true });
    if (path === 'instance-refresh/fail-next') {
      const status = input.status ?? 'Failed';
      if (!['Failed', 'RollbackSuccessful', 'Cancelled'].includes(status)) return jsonResponse(400, { message: `unknown status ${status}` });
      refreshes.failNext(status, input.reason);
      return jsonResponse(200, { armed: status });
    }
    if (path === 'ecs/fail-next-deployment') {
      deployments.failNext(input.reason);
      return jsonResponse(200, { armed: 'circuit breaker' });
    }
    return undefined;
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const url = req.url ?? '/';
      const respond = (answer: ProxyResponse): void => {
        if (answer.reset) {
          req.socket.resetAndDestroy();
          return;
        }
        const payload = typeof answer.body === 'string' ? Buffer.from(answer.body) : answer.body;
        const length = req.method === 'HEAD' && answer.headers['content-length'] !== undefined ? answer.headers['content-length'] : String(payload.length);
        res.writeHead(answer.status, { ...answer.headers, 'content-length': length });
        res.end(payload);
      };
      if (url.startsWith(CONTROL_PREFIX)) {
        try {
          respond(control(url, body.toString()) ?? jsonResponse(404, { message: `unknown control ${url}` }));
        } catch (error) {
          respond(jsonResponse(400, { message: (error as Error).message }));
        }
        return;
      }
      dispatch(0, describeRequest(req.method ?? 'GET', url, req.headers, body)).then(respond, (error: unknown) => {
        respond({ status: 502, headers: { 'content-type': 'text/plain' }, body: `emulator proxy: ${(error as Error).message}` });
      });
    });
  });

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
  };
}

export async function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createNetServer();
    probe.unref();
    probe.on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => (address && typeof address === 'object' ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/**
 * moto_server through scripts/emulator-moto.py (moto plus a fix), run by the Python interpreter that
 * runs moto_server itself: its shebang, or python3 when moto_server is a wrapper (pyenv shims).
 */
export function motoLauncher(env: NodeJS.ProcessEnv = process.env): string[] {
  const script = fileURLToPath(new URL('./emulator-moto.py', import.meta.url));
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    const candidate = join(dir, 'moto_server');
    if (!existsSync(candidate)) continue;
    const shebang = /^#!\s*(?:\S*\/env\s+)?(\S*python[\d.]*)\s*$/.exec(readFileSync(candidate, 'utf8').split('\n', 1)[0] ?? '');
    return [shebang?.[1] ?? 'python3', script];
  }
  throw new Error('moto_server (the AWS API emulator) is not on PATH; run scripts/setup.sh');
}

export interface RunningEmulator {
  endpoint: string;
  port: number;
  motoEndpoint: string;
  proxy: EmulatorProxy;
  stop(): Promise<void>;
}

/** Starts moto_server on a free loopback port and the proxy on `port` (0 for any free one). */
export async function startEmulatorProcess(
  options: {
    port?: number;
    motoPort?: number;
    motoCommand?: string;
    faults?: Interceptor[];
    /** Show moto's own log (its tracebacks) on stderr. */
    verbose?: boolean;
    refreshSteps?: number;
    deploymentSteps?: number;
  } = {},
): Promise<RunningEmulator> {
  const motoPort = options.motoPort ?? (await freeLoopbackPort());
  const motoEndpoint = `http://127.0.0.1:${motoPort}`;
  const [command, ...prefix] = options.motoCommand ? [options.motoCommand] : motoLauncher();
  const recordingFile = join(tmpdir(), `moto-recording-${motoPort}-${randomUUID()}`);
  const child: ChildProcess = spawn(command ?? 'moto_server', [...prefix, '-H', '127.0.0.1', '-p', String(motoPort)], {
    stdio: ['ignore', 'ignore', options.verbose ? 'inherit' : 'pipe'],
    // Each emulator keeps its own call record; moto's default is a file in its working folder.
    env: { ...process.env, MOTO_ALLOW_NONEXISTENT_REGION: 'false', MOTO_RECORDER_FILEPATH: recordingFile },
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const spawnError = new Promise<never>((_, reject) => child.once('error', (e) => reject(new Error(`cannot start moto_server: ${e.message}`))));
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`moto_server exited with code ${child.exitCode}:\n${stderr}`);
    const ok = await Promise.race([
      fetch(`${motoEndpoint}/moto-api/`).then(
        (r) => r.status < 500,
        () => false,
      ),
      spawnError,
    ]);
    if (ok) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`moto_server did not answer on ${motoEndpoint} within 30 s:\n${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const proxy = createProxy({
    upstream: motoEndpoint,
    ...(options.faults ? { faults: options.faults } : {}),
    ...(options.refreshSteps ? { refreshSteps: options.refreshSteps } : {}),
    ...(options.deploymentSteps ? { deploymentSteps: options.deploymentSteps } : {}),
  });
  const port = await proxy.listen(options.port ?? 0);
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    motoEndpoint,
    proxy,
    async stop() {
      await proxy.close();
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(recordingFile, { force: true });
    },
  };
}

function parseArgs(argv: string[]): { port: number; motoPort?: number; verbose: boolean; faults?: FaultOptions } {
  let port = 4566;
  let motoPort: number | undefined;
  let verbose = false;
  const faultArgs: string[] = [];
  for (let i = 0; i < argv.length; i += 1) {
    const flag = argv[i];
    const value = argv[i + 1];
    const number = (name: string): number => {
      if (!value || !/^\d{1,5}$/.test(value) || Number(value) > 65535) throw new Error(`${name} expects a port number from 0 to 65535, got ${value ?? 'nothing'}`);
      i += 1;
      return Number(value);
    };
    if (flag === '--port') port = number('--port');
    else if (flag === '--moto-port') motoPort = number('--moto-port');
    else if (flag === '--verbose') verbose = true;
    else if (flag?.startsWith('--fault-')) {
      faultArgs.push(flag, value ?? '');
      i += 1;
    }
    else if (flag === '--') continue;
    else throw new Error(`unknown argument ${flag ?? ''}; usage: emulator [--port N] [--moto-port N] [--verbose] [--fault-rate R --fault-seed N --fault-kinds K,K --fault-latency-ms N --fault-services S,S]`);
  }
  const faults = parseFaultArgs(faultArgs);
  return { port, verbose, ...(motoPort !== undefined ? { motoPort } : {}), ...(faults ? { faults } : {}) };
}

async function main(): Promise<void> {
  const { faults, ...args } = parseArgs(process.argv.slice(2));
  const emulator = await startEmulatorProcess({ ...args, ...(faults ? { faults: [createFaultInjector(faults).interceptor] } : {}) });
  if (faults) process.stderr.write(`emulator: injecting faults into ${faults.rate * 100}% of AWS requests (seed ${faults.seed ?? 1})\n`);
  process.stdout.write(`${emulator.endpoint}\n`);
  process.stderr.write(`emulator: AWS API on ${emulator.endpoint} (moto on ${emulator.motoEndpoint}); controls under ${emulator.endpoint}${CONTROL_PREFIX}; Ctrl-C stops it\n`);
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    emulator.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(signal, stop);
  // Started some other way than emulator.sh (no parent-death signal): stop once orphaned, so
  // moto_server and the ports never outlive whatever started the emulator; unless it leads a
  // session of its own (setsid), which is how a supervisor starts what should outlive it.
  if (!leadsOwnSession()) {
    const parent = process.ppid;
    setInterval(() => {
      if (process.ppid !== parent) stop();
    }, 500).unref();
  }
}

/** Whether this process leads its own session (field 6 of /proc/self/stat is the session id). */
function leadsOwnSession(): boolean {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[3]) === process.pid;
  } catch {
    return false;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error: unknown) => {
    process.stderr.write(`emulator: ${(error as Error).message}\n`);
    process.exit(1);
  });
}
