// Pipeline: wall time and AWS API calls of the emulated pipeline by step, the CLI run from source
// against the emulator (moto behind the emulator's proxy). Calls are counted by an interceptor on the
// proxy's chain, so they are the calls the CLI made (retries included), not the proxy's own.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmulator, type Emulator } from '../emulator/start.js';
import { startRegistry } from '../support/registry.js';
import type { Interceptor } from '../emulator/types.js';
import { countResources, imageRef, prepareScenario, registerGroupInstances, runCli, scenarioClients, type ResourceCount } from './scenario.js';

export interface PipelineStep {
  step: string;
  command: string;
  seconds: number;
  aws_calls: number;
  calls_by_operation: Record<string, number>;
}

export interface PipelineResult {
  note: string;
  steps: PipelineStep[];
  release: PipelineStep;
  /** A release that bakes (real Packer), builds, pushes, deploys and rolls; then the same again, which reuses everything. */
  full_release: PipelineStep;
  noop_release: PipelineStep;
  resources: ResourceCount;
}

/** Counts calls by service:operation while armed. */
export function callCounter(): { interceptor: Interceptor; take(): Record<string, number> } {
  let counts: Record<string, number> = {};
  return {
    interceptor: async (request, next) => {
      const key = `${request.service ?? (request.url.startsWith('/moto-api') ? 'moto' : 's3')}:${request.action ?? request.method}`;
      counts[key] = (counts[key] ?? 0) + 1;
      return next();
    },
    take() {
      const taken = counts;
      counts = {};
      return taken;
    },
  };
}

const total = (counts: Record<string, number>): number => Object.values(counts).reduce((a, b) => a + b, 0);

export async function measurePipeline(log: (line: string) => void): Promise<PipelineResult> {
  const counter = callCounter();
  let emulator: Emulator | undefined;
  const clients = { destroy: () => undefined } as { destroy(): void };
  const work = mkdtempSync(join(tmpdir(), 'bench-pipeline-'));
  let registry: { address: string; stop(): Promise<void> } | undefined;
  try {
    // One poll per instance refresh and deployment: the figures are the pipeline's own work, not
    // AWS's rollout time.
    emulator = await startEmulator({ faults: [counter.interceptor], refreshSteps: 1, deploymentSteps: 1 });
    const direct = scenarioClients(emulator.motoEndpoint);
    clients.destroy = () => direct.destroy();
    const { common, amis } = await prepareScenario(direct);
    counter.take();
    const steps: PipelineStep[] = [];
    const step = async (name: string, args: string[], env: Record<string, string> = emulator!.env): Promise<PipelineStep> => {
      const run = await runCli(env, args);
      if (run.code !== 0) throw new Error(`${args[0]} exited with ${run.code}:\n${run.stderr.slice(-2000)}`);
      const calls = counter.take();
      const measured = { step: name, command: `mapserver-ecs ${args[0]}`, seconds: Number(run.seconds.toFixed(2)), aws_calls: total(calls), calls_by_operation: calls };
      log(`  ${name.padEnd(10)} ${measured.seconds.toFixed(2).padStart(7)} s  ${String(measured.aws_calls).padStart(4)} AWS calls`);
      return measured;
    };
    steps.push(await step('bootstrap', ['bootstrap', ...common, '--ami-id', amis[0] ?? '', '--image', imageRef('1')]));
    await registerGroupInstances(direct, emulator.motoEndpoint);
    counter.take();
    steps.push(await step('deploy', ['deploy', ...common, '--image', imageRef('2')]));
    steps.push(await step('roll', ['roll', ...common, '--ami-id', amis[1] ?? '']));
    await registerGroupInstances(direct, emulator.motoEndpoint);
    counter.take();
    steps.push(await step('cleanup', ['cleanup', '--keep-amis', '1']));
    await registerGroupInstances(direct, emulator.motoEndpoint);
    counter.take();
    const release = await step('release', ['release', ...common, '--ami-id', amis[2] ?? '', '--image', imageRef('3'), '--keep-amis', '1']);
    // A release that makes everything (Packer against the emulator, the image built with the local
    // cache and pushed to a registry of its own), then the same release again: nothing changed, so
    // it reads, reuses and stops.
    registry = await startRegistry(work);
    await registerGroupInstances(direct, emulator.motoEndpoint);
    counter.take();
    const releaseEnv = { ...emulator.env, MAPSERVER_ECS_BUILD_DIR: join(work, 'packer'), GITHUB_SHA: 'be4c4be4'.repeat(5) };
    const releaseArgs = ['release', ...common, '--registry', registry.address, '--keep-amis', '1'];
    const full = await step('release (full)', releaseArgs, releaseEnv);
    await registerGroupInstances(direct, emulator.motoEndpoint);
    counter.take();
    const noop = await step('release (no-op)', releaseArgs, releaseEnv);
    const resources = await countResources(direct);
    return {
      note: 'CLI from source against moto behind the shim (one poll per refresh/deployment); release with --ami-id and --image given, so base-ami, bake and image stand aside; release (full) bakes with Packer, builds and pushes the image to a local registry; release (no-op) is the same release again',
      steps,
      release,
      full_release: full,
      noop_release: noop,
      resources,
    };
  } finally {
    clients.destroy();
    await emulator?.stop();
    if (registry) {
      // Local tags of the pushed image; its layers stay in the build cache.
      const tags = execFileSync('docker', ['image', 'ls', '--format', '{{.Repository}}:{{.Tag}}', '--filter', `reference=${registry.address}/*`], { encoding: 'utf8' })
        .split('\n')
        .filter((t) => t.trim() !== '' && !t.endsWith(':<none>'));
      if (tags.length > 0) execFileSync('docker', ['image', 'rm', ...tags], { stdio: 'ignore' });
      await registry.stop();
    }
    rmSync(work, { recursive: true, force: true });
  }
}
