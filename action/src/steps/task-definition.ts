// The MapServer task definition: ecs/task-definition.json.hbs rendered with JSON escaping, parsed and
// checked for the shape the service depends on (image by digest, read-only mapfile volume, placement on
// mounted hosts) before anything is registered.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RegisterTaskDefinitionCommandInput } from '@aws-sdk/client-ecs';
import { CONTAINER_NAME, CONTAINER_PORT, MAPFILES_CONTAINER_PATH, MAPFILES_HOST_PATH } from '../container.js';
import { StepFailure } from '../errors.js';
import { render } from '../render.js';
import type { Settings } from '../settings.js';
import { isImageByDigest } from '../values.js';

export const MOUNT_READY_CONSTRAINT = 'attribute:mapserver-ecs.mount == ready';

export type TaskDefinitionSettings = Pick<
  Settings,
  'service' | 'region' | 'cpu' | 'memory' | 'hostPort' | 'logGroup' | 'taskRoleArn' | 'executionRoleArn'
>;

export function taskDefinitionData(settings: TaskDefinitionSettings, imageUri: string): Record<string, unknown> {
  return {
    family: settings.service,
    containerName: CONTAINER_NAME,
    image: imageUri,
    cpu: settings.cpu,
    memory: settings.memory,
    hostPort: settings.hostPort,
    region: settings.region,
    logGroup: settings.logGroup,
    logStreamPrefix: settings.service,
    taskRoleArn: settings.taskRoleArn ?? '',
    executionRoleArn: settings.executionRoleArn ?? '',
  };
}

/** Renders and validates; pure apart from nothing: the template text is passed in. */
export function renderTaskDefinition(template: string, settings: TaskDefinitionSettings, imageUri: string): RegisterTaskDefinitionCommandInput {
  if (!isImageByDigest(imageUri)) {
    throw new StepFailure(`The task definition needs an image by digest (repository@sha256:<64 hex>), got ${JSON.stringify(imageUri)}`, {
      state: 'nothing registered',
    });
  }
  const text = render(template, taskDefinitionData(settings, imageUri), 'ecs/task-definition.json.hbs');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new StepFailure(`ecs/task-definition.json.hbs did not render to valid JSON: ${(error as Error).message}`, { state: 'nothing registered' });
  }
  const problems = taskDefinitionProblems(parsed, settings, imageUri);
  if (problems.length > 0) {
    throw new StepFailure(`The rendered task definition is not what the service needs:\n  - ${problems.join('\n  - ')}`, {
      state: 'nothing registered',
    });
  }
  return parsed as RegisterTaskDefinitionCommandInput;
}

export async function loadTaskDefinition(root: string, settings: TaskDefinitionSettings, imageUri: string): Promise<RegisterTaskDefinitionCommandInput> {
  const template = await readFile(join(root, 'ecs', 'task-definition.json.hbs'), 'utf8');
  return renderTaskDefinition(template, settings, imageUri);
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const objects = (v: unknown): Json[] => (Array.isArray(v) ? v.filter(isObject) : []);

/** Shape checks of a rendered task definition; each problem says what is wrong. */
export function taskDefinitionProblems(value: unknown, settings: TaskDefinitionSettings, imageUri: string): string[] {
  const problems: string[] = [];
  if (!isObject(value)) return ['the document is not a JSON object'];
  if (value.family !== settings.service) problems.push(`family must be ${settings.service}`);
  if (value.networkMode !== 'bridge') problems.push('networkMode must be bridge (host ports map to the container port)');
  const containers = objects(value.containerDefinitions);
  const container = containers.find((c) => c.name === CONTAINER_NAME);
  if (containers.length !== 1 || !container) {
    problems.push(`containerDefinitions must hold exactly one container named ${CONTAINER_NAME}`);
    return problems;
  }
  if (container.image !== imageUri) problems.push(`the image must be ${imageUri}`);
  if (container.cpu !== settings.cpu) problems.push(`cpu must be ${settings.cpu}`);
  if (container.memory !== settings.memory) problems.push(`memory must be ${settings.memory}`);
  const ports = objects(container.portMappings);
  if (!ports.some((p) => p.containerPort === CONTAINER_PORT && p.hostPort === settings.hostPort)) {
    problems.push(`a port mapping must map host port ${settings.hostPort} to container port ${CONTAINER_PORT}`);
  }
  const volumes = objects(value.volumes);
  const mounts = objects(container.mountPoints);
  const mapfiles = mounts.find((m) => m.containerPath === MAPFILES_CONTAINER_PATH);
  const volume = mapfiles ? volumes.find((v) => v.name === mapfiles.sourceVolume) : undefined;
  if (!mapfiles || mapfiles.readOnly !== true) problems.push(`${MAPFILES_CONTAINER_PATH} must be mounted read-only`);
  if (!volume || !isObject(volume.host) || volume.host.sourcePath !== MAPFILES_HOST_PATH) {
    problems.push(`the ${MAPFILES_CONTAINER_PATH} volume must be the host folder ${MAPFILES_HOST_PATH}`);
  }
  if (mounts.some((m) => m.readOnly !== true)) problems.push('every mount point must be read-only');
  const health = isObject(container.healthCheck) ? container.healthCheck.command : undefined;
  if (!Array.isArray(health) || !health.some((part) => typeof part === 'string' && part.includes('/healthz'))) {
    problems.push('the container health check must call /healthz');
  }
  const logging = isObject(container.logConfiguration) ? container.logConfiguration : undefined;
  const logOptions = logging && isObject(logging.options) ? logging.options : undefined;
  if (logging?.logDriver !== 'awslogs' || logOptions?.['awslogs-group'] !== settings.logGroup || logOptions?.['awslogs-region'] !== settings.region) {
    problems.push(`logging must use awslogs with group ${settings.logGroup} in ${settings.region}`);
  }
  const constraints = objects(value.placementConstraints);
  if (!constraints.some((c) => c.type === 'memberOf' && c.expression === MOUNT_READY_CONSTRAINT)) {
    problems.push(`a placement constraint must require ${MOUNT_READY_CONSTRAINT}`);
  }
  if ((value.taskRoleArn ?? '') !== (settings.taskRoleArn ?? '')) problems.push('taskRoleArn must be the task-role-arn input');
  if ((value.executionRoleArn ?? '') !== (settings.executionRoleArn ?? '')) problems.push('executionRoleArn must be the execution-role-arn input');
  const environment = objects(container.environment);
  if (!environment.some((e) => e.name === 'AWS_REGION' && e.value === settings.region)) problems.push(`AWS_REGION must be ${settings.region}`);
  return problems;
}
