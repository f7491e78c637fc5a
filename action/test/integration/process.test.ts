import { describe, expect, it } from '@jest/globals';
import { PassThrough } from 'node:stream';
import { StepFailure } from '../../src/errors.js';
import { run } from '../../src/process.js';
import { TerminalReporter } from '../../src/reporter.js';

function reporter() {
  const stream = new PassThrough();
  const chunks: string[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c.toString()));
  return { reporter: new TerminalReporter(stream), text: () => chunks.join('') };
}

describe('run', () => {
  it('streams each line with its label and returns the output', async () => {
    const { reporter: r, text } = reporter();
    const result = await run(r, 'bash', ['-c', 'echo one; echo two >&2; printf three'], { label: 'tool' });
    expect(result.stdout).toBe('one\nthree');
    // The two streams interleave in any order, but never inside a line.
    expect(text().split('\n').sort()).toEqual(['', 'tool: one', 'tool: three', 'tool: two']);
  });

  it('fails with the exit code, the last lines and the state left', async () => {
    const { reporter: r } = reporter();
    const failing = run(r, 'bash', ['-c', 'for i in $(seq 1 30); do echo line $i; done; exit 3'], {
      stream: false,
      tailLines: 2,
      stateOnFailure: 'nothing was changed',
    });
    await expect(failing).rejects.toThrow(StepFailure);
    await failing.catch((error: StepFailure) => {
      expect(error.message).toMatch(/bash -c .* exited with code 3\nLast lines:\n {2}line 29\n {2}line 30$/);
      expect(error.state).toBe('nothing was changed');
    });
  });

  it('says when the command does not exist', async () => {
    const { reporter: r } = reporter();
    await expect(run(r, 'no-such-tool-here', [])).rejects.toThrow(/no-such-tool-here/);
  });

  it('passes standard input', async () => {
    const { reporter: r } = reporter();
    expect((await run(r, 'cat', [], { input: 'secret-free', stream: false })).stdout).toBe('secret-free');
  });
});
