// The emulated AWS account the pipeline runs against (shared by the pipeline benchmark and the fault
// tests): managed AMIs to roll to, the CLI run from source as a child process, and a count of what
// the pipeline made, to prove runs converge without duplicates.
import { spawn, type ChildProcess } from 'node:child_process';
import { AutoScalingClient, DescribeAutoScalingGroupsCommand } from '@aws-sdk/client-auto-scaling';
import { DescribeImagesCommand, DescribeLaunchTemplateVersionsCommand, DescribeLaunchTemplatesCommand, DescribeSubnetsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { DescribeRepositoriesCommand, ECRClient } from '@aws-sdk/client-ecr';
import { DescribeClustersCommand, DescribeServicesCommand, ECSClient, ListServicesCommand, ListTaskDefinitionsCommand } from '@aws-sdk/client-ecs';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { makeManagedAmi, registerMountedInstance } from '../emulator/instances.js';
import { REPO_ROOT } from '../support/image.js';

export interface ScenarioClients {
  ec2: EC2Client;
  ecs: ECSClient;
  autoScaling: AutoScalingClient;
  ecr: ECRClient;
  s3: S3Client;
  destroy(): void;
}

/** Clients straight to moto (or the proxy): `endpoint` decides. */
export function scenarioClients(endpoint: string): ScenarioClients {
  const config = { region: 'us-east-1', endpoint, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' }, maxAttempts: 8 };
  const made = { ec2: new EC2Client(config), ecs: new ECSClient(config), autoScaling: new AutoScalingClient(config), ecr: new ECRClient(config), s3: new S3Client({ ...config, forcePathStyle: true }) };
  return { ...made, destroy: () => Object.values(made).forEach((c) => c.destroy()) };
}

export interface Scenario {
  /** Flags every command takes. */
  common: string[];
  /** Pipeline-made AMIs, oldest first. */
  amis: string[];
}

export async function prepareScenario(clients: ScenarioClients, amiCount = 3): Promise<Scenario> {
  const subnets = (await clients.ec2.send(new DescribeSubnetsCommand({}))).Subnets ?? [];
  const source = ((await clients.ec2.send(new DescribeImagesCommand({ Owners: ['amazon'] }))).Images ?? []).find((i) => (i.Platform ?? '').toLowerCase() !== 'windows')?.ImageId ?? '';
  // The mapfile bucket exists before bootstrap (which adds the mirror's event notification to it).
  await clients.s3.send(new CreateBucketCommand({ Bucket: 'maps-bucket' }));
  const amis: string[] = [];
  for (let day = 1; day <= amiCount; day += 1) {
    const dd = String(day).padStart(2, '0');
    amis.push(await makeManagedAmi(clients.ec2, { name: `mapserver-ecs-2026-11-${dd}`, buildTime: `2026-11-${dd}T10:00:00Z`, sourceAmi: source, subnet: subnets[0]?.SubnetId ?? '' }));
  }
  const common = [
    '--bucket', 'maps-bucket',
    '--subnets', subnets.slice(0, 2).map((s) => s.SubnetId ?? '').join(','),
    '--instance-profile', 'mapserver-ecs-instance',
    '--execution-role-arn', 'arn:aws:iam::123456789012:role/mapserver-execution',
    '--task-role-arn', 'arn:aws:iam::123456789012:role/mapserver-task',
  ];
  return { common, amis };
}

export const imageRef = (hex: string): string => `123456789012.dkr.ecr.us-east-1.amazonaws.com/mapserver@sha256:${hex.repeat(64).slice(0, 64)}`;

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  seconds: number;
}

/** Runs the CLI from source against `env` (the emulator's); `onStart` gets the child (to kill it). */
export function runCli(env: Record<string, string>, args: string[], onStart?: (child: ChildProcess) => void): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const clean = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('AWS_') && !key.startsWith('GITHUB_') && !key.startsWith('INPUT_')));
    const started = performance.now();
    // tsx's own loader runs in this node process, so a signal to the child reaches the CLI itself.
    const child = spawn(process.execPath, ['--import', 'tsx', 'action/src/index.ts', ...args], { cwd: REPO_ROOT, env: { ...clean, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('error', reject);
    child.once('exit', (code, signal) => resolve({ code, signal, stdout, stderr, seconds: (performance.now() - started) / 1000 }));
    onStart?.(child);
  });
}

/** What the ECS agent does on each new instance once its mount is ready. */
export async function registerGroupInstances(clients: ScenarioClients, endpoint: string): Promise<void> {
  const group = await clients.autoScaling.send(new DescribeAutoScalingGroupsCommand({ AutoScalingGroupNames: ['mapserver-ecs'] }));
  for (const instance of group.AutoScalingGroups?.[0]?.Instances ?? []) await registerMountedInstance(endpoint, 'mapserver', instance.InstanceId ?? '');
}

export interface ResourceCount {
  launchTemplates: number;
  launchTemplateVersions: number;
  defaultLaunchTemplateImage: string;
  autoScalingGroups: number;
  clusters: number;
  capacityProviders: number;
  services: number;
  serviceTaskDefinition: string;
  taskDefinitions: number;
  repositories: number;
}

export async function countResources(clients: ScenarioClients): Promise<ResourceCount> {
  const templates = (await clients.ec2.send(new DescribeLaunchTemplatesCommand({}))).LaunchTemplates ?? [];
  const versions = templates.length ? ((await clients.ec2.send(new DescribeLaunchTemplateVersionsCommand({ LaunchTemplateName: 'mapserver-ecs' }))).LaunchTemplateVersions ?? []) : [];
  const defaultVersion = versions.find((v) => v.DefaultVersion);
  const groups = (await clients.autoScaling.send(new DescribeAutoScalingGroupsCommand({}))).AutoScalingGroups ?? [];
  const clusters = (await clients.ecs.send(new DescribeClustersCommand({ clusters: ['mapserver'] }))).clusters ?? [];
  const serviceArns = clusters.length ? ((await clients.ecs.send(new ListServicesCommand({ cluster: 'mapserver' }))).serviceArns ?? []) : [];
  const service = serviceArns.length ? (await clients.ecs.send(new DescribeServicesCommand({ cluster: 'mapserver', services: serviceArns }))).services?.[0] : undefined;
  const definitions = (await clients.ecs.send(new ListTaskDefinitionsCommand({ familyPrefix: 'mapserver' }))).taskDefinitionArns ?? [];
  const repositories = (await clients.ecr.send(new DescribeRepositoriesCommand({}))).repositories ?? [];
  return {
    launchTemplates: templates.length,
    launchTemplateVersions: versions.length,
    defaultLaunchTemplateImage: defaultVersion?.LaunchTemplateData?.ImageId ?? '',
    autoScalingGroups: groups.length,
    clusters: clusters.filter((c) => c.status === 'ACTIVE').length,
    capacityProviders: clusters[0]?.capacityProviders?.length ?? 0,
    services: serviceArns.length,
    serviceTaskDefinition: service?.taskDefinition ?? '',
    taskDefinitions: definitions.length,
    repositories: repositories.length,
  };
}
