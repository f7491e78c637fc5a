import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadMapfile } from '../../src/mapfiles/document.js';
import { cleanMessage, findMapServerTool, locate, makeWorkingCopy } from '../../src/mapfiles/mapserver.js';
import { runRules } from '../../src/mapfiles/rules.js';
import { IMAGE_MAP_PATTERN, posixPatternToRegExp } from '../../src/mapfiles/served.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mapfile-mapserver-'));
  await mkdir(join(dir, 'layers'));
  await writeFile(join(dir, 'layers', 'a.inc'), 'LAYER\n  NAME "a"\n\n  BOGUS 1\nEND\n');
  await writeFile(
    join(dir, 'main.map'),
    [
      'MAP',
      '  NAME "main"',
      '  SYMBOLSET "symbols/s.sym"',
      '  CONFIG "MS_ERRORFILE" "/var/log/ms_error.log"',
      '  CONFIG "AWS_SECRET_ACCESS_KEY" "abcd/efgh+ijkl/mnop"',
      '  INCLUDE "layers/a.inc"',
      'END',
      '',
    ].join('\n'),
  );
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function prepared() {
  const doc = await loadMapfile(join(dir, 'main.map'));
  const { secrets } = runRules({ doc, root: dir, containerPath: '/mapfiles/main.map', mapPattern: posixPatternToRegExp(IMAGE_MAP_PATTERN), exists: () => true });
  return { doc, secrets };
}

describe('working copy for MapServer', () => {
  it('keeps every line where it was while redirecting the error file, anchoring paths and hiding secrets', async () => {
    const { doc, secrets } = await prepared();
    const copy = await makeWorkingCopy(doc, { secrets });
    try {
      const main = await readFile(copy.mainPath, 'utf8');
      const lines = main.split('\n');
      expect(lines).toHaveLength(8);
      expect(lines[2]).toBe(`  SYMBOLSET "${join(dir, 'symbols', 's.sym')}"`);
      expect(lines[3]).toBe('  CONFIG "MS_ERRORFILE" "stderr"');
      expect(lines[4]).toBe('  CONFIG "AWS_SECRET_ACCESS_KEY" "REDACTED"');
      const included = [...copy.originals].find(([, original]) => original === join(dir, 'layers', 'a.inc'))?.[0];
      expect(lines[5]).toBe(`  INCLUDE "${included}"`);
      expect(await readFile(included ?? '', 'utf8')).toBe('LAYER\n  NAME "a"\n\n  BOGUS 1\nEND\n');
      expect(main).not.toContain('abcd/efgh+ijkl/mnop');
    } finally {
      await copy.remove();
    }
  });

  it('translates MapServer messages back to the original files and hides secrets', async () => {
    const { doc, secrets } = await prepared();
    const copy = await makeWorkingCopy(doc, { secrets });
    try {
      const said = cleanMessage(`msLoadMap(): error in ${copy.mainPath} near abcd/efgh+ijkl/mnop`, copy, secrets);
      expect(said).toBe(`msLoadMap(): error in ${join(dir, 'main.map')} near ***`);
    } finally {
      await copy.remove();
    }
  });

  it('places a parse error in the file that holds the token at that line', async () => {
    const { doc } = await prepared();
    expect(locate('loadLayer(): Unknown identifier. Parsing error near (BOGUS):(line 4)', doc)).toMatchObject({ file: join(dir, 'layers', 'a.inc'), line: 4 });
    expect(locate('msLoadMap(): Unknown identifier. Parsing error near (SYMBOLSET):(line 3)', doc)).toMatchObject({ file: join(dir, 'main.map'), line: 3 });
    expect(locate(`msLoadSymbolSet(): Unable to access file. (${join(dir, 'symbols', 's.sym')})`, doc)).toMatchObject({ file: join(dir, 'main.map'), line: 3 });
  });

  it('finds map2img or shp2img only on the given PATH', () => {
    expect(findMapServerTool({ PATH: join(dir, 'nothing-here') })).toBeUndefined();
  });
});
