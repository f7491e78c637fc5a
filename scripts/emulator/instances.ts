// Instances in the emulated account as AWS would have them: a container instance registered the way
// its ECS agent registers it, and an AMI as the bake step leaves it.
import { CreateImageCommand, CreateTagsCommand, RunInstancesCommand, TerminateInstancesCommand, type EC2Client } from '@aws-sdk/client-ec2';
import { ECSClient, PutAttributesCommand, RegisterContainerInstanceCommand } from '@aws-sdk/client-ecs';

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

/** An AMI as the bake step leaves it (tagged mapserver-ecs:managed and with its mount driver, mirror unless given; with a snapshot), made in the emulator. */
export async function makeManagedAmi(ec2: EC2Client, options: { name: string; buildTime: string; sourceAmi: string; subnet: string; mountDriver?: string }): Promise<string> {
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
        { Key: 'mapserver-ecs:mount-driver', Value: options.mountDriver ?? 'mirror' },
        { Key: 'Name', Value: options.name },
      ],
    }),
  );
  return id;
}
