import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { StepFailure } from '../../src/errors.js';
import { parseSettings } from '../../src/settings.js';
import { renderTaskDefinition, taskDefinitionProblems, type TaskDefinitionSettings } from '../../src/steps/task-definition.js';
import { DIGEST_IMAGE } from '../../../scripts/support/command-context.js';

const template = readFileSync('ecs/task-definition.json.hbs', 'utf8');
const base = parseSettings((name) => ({ command: 'deploy', bucket: 'maps-bucket', image: DIGEST_IMAGE })[name as 'command' | 'image'] ?? '', [], { AWS_REGION: 'eu-west-1' });

function settings(over: Partial<TaskDefinitionSettings> = {}): TaskDefinitionSettings {
  return { ...base, ...over };
}

describe('renderTaskDefinition', () => {
  it('renders the image by digest, a read-only mapfile volume, the port, logs, health check and placement', () => {
    const td = renderTaskDefinition(template, settings({ taskRoleArn: 'arn:aws:iam::123456789012:role/task', executionRoleArn: 'arn:aws:iam::123456789012:role/exec' }), DIGEST_IMAGE);
    const container = td.containerDefinitions?.[0];
    expect(td.family).toBe('mapserver');
    expect(td.taskRoleArn).toBe('arn:aws:iam::123456789012:role/task');
    expect(td.executionRoleArn).toBe('arn:aws:iam::123456789012:role/exec');
    expect(container?.image).toBe(DIGEST_IMAGE);
    expect(container?.portMappings).toEqual([{ containerPort: 8080, hostPort: 8080, protocol: 'tcp' }]);
    expect(container?.mountPoints).toEqual([{ sourceVolume: 'mapfiles', containerPath: '/mapfiles', readOnly: true }]);
    expect(td.volumes).toEqual([{ name: 'mapfiles', host: { sourcePath: '/mnt/mapfiles' } }]);
    expect(container?.healthCheck?.command).toEqual(['CMD-SHELL', 'curl -fsS http://localhost:8080/healthz || exit 1']);
    expect(container?.logConfiguration).toMatchObject({ logDriver: 'awslogs', options: { 'awslogs-group': '/ecs/mapserver', 'awslogs-region': 'eu-west-1' } });
    expect(container?.environment).toContainEqual({ name: 'AWS_REGION', value: 'eu-west-1' });
    expect(container).toMatchObject({ cpu: 256, memory: 512 });
    expect(td.placementConstraints).toEqual([{ type: 'memberOf', expression: 'attribute:mapserver-ecs.mount == ready' }]);
  });

  it('leaves the roles out when none are given', () => {
    const td = renderTaskDefinition(template, settings(), DIGEST_IMAGE);
    expect(td).not.toHaveProperty('taskRoleArn');
    expect(td).not.toHaveProperty('executionRoleArn');
  });

  it('uses a dynamic host port when host-port is 0', () => {
    const td = renderTaskDefinition(template, settings({ hostPort: 0 }), DIGEST_IMAGE);
    expect(td.containerDefinitions?.[0]?.portMappings?.[0]?.hostPort).toBe(0);
  });

  it('escapes values for JSON', () => {
    const odd = settings({ logGroup: '/ecs/"quoted"\\group' });
    const td = renderTaskDefinition(template, odd, DIGEST_IMAGE);
    expect(td.containerDefinitions?.[0]?.logConfiguration?.options?.['awslogs-group']).toBe('/ecs/"quoted"\\group');
  });

  it('refuses an image without a digest', () => {
    expect(() => renderTaskDefinition(template, settings(), 'mapserver:latest')).toThrow(/by digest/);
  });

  it('refuses a template that renders to something other than JSON', () => {
    expect(() => renderTaskDefinition('{ "family": {{json family}}, }', settings(), DIGEST_IMAGE)).toThrow(/valid JSON/);
  });

  it('refuses a template whose mapfile volume is writable', () => {
    const writable = template.replace('"containerPath": "/mapfiles", "readOnly": true', '"containerPath": "/mapfiles", "readOnly": false');
    expect(writable).not.toBe(template);
    expect(() => renderTaskDefinition(writable, settings(), DIGEST_IMAGE)).toThrow(StepFailure);
    expect(() => renderTaskDefinition(writable, settings(), DIGEST_IMAGE)).toThrow(/\/mapfiles must be mounted read-only/);
  });

  it('refuses a template without the mount placement constraint', () => {
    const loose = template.replace('attribute:mapserver-ecs.mount == ready', 'attribute:other == 1');
    expect(() => renderTaskDefinition(loose, settings(), DIGEST_IMAGE)).toThrow(/placement constraint/);
  });
});

describe('taskDefinitionProblems', () => {
  it('names every missing piece of an empty document', () => {
    expect(taskDefinitionProblems({}, settings(), DIGEST_IMAGE)).toEqual(
      expect.arrayContaining([expect.stringMatching(/family/), expect.stringMatching(/networkMode/), expect.stringMatching(/exactly one container/)]),
    );
    expect(taskDefinitionProblems([], settings(), DIGEST_IMAGE)).toEqual(['the document is not a JSON object']);
  });
});
