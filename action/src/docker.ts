// The docker CLI, as the image step and the ECR login run it.
import type { CommandContext } from './context.js';
import { run, type RunOptions, type RunResult } from './process.js';

/** Runs the docker CLI; replaced in unit tests, which start no processes. */
export type DockerCli = (args: readonly string[], options?: RunOptions) => Promise<RunResult>;

/** docker on PATH, with the context's environment under any variables a call adds (DOCKER_CONFIG). */
export function dockerCli(ctx: CommandContext): DockerCli {
  return (args, options = {}) => {
    const { env: extraEnv, ...rest } = options;
    return run(ctx.reporter, 'docker', args, { label: 'docker', env: { ...ctx.env, ...extraEnv }, ...rest });
  };
}
