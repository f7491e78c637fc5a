// lint-mapfiles with the image's MapServer against MapServer's own verdicts: msautotest (vendored;
// the verdict table is recomputed here with the image and must not have changed) and the second
// corpus when it is present (verdicts computed here).
import { beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { lintMapfiles } from '../../src/mapfiles/lint.js';
import { summaryLine } from '../../src/mapfiles/lint-output.js';
import { ensureImage } from '../../../scripts/support/image.js';
import { confusion, formatConfusion, mapfilesBelow } from '../support/corpus.js';
import { imageVerdicts, type VerdictTable } from '../support/mapserver-verdicts.js';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const msautotest = join(repoRoot, 'action', 'test', 'fixtures', 'msautotest');
const tableFile = join(repoRoot, 'action', 'test', 'fixtures', 'msautotest-verdicts.json');
const secondCorpus = join(repoRoot, '..', 'shared', 'corpus', 'mapfiles');

let image: string;
beforeAll(async () => {
  image = await ensureImage();
}, 1_800_000);

describe("lint-mapfiles with the image's MapServer on msautotest", () => {
  it("agrees with MapServer's verdict on every file, at the lines MapServer names", async () => {
    const stored = JSON.parse(readFileSync(tableFile, 'utf8')) as VerdictTable;
    const fresh = await imageVerdicts(image, msautotest, mapfilesBelow(msautotest));
    if (process.env.UPDATE_VERDICTS === '1') writeFileSync(tableFile, `${JSON.stringify({ ...stored, ...fresh }, null, 1)}\n`);
    else expect(fresh).toEqual({ mapserver: stored.mapserver, verdicts: stored.verdicts });

    const started = Date.now();
    const report = await lintMapfiles({ paths: [msautotest], mapfilesDir: msautotest, cwd: msautotest, env: process.env, projectRoot: repoRoot, mapserver: 'auto', image });
    const seconds = (Date.now() - started) / 1000;
    const c = confusion(report, msautotest, fresh.verdicts);
    process.stdout.write(`${formatConfusion("msautotest, with the image's MapServer", c)}\n  ${summaryLine(report)}\n  whole folder linted in ${seconds.toFixed(1)} s\n`);
    expect(report.mapserver).toMatchObject({ checked: true, version: '8.4.0' });
    expect(c.falseErrors).toEqual([]);
    expect(c.missed).toEqual([]);
    expect(c.crashes).toEqual([]);
    expect(c.wrongLines).toEqual([]);
    expect(c.policyErrors).toEqual([]);
  }, 1_800_000);
});

describe.each(existsSync(secondCorpus) ? [secondCorpus] : [])("lint-mapfiles with the image's MapServer on the second corpus (%s)", (root) => {
  it('never crashes and makes no false error', async () => {
    const { verdicts } = await imageVerdicts(image, root, mapfilesBelow(root));
    const report = await lintMapfiles({ paths: [root], mapfilesDir: root, cwd: root, env: process.env, projectRoot: repoRoot, mapserver: 'auto', image });
    const c = confusion(report, root, verdicts);
    process.stdout.write(`${formatConfusion("second corpus, with the image's MapServer", c)}\n`);
    expect(c.falseErrors).toEqual([]);
    expect(c.crashes).toEqual([]);
    expect(c.missed).toEqual([]);
  }, 600_000);
});
