// lint-mapfiles from the command line, with the MapServer installed on this machine judging syntax.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const fixtures = join(repoRoot, 'action', 'test', 'fixtures', 'mapfiles');
// tsx's entry run by this very node, so a test may hide everything else on PATH.
const tsxCli = join(repoRoot, 'node_modules', 'tsx', 'dist', 'cli.mjs');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** lint-mapfiles with this machine's map2img (the image's MapServer is lint-corpus.test.ts's subject). */
export function runCli(args: readonly string[], env: NodeJS.ProcessEnv = {}, cwd = repoRoot): Run {
  const local = args[0] === 'lint-mapfiles' && !args.includes('--lint-mapserver') ? ['lint-mapfiles', '--lint-mapserver', 'local', ...args.slice(1)] : args;
  const result = spawnSync(process.execPath, [tsxCli, join(repoRoot, 'action', 'src', 'index.ts'), ...local], {
    cwd,
    env: { ...process.env, NODE_NO_WARNINGS: '1', ...env },
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { code: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

let work: string;
beforeAll(async () => {
  // MapServer must be here: CI installs it (scripts/setup.sh); a missing tool fails the test.
  const version = execFileSync('map2img', ['-v'], { encoding: 'utf8' });
  expect(version).toMatch(/MapServer version 8/);
  work = await mkdtemp(join(tmpdir(), 'lint-mapfiles-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('lint-mapfiles with MapServer', () => {
  it('finds a syntax error with file and line, and exits 1', () => {
    const run = runCli(['lint-mapfiles', join(fixtures, 'bad', 'syntax.map')]);
    expect(run.code).toBe(1);
    expect(run.stdout.trim()).toBe(
      'action/test/fixtures/mapfiles/bad/syntax.map:9: error: unknown keyword COLOUR in LAYER: MapServer 8.4 refuses it [syntax]',
    );
    expect(run.stderr).toMatch(/this machine's MapServer 8\.\d+\.\d+ \(\/usr\/bin\/map2img\) loaded each mapfile/);
    // This machine's map2img is not the image's MapServer: the log says which it was and how they differ.
    const local = execFileSync('map2img', ['-v'], { encoding: 'utf8' });
    if (!/MapServer version 8\.4\./.test(local)) expect(run.stderr).toMatch(/checked instead, not the image's 8\.4; keywords added after 8\.\d+ are refused here/);
  });

  it('puts an error inside an INCLUDEd file at that file and line', () => {
    const run = runCli(['lint-mapfiles', join(fixtures, 'bad', 'include-error.map')]);
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/^action\/test\/fixtures\/mapfiles\/bad\/parts\/broken\.inc:5: error: .*MAYBE/m);
  });

  it('passes the good fixtures, which MapServer loads', () => {
    const run = runCli(['lint-mapfiles', '--mapfiles-dir', join(fixtures, 'good')]);
    expect(run.stdout).toBe('');
    expect(run.code).toBe(0);
    expect(run.stderr).toContain('0 errors, 0 warnings in 2 mapfiles');
  });

  it('writes JSON with --format json', () => {
    const run = runCli(['lint-mapfiles', '--format', 'json', join(fixtures, 'bad', 'syntax.map'), join(fixtures, 'bad', 'errorfile.map')]);
    expect(run.code).toBe(1);
    const report = JSON.parse(run.stdout);
    expect(report).toMatchObject({ errors: 2, warnings: 0, mapserver: { checked: true, tool: expect.stringMatching(/map2img$/) } });
    expect(report.findings.map((f: { file: string; line: number; rule: string }) => `${f.file}:${f.line}:${f.rule}`)).toEqual([
      'action/test/fixtures/mapfiles/bad/errorfile.map:5:errorfile',
      'action/test/fixtures/mapfiles/bad/syntax.map:9:syntax',
    ]);
  });

  it('never lets MapServer echo a key pasted where a keyword belongs', async () => {
    const key = `AKIA${[...randomBytes(16)].map((b) => 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'[b % 32]).join('')}`;
    const secret = randomBytes(30).toString('base64').slice(0, 40);
    const file = join(work, 'pasted.map');
    await writeFile(file, `MAP\n  NAME "pasted"\n  SIZE 10 10\n  EXTENT 0 0 10 10\n  CONFIG "AWS_SECRET_ACCESS_KEY" "${secret}"\n  ${key}\nEND\n`);
    const run = runCli(['lint-mapfiles', file], {}, work);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('pasted.map:5: error: CONFIG "AWS_SECRET_ACCESS_KEY" writes a credential');
    expect(run.stdout).toContain('pasted.map:6: error: an AWS access key id is written');
    // The parser stops at line 6 too, and names the token without the key.
    expect(run.stdout).toMatch(/pasted\.map:6: error: unknown keyword \*\*\* in MAP/);
    expect(`${run.stdout}${run.stderr}`).not.toContain(key);
    expect(`${run.stdout}${run.stderr}`).not.toContain(secret);
  });

  it('says when MapServer is not installed and its check was skipped', () => {
    const run = runCli(['lint-mapfiles', join(fixtures, 'good', 'constructs.map')], { PATH: '/nonexistent' });
    expect(run.code).toBe(0);
    expect(run.stderr).toContain("MapServer's check skipped: asked for this machine's MapServer, and MapServer (map2img) is not installed on this machine");
  });

  it('leaves no log file behind for a mapfile naming an MS_ERRORFILE', () => {
    const run = runCli(['lint-mapfiles', join(fixtures, 'bad', 'errorfile.map')]);
    expect(run.code).toBe(1);
    expect(existsSync('/tmp/mapserver.log')).toBe(false);
  });

  const corpus = join(repoRoot, '..', 'shared', 'corpus', 'mapfiles');
  (existsSync(corpus) ? it : it.skip)('lints the corpus: credentials and template placeholders are errors with file and line', () => {
    const run = runCli(['lint-mapfiles', '--format', 'json', corpus], {}, corpus);
    expect(run.code).toBe(1);
    const report = JSON.parse(run.stdout) as { findings: Array<{ file: string; line: number; rule: string; severity: string }> };
    const errors = report.findings.filter((f) => f.severity === 'error').map((f) => `${f.file}:${f.line}:${f.rule}`);
    expect(errors).toEqual([
      'tnris_lambda-s4_template.map:6:syntax',
      'tnris_lambda-s4_template.map:8:secret',
      'tnris_lambda-s4_template.map:9:secret',
      'tnris_lambda-s4_template.map:41:secret',
      'tnris_lambda-s4_test.map:8:secret',
      'tnris_lambda-s4_test.map:9:secret',
      'tnris_lambda-s4_test.map:40:secret',
    ]);
  });
});
