import { describe, expect, it } from '@jest/globals';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { blocksOf, pairsOf, parseBlocks, statementsOf, type SourceToken } from '../../src/mapfiles/blocks.js';
import { loadMapfile } from '../../src/mapfiles/document.js';
import { tokenize, type TokenKind } from '../../src/mapfiles/lexer.js';

const fixtures = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'mapfiles');

function kinds(source: string): Array<[TokenKind, string, number]> {
  return tokenize(source).tokens.map((t) => [t.kind, t.value, t.line]);
}

describe('tokenize', () => {
  it.each<[string, string, Array<[TokenKind, string, number]>]>([
    ['words and numbers', 'EXTENT -10 0.5 .5 1e3', [['word', 'EXTENT', 1], ['number', '-10', 1], ['number', '0.5', 1], ['number', '.5', 1], ['number', '1e3', 1]]],
    ['double-quoted string with escapes', 'NAME "a \\"b\\" c\\\\d"', [['word', 'NAME', 1], ['string', 'a "b" c\\d', 1]]],
    ['single-quoted string with the other quote inside', `NAME 'it\\'s "x"'`, [['word', 'NAME', 1], ['string', `it's "x"`, 1]]],
    ['a lone backslash stays', 'DATA "C:\\data"', [['word', 'DATA', 1], ['string', 'C:\\data', 1]]],
    ['# comments end at the line end', 'NAME "x" # DATA "y"\nSTATUS ON', [['word', 'NAME', 1], ['string', 'x', 1], ['word', 'STATUS', 2], ['word', 'ON', 2]]],
    ['# inside a string is not a comment', 'COLOR "#ff0000"', [['word', 'COLOR', 1], ['string', '#ff0000', 1]]],
    ['// comment with its slashes on one line', 'NAME x // see a/b\nEND', [['word', 'NAME', 1], ['word', 'x', 1], ['word', 'END', 2]]],
    ['block comments keep line numbers', '/* one\ntwo */ END', [['word', 'END', 2]]],
    ['strings may span lines', 'TEXT "a\nb"\nEND', [['word', 'TEXT', 1], ['string', 'a\nb', 1], ['word', 'END', 3]]],
    ['case-insensitive string suffix', 'EXPRESSION "abc"i END', [['word', 'EXPRESSION', 1], ['string', 'abc', 1], ['word', 'END', 1]]],
    ['regex', 'EXPRESSION /^a.*b/ END', [['word', 'EXPRESSION', 1], ['regex', '^a.*b', 1], ['word', 'END', 1]]],
    ['unquoted path is a word, not a regex', 'DATA /vsis3/b/k.tif', [['word', 'DATA', 1], ['word', '/vsis3/b/k.tif', 1]]],
    ['expression to the last parenthesis on the line', 'EXPRESSION ([a] > (1+2))', [['word', 'EXPRESSION', 1], ['expression', '[a] > (1+2)', 1]]],
    ['list expression', 'EXPRESSION {a,b}', [['word', 'EXPRESSION', 1], ['list', 'a,b', 1]]],
    ['binding', 'SIZE [width]', [['word', 'SIZE', 1], ['binding', 'width', 1]]],
    ['INCLUDE takes its file name', 'INCLUDE "layers/a.inc"\nEND', [['include', 'layers/a.inc', 1], ['word', 'END', 2]]],
    ['other characters', 'EXTENT <xmin>', [['word', 'EXTENT', 1], ['other', '<', 1], ['word', 'xmin', 1], ['other', '>', 1]]],
    ['CRLF line ends', 'MAP\r\nEND\r\n', [['word', 'MAP', 1], ['word', 'END', 2]]],
    ['byte order mark', '\uFEFFMAP END', [['word', 'MAP', 1], ['word', 'END', 1]]],
  ])('%s', (_name, source, expected) => {
    expect(tokenize(source).problems).toEqual([]);
    expect(kinds(source)).toEqual(expected);
  });

  it('reads a // comment followed by a slash on a later line as MapServer does: one regex, and says so', () => {
    const { tokens, problems } = tokenize('MAP\n  // comment\n  SHAPEPATH "data/"\nEND');
    expect(tokens[1]).toMatchObject({ kind: 'regex', line: 2 });
    expect(problems[0]).toMatchObject({ line: 2, message: expect.stringContaining('use # for comments') });
  });

  it('reports unterminated strings and comments at the line they open', () => {
    expect(tokenize('MAP\n NAME "x\nEND\n').problems).toEqual([{ line: 2, message: expect.stringContaining('unterminated string') }]);
    expect(tokenize('MAP\n/* never closed\nEND').problems).toEqual([{ line: 2, message: expect.stringContaining('unterminated comment') }]);
  });

  it('keeps raw offsets of string content for in-place edits', () => {
    const source = 'CONFIG "MS_ERRORFILE" \'/tmp/x.log\'';
    const token = tokenize(source).tokens[2];
    expect(token && source.slice(token.contentStart, token.contentEnd)).toBe('/tmp/x.log');
  });
});

function parse(source: string) {
  const tokens: SourceToken[] = tokenize(source).tokens.map((t) => ({ ...t, file: 'x.map' }));
  return parseBlocks(tokens);
}

describe('parseBlocks', () => {
  it('builds the block tree with statements and METADATA pairs', () => {
    const { root, problems } = parse(`MAP
  NAME "m"
  CONFIG "MS_ERRORFILE" "stderr"
  WEB METADATA "wms_title" "t" "ows_enable_request" "*" END END
  LAYER NAME l TYPE POLYGON CLASS STYLE COLOR 1 2 3 END END END
  SCALEBAR STYLE 1 LABEL COLOR 0 0 0 END END
  QUERYMAP STYLE HILITE END
END`);
    expect(problems).toEqual([]);
    const map = root.children[0];
    expect(map?.type).toBe('MAP');
    expect(map?.children.map((b) => b.type)).toEqual(['WEB', 'LAYER', 'SCALEBAR', 'QUERYMAP']);
    expect(statementsOf(root, 'CONFIG')[0]?.args.map((a) => a.value)).toEqual(['MS_ERRORFILE', 'stderr']);
    expect(statementsOf(root, 'COLOR')[0]?.args.map((a) => a.value)).toEqual(['1', '2', '3']);
    const metadata = blocksOf(root, 'METADATA')[0];
    expect(metadata && pairsOf(metadata).map(([k, v]) => [k.value, v?.value])).toEqual([
      ['wms_title', 't'],
      ['ows_enable_request', '*'],
    ]);
    // STYLE in SCALEBAR and QUERYMAP is a value, not a block.
    expect(blocksOf(root, 'STYLE')).toHaveLength(1);
  });

  it('reports unbalanced END and unclosed blocks with their lines', () => {
    expect(parse('MAP\n  LAYER\n    NAME x\nEND\n').problems).toEqual([{ file: 'x.map', line: 1, message: 'MAP opened here is never closed with END', structural: true }]);
    expect(parse('MAP\nEND\nEND\n').problems).toEqual([{ file: 'x.map', line: 3, message: 'END has no open block to close', structural: true }]);
  });

  it('does not let a garbled value swallow the next keyword', () => {
    const { root } = parse('MAP LAYER NAME <x>_y CONNECTIONTYPE POSTGIS CONNECTION "c" END END');
    expect(statementsOf(root, 'CONNECTIONTYPE')[0]?.args[0]?.value).toBe('POSTGIS');
    expect(statementsOf(root, 'CONNECTION')[0]?.args[0]?.value).toBe('c');
  });
});

describe('loadMapfile', () => {
  it('splices INCLUDEs resolved from the main mapfile folder and keeps each token its own file and line', async () => {
    const doc = await loadMapfile(join(fixtures, 'good', 'included.map'));
    expect(doc.problems).toEqual([]);
    expect(doc.includes).toEqual([expect.objectContaining({ target: join(fixtures, 'good', 'layers', 'square.inc'), found: true })]);
    const data = statementsOf(doc.root, 'DATA')[0]?.args[0];
    expect(data).toMatchObject({ value: 'square.shp', line: 6, file: join(fixtures, 'good', 'layers', 'square.inc') });
    expect(blocksOf(doc.root, 'LAYER')[0]?.parent?.type).toBe('MAP');
  });

  it('reports a missing INCLUDE at the line that names it', async () => {
    const files: Record<string, string> = { '/m/a.map': 'MAP\n  NAME "a"\n  INCLUDE "nope.inc"\nEND\n' };
    const doc = await loadMapfile('/m/a.map', async (path) => {
      const text = files[path];
      if (text === undefined) throw Object.assign(new Error('missing'), { code: 'ENOENT' });
      return text;
    });
    expect(doc.problems).toEqual([{ file: '/m/a.map', line: 3, message: expect.stringContaining('INCLUDE "nope.inc" cannot be read (ENOENT)') }]);
  });

  it('stops INCLUDE loops at MapServer\'s depth of 5', async () => {
    const doc = await loadMapfile('/m/loop.map', async () => 'INCLUDE "loop.map"\n');
    expect(doc.problems.some((p) => p.message.includes('nested more than 5 deep'))).toBe(true);
    expect(doc.files).toHaveLength(6);
  });

  it('parses every lexical construct of the good fixture without problems', async () => {
    const doc = await loadMapfile(join(fixtures, 'good', 'constructs.map'));
    expect(doc.problems).toEqual([]);
    expect(blocksOf(doc.root, 'CLASS')).toHaveLength(4);
    expect(blocksOf(doc.root, 'LAYER')).toHaveLength(1);
    expect(statementsOf(doc.root, 'EXPRESSION').map((s) => s.args[0]?.kind)).toEqual(['regex', 'list', 'expression', 'string']);
  });
});
