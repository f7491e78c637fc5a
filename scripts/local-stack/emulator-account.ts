// Small questions and chores against the emulated AWS account of the local stack, for
// scripts/local-stack.sh (which speaks shell and has no AWS CLI):
//
//   network                 prints `subnets=<ids>` and `security-groups=<id>` of the default VPC
//   create-bucket NAME      creates the bucket unless it exists
//   upload BUCKET DIR [PREFIX]  puts every file under DIR at PREFIX + its relative path
//   mirror-names BUCKET INSTANCE_ID
//                           prints `topic=<name>` and `queue=<name>`: the bucket's SNS topic and the
//                           instance's SQS queue, as the pipeline and the mirror name them
//   register-instance CLUSTER AUTO_SCALING_GROUP READY_FILE
//                           what the ECS agent does once the bucket is mounted: registers one of the
//                           group's instances (this machine plays it) with the cluster, carrying the
//                           ECS_INSTANCE_ATTRIBUTES that the mount script wrote to READY_FILE, and
//                           deregisters the container instances of EC2 instances the group no longer
//                           has (a roll replaced them); prints `<container instance ARN> (instance <id>: ...)`
//   actor-keys              prints `<actor>=<access key id>` for each actor the emulator's IAM record
//                           tells apart (scripts/emulator/iam-recorder.ts ACTORS)
//
// Endpoint, region and the emulator's dummy credentials come from the environment
// (AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY).
import { DescribeAutoScalingGroupsCommand } from '@aws-sdk/client-auto-scaling';
import { DescribeSecurityGroupsCommand, DescribeSubnetsCommand, DescribeVpcsCommand } from '@aws-sdk/client-ec2';
import { DeregisterContainerInstanceCommand, DescribeContainerInstancesCommand, ListContainerInstancesCommand, PutAttributesCommand } from '@aws-sdk/client-ecs';
import { CreateBucketCommand, HeadBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { createClients } from '../../action/src/aws/clients.js';
import { formatError } from '../../action/src/errors.js';
import { mirrorQueueName, mirrorTopicName } from '../../action/src/mirror/naming.js';
import { ACTORS } from '../emulator/iam-recorder.js';
import { registerMountedInstance } from '../emulator/instances.js';

const region = process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1';
const clients = createClients(region, process.env);

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

const CONTENT_TYPES: Record<string, string> = {
  '.map': 'text/plain',
  '.tif': 'image/tiff',
  '.tiff': 'image/tiff',
  '.txt': 'text/plain',
  '.png': 'image/png',
};

async function network(): Promise<void> {
  const vpcs = await clients.ec2.send(new DescribeVpcsCommand({ Filters: [{ Name: 'is-default', Values: ['true'] }] }));
  const vpcId = vpcs.Vpcs?.[0]?.VpcId;
  if (!vpcId) throw new Error('the emulated account has no default VPC');
  const subnets = await clients.ec2.send(new DescribeSubnetsCommand({ Filters: [{ Name: 'vpc-id', Values: [vpcId] }] }));
  const subnetIds = (subnets.Subnets ?? [])
    .filter((s) => s.DefaultForAz !== false)
    .map((s) => s.SubnetId)
    .filter((id): id is string => id !== undefined)
    .sort();
  const groups = await clients.ec2.send(
    new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'vpc-id', Values: [vpcId] }, { Name: 'group-name', Values: ['default'] }] }),
  );
  const groupId = groups.SecurityGroups?.[0]?.GroupId;
  if (subnetIds.length === 0 || !groupId) throw new Error(`the default VPC ${vpcId} has no subnets or no default security group`);
  process.stdout.write(`vpc=${vpcId}\nsubnets=${subnetIds.join(',')}\nsecurity-groups=${groupId}\n`);
}

async function createBucket(name: string): Promise<void> {
  try {
    await clients.s3.send(new HeadBucketCommand({ Bucket: name }));
    return;
  } catch (error) {
    const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    if (status !== 404) throw error;
  }
  // us-east-1 takes no location constraint; every other region needs its own.
  await clients.s3.send(
    new CreateBucketCommand({ Bucket: name, ...(region === 'us-east-1' ? {} : { CreateBucketConfiguration: { LocationConstraint: region as never } }) }),
  );
}

async function upload(bucket: string, dir: string, prefix: string): Promise<void> {
  for (const file of filesUnder(dir)) {
    const key = `${prefix}${relative(dir, file).split(sep).join('/')}`;
    const extension = /\.[^.]+$/.exec(file)?.[0]?.toLowerCase() ?? '';
    await clients.s3.send(
      new PutObjectCommand({ Bucket: bucket, Key: key, Body: readFileSync(file), ContentType: CONTENT_TYPES[extension] ?? 'application/octet-stream' }),
    );
    process.stdout.write(`s3://${bucket}/${key}\n`);
  }
}

/** Reads ECS_INSTANCE_ATTRIBUTES={"name":"value",...} from the mount script's ready file. */
function readyAttributes(file: string): Record<string, string> {
  const line = readFileSync(file, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('ECS_INSTANCE_ATTRIBUTES='));
  if (!line) throw new Error(`${file} has no ECS_INSTANCE_ATTRIBUTES line: the mount is not ready`);
  const parsed = JSON.parse(line.slice('ECS_INSTANCE_ATTRIBUTES='.length)) as unknown;
  if (typeof parsed !== 'object' || parsed === null) throw new Error(`${file}: ECS_INSTANCE_ATTRIBUTES is not a JSON object`);
  return Object.fromEntries(Object.entries(parsed).map(([k, v]) => [k, String(v)]));
}

/** Deregisters the cluster's container instances whose EC2 instance is not one of `members`. */
async function deregisterLeftBehind(cluster: string, members: string[]): Promise<void> {
  const arns = (await clients.ecs.send(new ListContainerInstancesCommand({ cluster }))).containerInstanceArns ?? [];
  if (arns.length === 0) return;
  const described = (await clients.ecs.send(new DescribeContainerInstancesCommand({ cluster, containerInstances: arns }))).containerInstances ?? [];
  for (const left of described.filter((c) => c.ec2InstanceId && !members.includes(c.ec2InstanceId))) {
    await clients.ecs.send(new DeregisterContainerInstanceCommand({ cluster, containerInstance: left.containerInstanceArn, force: true }));
    process.stderr.write(`deregistered ${left.containerInstanceArn ?? ''} (instance ${left.ec2InstanceId ?? ''} left the group)\n`);
  }
}

async function registerInstance(cluster: string, group: string, readyFile: string): Promise<void> {
  const attributes = readyAttributes(readyFile);
  const groups = await clients.autoScaling.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: [group] }));
  const members = groups.AutoScalingGroups?.[0]?.Instances ?? [];
  const instanceId = members.find((i) => i.LifecycleState === 'InService')?.InstanceId;
  if (!instanceId) throw new Error(`Auto Scaling group ${group} has no instance in service to stand in for`);
  await deregisterLeftBehind(cluster, members.map((i) => i.InstanceId ?? ''));
  const endpoint = process.env.AWS_ENDPOINT_URL;
  if (!endpoint) throw new Error('AWS_ENDPOINT_URL must point at the emulator');
  const arn = await registerMountedInstance(endpoint, cluster, instanceId, attributes);
  // moto drops the attributes of RegisterContainerInstance; the agent's registration carries them,
  // so put them the way the API allows afterwards (moto finds the instance by its id, not its ARN).
  const described = await clients.ecs.send(new DescribeContainerInstancesCommand({ cluster, containerInstances: [arn] }));
  const present = described.containerInstances?.[0]?.attributes ?? [];
  const missing = Object.entries(attributes).filter(([name, value]) => !present.some((a) => a.name === name && a.value === value));
  if (missing.length > 0) {
    await clients.ecs.send(
      new PutAttributesCommand({
        cluster,
        attributes: missing.map(([name, value]) => ({ name, value, targetType: 'container-instance', targetId: arn.split('/').pop() ?? arn })),
      }),
    );
  }
  process.stdout.write(`${arn} (instance ${instanceId}: ${Object.entries(attributes).map(([k, v]) => `${k}=${v}`).join(', ')})\n`);
}

async function main(argv: string[]): Promise<void> {
  const [command, ...args] = argv;
  switch (command) {
    case 'network':
      return network();
    case 'create-bucket':
      if (!args[0]) throw new Error('create-bucket needs a bucket name');
      return createBucket(args[0]);
    case 'upload':
      if (!args[0] || !args[1]) throw new Error('upload needs a bucket and a folder');
      return upload(args[0], args[1], args[2] ?? '');
    case 'mirror-names':
      if (!args[0] || !args[1]) throw new Error('mirror-names needs a bucket and an instance id');
      process.stdout.write(`topic=${mirrorTopicName(args[0])}\nqueue=${mirrorQueueName(args[1])}\n`);
      return;
    case 'register-instance':
      if (!args[0] || !args[1] || !args[2]) throw new Error('register-instance needs a cluster, an Auto Scaling group and the ready file');
      return registerInstance(args[0], args[1], args[2]);
    case 'actor-keys':
      process.stdout.write(Object.entries(ACTORS).map(([actor, { accessKeyId }]) => `${actor}=${accessKeyId}\n`).join(''));
      return;
    default:
      throw new Error(`expected network, create-bucket, upload, mirror-names, register-instance or actor-keys, got ${JSON.stringify(command ?? '')}`);
  }
}

main(process.argv.slice(2))
  .catch((error: unknown) => {
    process.stderr.write(`emulator-account: ${formatError(error)}\n`);
    process.exitCode = 1;
  })
  .finally(() => clients.destroy());
