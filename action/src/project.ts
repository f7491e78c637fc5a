// Where the project's templates (packer/, docker/, ecs/) are: beside the action when it runs from a
// checkout of this repository (as `uses: owner/repo/action@v1` does), or MAPSERVER_ECS_ROOT.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { StepFailure } from './errors.js';

const MARKERS = ['packer', 'docker', 'ecs'];

function isProjectRoot(dir: string): boolean {
  return MARKERS.every((m) => existsSync(join(dir, m)));
}

function walkUp(start: string): string | undefined {
  let dir = resolve(start);
  for (;;) {
    if (isProjectRoot(dir)) return dir;
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

export function projectRoot(env: NodeJS.ProcessEnv): string {
  const candidates = [env.MAPSERVER_ECS_ROOT, process.argv[1] ? dirname(resolve(process.argv[1])) : undefined, process.cwd()];
  for (const candidate of candidates) {
    if (!candidate) continue;
    const found = walkUp(candidate);
    if (found) return found;
  }
  throw new StepFailure(
    `Cannot find the project's templates (folders ${MARKERS.join(', ')}) above ${process.argv[1] ?? process.cwd()}; set MAPSERVER_ECS_ROOT to the repository checkout`,
  );
}
