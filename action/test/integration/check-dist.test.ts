// The committed bundle must be what the source builds to: GitHub runs action/dist, not the source.
import { describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = new URL('../../../', import.meta.url).pathname;

describe('check-dist', () => {
  it('action/dist equals a fresh build of action/src (run npm run build and commit)', () => {
    const out = mkdtempSync(join(tmpdir(), 'dist-'));
    try {
      execFileSync(
        join(root, 'node_modules/.bin/ncc'),
        ['build', 'action/src/index.ts', '-o', out, '--license', 'licenses.txt', '--target', 'es2022', '--quiet'],
        { cwd: root, stdio: 'pipe' },
      );
      for (const file of ['index.js', 'licenses.txt']) {
        const fresh = readFileSync(join(out, file), 'utf8');
        const committed = readFileSync(join(root, 'action/dist', file), 'utf8');
        expect({ file, same: committed === fresh }).toEqual({ file, same: true });
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
