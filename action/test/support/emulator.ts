// Starts the AWS API emulator (moto_server behind the project's shim, scripts/emulator.ts) on free
// loopback ports for one test file, and simulates what ECS agents would do on real instances.
import { CreateImageCommand, CreateTagsCommand, RunInstancesCommand, TerminateInstancesCommand, type EC2Client } from '@aws-sdk/client-ec2';
import { ECSClient, PutAttributesCommand, RegisterContainerInstanceCommand } from '@aws-sdk/client-ecs';
import { freeLoopbackPort, startEmulatorProcess, type EmulatorProxy, type Interceptor } from '../../../scripts/emulator.js';

export interface Emulator {
  endpoint: string;
  port: number;
  /** Environment that points every AWS SDK client (and s3fs, GDAL, Packer) at the emulator. */
  env: Record<string, string>;
  /** The shim in front of moto: test controls (failNextRefresh, failNextDeployment) and use(interceptor). */
  proxy: EmulatorProxy;
  /** moto_server itself, bypassing the shim. */
  motoEndpoint: string;
  stop(): Promise<void>;
}

/** A free port on 127.0.0.1, found the same way the emulator finds its own. */
export const freePort = freeLoopbackPort;

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

/**
 * `command` replaces moto_server (tests of a missing tool); `faults` go first in the shim's chain;
 * `refreshSteps`/`deploymentSteps` set how many polls a refresh or deployment takes (1: done at once).
 */
export async function startEmulator(options: { command?: string; faults?: Interceptor[]; refreshSteps?: number; deploymentSteps?: number } = {}): Promise<Emulator> {
  const running = await startEmulatorProcess({
    ...(options.command ? { motoCommand: options.command } : {}),
    ...(options.faults ? { faults: options.faults } : {}),
    ...(options.refreshSteps ? { refreshSteps: options.refreshSteps } : {}),
    ...(options.deploymentSteps ? { deploymentSteps: options.deploymentSteps } : {}),
  });
  return {
    endpoint: running.endpoint,
    port: running.port,
    env: emulatorEnv(running.endpoint),
    proxy: running.proxy,
    motoEndpoint: running.motoEndpoint,
    stop: () => running.stop(),
  };
}

/**
 * What the ECS agent does when an instance boots and its bucket mount is up: registers the instance
 * with the cluster, carrying the mount attribute the task placement constraint asks for. Test and
 * local-stack code only; on AWS the agent on the instance does this.
 */
export async function registerMountedInstance(
  endpoint: string,
  cluster: string,
  instanceId: string,
  attributes: Record<string, string> = { 'mapserver-ecs.mount': 'ready' },
): Promise<string> {
  const ecs = new ECSClient({ region: 'us-east-1', endpoint, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
  try {
    // moto reads the instance id from the identity document; the real agent sends a signed one.
    const document = JSON.stringify({ instanceId, region: 'us-east-1', availabilityZone: 'us-east-1a', instanceType: 't3.small' });
    const answer = await ecs.send(
      new RegisterContainerInstanceCommand({
        cluster,
        instanceIdentityDocument: document,
        instanceIdentityDocumentSignature: 'simulated',
        totalResources: [
          { name: 'CPU', type: 'INTEGER', integerValue: 2048 },
          { name: 'MEMORY', type: 'INTEGER', integerValue: 1900 },
        ],
        attributes: Object.entries(attributes).map(([name, value]) => ({ name, value })),
      }),
    );
    const arn = answer.containerInstance?.containerInstanceArn ?? '';
    // The agent sends its attributes with the registration; moto drops them there, so they are put
    // again the way an operator would (PutAttributes by container instance ARN).
    await ecs.send(new PutAttributesCommand({ cluster, attributes: Object.entries(attributes).map(([name, value]) => ({ name, value, targetId: arn })) }));
    return arn;
  } finally {
    ecs.destroy();
  }
}

/** An AMI as the bake step leaves it (tagged mapserver-ecs:managed, with a snapshot), made in the emulator. */
export async function makeManagedAmi(ec2: EC2Client, options: { name: string; buildTime: string; sourceAmi: string; subnet: string }): Promise<string> {
  const run = await ec2.send(new RunInstancesCommand({ ImageId: options.sourceAmi, MinCount: 1, MaxCount: 1, InstanceType: 't3.small', SubnetId: options.subnet }));
  const instanceId = run.Instances?.[0]?.InstanceId ?? '';
  const made = await ec2.send(new CreateImageCommand({ InstanceId: instanceId, Name: options.name }));
  await ec2.send(new TerminateInstancesCommand({ InstanceIds: [instanceId] }));
  const id = made.ImageId ?? '';
  await ec2.send(
    new CreateTagsCommand({
      Resources: [id],
      Tags: [
        { Key: 'mapserver-ecs:managed', Value: 'true' },
        { Key: 'mapserver-ecs:build-time', Value: options.buildTime },
        { Key: 'Name', Value: options.name },
      ],
    }),
  );
  return id;
}
