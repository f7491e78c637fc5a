import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import {
  CreateServiceCommand,
  DescribeServicesCommand,
  DescribeTaskDefinitionCommand,
  ECSClient,
  RegisterTaskDefinitionCommand,
  UpdateServiceCommand,
  type Deployment,
  type Service,
} from '@aws-sdk/client-ecs';
import { BatchGetImageCommand, ECRClient, PutImageCommand } from '@aws-sdk/client-ecr';
import { mockClient } from 'aws-sdk-client-mock';
import { createClients, type AwsClients } from '../../src/aws/clients.js';
import { deployCommand } from '../../src/commands/deploy.js';
import { InputError, StepFailure } from '../../src/errors.js';
import { definitionDigest, DEFINITION_HASH_TAG, deploymentConfiguration } from '../../src/aws/ecs.js';
import { decideDeploy, deployService } from '../../src/steps/deploy.js';
import { loadTaskDefinition } from '../../src/steps/task-definition.js';
import { DIGEST_IMAGE, testContext } from '../../../scripts/support/command-context.js';
import { fakeClock, scriptedHandler } from '../support/ecs-context.js';

let ecs = mockClient(ECSClient);
const OLD = 'arn:aws:ecs:us-east-1:123456789012:task-definition/mapserver:6';
const NEW = 'arn:aws:ecs:us-east-1:123456789012:task-definition/mapserver:7';

function service(deployments: Deployment[], extra: Partial<Service> = {}): Service {
  return { serviceName: 'mapserver', status: 'ACTIVE', taskDefinition: deployments.find((d) => d.status === 'PRIMARY')?.taskDefinition ?? OLD, deployments, ...extra };
}
const deployment = (id: string, taskDefinition: string, status: string, rolloutState: Deployment['rolloutState'], extra: Partial<Deployment> = {}): Deployment => ({
  id,
  taskDefinition,
  status,
  rolloutState,
  desiredCount: 1,
  runningCount: rolloutState === 'COMPLETED' ? 1 : 0,
  pendingCount: rolloutState === 'IN_PROGRESS' ? 1 : 0,
  failedTasks: 0,
  ...extra,
});

const inputs = { command: 'deploy', bucket: 'maps-bucket', 'wait-minutes': '2' } as const;
const timing = () => ({ intervalMs: 10_000, ...fakeClock() });

const ecr = mockClient(ECRClient);
const PREVIOUS_IMAGE = `123456789012.dkr.ecr.us-east-1.amazonaws.com/mapserver@sha256:${'b'.repeat(64)}`;

beforeEach(() => {
  ecs = mockClient(ECSClient);
  ecs.reset();
  ecr.reset();
  ecs.on(RegisterTaskDefinitionCommand).resolves({ taskDefinition: { taskDefinitionArn: NEW } });
  ecs.on(DescribeTaskDefinitionCommand, { taskDefinition: OLD }).resolves({ taskDefinition: { taskDefinitionArn: OLD, containerDefinitions: [{ name: 'mapserver', image: PREVIOUS_IMAGE }] } });
  ecr.on(BatchGetImageCommand).resolves({ images: [{ imageManifest: '{"schemaVersion":2}', imageManifestMediaType: 'application/vnd.oci.image.manifest.v1+json' }] });
  ecr.on(PutImageCommand).resolves({});
});
afterEach(() => {
  ecs.reset();
  ecr.reset();
});

function describeSequence(...services: Service[]): void {
  let call = ecs.on(DescribeServicesCommand);
  for (const s of services) call = call.resolvesOnce({ services: [s] });
}

describe('deployService', () => {
  it('registers the task definition, updates the service with the circuit breaker and waits for COMPLETED', async () => {
    const ctx = testContext(inputs);
    const before = service([deployment('d-old', OLD, 'PRIMARY', 'COMPLETED')]);
    const started = service([deployment('d-new', NEW, 'PRIMARY', 'IN_PROGRESS'), deployment('d-old', OLD, 'ACTIVE', 'COMPLETED')]);
    describeSequence(before, started, started, service([deployment('d-new', NEW, 'PRIMARY', 'COMPLETED')]));
    ecs.on(UpdateServiceCommand).resolves({ service: started });

    await expect(deployService(ctx, DIGEST_IMAGE, timing())).resolves.toEqual({ taskDefinitionArn: NEW });

    const registered = ecs.commandCalls(RegisterTaskDefinitionCommand)[0]?.args[0].input;
    expect(registered?.containerDefinitions?.[0]?.image).toBe(DIGEST_IMAGE);
    const update = ecs.commandCalls(UpdateServiceCommand)[0]?.args[0].input;
    expect(update).toMatchObject({ cluster: 'mapserver', service: 'mapserver', taskDefinition: NEW, deploymentConfiguration: { deploymentCircuitBreaker: { enable: true, rollback: true }, minimumHealthyPercent: 100, maximumPercent: 200 } });
    expect(update?.deploymentConfiguration?.deploymentCircuitBreaker).toEqual({ enable: true, rollback: true });
    expect(ctx.log()).toMatch(/waiting for the deployment of mapserver:7 .*IN_PROGRESS: 0\/1 running/);
    expect(ctx.log()).toMatch(/rollout COMPLETED/);
  });

  it('creates the service when it does not exist yet', async () => {
    const ctx = testContext(inputs);
    const created = service([deployment('d-new', NEW, 'PRIMARY', 'IN_PROGRESS')]);
    describeSequence({ serviceName: 'mapserver', status: 'INACTIVE' }, service([deployment('d-new', NEW, 'PRIMARY', 'COMPLETED')]));
    ecs.on(CreateServiceCommand).resolves({ service: created });
    await deployService(ctx, DIGEST_IMAGE, timing());
    const input = ecs.commandCalls(CreateServiceCommand)[0]?.args[0].input;
    expect(input).toMatchObject({
      serviceName: 'mapserver',
      taskDefinition: NEW,
      capacityProviderStrategy: [{ capacityProvider: 'mapserver-ecs', weight: 1, base: 0 }],
      deploymentConfiguration: { deploymentCircuitBreaker: { enable: true, rollback: true } },
    });
    expect(input?.loadBalancers).toBeUndefined();
  });

  it('fails, and says so, when the circuit breaker failed the deployment and rolled back', async () => {
    const ctx = testContext(inputs);
    const started = service([deployment('d-new', NEW, 'PRIMARY', 'IN_PROGRESS'), deployment('d-old', OLD, 'ACTIVE', 'COMPLETED')]);
    const failed = service([
      deployment('d-back', OLD, 'PRIMARY', 'IN_PROGRESS'),
      deployment('d-new', NEW, 'ACTIVE', 'FAILED', { rolloutStateReason: 'ECS deployment circuit breaker: tasks failed to start.', failedTasks: 3 }),
    ]);
    describeSequence(service([deployment('d-old', OLD, 'PRIMARY', 'COMPLETED')]), started, failed);
    ecs.on(UpdateServiceCommand).resolves({ service: started });
    const error = await deployService(ctx, DIGEST_IMAGE, timing()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StepFailure);
    expect((error as StepFailure).message).toMatch(/circuit breaker failed the deployment .*tasks failed to start.*rolled back to .*mapserver:6/);
    expect((error as StepFailure).state).toMatch(/rolled back to .*mapserver:6/);
  });

  it('fails when the deployment vanished and the service is stable on the previous task definition (what waitUntilServicesStable calls success)', async () => {
    const ctx = testContext(inputs);
    const started = service([deployment('d-new', NEW, 'PRIMARY', 'IN_PROGRESS'), deployment('d-old', OLD, 'ACTIVE', 'COMPLETED')]);
    const rolledBack = service([deployment('d-back', OLD, 'PRIMARY', 'COMPLETED')], {
      events: [{ message: '(service mapserver) rolling back to deployment d-old.' }],
    });
    describeSequence(service([deployment('d-old', OLD, 'PRIMARY', 'COMPLETED')]), started, rolledBack);
    ecs.on(UpdateServiceCommand).resolves({ service: started });
    await expect(deployService(ctx, DIGEST_IMAGE, timing())).rejects.toThrow(/was rolled back \(the service now runs .*mapserver:6\).*rolling back to deployment/);
  });

  it('times out after wait-minutes with what is left', async () => {
    const ctx = testContext(inputs);
    const started = service([deployment('d-new', NEW, 'PRIMARY', 'IN_PROGRESS'), deployment('d-old', OLD, 'ACTIVE', 'COMPLETED')]);
    ecs.on(DescribeServicesCommand).resolves({ services: [started] });
    ecs.on(UpdateServiceCommand).resolves({ service: started });
    const error = (await deployService(ctx, DIGEST_IMAGE, timing()).catch((e: unknown) => e)) as StepFailure;
    expect(error).toBeInstanceOf(StepFailure);
    expect(error.message).toMatch(/Timed out after 2m00s waiting for the deployment of mapserver:7/);
    expect(error.state).toMatch(/still rolling out/);
  });

  it('rides out throttling through the SDK retries of the clients the action makes', async () => {
    const made = createClients('us-east-1', {});
    const maxAttempts = await made.ecs.config.maxAttempts();
    made.destroy();
    expect(maxAttempts).toBeGreaterThanOrEqual(3);
    const done = service([deployment('d-new', NEW, 'PRIMARY', 'COMPLETED')]);
    const handler = scriptedHandler([
      { status: 400, body: JSON.stringify({ __type: 'ThrottlingException', message: 'Rate exceeded' }) },
      { status: 200, body: JSON.stringify({ services: [done] }) },
      // No revision of the family yet (DescribeTaskDefinition before registering).
      { status: 400, body: JSON.stringify({ __type: 'ClientException', message: 'Unable to describe task definition.' }) },
      { status: 200, body: JSON.stringify({ taskDefinition: { taskDefinitionArn: NEW } }) },
      // The image the service runs now, for its rollback tag.
      { status: 200, body: JSON.stringify({ taskDefinition: { taskDefinitionArn: OLD, containerDefinitions: [{ name: 'mapserver', image: 'mapserver:old' }] } }) },
      { status: 200, body: JSON.stringify({ service: done }) },
      { status: 400, body: JSON.stringify({ __type: 'ThrottlingException', message: 'Rate exceeded' }) },
      { status: 200, body: JSON.stringify({ services: [done] }) },
    ]);
    ecs.restore();
    const client = new ECSClient({ region: 'us-east-1', maxAttempts, retryMode: 'standard', requestHandler: handler, credentials: { accessKeyId: 'unit', secretAccessKey: 'unit' } });
    const ctx = testContext(inputs, { clients: { ecs: client, destroy: () => client.destroy() } as unknown as AwsClients });
    try {
      await expect(deployService(ctx, DIGEST_IMAGE, timing())).resolves.toEqual({ taskDefinitionArn: NEW });
      // The two throttled retries, and the read of the current task definition's image for its rollback tag.
      expect(handler.requests).toHaveLength(8);
    } finally {
      client.destroy();
    }
  });
});

describe('deployService before anything changes', () => {
  it('refuses a missing cluster before registering anything', async () => {
    ecs.on(DescribeServicesCommand).rejects(Object.assign(new Error('Cluster not found.'), { name: 'ClusterNotFoundException' }));
    const error = (await deployService(testContext(inputs), DIGEST_IMAGE, timing()).catch((e: unknown) => e)) as StepFailure;
    expect(error.message).toBe('ECS cluster mapserver does not exist; run the bootstrap command first');
    expect(error.state).toBe('nothing changed');
    expect(ecs.commandCalls(RegisterTaskDefinitionCommand)).toHaveLength(0);
  });
});

describe('deployService in a GitHub Actions run', () => {
  const SHA = '0123456789abcdef0123456789abcdef01234567';
  const runEnv = (runId: string): NodeJS.ProcessEnv => ({
    AWS_REGION: 'us-east-1',
    GITHUB_ACTIONS: 'true',
    GITHUB_SERVER_URL: 'https://github.com',
    GITHUB_REPOSITORY: 'acme/maps',
    GITHUB_SHA: SHA,
    GITHUB_RUN_ID: runId,
    GITHUB_RUN_ATTEMPT: '1',
  });

  it('tags the revision it registers with the run, outside the definition hash', async () => {
    const ctx = testContext(inputs, { env: runEnv('42') });
    const done = service([deployment('d-new', NEW, 'PRIMARY', 'COMPLETED')]);
    describeSequence(service([deployment('d-old', OLD, 'PRIMARY', 'COMPLETED')]), done);
    ecs.on(UpdateServiceCommand).resolves({ service: done });
    await deployService(ctx, DIGEST_IMAGE, timing());
    const digest = definitionDigest(await loadTaskDefinition(ctx.root, ctx.settings, DIGEST_IMAGE));
    expect(ecs.commandCalls(RegisterTaskDefinitionCommand)[0]?.args[0].input.tags).toEqual([
      { key: 'mapserver-ecs:repository', value: 'https://github.com/acme/maps' },
      { key: 'mapserver-ecs:commit', value: SHA },
      { key: 'mapserver-ecs:run', value: 'https://github.com/acme/maps/actions/runs/42' },
      { key: DEFINITION_HASH_TAG, value: digest },
    ]);
  });

  it('adds no provenance tag outside a workflow run', async () => {
    const ctx = testContext(inputs);
    const done = service([deployment('d-new', NEW, 'PRIMARY', 'COMPLETED')]);
    describeSequence(service([deployment('d-old', OLD, 'PRIMARY', 'COMPLETED')]), done);
    ecs.on(UpdateServiceCommand).resolves({ service: done });
    await deployService(ctx, DIGEST_IMAGE, timing());
    expect(ecs.commandCalls(RegisterTaskDefinitionCommand)[0]?.args[0].input.tags?.map((t) => t.key)).toEqual([DEFINITION_HASH_TAG]);
  });

  it('is a no-op when another run registered the same definition and the service runs it', async () => {
    const ctx = testContext(inputs, { env: runEnv('43') });
    const digest = definitionDigest(await loadTaskDefinition(ctx.root, ctx.settings, DIGEST_IMAGE));
    const earlierRun = [{ key: 'mapserver-ecs:run', value: 'https://github.com/acme/maps/actions/runs/42' }, { key: DEFINITION_HASH_TAG, value: digest }];
    ecs.on(DescribeTaskDefinitionCommand).resolves({ taskDefinition: { taskDefinitionArn: OLD, revision: 6, status: 'ACTIVE' }, tags: earlierRun });
    ecs.on(DescribeServicesCommand).resolves({ services: [service([deployment('d-old', OLD, 'PRIMARY', 'COMPLETED')], { desiredCount: 1 })] });
    await expect(decideDeploy(ctx, DIGEST_IMAGE)).resolves.toMatchObject({ unchanged: true, taskDefinitionArn: OLD });
    await expect(deployService(ctx, DIGEST_IMAGE, timing())).resolves.toEqual({ taskDefinitionArn: OLD, unchanged: true });
    expect(ecs.commandCalls(RegisterTaskDefinitionCommand)).toHaveLength(0);
    expect(ecs.commandCalls(UpdateServiceCommand)).toHaveLength(0);
  });
});

describe('deployCommand', () => {
  it('requires an image by digest before any call', () => {
    expect(() => testContext({ ...inputs, image: 'mapserver:latest' })).toThrow(InputError);
    expect(() => testContext({ ...inputs, image: 'mapserver:latest' })).toThrow(/image: expected an image by digest for the deploy command/);
    expect(ecs.calls()).toHaveLength(0);
  });

  it('sets the task-definition-arn output', async () => {
    const ctx = testContext({ ...inputs, image: DIGEST_IMAGE });
    const done = service([deployment('d-new', NEW, 'PRIMARY', 'COMPLETED')]);
    ecs.on(DescribeServicesCommand).resolves({ services: [done] });
    ecs.on(UpdateServiceCommand).resolves({ service: done });
    await deployCommand(ctx);
    expect(ctx.reporter.outputs().get('task-definition-arn')).toBe(NEW);
  });
});

describe('deploymentConfiguration', () => {
  const percentages = (hostPort: number, desiredCount: number, maxSize: number) => {
    const { minimumHealthyPercent, maximumPercent } = deploymentConfiguration({ hostPort, desiredCount, maxSize });
    return [minimumHealthyPercent, maximumPercent];
  };

  it('starts new tasks before stopping old ones when they fit: a dynamic port, or a spare instance', () => {
    expect(percentages(0, 4, 2)).toEqual([100, 200]);
    expect(percentages(8080, 1, 2)).toEqual([100, 200]);
    expect(percentages(8080, 2, 3)).toEqual([100, 150]);
  });

  it('with a static port and no spare instance, never asks for more tasks than max-size and replaces one task at a time', () => {
    for (const [desired, maxSize] of [[2, 2], [3, 3], [5, 5], [1, 1], [4, 5]] as const) {
      const [min = 0, max = 0] = percentages(8080, desired, maxSize);
      const most = Math.floor((desired * max) / 100);
      const least = Math.ceil((desired * min) / 100);
      expect(most).toBeLessThanOrEqual(maxSize);
      // Room for ECS to move: start one more task, or stop one.
      expect(most - least).toBeGreaterThanOrEqual(1);
    }
    expect(percentages(8080, 2, 2)).toEqual([50, 100]);
  });
});

describe('images a deploy keeps from the lifecycle policy', () => {
  it('tags the new image deployed-<service> and the previous one rollback-<service>', async () => {
    const ctx = testContext(inputs);
    describeSequence(service([deployment('ecs-svc/1', OLD, 'PRIMARY', 'COMPLETED')]), service([deployment('ecs-svc/2', NEW, 'PRIMARY', 'COMPLETED')]));
    ecs.on(UpdateServiceCommand).resolves({ service: service([deployment('ecs-svc/2', NEW, 'PRIMARY', 'IN_PROGRESS')]) });
    await deployService(ctx, DIGEST_IMAGE, timing());
    const tagged = ecr.commandCalls(PutImageCommand).map((c) => [c.args[0].input.imageDigest, c.args[0].input.imageTag]);
    expect(tagged).toEqual([
      [`sha256:${'b'.repeat(64)}`, 'rollback-mapserver'],
      [`sha256:${'a'.repeat(64)}`, 'deployed-mapserver'],
    ]);
  });

  it('leaves images of other registries alone, and a refused tag is a warning, not a failed deploy', async () => {
    const ctx = testContext(inputs);
    describeSequence(service([deployment('ecs-svc/1', OLD, 'PRIMARY', 'COMPLETED')]), service([deployment('ecs-svc/2', NEW, 'PRIMARY', 'COMPLETED')]));
    ecs.on(UpdateServiceCommand).resolves({ service: service([deployment('ecs-svc/2', NEW, 'PRIMARY', 'IN_PROGRESS')]) });
    ecr.on(PutImageCommand).rejects(Object.assign(new Error('not authorized to perform ecr:PutImage'), { name: 'AccessDeniedException' }));
    await expect(deployService(ctx, DIGEST_IMAGE, timing())).resolves.toEqual({ taskDefinitionArn: NEW });
    expect(ctx.log()).toMatch(/Could not tag .* deployed-mapserver \(AccessDeniedException: not authorized/);
  });

  it('tags no image of another registry', async () => {
    const other = `ghcr.io/acme/mapserver@sha256:${'a'.repeat(64)}`;
    const ctx = testContext({ ...inputs, image: other });
    describeSequence(service([deployment('ecs-svc/1', OLD, 'PRIMARY', 'COMPLETED')]), service([deployment('ecs-svc/2', NEW, 'PRIMARY', 'COMPLETED')]));
    ecs.on(UpdateServiceCommand).resolves({ service: service([deployment('ecs-svc/2', NEW, 'PRIMARY', 'IN_PROGRESS')]) });
    await deployService(ctx, other, timing());
    // Only the previous image, which is in the repository, gets its rollback tag.
    expect(ecr.commandCalls(PutImageCommand).map((c) => c.args[0].input.imageTag)).toEqual(['rollback-mapserver']);
  });
});
