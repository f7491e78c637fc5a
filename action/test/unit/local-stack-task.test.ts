// The local stack's translation of a registered ECS task definition into `docker run` arguments.
import { describe, expect, it } from '@jest/globals';
import type { TaskDefinition } from '@aws-sdk/client-ecs';
import { readFileSync } from 'node:fs';
import { CONTAINER_PORT, MAPFILES_CONTAINER_PATH } from '../../src/container.js';
import { renderTaskDefinition } from '../../src/steps/task-definition.js';
import { shellQuote, translateTaskDefinition, TranslationError, type TranslateOptions } from '../../../scripts/local-stack/task-to-docker.js';

const options: TranslateOptions = {
  hostPaths: new Map([['/mnt/mapfiles', '/var/tmp/stack/mnt/mapfiles']]),
  namePrefix: 'stack',
};

/** The value after each occurrence of a flag. */
function flagValues(args: readonly string[], flag: string): string[] {
  return args.flatMap((arg, i) => (arg === flag ? [args[i + 1] ?? ''] : []));
}

const mapserver: TaskDefinition = {
  family: 'mapserver',
  revision: 7,
  networkMode: 'bridge',
  containerDefinitions: [
    {
      name: 'mapserver',
      image: '127.0.0.1:5000/mapserver@sha256:' + 'a'.repeat(64),
      cpu: 256,
      memory: 512,
      essential: true,
      portMappings: [{ containerPort: 8080, hostPort: 8080, protocol: 'tcp' }],
      mountPoints: [{ sourceVolume: 'mapfiles', containerPath: '/mapfiles', readOnly: true }],
      environment: [
        { name: 'AWS_REGION', value: 'us-east-1' },
        { name: 'MS_DEBUGLEVEL', value: '0' },
      ],
      healthCheck: { command: ['CMD-SHELL', 'curl -fsS http://localhost:8080/healthz || exit 1'], interval: 15, timeout: 5, retries: 3, startPeriod: 20 },
      logConfiguration: { logDriver: 'awslogs', options: { 'awslogs-group': '/ecs/mapserver' } },
    },
  ],
  volumes: [{ name: 'mapfiles', host: { sourcePath: '/mnt/mapfiles' } }],
};

describe('translateTaskDefinition', () => {
  const [run] = translateTaskDefinition(mapserver, {
    ...options,
    extraEnvironment: new Map([
      ['AWS_ENDPOINT_URL', 'http://host.docker.internal:4566'],
      ['MS_DEBUGLEVEL', '5'],
    ]),
    labels: new Map([['mapserver-ecs.local-stack', '/var/tmp/stack']]),
    extraHosts: ['host.docker.internal:host-gateway'],
  });
  const args = run?.args ?? [];

  it('names the container after the prefix and ends with the image', () => {
    expect(run?.name).toBe('stack-mapserver');
    expect(flagValues(args, '--name')).toEqual(['stack-mapserver']);
    expect(args.at(-1)).toBe(mapserver.containerDefinitions?.[0]?.image);
  });

  it('binds the instance path read-only at the container path, from its local counterpart', () => {
    expect(flagValues(args, '--mount')).toEqual(['type=bind,source=/var/tmp/stack/mnt/mapfiles,target=/mapfiles,readonly']);
  });

  it('publishes the host port on loopback only', () => {
    expect(flagValues(args, '--publish')).toEqual(['127.0.0.1:8080:8080/tcp']);
  });

  it('passes the environment, extra variables last and winning', () => {
    expect(flagValues(args, '--env')).toEqual(['AWS_REGION=us-east-1', 'MS_DEBUGLEVEL=5', 'AWS_ENDPOINT_URL=http://host.docker.internal:4566']);
  });

  it("translates the health check into Docker's", () => {
    expect(flagValues(args, '--health-cmd')).toEqual(['curl -fsS http://localhost:8080/healthz || exit 1']);
    expect(flagValues(args, '--health-interval')).toEqual(['15s']);
    expect(flagValues(args, '--health-timeout')).toEqual(['5s']);
    expect(flagValues(args, '--health-retries')).toEqual(['3']);
    expect(flagValues(args, '--health-start-period')).toEqual(['20s']);
  });

  it('keeps the limits ECS would set on EC2 and the labels the agent adds', () => {
    expect(flagValues(args, '--cpu-shares')).toEqual(['256']);
    expect(flagValues(args, '--memory')).toEqual(['512m']);
    expect(flagValues(args, '--label')).toEqual(
      expect.arrayContaining(['com.amazonaws.ecs.task-definition-family=mapserver', 'com.amazonaws.ecs.task-definition-version=7', 'mapserver-ecs.local-stack=/var/tmp/stack']),
    );
    expect(flagValues(args, '--add-host')).toEqual(['host.docker.internal:host-gateway']);
  });

  it('says that awslogs is replaced by docker logs', () => {
    expect(run?.notes.join('\n')).toMatch(/awslogs.*docker logs stack-mapserver/);
  });
});

describe('translateTaskDefinition edge cases', () => {
  const container = mapserver.containerDefinitions?.[0] ?? {};
  const withContainer = (changes: object, task: Partial<TaskDefinition> = {}): TaskDefinition => ({
    ...mapserver,
    ...task,
    containerDefinitions: [{ ...container, ...changes }],
  });

  it.each([
    ['a host path without a local counterpart', withContainer({}, { volumes: [{ name: 'mapfiles', host: { sourcePath: '/srv/other' } }] }), /\/srv\/other.*--host-path/],
    ['a volume the task does not define', withContainer({ mountPoints: [{ sourceVolume: 'nope', containerPath: '/x' }] }), /volume "nope"/],
    ['secrets', withContainer({ secrets: [{ name: 'TOKEN', valueFrom: 'arn:aws:ssm:us-east-1:123456789012:parameter/t' }] }), /secrets \(TOKEN\)/],
    ['an EFS volume', withContainer({}, { volumes: [{ name: 'mapfiles', efsVolumeConfiguration: { fileSystemId: 'fs-1' } }] }), /network file system/],
    ['no containers', { ...mapserver, containerDefinitions: [] }, /no containers/],
  ])('refuses %s with a clear message', (_what, task, message) => {
    expect(() => translateTaskDefinition(task, options)).toThrow(TranslationError);
    expect(() => translateTaskDefinition(task, options)).toThrow(message);
  });

  it('publishes a dynamic host port (hostPort 0) on a port Docker picks', () => {
    const [run] = translateTaskDefinition(withContainer({ portMappings: [{ containerPort: 8080, hostPort: 0 }] }), options);
    expect(flagValues(run?.args ?? [], '--publish')).toEqual(['127.0.0.1::8080/tcp']);
  });

  it('quotes the CMD form of a health check for the shell Docker runs it with', () => {
    const [run] = translateTaskDefinition(withContainer({ healthCheck: { command: ['CMD', 'curl', '-f', "http://x/it's"] } }), options);
    expect(flagValues(run?.args ?? [], '--health-cmd')).toEqual([`curl -f 'http://x/it'\\''s'`]);
  });

  it('uses ECS health check defaults for what the task leaves out', () => {
    const [run] = translateTaskDefinition(withContainer({ healthCheck: { command: ['CMD-SHELL', 'true'] } }), options);
    const args = run?.args ?? [];
    expect([flagValues(args, '--health-interval'), flagValues(args, '--health-retries'), flagValues(args, '--health-start-period')]).toEqual([['30s'], ['3'], ['0s']]);
  });

  it('runs host network mode on the host network without publishing', () => {
    const [run] = translateTaskDefinition(withContainer({}, { networkMode: 'host' }), options);
    expect(flagValues(run?.args ?? [], '--network')).toEqual(['host']);
    expect(flagValues(run?.args ?? [], '--publish')).toEqual([]);
  });

  it('splits an entry point into --entrypoint and leading arguments before the command', () => {
    const [run] = translateTaskDefinition(withContainer({ entryPoint: ['/bin/sh', '-c'], command: ['echo hi'] }), options);
    const args = run?.args ?? [];
    expect(flagValues(args, '--entrypoint')).toEqual(['/bin/sh']);
    expect(args.slice(-3)).toEqual([container.image, '-c', 'echo hi']);
  });

  it('starts containers after those they depend on', () => {
    const task: TaskDefinition = {
      ...mapserver,
      containerDefinitions: [
        { ...container, name: 'web', dependsOn: [{ containerName: 'init', condition: 'SUCCESS' }] },
        { name: 'init', image: 'busybox', essential: false },
      ],
    };
    expect(translateTaskDefinition(task, options).map((r) => r.name)).toEqual(['stack-init', 'stack-web']);
  });
});

describe('the task definition this project registers', () => {
  it('translates without loss: bind mount read-only at /mapfiles, the host port, the health check', () => {
    const template = readFileSync(new URL('../../../ecs/task-definition.json.hbs', import.meta.url), 'utf8');
    const image = `127.0.0.1:5000/mapserver@sha256:${'b'.repeat(64)}`;
    const rendered = renderTaskDefinition(
      template,
      { service: 'mapserver', region: 'us-east-1', cpu: 256, memory: 512, hostPort: 18080, logGroup: '/ecs/mapserver', taskRoleArn: undefined, executionRoleArn: undefined },
      image,
    );
    const runs = translateTaskDefinition({ ...rendered, revision: 1 } as TaskDefinition, options);
    expect(runs).toHaveLength(1);
    const args = runs[0]?.args ?? [];
    expect(flagValues(args, '--mount')).toEqual([`type=bind,source=/var/tmp/stack/mnt/mapfiles,target=${MAPFILES_CONTAINER_PATH},readonly`]);
    expect(flagValues(args, '--publish')).toEqual([`127.0.0.1:18080:${CONTAINER_PORT}/tcp`]);
    expect(flagValues(args, '--health-cmd')).toHaveLength(1);
    expect(args.at(-1)).toBe(image);
  });
});

describe('shellQuote', () => {
  it.each([
    ['plain-word_1.2', 'plain-word_1.2'],
    ['two words', "'two words'"],
    ["it's", "'it'\\''s'"],
    ['a;b', "'a;b'"],
  ])('quotes %j', (input, expected) => {
    expect(shellQuote(input)).toBe(expected);
  });
});
