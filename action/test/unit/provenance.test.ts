// Provenance from the runner's variables: present in a workflow run, absent elsewhere, and never
// carrying a malformed value into a tag or label.
import { describe, expect, it } from '@jest/globals';
import { provenanceLabels, provenanceTags, readProvenance } from '../../src/provenance.js';

const SHA = '0123456789abcdef0123456789abcdef01234567';
const RUN: NodeJS.ProcessEnv = {
  GITHUB_ACTIONS: 'true',
  GITHUB_SERVER_URL: 'https://github.com',
  GITHUB_REPOSITORY: 'acme/maps.service',
  GITHUB_SHA: SHA,
  GITHUB_RUN_ID: '987654321',
  GITHUB_RUN_ATTEMPT: '1',
};

describe('readProvenance', () => {
  it('names the repository, the commit and the run of a workflow run', () => {
    expect(readProvenance(RUN)).toEqual({
      repositoryUrl: 'https://github.com/acme/maps.service',
      commit: SHA,
      runUrl: 'https://github.com/acme/maps.service/actions/runs/987654321',
    });
  });

  it('names the attempt of a re-run', () => {
    expect(readProvenance({ ...RUN, GITHUB_RUN_ATTEMPT: '3' })?.runUrl).toBe('https://github.com/acme/maps.service/actions/runs/987654321/attempts/3');
    expect(readProvenance({ ...RUN, GITHUB_RUN_ATTEMPT: undefined })?.runUrl).toBe('https://github.com/acme/maps.service/actions/runs/987654321');
    expect(readProvenance({ ...RUN, GITHUB_RUN_ATTEMPT: '2; rm' })?.runUrl).toBe('https://github.com/acme/maps.service/actions/runs/987654321');
  });

  it('works with a GitHub Enterprise Server URL', () => {
    expect(readProvenance({ ...RUN, GITHUB_SERVER_URL: 'https://git.example.com:8443/' })?.repositoryUrl).toBe('https://git.example.com:8443/acme/maps.service');
  });

  it('is absent outside a workflow run (the CLI on a laptop)', () => {
    expect(readProvenance({})).toBeUndefined();
    expect(readProvenance({ ...RUN, GITHUB_ACTIONS: undefined })).toBeUndefined();
    expect(readProvenance({ ...RUN, GITHUB_ACTIONS: 'false' })).toBeUndefined();
    expect(readProvenance({ ...RUN, GITHUB_REPOSITORY: undefined })).toBeUndefined();
    expect(readProvenance({ ...RUN, GITHUB_RUN_ID: undefined })).toBeUndefined();
    expect(readProvenance({ ...RUN, GITHUB_SERVER_URL: undefined })).toBeUndefined();
  });

  it.each([
    ['a repository without owner', { GITHUB_REPOSITORY: 'maps' }],
    ['a repository with a space', { GITHUB_REPOSITORY: 'acme/maps service' }],
    ['a repository with a path', { GITHUB_REPOSITORY: 'acme/maps/../x' }],
    ['a run id that is not digits', { GITHUB_RUN_ID: '12a' }],
    ['a server URL with a path', { GITHUB_SERVER_URL: 'https://github.com/evil' }],
    ['a server URL of another scheme', { GITHUB_SERVER_URL: 'javascript:alert(1)' }],
  ])('is absent with %s', (_name, over) => {
    expect(readProvenance({ ...RUN, ...over })).toBeUndefined();
  });

  it('leaves out a commit that is not a commit id, keeping the rest', () => {
    expect(readProvenance({ ...RUN, GITHUB_SHA: 'main' })).toEqual({
      repositoryUrl: 'https://github.com/acme/maps.service',
      runUrl: 'https://github.com/acme/maps.service/actions/runs/987654321',
    });
  });
});

describe('provenance as tags and labels', () => {
  it('turns into mapserver-ecs: tags', () => {
    expect(provenanceTags(readProvenance(RUN))).toEqual([
      { key: 'mapserver-ecs:repository', value: 'https://github.com/acme/maps.service' },
      { key: 'mapserver-ecs:commit', value: SHA },
      { key: 'mapserver-ecs:run', value: 'https://github.com/acme/maps.service/actions/runs/987654321' },
    ]);
    expect(provenanceTags(readProvenance({ ...RUN, GITHUB_SHA: '' })).map((t) => t.key)).toEqual(['mapserver-ecs:repository', 'mapserver-ecs:run']);
  });

  it('turns into OCI labels and a run label', () => {
    expect(provenanceLabels(readProvenance({ ...RUN, GITHUB_RUN_ATTEMPT: '2' }))).toEqual({
      'org.opencontainers.image.source': 'https://github.com/acme/maps.service',
      'org.opencontainers.image.revision': SHA,
      'mapserver-ecs.run': 'https://github.com/acme/maps.service/actions/runs/987654321/attempts/2',
    });
  });

  it('adds nothing without provenance', () => {
    expect(provenanceTags(undefined)).toEqual([]);
    expect(provenanceLabels(undefined)).toEqual({});
  });

  it('leaves out a tag value longer than AWS allows', () => {
    const long = readProvenance({ ...RUN, GITHUB_REPOSITORY: `acme/${'m'.repeat(240)}` });
    expect(provenanceTags(long).map((t) => t.key)).toEqual(['mapserver-ecs:commit']);
  });
});
