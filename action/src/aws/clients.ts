// One factory for every AWS client. Region comes from settings (the input or AWS_REGION); the
// endpoint, credentials and retries come from the SDK's own configuration chain, so AWS_ENDPOINT_URL
// (or AWS_ENDPOINT_URL_<SERVICE>) points every client at an emulator with no special code path.
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { EC2Client } from '@aws-sdk/client-ec2';
import { ECRClient } from '@aws-sdk/client-ecr';
import { ECSClient } from '@aws-sdk/client-ecs';
import { S3Client } from '@aws-sdk/client-s3';
import { SNSClient } from '@aws-sdk/client-sns';
import { SQSClient } from '@aws-sdk/client-sqs';
import { SSMClient } from '@aws-sdk/client-ssm';
import { endpointOverride } from '../endpoint.js';

export interface AwsClients {
  readonly ec2: EC2Client;
  readonly ecs: ECSClient;
  readonly autoScaling: AutoScalingClient;
  readonly ssm: SSMClient;
  readonly ecr: ECRClient;
  readonly s3: S3Client;
  readonly sns: SNSClient;
  readonly sqs: SQSClient;
  destroy(): void;
}

/** Standard-mode retries with a few more attempts than the default 3: deploys wait through throttling. */
const MAX_ATTEMPTS = 6;

export function createClients(region: string, env: NodeJS.ProcessEnv): AwsClients {
  const common = { region, maxAttempts: MAX_ATTEMPTS, retryMode: 'standard' as const };
  const made: Array<{ destroy(): void }> = [];
  const lazy = <T extends { destroy(): void }>(make: () => T): (() => T) => {
    let client: T | undefined;
    return () => {
      if (!client) {
        client = make();
        made.push(client);
      }
      return client;
    };
  };
  const ec2 = lazy(() => new EC2Client(common));
  const ecs = lazy(() => new ECSClient(common));
  const autoScaling = lazy(() => new AutoScalingClient(common));
  const ssm = lazy(() => new SSMClient(common));
  const ecr = lazy(() => new ECRClient(common));
  // Custom S3 endpoints (emulators, S3-compatible stores) are addressed by path, not by bucket host name.
  const s3 = lazy(() => new S3Client({ ...common, forcePathStyle: endpointOverride(env, 'S3') !== undefined }));
  const sns = lazy(() => new SNSClient(common));
  const sqs = lazy(() => new SQSClient(common));
  return {
    get ec2() {
      return ec2();
    },
    get ecs() {
      return ecs();
    },
    get autoScaling() {
      return autoScaling();
    },
    get ssm() {
      return ssm();
    },
    get ecr() {
      return ecr();
    },
    get s3() {
      return s3();
    },
    get sns() {
      return sns();
    },
    get sqs() {
      return sqs();
    },
    destroy() {
      for (const client of made) client.destroy();
    },
  };
}
