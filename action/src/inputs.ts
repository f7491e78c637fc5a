// The public contract: every input and output of the action, which are also the CLI's flags.
// action/action.yml and the README's tables are generated from this list (`npm run gen`), and a
// test fails when they drift apart.

export const COMMANDS = [
  'release',
  'bake',
  'image',
  'deploy',
  'roll',
  'bootstrap',
  'cleanup',
  'sync-mapfiles',
  'lint-mapfiles',
  'preview',
] as const;
export type CommandName = (typeof COMMANDS)[number];

/** What each command does, for `--help` and the README. */
export const COMMAND_DESCRIPTIONS: Record<CommandName, string> = {
  release: 'Bake the AMI, build and push the image, deploy the task definition, roll the instances and clean up old AMIs, each only where its inputs changed (--dry-run prints the plan).',
  bake: 'Bake the ECS-optimized AMI with the bucket mount (Packer).',
  image: 'Build, smoke-test and push the MapServer image.',
  deploy: 'Register the task definition and roll the ECS service onto it, waiting for the rollout to complete.',
  roll: 'Roll the Auto Scaling group onto an AMI with a new launch template version and an instance refresh.',
  bootstrap: 'Create whatever is missing: cluster, launch template, Auto Scaling group, capacity provider, service, ECR repository.',
  cleanup: 'Deregister AMIs made by this pipeline beyond keep-amis, and delete their snapshots.',
  'sync-mapfiles': 'Lint, then upload changed mapfiles and their side files to the bucket.',
  'lint-mapfiles': 'Check mapfiles for syntax errors, secrets and paths the container cannot reach.',
  preview: 'Render a GetMap PNG of a mapfile on this machine.',
};

export const RELEASE_STEPS = ['base-ami', 'bake', 'image', 'deploy', 'roll', 'cleanup'] as const;
export type ReleaseStep = (typeof RELEASE_STEPS)[number];

export interface InputSpec {
  name: string;
  description: string;
  /** The default as the GitHub runner would pass it; '' means unset. */
  default: string;
  /** Flags that take no value on the command line (`--dry-run`). */
  boolean?: boolean;
}

export const INPUTS = [
  { name: 'command', default: '', description: `What to run: ${COMMANDS.join(', ')}.` },
  {
    name: 'aws-region',
    default: '',
    description: 'AWS region, such as us-east-1. Defaults to the AWS_REGION (or AWS_DEFAULT_REGION) environment variable.',
  },
  { name: 'bucket', default: '', description: 'S3 bucket that holds the mapfiles; it is mounted read-only at /mapfiles on every instance.' },
  { name: 'bucket-prefix', default: '', description: 'Key prefix inside the bucket to mount and sync (for example `maps/`); empty for the whole bucket.' },
  { name: 'cluster', default: 'mapserver', description: 'ECS cluster name.' },
  { name: 'service', default: 'mapserver', description: 'ECS service name.' },
  { name: 'auto-scaling-group', default: 'mapserver-ecs', description: 'Auto Scaling group of the container instances.' },
  { name: 'launch-template', default: 'mapserver-ecs', description: 'EC2 launch template of the container instances.' },
  { name: 'capacity-provider', default: 'mapserver-ecs', description: 'ECS capacity provider that ties the Auto Scaling group to the cluster.' },
  { name: 'subnets', default: '', description: 'Subnet ids for the Auto Scaling group, comma- or newline-separated (subnet-...).' },
  { name: 'security-groups', default: '', description: 'Security group ids for the instances, comma- or newline-separated (sg-...).' },
  { name: 'instance-profile', default: '', description: 'IAM instance profile name or ARN for the container instances (ECS agent and read-only access to the bucket).' },
  {
    name: 'instance-type',
    default: '',
    description:
      'EC2 instance type of the container instances and of the bake; must match `architecture`. Unset: bootstrap and bake use t3.small (t4g.small for arm64), and roll and release keep the launch template\'s type.',
  },
  { name: 'min-size', default: '1', description: 'Minimum size of the Auto Scaling group.' },
  { name: 'max-size', default: '2', description: 'Maximum size of the Auto Scaling group; leave room for launch-before-terminate refreshes.' },
  { name: 'architecture', default: '', description: 'CPU architecture of the AMI and image: x86_64 or arm64. Unset: that of instance-type, else x86_64.' },
  { name: 'base-ami-id', default: '', description: 'Base AMI to bake from (ami-...). Defaults to the latest ECS-optimized Amazon Linux 2023 AMI from SSM.' },
  { name: 'ami-id', default: '', description: 'Baked AMI to roll out (ami-...). Set it to redeploy an existing AMI without baking.' },
  { name: 'force', default: 'false', boolean: true, description: 'bake, image, release: bake the AMI and build the image even when one made from the same inputs exists (otherwise it is reused).' },
  {
    name: 'mount-driver',
    default: '',
    description:
      'How instances serve the bucket: mirror keeps a local copy fed by S3 change events (local-disk speed, edits live within a second); s3fs or mountpoint (mount-s3) mount it through FUSE. Unset: bake uses mirror, and bootstrap, roll and release use the driver recorded on the AMI (its mapserver-ecs:mount-driver tag); a value that disagrees with the AMI is refused.',
  },
  { name: 'mirror-reconcile-seconds', default: '60', description: 'mirror driver: seconds between full comparisons with the bucket, the most a lost change event can delay an edit (README: costs).' },
  { name: 'mirror-include', default: '', description: 'mirror driver: glob patterns (space- or comma-separated) of the paths under the prefix to mirror; empty mirrors every path (README: what the mirror holds).' },
  { name: 'mirror-exclude', default: '', description: 'mirror driver: glob patterns of paths never mirrored, such as imagery GDAL reads through /vsis3/; empty leaves out raster formats (*.tif, *.jp2, ...), none leaves out nothing.' },
  { name: 'mirror-max-object-mib', default: '64', description: 'mirror driver: objects larger than this many MiB are not mirrored (listed in the status as not mirrored).' },
  { name: 'mirror-budget-mib', default: '4096', description: 'mirror driver: the most disk, in MiB, the mirrored files may take; beyond it the mirror keeps its last good copy and reports over budget.' },
  { name: 'ami-name-prefix', default: 'mapserver-ecs', description: 'Prefix of baked AMI names; the build time is appended.' },
  // Bake instance: where it runs, how Packer reaches it, its root volume.
  { name: 'bake-subnet', default: '', description: 'Subnet of the bake instance (subnet-...); defaults to the first of `subnets`. Without either, the region\'s default VPC (bake refuses when there is none).' },
  {
    name: 'bake-connection',
    default: 'public-ip',
    description:
      'How Packer reaches the bake instance: public-ip (a public address, SSH from the runner), private-ip (the runner is inside the VPC), or session-manager (SSH through SSM Session Manager: no inbound port, needs `instance-profile` with AmazonSSMManagedInstanceCore and the session-manager-plugin on the runner).',
  },
  { name: 'volume-size', default: '30', description: 'Root volume (GiB) of the AMI, and so of every instance launched from it: 30 to 1024.' },
  { name: 'kms-key-id', default: '', description: 'KMS key (id, alias/name or ARN) that encrypts the AMI\'s root volume; empty for the account\'s default EBS key. See the README on the key policy Auto Scaling needs.' },
  { name: 'ecr-repository', default: 'mapserver', description: 'ECR repository of the MapServer image.' },
  { name: 'registry', default: '', description: 'Push to this registry (host:port) instead of ECR, such as a local registry.' },
  { name: 'image', default: '', description: 'Image to deploy (repository[:tag][@sha256:digest]). Set it to redeploy an existing image without building. lint-mapfiles loads the mapfiles with its MapServer.' },
  { name: 'keep-images', default: '10', description: 'How many images the ECR lifecycle policy keeps.' },
  { name: 'image-tag', default: '', description: 'Tag of the built image. Defaults to the git revision (GITHUB_SHA, or HEAD of the checkout).' },
  { name: 'task-role-arn', default: '', description: 'IAM role ARN of the MapServer task (reads COGs through /vsis3/).' },
  { name: 'execution-role-arn', default: '', description: 'IAM role ARN the ECS agent uses to pull the image and write logs.' },
  { name: 'host-port', default: '8080', description: 'Host port of the MapServer container; 0 for a dynamic port behind a load balancer.' },
  { name: 'target-group-arn', default: '', description: 'Load balancer target group ARN for the service (requires host-port 0).' },
  { name: 'cpu', default: '256', description: 'CPU units of the MapServer task.' },
  { name: 'memory', default: '512', description: 'Memory (MiB) of the MapServer task.' },
  { name: 'desired-count', default: '1', description: 'Number of MapServer tasks the service runs.' },
  { name: 'log-group', default: '/ecs/mapserver', description: 'CloudWatch Logs group of the MapServer container.' },
  { name: 'wait-minutes', default: '30', description: 'How long to wait for a deployment or an instance refresh before failing.' },
  { name: 'min-healthy-percentage', default: '100', description: 'Instance refresh: capacity kept in service (100 with 200 below launches before it terminates).' },
  { name: 'max-healthy-percentage', default: '200', description: 'Instance refresh: capacity allowed above desired while replacing.' },
  { name: 'instance-warmup', default: '300', description: 'Instance refresh: seconds a new instance warms up before it counts as healthy.' },
  { name: 'keep-amis', default: '3', description: 'How many AMIs made by this pipeline cleanup keeps (AMIs in use are always kept).' },
  { name: 'skip-steps', default: '', description: `Release steps to skip, comma-separated: ${RELEASE_STEPS.join(', ')}.` },
  { name: 'mapfiles-dir', default: 'mapfiles', description: 'Folder of mapfiles and their side files to lint or sync (lint also takes files and folders as arguments).' },
  { name: 'delete', default: 'false', boolean: true, description: 'sync-mapfiles: delete objects under the prefix whose files were removed locally.' },
  { name: 'format', default: 'text', description: 'lint-mapfiles output: text (file:line: message) or json.' },
  { name: 'mapfile', default: '', description: 'preview: the mapfile to render.' },
  { name: 'output', default: 'preview.png', description: 'preview: where to write the PNG.' },
  { name: 'dry-run', default: 'false', boolean: true, description: 'Print what would change and change nothing.' },
  // Self-healing of the container instances.
  {
    name: 'unhealthy-grace-seconds',
    default: '300',
    description:
      'Seconds an instance may keep failing its bucket check (the mirror stale or dead, s3fs or mount-s3 gone and not remountable) before it sets itself DRAINING in ECS and Unhealthy in its Auto Scaling group, to be replaced. A recovery within them changes nothing.',
  },
  // lint-mapfiles: which MapServer judges.
  {
    name: 'lint-mapserver',
    default: 'auto',
    description:
      "lint-mapfiles and sync-mapfiles: which MapServer loads each mapfile. auto: the image's, in Docker (`image` when set, such as the service's by digest, else the image built from docker/), else this machine's map2img; local: this machine's map2img; off: only lint-mapfiles' own parser, with the image's MapServer keywords.",
  },
] as const satisfies readonly InputSpec[];

export type InputName = (typeof INPUTS)[number]['name'];

export interface OutputSpec {
  name: string;
  description: string;
}

export const OUTPUTS = [
  { name: 'base-ami-id', description: 'The ECS-optimized base AMI that was baked from.' },
  { name: 'ami-id', description: 'The baked (or given) AMI id.' },
  { name: 'image-uri', description: 'The pushed image, by digest (repository@sha256:...).' },
  { name: 'task-definition-arn', description: 'The registered task definition.' },
  { name: 'launch-template-version', description: 'The new default launch template version.' },
  { name: 'instance-refresh-id', description: 'The instance refresh that rolled the Auto Scaling group.' },
  { name: 'plan', description: 'release: what each step did or (with dry-run) would do, and why, one line per step ("bake: reuse ami-... (inputs unchanged)").' },
  { name: 'deregistered-amis', description: 'AMIs cleanup deregistered (or would, with dry-run), comma-separated.' },
  { name: 'synced-files', description: 'Number of files sync-mapfiles uploaded or deleted (or would).' },
] as const satisfies readonly OutputSpec[];

export type OutputName = (typeof OUTPUTS)[number]['name'];

export const INPUT_NAMES: readonly string[] = INPUTS.map((i) => i.name);

export function inputSpec(name: string): InputSpec | undefined {
  return (INPUTS as readonly InputSpec[]).find((i) => i.name === name);
}
