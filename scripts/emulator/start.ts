// Starts the whole emulator in this process (moto_server and the proxy in front of it) on loopback
// ports, and the environment that points AWS SDKs, s3fs, GDAL and Packer at it.
import { freePort } from '../support/ports.js';
import { IAM_RECORD_ENV } from './iam-recorder.js';
import { startMoto } from './moto.js';
import { createProxy } from './proxy.js';
import type { SnapshotOptions } from './snapshots.js';
import type { EmulatorProxy, Interceptor } from './types.js';

export interface Emulator {
  /** The proxy's URL: what AWS_ENDPOINT_URL names. */
  endpoint: string;
  port: number;
  /** Environment that points every AWS SDK client (and s3fs, GDAL, Packer) at the emulator. */
  env: Record<string, string>;
  /** The proxy in front of moto: test controls (failNextRefresh, failNextDeployment) and use(interceptor). */
  proxy: EmulatorProxy;
  /** moto_server itself, bypassing the proxy. */
  motoEndpoint: string;
  stop(): Promise<void>;
}

export interface EmulatorOptions {
  /** The proxy's port (default: any free one). */
  port?: number;
  /** moto's port (default: any free one). */
  motoPort?: number;
  /** Replaces moto_server (tests of a missing tool). */
  motoCommand?: string;
  /** Interceptors that go first in the proxy's chain. */
  faults?: Interceptor[];
  /** Show moto's own log (its tracebacks) on stderr. */
  verbose?: boolean;
  /** Polls an instance refresh takes (1: done at once). */
  refreshSteps?: number;
  /** Polls a deployment takes once its tasks can be placed (1: done at once). */
  deploymentSteps?: number;
  /** Record every request's IAM checks to this JSONL file (default: $EMULATOR_IAM_RECORD, if set). */
  iamRecordFile?: string;
  /** Instance profile name -> role ARN, for the recorded iam:PassRole of a launch template. */
  instanceProfileRoles?: Record<string, string>;
  /** Snapshots after a deregistration (in use for a while; DeleteAssociatedSnapshots honoured or not). */
  snapshots?: SnapshotOptions;
  /** Keep client connections open as S3 does (see ProxyOptions.keepAlive). */
  keepAlive?: boolean;
}

export function emulatorEnv(endpoint: string): Record<string, string> {
  return {
    AWS_ENDPOINT_URL: endpoint,
    AWS_REGION: 'us-east-1',
    AWS_DEFAULT_REGION: 'us-east-1',
    // moto accepts any credentials; these are its documented dummies, not secrets.
    AWS_ACCESS_KEY_ID: 'testing',
    AWS_SECRET_ACCESS_KEY: 'testing',
    AWS_EC2_METADATA_DISABLED: 'true',
  };
}

/** Starts moto_server on a free loopback port (or `motoPort`) and the proxy on `port` (default: a free one). */
export async function startEmulator(options: EmulatorOptions = {}): Promise<Emulator> {
  const moto = await startMoto({
    port: options.motoPort ?? (await freePort()),
    ...(options.motoCommand ? { command: options.motoCommand } : {}),
    ...(options.verbose ? { verbose: true } : {}),
  });
  const recordFile = options.iamRecordFile ?? process.env[IAM_RECORD_ENV];
  const proxy = createProxy({
    upstream: moto.endpoint,
    ...(options.faults ? { faults: options.faults } : {}),
    ...(options.refreshSteps ? { refreshSteps: options.refreshSteps } : {}),
    ...(options.deploymentSteps ? { deploymentSteps: options.deploymentSteps } : {}),
    ...(recordFile ? { iamRecordFile: recordFile } : {}),
    ...(options.instanceProfileRoles ? { instanceProfileRoles: options.instanceProfileRoles } : {}),
    ...(options.snapshots ? { snapshots: options.snapshots } : {}),
    ...(options.keepAlive ? { keepAlive: true } : {}),
  });
  const port = await proxy.listen(options.port ?? 0);
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    port,
    env: emulatorEnv(endpoint),
    proxy,
    motoEndpoint: moto.endpoint,
    async stop() {
      await proxy.close();
      await moto.stop();
    },
  };
}
