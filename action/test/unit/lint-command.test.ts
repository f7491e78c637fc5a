import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { lintMapfilesCommand } from '../../src/commands/lint-mapfiles.js';
import { InputError, StepFailure } from '../../src/errors.js';
import type { InputName } from '../../src/inputs.js';
import { loadMapfile } from '../../src/mapfiles/document.js';
import { testContext } from '../../../scripts/support/command-context.js';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const fixtures = join(repoRoot, 'action', 'test', 'fixtures', 'mapfiles');

let stdout: string;
let work: string;
beforeEach(async () => {
  stdout = '';
  jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stdout += chunk.toString();
    return true;
  });
  work = await mkdtemp(join(tmpdir(), 'lint-command-'));
});
afterEach(async () => {
  jest.restoreAllMocks();
  await rm(work, { recursive: true, force: true });
});

function context(values: Partial<Record<InputName, string>>, paths: string[], env: NodeJS.ProcessEnv = { AWS_REGION: 'us-east-1' }) {
  const ctx = testContext({ command: 'lint-mapfiles', ...values }, { env, root: repoRoot });
  return { ...ctx, settings: { ...ctx.settings, paths } };
}

describe('lint-mapfiles command', () => {
  it('prints file:line findings to standard output and fails with exit-1 errors', async () => {
    const ctx = context({}, [join(fixtures, 'bad', 'errorfile.map')]);
    const failure = lintMapfilesCommand(ctx);
    await expect(failure).rejects.toThrow(StepFailure);
    await expect(failure).rejects.toThrow('lint-mapfiles found 1 error');
    expect(stdout).toMatch(/^action\/test\/fixtures\/mapfiles\/bad\/errorfile\.map:5: error: MS_ERRORFILE "\/tmp\/mapserver\.log" is not prepared by the image.* \[errorfile\]\n$/);
    // Neither Docker nor MapServer on this context's PATH: the log says the check was skipped, and why.
    expect(ctx.log()).toContain(
      "MapServer's check skipped: no MapServer image (the image built from docker/) in Docker here, and MapServer (map2img) is not installed on this machine; only lint-mapfiles' own parser checked the syntax, with MapServer 8.4's keywords",
    );
  });

  it('writes GitHub annotations in the action, without the secret', async () => {
    const secret = randomBytes(30).toString('base64').slice(0, 40);
    const file = join(work, 'keys.map');
    await writeFile(file, `MAP\n  NAME "k"\n  CONFIG "AWS_SECRET_ACCESS_KEY" "${secret}"\nEND\n`);
    const ctx = context({}, [file], { AWS_REGION: 'us-east-1', GITHUB_ACTIONS: 'true' });
    await expect(lintMapfilesCommand(ctx)).rejects.toThrow(StepFailure);
    expect(stdout).toMatch(/^::error title=lint-mapfiles%3A secret,file=.*keys\.map,line=3::CONFIG "AWS_SECRET_ACCESS_KEY" writes a credential/m);
    expect(stdout + ctx.log()).not.toContain(secret);
  });

  it('passes with warnings only, and writes JSON with format json', async () => {
    const ctx = context({ format: 'json' }, [join(fixtures, 'bad', 'onlineresource.map')]);
    await lintMapfilesCommand(ctx);
    const report = JSON.parse(stdout);
    expect(report).toMatchObject({ errors: 0, warnings: 2, mapserver: { checked: false } });
  });

  it('lints mapfiles-dir when no paths are given, and names it when it is missing', async () => {
    await expect(lintMapfilesCommand(context({ 'mapfiles-dir': join(fixtures, 'good') }, []))).resolves.toBeUndefined();
    const missing = lintMapfilesCommand(context({ 'mapfiles-dir': join(work, 'nope') }, []));
    await expect(missing).rejects.toThrow(InputError);
    await expect(missing).rejects.toThrow(/mapfiles-dir: expected existing mapfiles or folders/);
  });

  it('reads INCLUDE "/mapfiles/..." from the folder that is /mapfiles', async () => {
    await mkdir(join(work, 'common'), { recursive: true });
    await writeFile(join(work, 'common', 'layer.inc'), 'LAYER\n  NAME "l"\nEND\n');
    await writeFile(join(work, 'm.map'), 'MAP\n  INCLUDE "/mapfiles/common/layer.inc"\nEND\n');
    const doc = await loadMapfile(join(work, 'm.map'), { containerRoot: work });
    expect(doc.problems).toEqual([]);
    expect(doc.includes[0]).toMatchObject({ target: join(work, 'common', 'layer.inc'), found: true });
    await expect(lintMapfilesCommand(context({ 'mapfiles-dir': work }, []))).resolves.toBeUndefined();
  });
});
