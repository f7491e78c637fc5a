// Runs an ECS service's current task definition on this machine with Docker, as the ECS agent would
// on a container instance: reads the service and the task definition from the (emulated) ECS API,
// translates them (task-to-docker.ts), pulls the image, replaces the previous containers and starts
// the new ones.
//
// Usage: tsx scripts/local-stack/run-task.ts --cluster C --service S [--task-definition ARN]
//          [--host-path /mnt/mapfiles=/local/path ...] [--env KEY=value ...] [--label KEY=value ...]
//          [--add-host name:ip ...] [--name-prefix P] [--publish-address 127.0.0.1] [--dry-run]
// Prints the started containers' names on standard output, one a line; progress goes to stderr.
import { DescribeServicesCommand, DescribeTaskDefinitionCommand, ECSClient } from '@aws-sdk/client-ecs';
import { parseArgs } from 'node:util';
import { formatError } from '../../action/src/errors.js';
import { run } from '../../action/src/process.js';
import { TerminalReporter } from '../../action/src/reporter.js';
import { shellQuote, translateTaskDefinition } from './task-to-docker.js';

function pairs(values: readonly string[] | undefined, separator: string, flag: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const value of values ?? []) {
    const at = value.indexOf(separator);
    if (at <= 0) throw new Error(`--${flag} expects KEY${separator}VALUE, got ${JSON.stringify(value)}`);
    map.set(value.slice(0, at), value.slice(at + 1));
  }
  return map;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      cluster: { type: 'string' },
      service: { type: 'string' },
      'task-definition': { type: 'string' },
      'host-path': { type: 'string', multiple: true },
      env: { type: 'string', multiple: true },
      label: { type: 'string', multiple: true },
      'add-host': { type: 'string', multiple: true },
      'name-prefix': { type: 'string', default: 'mapserver-ecs-local' },
      'publish-address': { type: 'string', default: '127.0.0.1' },
      region: { type: 'string', default: process.env.AWS_REGION ?? 'us-east-1' },
      'dry-run': { type: 'boolean', default: false },
    },
    strict: true,
  });
  const reporter = new TerminalReporter();
  const ecs = new ECSClient({ region: values.region });
  try {
    let taskDefinitionArn = values['task-definition'];
    if (!taskDefinitionArn) {
      if (!values.cluster || !values.service) throw new Error('give --cluster and --service, or --task-definition');
      const described = await ecs.send(new DescribeServicesCommand({ cluster: values.cluster, services: [values.service] }));
      const service = described.services?.[0];
      if (!service?.taskDefinition) {
        const why = described.failures?.[0]?.reason ?? 'no task definition';
        throw new Error(`service ${values.service} in cluster ${values.cluster}: ${why}`);
      }
      // The primary deployment is what the service is rolling to; taskDefinition is the same after a
      // completed rollout.
      taskDefinitionArn = service.deployments?.find((d) => d.status === 'PRIMARY')?.taskDefinition ?? service.taskDefinition;
    }
    const { taskDefinition } = await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: taskDefinitionArn }));
    if (!taskDefinition) throw new Error(`task definition ${taskDefinitionArn} was not found`);
    reporter.info(`task definition: ${taskDefinition.taskDefinitionArn}`);

    const runs = translateTaskDefinition(taskDefinition, {
      hostPaths: pairs(values['host-path'], '=', 'host-path'),
      extraEnvironment: pairs(values.env, '=', 'env'),
      labels: pairs(values.label, '=', 'label'),
      extraHosts: values['add-host'] ?? [],
      namePrefix: values['name-prefix'],
      publishAddress: values['publish-address'],
    });
    for (const container of runs) {
      reporter.info(`docker run ${container.args.map(shellQuote).join(' ')}`);
      for (const note of container.notes) reporter.info(`note: ${note}`);
    }
    if (values['dry-run']) return;

    for (const image of new Set(runs.map((r) => r.image))) {
      await reporter.group(`Pull ${image}`, () => run(reporter, 'docker', ['pull', '--quiet', image], { label: 'docker' }));
    }
    // Replace what runs under the same names, as a new task replaces the old one.
    for (const container of [...runs].reverse()) {
      await run(reporter, 'docker', ['rm', '--force', '--volumes', container.name], { stream: false }).catch(() => undefined);
    }
    for (const container of runs) {
      await run(reporter, 'docker', ['run', ...container.args], { stream: false, label: 'docker' });
      process.stdout.write(`${container.name}\n`);
    }
  } finally {
    ecs.destroy();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`run-task: ${formatError(error)}\n`);
  process.exitCode = 1;
});
