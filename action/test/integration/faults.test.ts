// The pipeline under faults: the CLI against the emulator while 20% of its AWS calls are throttled,
// fail with server errors, lose their connection or are delayed, and a CLI killed (SIGKILL) in the
// middle of a release and run again: every run must end in the right state with no duplicates.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import type { ChildProcess } from 'node:child_process';
import { countResources, imageRef, prepareScenario, registerGroupInstances, runCli, scenarioClients, type ScenarioClients } from '../../../scripts/bench/scenario.js';
import type { Interceptor } from '../../../scripts/emulator/types.js';
import { createFaultInjector, type FaultInjector } from '../../../scripts/emulator/faults.js';
import { startEmulator, type Emulator } from '../../../scripts/emulator/start.js';

jest.setTimeout(600_000);

let emulator: Emulator;
let faults: FaultInjector;
let direct: ScenarioClients;
let common: string[];
let amis: string[];
/** Set by a test: kills the running CLI right after this call has been answered by AWS. */
let killAfter: { call: string; child?: ChildProcess; killed: boolean } | undefined;

const killer: Interceptor = async (request, next) => {
  const answer = await next();
  const call = `${request.service ?? ''}:${request.action ?? ''}`;
  if (killAfter && !killAfter.killed && call === killAfter.call && answer.status === 200 && killAfter.child) {
    // The call took effect in AWS, but the CLI never hears back.
    killAfter.child.kill('SIGKILL');
    killAfter.killed = true;
  }
  return answer;
};

const cli = (args: string[], onStart?: (child: ChildProcess) => void) => runCli(emulator.env, args, onStart);
const failureText = (run: { code: number | null; stderr: string }): string => `exit ${run.code}\n${run.stderr.slice(-3000)}`;

beforeAll(async () => {
  faults = createFaultInjector({ rate: 0.2, seed: 20261125, latencyMs: 200 });
  // The killer sits inside the faults, so it sees only calls that reached AWS.
  emulator = await startEmulator({ faults: [faults.interceptor, killer], refreshSteps: 1, deploymentSteps: 1 });
  // Setup and checks talk to moto directly: no faults there.
  direct = scenarioClients(emulator.motoEndpoint);
  ({ common, amis } = await prepareScenario(direct, 5));
}, 120_000);

afterAll(async () => {
  direct?.destroy();
  await emulator?.stop();
});

describe('the pipeline at a 20% fault rate', () => {
  it('bootstrap creates each resource once', async () => {
    const run = await cli(['bootstrap', ...common, '--ami-id', amis[0] ?? '', '--image', imageRef('1')]);
    expect(run.code === 0 ? '' : failureText(run)).toBe('');
    expect(await countResources(direct)).toMatchObject({
      launchTemplates: 1,
      launchTemplateVersions: 1,
      defaultLaunchTemplateImage: amis[0],
      autoScalingGroups: 1,
      clusters: 1,
      capacityProviders: 1,
      services: 1,
      taskDefinitions: 1,
      repositories: 1,
    });
  });

  it('release deploys, rolls and cleans up to the right end state', async () => {
    await registerGroupInstances(direct, emulator.motoEndpoint);
    const run = await cli(['release', ...common, '--ami-id', amis[1] ?? '', '--image', imageRef('2'), '--keep-amis', '2']);
    expect(run.code === 0 ? '' : failureText(run)).toBe('');
    const count = await countResources(direct);
    expect(count).toMatchObject({ launchTemplateVersions: 2, defaultLaunchTemplateImage: amis[1], autoScalingGroups: 1, services: 1, taskDefinitions: 2, repositories: 1 });
    expect(count.serviceTaskDefinition).toMatch(/task-definition\/mapserver:2$/);
    // Faults were really injected, of every kind, while the CLI ran.
    expect(faults.stats.injected.throttle).toBeGreaterThan(0);
    expect(faults.stats.injected['server-error']).toBeGreaterThan(0);
    expect(faults.stats.injected.reset).toBeGreaterThan(0);
    expect(faults.stats.injected.latency).toBeGreaterThan(0);
  });
});

describe('a release killed midway, then run again', () => {
  it.each([
    ['after registering the task definition', 'ecs:RegisterTaskDefinition', 2, '3'],
    ['after creating the launch template version', 'ec2:CreateLaunchTemplateVersion', 3, '4'],
  ])('converges when killed %s', async (_when, call, amiIndex, image) => {
    await registerGroupInstances(direct, emulator.motoEndpoint);
    const before = await countResources(direct);
    killAfter = { call, killed: false };
    const killed = await cli(['release', ...common, '--ami-id', amis[amiIndex] ?? '', '--image', imageRef(image), '--keep-amis', '2'], (child) => {
      if (killAfter) killAfter.child = child;
    });
    expect(killAfter.killed).toBe(true);
    expect(killed.signal).toBe('SIGKILL');
    killAfter = undefined;

    await registerGroupInstances(direct, emulator.motoEndpoint);
    const again = await cli(['release', ...common, '--ami-id', amis[amiIndex] ?? '', '--image', imageRef(image), '--keep-amis', '2']);
    expect(again.code === 0 ? '' : failureText(again)).toBe('');
    const after = await countResources(direct);
    // One release's worth of change, however many times it ran: one new task definition revision
    // and one new launch template version, nothing else new.
    expect(after).toMatchObject({
      launchTemplates: 1,
      launchTemplateVersions: before.launchTemplateVersions + 1,
      defaultLaunchTemplateImage: amis[amiIndex],
      autoScalingGroups: 1,
      clusters: 1,
      capacityProviders: 1,
      services: 1,
      taskDefinitions: before.taskDefinitions + 1,
      repositories: 1,
    });
    expect(after.serviceTaskDefinition).toMatch(new RegExp(`task-definition/mapserver:${before.taskDefinitions + 1}$`));
  });
});
