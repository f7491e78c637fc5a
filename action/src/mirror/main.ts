// mapfiles-mirror: keeps a local folder equal to s3://bucket/prefix, fed by S3 change events and a
// periodic reconciliation. Bundled on its own (npm run build) into the AMI's overlay; started and
// checked by packer/files/usr/local/sbin/mapfiles-mount with MOUNT_DRIVER=mirror.
//
//   mapfiles-mirror run      run until SIGTERM or SIGINT (settings from MIRROR_* variables)
//   mapfiles-mirror check    exit 0 only when the first sync is done and the heartbeat is fresh
//   mapfiles-mirror status   print the status file
//
// Credentials: the SDK's default chain, which on an instance is the role over IMDSv2.
import { S3Client } from '@aws-sdk/client-s3';
import { SNSClient } from '@aws-sdk/client-sns';
import { SQSClient } from '@aws-sdk/client-sqs';
import { readFile } from 'node:fs/promises';
import { endpointOverride } from '../endpoint.js';
import { dropSdkNodeVersionWarning } from '../node-warnings.js';
import { readMirrorConfig, readMirrorRoot, paths, MirrorConfigError, type MirrorConfig } from './config.js';
import { MirrorDaemon } from './daemon.js';
import { unhealthy, type MirrorStatus } from './health.js';
import { Mirror } from './mirror.js';
import { EventQueue } from './queue.js';
import { S3ObjectSource } from './source.js';
import { LocalTree } from './tree.js';

const EXIT_BAD_SETTINGS = 2;

const log = (line: string): void => void process.stdout.write(`${new Date().toISOString()} mapfiles-mirror: ${line}\n`);

async function run(config: MirrorConfig): Promise<void> {
  const location = paths(config.root);
  const common = { region: config.region, maxAttempts: 3 };
  // An emulator or S3-compatible store (AWS_ENDPOINT_URL) is addressed by path.
  const s3 = new S3Client({ ...common, forcePathStyle: endpointOverride(process.env, 'S3') !== undefined });
  const source = new S3ObjectSource(s3, config.bucket);
  const tree = new LocalTree({ root: location.data, staging: location.staging, uid: config.uid, gid: config.gid, umask: config.umask });
  await tree.prepare();
  const mirror = new Mirror({ prefix: config.prefix, tree, source, stateFile: location.state, selection: config.selection, budgetBytes: config.budgetBytes, log });
  const queue = config.topic
    ? new EventQueue(new SQSClient(common), new SNSClient(common), { queueName: config.queueName, topic: config.topic, owner: config.owner })
    : undefined;
  const daemon = new MirrorDaemon({
    mirror,
    queue,
    bucket: config.bucket,
    prefix: config.prefix,
    reconcileSeconds: config.reconcileSeconds,
    graceSeconds: config.graceSeconds,
    budgetBytes: config.budgetBytes,
    statusFile: location.status,
    requests: () => ({ ...source.requests, ...(queue?.requests ?? {}) }),
    log,
  });
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log(`${signal}: stopping`);
    void daemon.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  await daemon.start();
}

async function readStatus(root: string): Promise<MirrorStatus> {
  return JSON.parse(await readFile(paths(root).status, 'utf8')) as MirrorStatus;
}

async function main(argv: string[]): Promise<number> {
  // The AMI runs node-22; on a Node 20 test machine the SDK's notice would fill the log.
  dropSdkNodeVersionWarning();
  const command = argv[0] ?? '';
  if (!['run', 'check', 'status'].includes(command) || argv.length > 1) {
    process.stderr.write('usage: mapfiles-mirror run|check|status\n');
    return EXIT_BAD_SETTINGS;
  }
  let root: string;
  try {
    if (command === 'run') {
      await run(readMirrorConfig(process.env));
      return -1; // keeps running until a signal
    }
    root = readMirrorRoot(process.env);
  } catch (error) {
    if (!(error instanceof MirrorConfigError)) throw error;
    process.stderr.write(`${error.message}\n`);
    return EXIT_BAD_SETTINGS;
  }
  let status: MirrorStatus;
  try {
    status = await readStatus(root);
  } catch {
    process.stderr.write(`mapfiles-mirror: no status in ${paths(root).status} (the mirror has not started)\n`);
    return 1;
  }
  if (command === 'status') {
    process.stdout.write(`${JSON.stringify(status, null, 2)}\n`);
    return 0;
  }
  const problem = unhealthy(status);
  if (problem) {
    process.stderr.write(`mapfiles-mirror: ${problem}\n`);
    return 1;
  }
  process.stdout.write(
    `mapfiles-mirror: ${status.state}: ${status.objects} objects (${status.bytes} of ${status.budgetBytes} bytes), events ${status.events.state}, last reconciliation ${status.reconcile.lastOkAt ?? 'never'}, ${status.staleCount} stale, ${status.notMirroredCount} not mirrored${status.degraded ? `, ${status.degraded.reason} since ${status.degraded.since}` : ''}\n`,
  );
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (error: Error) => {
    log(`failed: ${error.name}: ${error.message}`);
    process.exit(1);
  },
);
