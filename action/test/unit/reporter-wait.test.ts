import { describe, expect, it } from '@jest/globals';
import { PassThrough } from 'node:stream';
import { StepFailure } from '../../src/errors.js';
import { formatElapsed, TerminalReporter } from '../../src/reporter.js';
import { poll } from '../../src/wait.js';

function terminal(now: () => number = Date.now) {
  const stream = new PassThrough();
  const chunks: string[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c.toString()));
  return { reporter: new TerminalReporter(stream, now), text: () => chunks.join('') };
}

describe('formatElapsed', () => {
  it.each([
    [0, '0s'],
    [59_400, '59s'],
    [61_000, '1m01s'],
    [3_600_000, '60m00s'],
  ])('%d ms reads %s', (ms, text) => {
    expect(formatElapsed(ms)).toBe(text);
  });
});

describe('TerminalReporter', () => {
  it('indents grouped lines and says how long a group took', async () => {
    let t = 0;
    const { reporter, text } = terminal(() => t);
    await reporter.group('bake', async () => {
      reporter.info('packer: ok');
      t = 5000;
    });
    expect(text()).toBe('==> bake\n  packer: ok\n<== bake (5s)\n');
  });

  it('says a group failed and passes the error on', async () => {
    const { reporter, text } = terminal();
    await expect(reporter.group('roll', async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(text()).toMatch(/<== roll failed after/);
  });

  it('masks secrets in every line and in the summary', async () => {
    const { reporter, text } = terminal();
    reporter.mask('s3cr3t-token');
    reporter.info('login with s3cr3t-token');
    reporter.summaryRow('image', 'pushed with s3cr3t-token');
    await reporter.writeSummary('done');
    expect(text()).not.toContain('s3cr3t-token');
    expect(text()).toContain('login with ***');
  });

  it('keeps outputs in the order of the output list', () => {
    const { reporter } = terminal();
    reporter.setOutput('image-uri', 'repo@sha256:1');
    reporter.setOutput('ami-id', 'ami-12345678');
    expect([...reporter.outputs().keys()]).toEqual(['ami-id', 'image-uri']);
  });
});

describe('poll', () => {
  it('prints a progress line when the state changes and returns the result', async () => {
    let t = 0;
    const { reporter, text } = terminal(() => t);
    const states = ['IN_PROGRESS', 'IN_PROGRESS', 'COMPLETED'];
    const result = await poll(
      reporter,
      async () => {
        const state = states.shift() ?? 'COMPLETED';
        return state === 'COMPLETED' ? { done: 'ok', state } : { state };
      },
      { awaited: 'the rollout', timeoutMs: 60_000, intervalMs: 1000, now: () => t, sleep: async (ms) => void (t += ms) },
    );
    expect(result).toBe('ok');
    const lines = text().trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/waiting for the rollout \(\d+s elapsed\): IN_PROGRESS/);
  });

  it('times out with the last state and what was left', async () => {
    let t = 0;
    const { reporter } = terminal(() => t);
    const waiting = poll(reporter, async () => ({ state: 'PENDING' }), {
      awaited: 'the instance refresh',
      timeoutMs: 5000,
      intervalMs: 1000,
      stateOnTimeout: 'the refresh goes on in AWS',
      now: () => t,
      sleep: async (ms) => void (t += ms),
    });
    await expect(waiting).rejects.toThrow(StepFailure);
    await expect(waiting).rejects.toThrow(/Timed out after 5s waiting for the instance refresh; last state: PENDING/);
    await waiting.catch((error: StepFailure) => expect(error.state).toBe('the refresh goes on in AWS'));
  });
});
