// The action bundle as the GitHub runner runs it: inputs, exit codes, error annotations, outputs.
import { describe, expect, it } from '@jest/globals';
import { runActionBundle } from '../support/action-runner.js';

const STACK_LINE = /\n\s+at .+:\d+:\d+/;

describe('action bundle contract', () => {
  it('fails on an unknown command, naming the input and the valid values, with no stack trace', () => {
    const run = runActionBundle({ command: 'bogus' });
    expect(run.exitCode).toBe(1);
    expect(run.stdout).toMatch(/::error::Invalid input:%0A {2}- command: expected one of release, bake, image, deploy, roll, bootstrap, cleanup, sync-mapfiles, lint-mapfiles, preview, got "bogus"/);
    expect(run.stdout + run.stderr).not.toMatch(STACK_LINE);
  });

  it('reports all bad inputs together before any AWS call', () => {
    const run = runActionBundle({ command: 'deploy', 'aws-region': 'moon-1', bucket: 'Not_A_Bucket', 'host-port': 'http', 'dry-run': 'perhaps' });
    expect(run.exitCode).toBe(1);
    for (const input of ['aws-region', 'bucket', 'host-port', 'dry-run']) expect(run.stdout).toContain(`- ${input}: `);
    expect(run.stdout).not.toMatch(/Could not load credentials|ECONNREFUSED/);
  });

  it('warns about inputs it does not know', () => {
    const run = runActionBundle({ command: 'bogus', 'not-an-input': 'x' });
    expect(run.stdout).toMatch(/::warning::Unknown input "not-an-input"/);
  });
});
