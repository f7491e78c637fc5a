// lint-mapfiles without any MapServer (the default of a GitHub runner) against MapServer's own
// verdicts on its regression suite (msautotest, vendored with the verdict table: see
// action/test/fixtures/msautotest/VENDORED.md) and on the second corpus when it is present.
import { describe, expect, it } from '@jest/globals';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { lintMapfiles } from '../../src/mapfiles/lint.js';
import { confusion, formatConfusion } from '../support/corpus.js';
import type { VerdictTable } from '../support/mapserver-verdicts.js';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const msautotest = join(repoRoot, 'action', 'test', 'fixtures', 'msautotest');
const table = JSON.parse(readFileSync(join(repoRoot, 'action', 'test', 'fixtures', 'msautotest-verdicts.json'), 'utf8')) as VerdictTable;
const secondCorpus = join(repoRoot, '..', 'shared', 'corpus', 'mapfiles');

describe('lint-mapfiles alone on msautotest', () => {
  it('makes no false error, never crashes, and catches most files MapServer refuses', async () => {
    const report = await lintMapfiles({ paths: [msautotest], mapfilesDir: msautotest, cwd: msautotest, env: {}, projectRoot: repoRoot, mapserver: 'off' });
    const c = confusion(report, msautotest, table.verdicts);
    process.stdout.write(`${formatConfusion('msautotest, lint-mapfiles alone', c)}\n`);
    expect(c.mapfiles).toBe(508);
    expect(c.falseErrors).toEqual([]);
    expect(c.crashes).toEqual([]);
    expect(c.policyErrors).toEqual([]);
    // Of the 25 refused, the lexer cannot know OGR output drivers (2) or a symbol fetched over
    // HTTP (1); a projection init file missing from the image's PROJ data it names.
    expect(c.caught.length).toBeGreaterThanOrEqual(22);
    expect(c.wrongLines).toEqual([]);
    // The binary MapInfo .MAP file is skipped as a side file, not linted.
    expect(report.sideFiles).toContain(join(msautotest, 'misc', 'data', 'quoted_text.MAP'));
  }, 60_000);
});

describe.each(existsSync(secondCorpus) ? [secondCorpus] : [])('lint-mapfiles alone on the second corpus (%s)', (root) => {
  it('never crashes and keeps its recall on the credentials written there', async () => {
    const report = await lintMapfiles({ paths: [root], mapfilesDir: root, cwd: root, env: {}, projectRoot: repoRoot, mapserver: 'off' });
    const crashes = report.findings.filter((f) => f.message.startsWith('lint-mapfiles failed'));
    process.stdout.write(`second corpus, lint-mapfiles alone: ${report.mapfiles.length} mapfiles, ${report.errors} errors, ${report.warnings} warnings, ${crashes.length} crashes\n`);
    expect(crashes).toEqual([]);
    const secrets = report.findings.filter((f) => f.rule === 'secret').map((f) => `${f.file.slice(root.length + 1)}:${f.line}`);
    expect(secrets).toEqual(expect.arrayContaining(['tnris_lambda-s4_test.map:8', 'tnris_lambda-s4_test.map:9', 'tnris_lambda-s4_test.map:40']));
    // Load errors only where MapServer refuses too: the template's <placeholders>.
    const loadErrors = report.findings.filter((f) => f.severity === 'error' && ['syntax', 'include', 'mapserver'].includes(f.rule));
    expect(loadErrors.map((f) => f.file.slice(root.length + 1))).toEqual(['tnris_lambda-s4_template.map']);
  });
});
