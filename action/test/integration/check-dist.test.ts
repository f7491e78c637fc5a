// The committed bundles must be what the source builds to: GitHub runs action/dist, and the AMI
// runs the mirror's bundle from the Packer overlay, not the source.
import { describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = new URL('../../../', import.meta.url).pathname;

const bundles = [
  { entry: 'action/src/index.ts', committed: 'action/dist' },
  { entry: 'action/src/mirror/main.ts', committed: 'packer/files/usr/local/lib/mapserver-ecs/mirror' },
];

describe('check-dist', () => {
  it.each(bundles)('$committed equals a fresh build of $entry (run npm run build and commit)', ({ entry, committed }) => {
    const out = mkdtempSync(join(tmpdir(), 'dist-'));
    try {
      execFileSync(join(root, 'node_modules/.bin/ncc'), ['build', entry, '-o', out, '--license', 'licenses.txt', '--target', 'es2022', '--quiet'], {
        cwd: root,
        stdio: 'pipe',
      });
      for (const file of ['index.js', 'licenses.txt']) {
        const fresh = readFileSync(join(out, file), 'utf8');
        const kept = readFileSync(join(root, committed, file), 'utf8');
        expect({ file, same: kept === fresh }).toEqual({ file, same: true });
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
