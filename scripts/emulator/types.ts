// The shapes the emulator's proxy passes along its chain of interceptors (faults, simulations, moto):
// types only, so every module of the emulator can import them and none imports back.
import type { IncomingHttpHeaders, Server } from 'node:http';
import type { SnapshotOptions, SnapshotRules } from './snapshots.js';

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

/** Sends a request on down the chain (to moto in the end) and resolves with its answer. */
export type Upstream = (request: ProxyRequest) => Promise<ProxyResponse>;

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
  /** Append every request's IAM checks to this JSONL file (iam-recorder.ts). */
  iamRecordFile?: string;
  /** Instance profile name -> role ARN, for the recorded iam:PassRole of a launch template. */
  instanceProfileRoles?: Record<string, string>;
  /** Snapshots after a deregistration: how long they stay in use, whether DeleteAssociatedSnapshots is honoured. */
  snapshots?: SnapshotOptions;
  /**
   * Keep every client connection open, idle or not, as S3 does (moto closes each one): a client
   * that leaves response bodies unread then runs out of connections, as it would against AWS.
   */
  keepAlive?: boolean;
}

export type RefreshFailure = 'Failed' | 'RollbackSuccessful' | 'Cancelled';

export interface EmulatorProxy {
  server: Server;
  listen(port: number, host?: string): Promise<number>;
  close(): Promise<void>;
  /** Adds an interceptor at the outer end of the chain at run time. */
  use(interceptor: Interceptor): void;
  /** Make the next instance refresh (of any group) end with this status. */
  failNextRefresh(status: RefreshFailure, reason?: string): void;
  /** Make the next ECS deployment trip the circuit breaker and roll back. */
  failNextDeployment(reason?: string): void;
  /** Launch hooks wait for CompleteLifecycleAction (true) instead of continuing by themselves. */
  answerLaunchesManually(manual: boolean): void;
  /** Instances of the group held in Pending:Wait for its launch hook. */
  waitingLaunches(group: string): string[];
  /** Holds an instance of the group in Pending:Wait for its launch hook, as a fresh launch is. */
  holdLaunch(group: string, instanceId: string): Promise<void>;
  /** CONTINUE or ABANDON once the instance answered its launch hook. */
  launchAnswer(instanceId: string): 'CONTINUE' | 'ABANDON' | undefined;
  /** The snapshot rules (DeleteAssociatedSnapshots, InvalidSnapshot.InUse) and what they refused. */
  snapshots: SnapshotRules;
  /** Client connections open now. */
  connections(): Promise<number>;
}
