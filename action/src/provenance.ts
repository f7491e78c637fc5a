// Provenance: which GitHub Actions run made an AMI, an image or a task definition revision (the
// repository, the commit and the run), read from the variables the runner sets. Outside a workflow
// (the CLI on a laptop) there is none, and nothing is added. Values that do not have the expected
// shape are left out rather than written into a tag or label.
//
// Not @actions/github's `context`: it is a module-level singleton that reads process.env and parses
// the event payload file on import (code here reads the environment it is handed, and tests pass
// env objects), and it pulls the Octokit client into the bundle for four variables.
import { isGitRevision } from './git.js';

export interface Provenance {
  /** https://github.com/owner/name */
  repositoryUrl: string;
  /** The commit the run checked out (GITHUB_SHA); absent when it is not a commit id. */
  commit?: string;
  /** https://github.com/owner/name/actions/runs/123, with /attempts/2 for a re-run. */
  runUrl: string;
}

/** owner/name, as GitHub allows them. */
const REPOSITORY = /^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/;
const RUN_ID = /^[0-9]{1,20}$/;
/** http(s)://host[:port], no path: github.com or a GitHub Enterprise Server. */
const SERVER_URL = /^https?:\/\/[A-Za-z0-9.-]+(:[0-9]{1,5})?$/;

/** The run that is executing this code, from the runner's variables; undefined outside a workflow or when they are malformed. */
export function readProvenance(env: NodeJS.ProcessEnv): Provenance | undefined {
  if (env.GITHUB_ACTIONS !== 'true') return undefined;
  const server = (env.GITHUB_SERVER_URL ?? '').trim().replace(/\/$/, '');
  const repository = (env.GITHUB_REPOSITORY ?? '').trim();
  const runId = (env.GITHUB_RUN_ID ?? '').trim();
  if (!SERVER_URL.test(server) || !REPOSITORY.test(repository) || !RUN_ID.test(runId)) return undefined;
  const attempt = (env.GITHUB_RUN_ATTEMPT ?? '').trim();
  const retried = /^[0-9]{1,6}$/.test(attempt) && Number(attempt) > 1;
  const commit = (env.GITHUB_SHA ?? '').trim();
  const repositoryUrl = `${server}/${repository}`;
  return {
    repositoryUrl,
    ...(isGitRevision(commit) ? { commit } : {}),
    runUrl: `${repositoryUrl}/actions/runs/${runId}${retried ? `/attempts/${Number(attempt)}` : ''}`,
  };
}

/** AWS tag keys, beside mapserver-ecs:managed and the others this pipeline sets. */
export const PROVENANCE_TAGS = {
  repository: 'mapserver-ecs:repository',
  commit: 'mapserver-ecs:commit',
  run: 'mapserver-ecs:run',
} as const;

/** AWS tag values hold at most 256 characters; a longer value is left out. */
const TAG_VALUE_LIMIT = 256;

/** Provenance as AWS tags (EC2 and ECS both take key/value pairs); none without provenance. */
export function provenanceTags(provenance: Provenance | undefined): Array<{ key: string; value: string }> {
  if (!provenance) return [];
  const tags = [
    { key: PROVENANCE_TAGS.repository, value: provenance.repositoryUrl },
    { key: PROVENANCE_TAGS.commit, value: provenance.commit ?? '' },
    { key: PROVENANCE_TAGS.run, value: provenance.runUrl },
  ];
  return tags.filter((t) => t.value !== '' && t.value.length <= TAG_VALUE_LIMIT);
}

/**
 * Provenance as OCI image labels. The run gets a label of this pipeline's own (as the content hash
 * does): org.opencontainers.image.url means the image's home page, which a single run is not.
 */
export function provenanceLabels(provenance: Provenance | undefined): Record<string, string> {
  if (!provenance) return {};
  return {
    'org.opencontainers.image.source': provenance.repositoryUrl,
    ...(provenance.commit ? { 'org.opencontainers.image.revision': provenance.commit } : {}),
    'mapserver-ecs.run': provenance.runUrl,
  };
}
