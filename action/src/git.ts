// The checkout's git revision, which tags the baked AMI and the built image.
import { run } from './process.js';
import type { Reporter } from './reporter.js';

/** A full commit id, as GITHUB_SHA holds it and `git rev-parse HEAD` prints it. */
const GIT_REVISION = /^[0-9a-f]{40}$/;

export function isGitRevision(value: string): boolean {
  return GIT_REVISION.test(value);
}

/** Runs git in a checkout and returns what it printed; replaced in unit tests. */
export type Git = (args: readonly string[]) => Promise<string>;

export function gitIn(reporter: Reporter, root: string): Git {
  return async (args) => (await run(reporter, 'git', ['-C', root, ...args], { stream: false })).stdout;
}

/** GITHUB_SHA when it names a commit: a workflow run's checkout, read without running git. */
export function revisionFromEnv(env: NodeJS.ProcessEnv): string | undefined {
  const fromEnv = env.GITHUB_SHA?.trim();
  return fromEnv && isGitRevision(fromEnv) ? fromEnv : undefined;
}

/** HEAD of the checkout; throws when git cannot say or prints no commit id. */
export async function headRevision(git: Git): Promise<string> {
  let revision: string;
  try {
    revision = (await git(['rev-parse', 'HEAD'])).trim();
  } catch (error) {
    throw new Error(`git rev-parse HEAD failed: ${(error as Error).message.split('\n')[0] ?? ''}`, { cause: error });
  }
  if (!isGitRevision(revision)) throw new Error(`git rev-parse HEAD printed ${JSON.stringify(revision)}, not a revision`);
  return revision;
}
