// Workflow lint: every workflow in .github/workflows validates against GitHub's workflow schema,
// passes the action only inputs that action/action.yml declares, reads only outputs it declares,
// and pins every third-party action by commit. action/action.yml validates against the action schema.
import { describe, expect, it } from '@jest/globals';
import { createRequire } from 'node:module';
import { readdirSync, readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { COMMANDS, INPUT_NAMES, OUTPUTS, RELEASE_STEPS } from '../../src/inputs.js';

interface ValidationState {
  errors: Array<{ code: string; title: string; path?: string; detail?: string }>;
}
const validator = createRequire(import.meta.url)('@action-validator/core') as {
  validateWorkflow(source: string): ValidationState;
  validateAction(source: string): ValidationState;
};

const root = new URL('../../../', import.meta.url);
const read = (path: string): string => readFileSync(new URL(path, root), 'utf8');

interface Step {
  id?: string;
  name?: string;
  uses?: string;
  run?: string;
  if?: string;
  with?: Record<string, unknown>;
  env?: Record<string, unknown>;
}
interface Job {
  'runs-on'?: string;
  environment?: string | { name: string };
  permissions?: Record<string, string>;
  concurrency?: { group: string; 'cancel-in-progress': boolean | string };
  steps?: Step[];
  outputs?: Record<string, string>;
  strategy?: { matrix?: Record<string, unknown> };
}
interface Workflow {
  name: string;
  on: Record<string, unknown>;
  permissions?: Record<string, string>;
  concurrency?: { group: string; 'cancel-in-progress': boolean | string };
  jobs: Record<string, Job>;
}

const workflowFiles = readdirSync(new URL('.github/workflows/', root))
  .filter((f) => /\.ya?ml$/.test(f))
  .sort();
const workflows = new Map(workflowFiles.map((file) => [file, parse(read(`.github/workflows/${file}`)) as Workflow]));
const workflow = (file: string): Workflow => {
  const found = workflows.get(file);
  if (!found) throw new Error(`.github/workflows/${file} is missing`);
  return found;
};
const allSteps = (wf: Workflow): Step[] => Object.values(wf.jobs).flatMap((job) => job.steps ?? []);
/** Steps that run this repository's action (from its own checkout or the reusable workflow's). */
const actionSteps = (wf: Workflow): Step[] => allSteps(wf).filter((s) => /^\.\/(.*\/)?action$/.test(s.uses ?? ''));

const actionYml = parse(read('action/action.yml')) as {
  inputs: Record<string, unknown>;
  outputs: Record<string, unknown>;
  runs: { using: string; main: string };
};

function schemaErrors(state: ValidationState): string[] {
  return state.errors.map((e) => `${e.path ?? ''} ${e.title}${e.detail ? `: ${e.detail}` : ''}`);
}

describe('workflow files', () => {
  it('are the four the product needs', () => {
    expect(workflowFiles).toEqual(expect.arrayContaining(['ci.yml', 'release.yml', 'redeploy.yml', 'mapserver-ecs.yml']));
  });

  it.each(workflowFiles)('%s validates against the GitHub workflow schema', (file) => {
    expect(schemaErrors(validator.validateWorkflow(read(`.github/workflows/${file}`)))).toEqual([]);
  });

  it('the schema check is live: a job without runs-on or uses is refused', () => {
    const broken = read('.github/workflows/release.yml').replace(/^ {4}runs-on: .*$/m, '');
    expect(validator.validateWorkflow(broken).errors.length).toBeGreaterThan(0);
  });

  it.each(workflowFiles)('%s passes the action only inputs that action.yml declares, and a command', (file) => {
    const steps = actionSteps(workflow(file));
    for (const step of steps) {
      const keys = Object.keys(step.with ?? {});
      expect(keys.filter((key) => !(key in actionYml.inputs))).toEqual([]);
      expect(keys).toContain('command');
      const command = String(step.with?.command);
      if (!command.includes('${{')) expect(COMMANDS).toContain(command);
    }
  });

  it.each(workflowFiles)('%s reads only outputs that action.yml declares', (file) => {
    const wf = workflow(file);
    const text = read(`.github/workflows/${file}`);
    const actionIds = new Set(actionSteps(wf).map((s) => s.id).filter((id): id is string => id !== undefined));
    const declared = new Set(OUTPUTS.map((o) => o.name));
    for (const match of text.matchAll(/steps\.([\w-]+)\.outputs\.([\w-]+)/g)) {
      const [, id, output] = match;
      if (id && actionIds.has(id)) expect(declared).toContain(output);
    }
  });

  it.each(workflowFiles)('%s reads only inputs it declares', (file) => {
    const wf = workflow(file);
    const trigger = (wf.on.workflow_dispatch ?? wf.on.workflow_call) as { inputs?: Record<string, unknown> } | undefined;
    const declared = new Set(Object.keys(trigger?.inputs ?? {}));
    const text = read(`.github/workflows/${file}`);
    for (const match of text.matchAll(/\binputs\.([\w-]+)/g)) expect(declared).toContain(match[1]);
  });

  it.each(workflowFiles)('%s pins every third-party action by full commit SHA with its version in a comment', (file) => {
    const text = read(`.github/workflows/${file}`);
    const uses = [...text.matchAll(/^\s*(?:-\s+)?uses:\s*(\S+)(.*)$/gm)];
    expect(uses.length).toBeGreaterThan(0);
    for (const [, reference = '', rest = ''] of uses) {
      if (reference.startsWith('./')) continue;
      expect(reference).toMatch(/^[\w.-]+\/[\w./-]+@[0-9a-f]{40}$/);
      expect(rest).toMatch(/#\s*v\d+\.\d+\.\d+/);
    }
  });

  it('every workflow pins the same commit for the same action', () => {
    const pins = new Map<string, Set<string>>();
    for (const file of workflowFiles) {
      for (const [, name = '', sha = ''] of read(`.github/workflows/${file}`).matchAll(/uses:\s*([\w.-]+\/[\w./-]+)@([0-9a-f]{40})/g)) {
        pins.set(name, (pins.get(name) ?? new Set()).add(sha));
      }
    }
    for (const [name, shas] of pins) expect([name, shas.size]).toEqual([name, 1]);
  });
});

describe('action/action.yml', () => {
  it('validates against the GitHub action schema', () => {
    const source = read('action/action.yml');
    // GitHub runs JavaScript actions on node24, but the schema bundled with @action-validator/core
    // 0.6.0 predates it and lists node12/16/20 only. Validate everything else against the schema
    // with the runtime swapped for one it knows, and check the runtime itself separately.
    expect(actionYml.runs.using).toBe('node24');
    const runtimeKnownToSchema = source.replace(/^ {2}using: node24$/m, '  using: node20');
    expect(runtimeKnownToSchema).not.toBe(source);
    expect(schemaErrors(validator.validateAction(runtimeKnownToSchema))).toEqual([]);
  });

  it('has no mount-driver default, so an unset MOUNT_DRIVER variable means the AMI\'s driver, not mirror', () => {
    expect((actionYml.inputs as Record<string, { default?: string }>)['mount-driver']?.default ?? '').toBe('');
    for (const file of ['release.yml', 'redeploy.yml', 'rebake.yml']) {
      expect([file, actionSteps(workflow(file))[0]?.with?.['mount-driver']]).toEqual([file, '${{ vars.MOUNT_DRIVER }}']);
    }
  });

  it('declares every input name the CLI knows', () => {
    expect(Object.keys(actionYml.inputs)).toEqual([...INPUT_NAMES]);
  });
});

describe('release.yml', () => {
  const wf = workflow('release.yml');
  const job = Object.values(wf.jobs)[0] as Job;

  it('runs on pushes to main that change something a release uses, and nothing else', () => {
    expect(Object.keys(wf.on)).toEqual(['push']);
    const push = wf.on.push as { branches: string[]; paths: string[] };
    expect(push.branches).toEqual(['main']);
    expect(push.paths).toEqual(['packer/**', 'docker/**', 'ecs/**', 'action/dist/**', 'action/action.yml', '.github/workflows/release.yml', '.github/scripts/job-summary.sh']);
  });

  it('leaves out only what no release reads: a push of documentation or tests starts no run', () => {
    const push = wf.on.push as { paths: string[] };
    const matches = (file: string): boolean => push.paths.some((p) => (p.endsWith('/**') ? file.startsWith(p.slice(0, -2)) : file === p));
    for (const file of ['packer/scripts/install-mount-driver.sh', 'docker/Dockerfile', 'ecs/user-data.sh.hbs', 'action/dist/index.js', 'action/action.yml']) expect([file, matches(file)]).toEqual([file, true]);
    for (const file of ['README.md', 'action/test/unit/workflows.test.ts', 'scripts/bench/main.ts']) expect([file, matches(file)]).toEqual([file, false]);
  });

  it('passes the plan to the job summary, which says what was reused', () => {
    const last = (job.steps ?? []).at(-1);
    expect(last?.env?.PLAN).toBe('${{ steps.release.outputs.plan }}');
  });

  it('asks for an OIDC token and a read-only checkout only', () => {
    expect(wf.permissions).toEqual({ 'id-token': 'write', contents: 'read' });
    for (const j of Object.values(wf.jobs)) expect(j.permissions).toBeUndefined();
  });

  it('never runs two releases at once and never cancels one midway', () => {
    expect(wf.concurrency?.group).toBe('mapserver-ecs-deploy-production');
    expect(wf.concurrency?.['cancel-in-progress']).toBe(false);
  });

  it('waits for the production environment (approvals) and has one job', () => {
    expect(Object.keys(wf.jobs)).toHaveLength(1);
    expect(job.environment).toBe('production');
  });

  it('gets AWS credentials through OIDC before running release, with no stored keys', () => {
    const steps = job.steps ?? [];
    const credentials = steps.findIndex((s) => s.uses?.startsWith('aws-actions/configure-aws-credentials@'));
    const release = steps.findIndex((s) => s.uses === './action' && s.with?.command === 'release');
    expect(credentials).toBeGreaterThanOrEqual(0);
    expect(release).toBeGreaterThan(credentials);
    const credentialInputs = Object.keys(steps[credentials]?.with ?? {});
    expect(credentialInputs).toContain('role-to-assume');
    expect(credentialInputs).not.toContain('aws-access-key-id');
    expect(credentialInputs).not.toContain('aws-secret-access-key');
    expect(read('.github/workflows/release.yml')).not.toMatch(/secrets\./);
  });

  it('ends with a job summary of AMI, image digest, task definition and refresh, even on failure', () => {
    const last = (job.steps ?? []).at(-1);
    expect(last?.if).toMatch(/always\(\)/);
    expect(last?.run).toContain('.github/scripts/job-summary.sh');
    expect(Object.keys(last?.env ?? {})).toEqual(
      expect.arrayContaining(['OUTCOME', 'AMI_ID', 'IMAGE_URI', 'TASK_DEFINITION_ARN', 'INSTANCE_REFRESH_ID']),
    );
    // Values reach the script through env, not spliced into the shell text.
    expect(last?.run).not.toContain('${{');
  });
});

describe('rebake.yml', () => {
  const wf = workflow('rebake.yml');
  const job = Object.values(wf.jobs)[0] as Job;
  const release = actionSteps(wf)[0];

  it('runs weekly and by hand', () => {
    expect(Object.keys(wf.on).sort()).toEqual(['schedule', 'workflow_dispatch']);
    const schedule = wf.on.schedule as Array<{ cron: string }>;
    expect(schedule).toHaveLength(1);
    // Minute, hour, any day of the month, any month, one day of the week: once a week.
    expect(schedule[0]?.cron).toMatch(/^\d{1,2} \d{1,2} \* \* [0-6]$/);
  });

  it('shares the release concurrency group and never cancels midway', () => {
    expect(wf.concurrency?.group).toBe(workflow('release.yml').concurrency?.group);
    expect(wf.concurrency?.['cancel-in-progress']).toBe(false);
    expect(wf.permissions).toEqual({ 'id-token': 'write', contents: 'read' });
    expect(job.environment).toBe('production');
  });

  it('runs release without image and deploy, so it bakes and rolls only for a new base AMI (the hash check)', () => {
    expect(release?.with?.command).toBe('release');
    expect(String(release?.with?.['skip-steps']).split(',').sort()).toEqual(['deploy', 'image']);
    // The base AMI comes from the SSM parameter, never pinned here.
    expect(release?.with).not.toHaveProperty('base-ami-id');
    expect(release?.with).not.toHaveProperty('ami-id');
    expect(release?.with).not.toHaveProperty('force');
    const steps = job.steps ?? [];
    expect(steps.findIndex((s) => s.uses?.startsWith('aws-actions/configure-aws-credentials@'))).toBeLessThan(steps.indexOf(release as Step));
    expect(steps.some((s) => s.uses?.startsWith('hashicorp/setup-packer@'))).toBe(true);
  });

  it('passes the settings that reach the AMI and the instances exactly as release.yml does', () => {
    const main = actionSteps(workflow('release.yml'))[0];
    for (const name of ['aws-region', 'bucket', 'bucket-prefix', 'cluster', 'auto-scaling-group', 'launch-template', 'mount-driver', 'keep-amis']) {
      expect([name, release?.with?.[name]]).toEqual([name, main?.with?.[name]]);
    }
  });

  it('ends with the job summary and its plan, even on failure', () => {
    const last = (job.steps ?? []).at(-1);
    expect(last?.if).toMatch(/always\(\)/);
    expect(last?.run).toContain('.github/scripts/job-summary.sh');
    expect(last?.env?.PLAN).toBe('${{ steps.release.outputs.plan }}');
  });
});

describe('redeploy.yml', () => {
  const wf = workflow('redeploy.yml');
  const dispatch = wf.on.workflow_dispatch as { inputs: Record<string, { type: string; options?: string[] }> };
  const job = Object.values(wf.jobs)[0] as Job;
  const plan = (job.steps ?? []).find((s) => s.id === 'plan');

  it('is started by hand with an environment, the steps, and the image or AMI to roll to', () => {
    expect(Object.keys(wf.on)).toEqual(['workflow_dispatch']);
    expect(Object.keys(dispatch.inputs).sort()).toEqual(['ami-id', 'environment', 'image', 'steps']);
    expect(dispatch.inputs.environment?.type).toBe('environment');
    expect(job.environment).toBe('${{ inputs.environment }}');
  });

  it('offers only release steps and never bakes or builds', () => {
    const options = dispatch.inputs.steps?.options ?? [];
    expect(options.length).toBeGreaterThan(0);
    for (const option of options) {
      for (const step of option.split(',')) {
        expect(RELEASE_STEPS).toContain(step);
        expect(['base-ami', 'bake', 'image']).not.toContain(step);
      }
    }
  });

  it('computes skip-steps over exactly the release steps the action knows', () => {
    const loop = /for step in ([\w -]+); do/.exec(plan?.run ?? '');
    expect(loop?.[1]?.trim().split(/\s+/)).toEqual([...RELEASE_STEPS]);
    const release = actionSteps(wf)[0];
    expect(release?.with?.command).toBe('release');
    expect(release?.with?.['skip-steps']).toBe('${{ steps.plan.outputs.skip-steps }}');
  });

  it('shares the release concurrency group of its environment and never cancels midway', () => {
    expect(wf.concurrency?.group.replace('${{ inputs.environment }}', 'production')).toBe(workflow('release.yml').concurrency?.group);
    expect(wf.concurrency?.['cancel-in-progress']).toBe(false);
    expect(wf.permissions).toEqual({ 'id-token': 'write', contents: 'read' });
  });
});

describe('mapserver-ecs.yml (reusable)', () => {
  const wf = workflow('mapserver-ecs.yml');
  const call = wf.on.workflow_call as { inputs: Record<string, { required?: boolean }>; outputs: Record<string, unknown> };
  const job = Object.values(wf.jobs)[0] as Job;

  it('is callable from other repositories with any command', () => {
    expect(Object.keys(wf.on)).toEqual(['workflow_call']);
    expect(call.inputs.command?.required).toBe(true);
    const step = actionSteps(wf)[0];
    expect(step?.uses).toBe('./.mapserver-ecs/action');
    expect(step?.with?.command).toBe('${{ inputs.command }}');
  });

  it('passes every workflow input the action knows straight through', () => {
    const step = actionSteps(wf)[0];
    for (const name of Object.keys(call.inputs)) {
      if (INPUT_NAMES.includes(name)) expect(step?.with?.[name]).toBe(`\${{ inputs.${name} }}`);
    }
  });

  it('leaves mount-driver unset unless the caller sets it, so the action takes the driver recorded on the AMI', () => {
    expect((call.inputs['mount-driver'] as { default?: string } | undefined)?.default).toBe('');
    expect(actionSteps(wf)[0]?.with?.['mount-driver']).toBe('${{ inputs.mount-driver }}');
  });

  it('exposes only outputs the job sets from the action', () => {
    for (const name of Object.keys(call.outputs)) {
      expect(OUTPUTS.map((o) => o.name)).toContain(name);
      expect(job.outputs?.[name]).toBe(`\${{ steps.action.outputs.${name} }}`);
    }
  });

  it('serialises cluster-changing commands with the release group and never cancels midway', () => {
    expect(job.concurrency?.group).toContain("format('mapserver-ecs-deploy-{0}', inputs.environment)");
    expect(job.concurrency?.['cancel-in-progress']).toBe(false);
  });
});

describe('ci.yml', () => {
  const wf = workflow('ci.yml');
  const runs = allSteps(wf)
    .map((s) => s.run ?? '')
    .join('\n');

  it('runs on pull requests and on pushes to main', () => {
    expect(Object.keys(wf.on).sort()).toEqual(['pull_request', 'push']);
    expect(wf.on.push).toEqual({ branches: ['main'] });
    expect(wf.permissions).toEqual({ contents: 'read' });
  });

  it.each([
    ['setup', 'scripts/setup.sh'],
    ['typecheck', 'npm run --silent typecheck'],
    ['lint and shellcheck', 'scripts/lint.sh'],
    ['packer init (pinned plugin)', 'packer init packer'],
    ['packer fmt', 'packer fmt -check'],
    ['packer validate', 'packer validate -syntax-only packer'],
    ['workflow lint', 'action/test/unit/workflows.test.ts'],
    ['unit tests', 'npm run --silent test:unit'],
    ['check-dist', 'git diff --quiet --exit-code -- action/dist'],
    ['docker engine', 'scripts/docker-engine.sh'],
    ['base image', 'scripts/base-image.sh'],
    ['integration tests', 'npm run --silent test:integration'],
  ])('runs %s', (_what, command) => {
    expect(runs).toContain(command);
  });
  it('tests the bundles on Node 20 and on node24, the runtime action.yml names', () => {
    const bundle = wf.jobs.bundle;
    expect(bundle?.strategy?.matrix?.node).toEqual([20, 24]);
    const steps = bundle?.steps ?? [];
    expect(steps.find((s) => s.uses?.startsWith('actions/setup-node@'))?.with?.['node-version']).toBe('${{ matrix.node }}');
    const commands = steps.map((s) => s.run ?? '').join('\n');
    expect(commands).toContain('action/test/integration/action-contract.test.ts');
    expect(commands).toContain('mapserver-ecs/mirror/index.js');
    expect(read('action/action.yml')).toMatch(/using: ['"]?node24/);
  });
});
