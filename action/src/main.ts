// The GitHub Action entry: inputs from the runner, outputs and the job summary back to it.
import * as core from '@actions/core';
import { formatError, InputError } from './errors.js';
import { INPUTS, type InputName } from './inputs.js';
import { GitHubReporter } from './reporter.js';
import { runCommand } from './run-command.js';
import { parseSettings } from './settings.js';

/** Reads an input the way the runner passes it: INPUT_<NAME> with the name upper-cased, hyphens kept. */
export function actionInput(env: NodeJS.ProcessEnv): (name: InputName) => string {
  return (name) => env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`] ?? '';
}

export async function runAction(env: NodeJS.ProcessEnv): Promise<void> {
  const reporter = new GitHubReporter(env);
  try {
    const unknown = Object.keys(env)
      .filter((key) => key.startsWith('INPUT_'))
      .map((key) => key.slice('INPUT_'.length).toLowerCase())
      .filter((name) => !INPUTS.some((i) => i.name === name));
    for (const name of unknown) core.warning(`Unknown input "${name}" is ignored; see action.yml for the inputs.`);
    const settings = parseSettings(actionInput(env), [], env);
    await runCommand(settings, reporter, env);
  } catch (error) {
    core.setFailed(formatError(error));
    if (!(error instanceof InputError) && env.RUNNER_DEBUG === '1' && error instanceof Error && error.stack) {
      core.debug(error.stack);
    }
  }
}
