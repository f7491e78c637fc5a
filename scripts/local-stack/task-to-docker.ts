// Translates a registered ECS task definition into `docker run` arguments, the way the ECS agent
// would start it on a container instance (and as `ecs-cli local` once did): volumes become bind
// mounts, port mappings published ports, the health check Docker's own, environment and limits
// as they are. Pure: no AWS call and no process, so it is tested as a table.
import type { ContainerDefinition, TaskDefinition } from '@aws-sdk/client-ecs';

export interface TranslateOptions {
  /** Host paths of the task's volumes, mapped to the paths they have on this machine. */
  hostPaths: ReadonlyMap<string, string>;
  /** Extra environment set after the task's own (later wins), such as emulator settings. */
  extraEnvironment?: ReadonlyMap<string, string>;
  /** Address published ports bind to; loopback so nothing is reachable from other machines. */
  publishAddress?: string;
  /** Container name prefix; each container is named `<prefix>-<container name>`. */
  namePrefix: string;
  /** Labels added to every container, such as the local stack's ownership label. */
  labels?: ReadonlyMap<string, string>;
  /** `host:ip` entries added to every container (`--add-host`). */
  extraHosts?: readonly string[];
}

export interface DockerRun {
  /** The container's name in the task definition. */
  container: string;
  /** The Docker container's name. */
  name: string;
  image: string;
  /** Arguments after `docker run`, ending with the image and its command. */
  args: string[];
  /** What could not be carried over, for people to read. */
  notes: string[];
}

export class TranslationError extends Error {
  override name = 'TranslationError';
}

/** ECS defaults for health checks (seconds). */
const HEALTH_DEFAULTS = { interval: 30, timeout: 5, retries: 3, startPeriod: 0 };

/** Orders containers so those a container dependsOn start first. */
function startOrder(containers: readonly ContainerDefinition[]): ContainerDefinition[] {
  const byName = new Map(containers.map((c) => [c.name ?? '', c]));
  const ordered: ContainerDefinition[] = [];
  const visiting = new Set<string>();
  const visit = (container: ContainerDefinition): void => {
    const name = container.name ?? '';
    if (ordered.includes(container)) return;
    if (visiting.has(name)) throw new TranslationError(`containers depend on each other in a cycle through "${name}"`);
    visiting.add(name);
    for (const dependency of container.dependsOn ?? []) {
      const target = byName.get(dependency.containerName ?? '');
      if (!target) throw new TranslationError(`container "${name}" depends on "${dependency.containerName}", which the task does not define`);
      visit(target);
    }
    visiting.delete(name);
    ordered.push(container);
  };
  containers.forEach(visit);
  return ordered;
}

/** Docker's --health-cmd runs its text with /bin/sh -c; ECS's CMD form is an argv. */
function healthCommand(command: readonly string[]): string {
  const [kind, ...rest] = command;
  if (kind === 'CMD-SHELL') return rest.join(' ');
  if (kind === 'CMD') return rest.map(shellQuote).join(' ');
  if (kind === 'NONE') return '';
  // ECS also accepts a bare command, run as CMD-SHELL would be.
  return command.join(' ');
}

export function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

export function translateTaskDefinition(task: TaskDefinition, options: TranslateOptions): DockerRun[] {
  const containers = task.containerDefinitions ?? [];
  if (containers.length === 0) throw new TranslationError('the task definition has no containers');
  const networkMode = task.networkMode ?? 'bridge';
  const publishAddress = options.publishAddress ?? '127.0.0.1';
  const volumes = new Map((task.volumes ?? []).map((v) => [v.name ?? '', v]));
  const dockerName = (container: ContainerDefinition): string => `${options.namePrefix}-${container.name ?? 'container'}`;
  const family = task.family ?? '';
  const revision = String(task.revision ?? '');

  return startOrder(containers).map((container) => {
    const name = dockerName(container);
    const notes: string[] = [];
    if (!container.image) throw new TranslationError(`container "${container.name}" has no image`);
    const args: string[] = ['--detach', '--name', name];

    // Labels the ECS agent puts on task containers, so `docker ps` reads the same as on an instance.
    const labels = new Map<string, string>([
      ['com.amazonaws.ecs.task-definition-family', family],
      ['com.amazonaws.ecs.task-definition-version', revision],
      ['com.amazonaws.ecs.container-name', container.name ?? ''],
      ...Object.entries(container.dockerLabels ?? {}),
      ...(options.labels ?? new Map()),
    ]);
    for (const [key, value] of labels) args.push('--label', `${key}=${value}`);

    switch (networkMode) {
      case 'bridge':
        break;
      case 'host':
        args.push('--network', 'host');
        break;
      case 'none':
        args.push('--network', 'none');
        break;
      case 'awsvpc':
        // awsvpc gives the task its own network interface in a VPC; on one machine the closest is
        // a bridge with the same container ports published.
        notes.push('networkMode awsvpc runs on the Docker bridge here, with its container ports published');
        break;
      default:
        throw new TranslationError(`networkMode "${networkMode}" has no local counterpart`);
    }

    if (networkMode !== 'host' && networkMode !== 'none') {
      for (const mapping of container.portMappings ?? []) {
        if (mapping.containerPort === undefined) {
          throw new TranslationError(`container "${container.name}" has a port mapping without a containerPort`);
        }
        if (mapping.containerPortRange) throw new TranslationError(`container "${container.name}": port ranges are not supported locally`);
        const protocol = mapping.protocol ?? 'tcp';
        // hostPort 0 (or none, on awsvpc) is a dynamic port, as ECS would pick one.
        const hostPort = networkMode === 'awsvpc' ? mapping.containerPort : (mapping.hostPort ?? 0);
        args.push('--publish', `${publishAddress}:${hostPort === 0 ? '' : hostPort}:${mapping.containerPort}/${protocol}`);
      }
    }

    for (const mount of container.mountPoints ?? []) {
      const volume = volumes.get(mount.sourceVolume ?? '');
      if (!volume) throw new TranslationError(`container "${container.name}" mounts volume "${mount.sourceVolume}", which the task does not define`);
      if (!mount.containerPath) throw new TranslationError(`container "${container.name}" mounts "${mount.sourceVolume}" without a containerPath`);
      const readonly = mount.readOnly ? ',readonly' : '';
      const sourcePath = volume.host?.sourcePath;
      if (sourcePath) {
        const local = options.hostPaths.get(sourcePath);
        if (!local) {
          throw new TranslationError(
            `volume "${volume.name}" binds host path ${sourcePath}, which has no local counterpart; map it (--host-path ${sourcePath}=/local/path)`,
          );
        }
        args.push('--mount', `type=bind,source=${local},target=${mount.containerPath}${readonly}`);
      } else if (volume.dockerVolumeConfiguration) {
        const config = volume.dockerVolumeConfiguration;
        if (config.driver && config.driver !== 'local') throw new TranslationError(`volume "${volume.name}" uses Docker volume driver "${config.driver}", which is not available locally`);
        // A task-scoped volume lives as long as the task; a shared one is named after the volume.
        const volumeName = config.scope === 'shared' ? (volume.name ?? '') : `${options.namePrefix}-${volume.name}`;
        args.push('--mount', `type=volume,source=${volumeName},target=${mount.containerPath}${readonly}`);
      } else if (volume.efsVolumeConfiguration || volume.fsxWindowsFileServerVolumeConfiguration) {
        throw new TranslationError(`volume "${volume.name}" is a network file system, which is not available locally`);
      } else {
        // A bind volume without a source path is an empty folder the agent makes for the task.
        args.push('--mount', `type=volume,target=${mount.containerPath}${readonly}`);
      }
    }
    for (const from of container.volumesFrom ?? []) {
      const source = containers.find((c) => c.name === from.sourceContainer);
      if (!source) throw new TranslationError(`container "${container.name}" takes volumes from "${from.sourceContainer}", which the task does not define`);
      args.push('--volumes-from', `${dockerName(source)}${from.readOnly ? ':ro' : ''}`);
    }

    const environment = new Map<string, string>();
    for (const variable of container.environment ?? []) {
      if (variable.name) environment.set(variable.name, variable.value ?? '');
    }
    for (const [key, value] of options.extraEnvironment ?? new Map()) environment.set(key, value);
    for (const [key, value] of environment) args.push('--env', `${key}=${value}`);
    if ((container.secrets ?? []).length > 0) {
      throw new TranslationError(
        `container "${container.name}" takes secrets (${(container.secrets ?? []).map((s) => s.name).join(', ')}) from Secrets Manager or SSM, which are not resolved locally`,
      );
    }
    if ((container.environmentFiles ?? []).length > 0) notes.push('environmentFiles in S3 are not read locally');

    const health = container.healthCheck;
    if (health?.command && health.command.length > 0) {
      const command = healthCommand(health.command);
      if (command === '') args.push('--no-healthcheck');
      else {
        args.push(
          '--health-cmd',
          command,
          '--health-interval',
          `${health.interval ?? HEALTH_DEFAULTS.interval}s`,
          '--health-timeout',
          `${health.timeout ?? HEALTH_DEFAULTS.timeout}s`,
          '--health-retries',
          String(health.retries ?? HEALTH_DEFAULTS.retries),
          '--health-start-period',
          `${health.startPeriod ?? HEALTH_DEFAULTS.startPeriod}s`,
        );
      }
    }

    // On EC2, ECS passes cpu units as CPU shares and memory as the hard limit (MiB).
    if (container.cpu !== undefined && container.cpu > 0) args.push('--cpu-shares', String(Math.max(2, container.cpu)));
    if (container.memory !== undefined) args.push('--memory', `${container.memory}m`);
    if (container.memoryReservation !== undefined) args.push('--memory-reservation', `${container.memoryReservation}m`);
    for (const limit of container.ulimits ?? []) args.push('--ulimit', `${limit.name}=${limit.softLimit}:${limit.hardLimit}`);
    if (container.user) args.push('--user', container.user);
    if (container.workingDirectory) args.push('--workdir', container.workingDirectory);
    if (container.hostname && networkMode !== 'host') args.push('--hostname', container.hostname);
    if (container.readonlyRootFilesystem) args.push('--read-only');
    if (container.privileged) args.push('--privileged');
    if (container.disableNetworking) args.push('--network', 'none');
    if (container.stopTimeout !== undefined) args.push('--stop-timeout', String(container.stopTimeout));
    for (const server of container.dnsServers ?? []) args.push('--dns', server);
    for (const host of container.extraHosts ?? []) args.push('--add-host', `${host.hostname}:${host.ipAddress}`);
    for (const host of options.extraHosts ?? []) args.push('--add-host', host);
    const linux = container.linuxParameters;
    if (linux?.initProcessEnabled) args.push('--init');
    for (const capability of linux?.capabilities?.add ?? []) args.push('--cap-add', capability);
    for (const capability of linux?.capabilities?.drop ?? []) args.push('--cap-drop', capability);
    if (linux?.sharedMemorySize !== undefined) args.push('--shm-size', `${linux.sharedMemorySize}m`);
    for (const tmpfs of linux?.tmpfs ?? []) {
      const mountOptions = [`size=${tmpfs.size}m`, ...(tmpfs.mountOptions ?? [])].join(',');
      args.push('--tmpfs', `${tmpfs.containerPath}:${mountOptions}`);
    }
    if (container.logConfiguration?.logDriver && container.logConfiguration.logDriver !== 'json-file') {
      notes.push(`log driver ${container.logConfiguration.logDriver} is replaced by Docker's default: read the logs with docker logs ${name}`);
    }

    const entryPoint = container.entryPoint ?? [];
    if (entryPoint.length > 0) args.push('--entrypoint', entryPoint[0] ?? '');
    args.push(container.image, ...entryPoint.slice(1), ...(container.command ?? []));
    return { container: container.name ?? '', name, image: container.image, args, notes };
  });
}
