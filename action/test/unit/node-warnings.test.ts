import { EventEmitter } from 'node:events';
import { describe, expect, it } from '@jest/globals';
import { dropSdkNodeVersionWarning } from '../../src/node-warnings.js';

/** A stand-in process whose emitWarning records what would have been printed. */
function fakeProcess() {
  const emitted: string[] = [];
  const proc = Object.assign(new EventEmitter(), {
    emitWarning: (warning: string | Error, options?: unknown) => {
      const type = typeof options === 'string' ? options : ((options as { type?: string } | undefined)?.type ?? 'Warning');
      emitted.push(warning instanceof Error ? `${warning.name}: ${warning.message}` : `${type}: ${warning}`);
    },
  });
  return { proc: proc as unknown as NodeJS.Process, emitted };
}

describe('dropSdkNodeVersionWarning', () => {
  it("drops the SDK's Node version notice, in each form emitWarning takes", () => {
    const { proc, emitted } = fakeProcess();
    dropSdkNodeVersionWarning(proc);
    proc.emitWarning('NodeVersionSupportWarning: The AWS SDK for JavaScript (v3)\nversions published after ...');
    proc.emitWarning('The AWS SDK for JavaScript (v3) ...', 'NodeVersionSupportWarning');
    proc.emitWarning('The AWS SDK for JavaScript (v3) ...', { type: 'NodeVersionSupportWarning' });
    expect(emitted).toEqual([]);
  });

  it('passes every other warning', () => {
    const { proc, emitted } = fakeProcess();
    dropSdkNodeVersionWarning(proc);
    proc.emitWarning('something is deprecated', 'DeprecationWarning');
    proc.emitWarning('a plain warning mentioning NodeVersionSupportWarning later');
    proc.emitWarning(new Error('boom'));
    expect(emitted).toEqual(['DeprecationWarning: something is deprecated', 'Warning: a plain warning mentioning NodeVersionSupportWarning later', 'Error: boom']);
  });
});
