// The block structure of a mapfile's tokens (MAP > LAYER > CLASS > STYLE ...), each block with its
// statements, and the look-ups the rules make in it.
import { isWord, type Token } from './lexer.js';

export interface SourceToken extends Token {
  /** Absolute path of the file the token was read from (the main mapfile or an included file). */
  file: string;
}

export interface DocumentProblem {
  file: string;
  line: number;
  message: string;
  /** An unbalanced block, found without the keyword tables (syntax.ts judges mapfiles more exactly). */
  structural?: boolean;
}

export interface Statement {
  /** Upper-case keyword, such as DATA or CONFIG. */
  keyword: string;
  keywordToken: SourceToken;
  args: SourceToken[];
  block: Block;
}

export interface Block {
  /** Upper-case block type (MAP, LAYER, METADATA...); '' for the top level. */
  type: string;
  token: SourceToken | undefined;
  parent: Block | undefined;
  children: Block[];
  statements: Statement[];
  /** The raw tokens of blocks that hold key/value lists (METADATA, VALIDATION, PROJECTION...). */
  items: SourceToken[];
}

/** Blocks whose content is a flat list of values up to END (no nested blocks, no keywords). */
const LIST_BLOCKS = new Set(['METADATA', 'VALIDATION', 'CONNECTIONOPTIONS', 'BINDVALS', 'VALUES', 'PROJECTION', 'POINTS', 'PATTERN', 'ENV', 'MAPS', 'PLUGINS']);

/** Where each block may open; '' is the top level of a file (a mapfile, a symbol file or an include). */
const BLOCK_PARENTS: Record<string, readonly string[]> = {
  MAP: [''],
  LAYER: ['MAP', ''],
  CLASS: ['LAYER', ''],
  STYLE: ['CLASS', 'LABEL', 'LEADER', ''],
  LABEL: ['CLASS', 'LEGEND', 'SCALEBAR', ''],
  LEADER: ['CLASS', ''],
  WEB: ['MAP', ''],
  LEGEND: ['MAP', ''],
  SCALEBAR: ['MAP', ''],
  QUERYMAP: ['MAP', ''],
  REFERENCE: ['MAP', ''],
  OUTPUTFORMAT: ['MAP', ''],
  SYMBOL: ['MAP', 'SYMBOLSET', ''],
  SYMBOLSET: [''],
  PROJECTION: ['MAP', 'LAYER', ''],
  METADATA: ['MAP', 'WEB', 'LAYER', 'CLASS', 'OUTPUTFORMAT', ''],
  VALIDATION: ['WEB', 'LAYER', 'CLASS', ''],
  CONNECTIONOPTIONS: ['LAYER', ''],
  BINDVALS: ['LAYER', ''],
  FEATURE: ['LAYER', ''],
  POINTS: ['FEATURE', 'SYMBOL', ''],
  PATTERN: ['STYLE', 'SYMBOL', ''],
  GRID: ['LAYER', ''],
  JOIN: ['LAYER', ''],
  CLUSTER: ['LAYER', ''],
  COMPOSITE: ['LAYER', ''],
  SCALETOKEN: ['LAYER', ''],
  VALUES: ['SCALETOKEN'],
  // The MapServer config file (mapserver.conf): CONFIG > ENV / MAPS / PLUGINS.
  CONFIG: [''],
  ENV: ['CONFIG'],
  MAPS: ['CONFIG'],
  PLUGINS: ['CONFIG'],
};

/** Keywords that take more than one value that could be a word (numbers are attached anyway). */
const ARITY: Record<string, number> = { CONFIG: 2 };

/**
 * Keywords that are never the value of another keyword: when a value is missing or garbled
 * (`NAME <placeholder>`), the statement ends there instead of swallowing the next keyword.
 */
const NEVER_A_VALUE = new Set([
  'NAME', 'TYPE', 'STATUS', 'DATA', 'CONNECTION', 'CONNECTIONTYPE', 'TILEINDEX', 'TILEITEM', 'TILESRS',
  'EXTENT', 'SIZE', 'SHAPEPATH', 'SYMBOLSET', 'FONTSET', 'TEMPLATE', 'PROCESSING', 'CONFIG', 'UNITS',
  'IMAGECOLOR', 'COLOR', 'OUTLINECOLOR', 'EXPRESSION', 'FILTER', 'CLASSITEM', 'LABELITEM', 'GROUP',
  'MINSCALEDENOM', 'MAXSCALEDENOM', 'IMAGETYPE', 'DEBUG', 'HEADER', 'FOOTER', 'OPACITY', 'OFFSITE',
  ...Object.keys(BLOCK_PARENTS),
]);

function newBlock(type: string, token: SourceToken | undefined, parent: Block | undefined): Block {
  return { type, token, parent, children: [], statements: [], items: [] };
}

export function parseBlocks(tokens: readonly SourceToken[]): { root: Block; problems: DocumentProblem[] } {
  const problems: DocumentProblem[] = [];
  const root = newBlock('', undefined, undefined);
  let current = root;
  let last: Statement | undefined;
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i] as SourceToken;
    if (LIST_BLOCKS.has(current.type)) {
      if (isWord(token, 'END')) {
        current = current.parent ?? root;
        last = undefined;
      } else current.items.push(token);
      continue;
    }
    if (isWord(token, 'END')) {
      if (current === root) problems.push({ file: token.file, line: token.line, message: 'END has no open block to close', structural: true });
      else current = current.parent ?? root;
      last = undefined;
      continue;
    }
    if (token.kind === 'word') {
      const keyword = token.value.toUpperCase();
      const parents = BLOCK_PARENTS[keyword];
      // CONFIG is a block only in MapServer's config file; inside MAP it is CONFIG key value.
      if (parents && parents.includes(current.type) && !(keyword === 'CONFIG' && current.type !== '')) {
        const block = newBlock(keyword, token, current);
        current.children.push(block);
        current = block;
        last = undefined;
        continue;
      }
      if (keyword === 'CONFIG' && current.type === '' && isConfigBlockStart(tokens, i)) {
        const block = newBlock(keyword, token, current);
        current.children.push(block);
        current = block;
        last = undefined;
        continue;
      }
      const statement: Statement = { keyword, keywordToken: token, args: [], block: current };
      const arity = ARITY[keyword] ?? 1;
      for (let n = 0; n < arity; n++) {
        const next = tokens[i + 1];
        if (!next || (next.kind === 'word' && NEVER_A_VALUE.has(next.value.toUpperCase())) || isWord(next, 'END')) break;
        statement.args.push(next);
        i++;
      }
      current.statements.push(statement);
      last = statement;
      continue;
    }
    // Numbers, strings, bindings... at the start of a statement are further values of the last
    // keyword (EXTENT 0 0 10 10, COLOR 255 0 0).
    if (last) last.args.push(token);
    else current.items.push(token);
  }
  for (let open: Block | undefined = current; open && open !== root; open = open.parent) {
    const token = open.token;
    if (token) problems.push({ file: token.file, line: token.line, message: `${open.type} opened here is never closed with END`, structural: true });
  }
  return { root, problems };
}

/** In mapserver.conf, CONFIG opens a block (followed by ENV, MAPS or END), not CONFIG key value. */
function isConfigBlockStart(tokens: readonly SourceToken[], index: number): boolean {
  const next = tokens[index + 1];
  return isWord(next, 'ENV', 'MAPS', 'PLUGINS', 'END');
}

/** All blocks of a type, depth first. */
export function blocksOf(root: Block, type: string): Block[] {
  const found: Block[] = [];
  const walk = (block: Block): void => {
    if (block.type === type) found.push(block);
    for (const child of block.children) walk(child);
  };
  walk(root);
  return found;
}

/** Statements with a keyword, anywhere below the block. */
export function statementsOf(root: Block, keyword: string): Statement[] {
  const found: Statement[] = [];
  const walk = (block: Block): void => {
    for (const s of block.statements) if (s.keyword === keyword) found.push(s);
    for (const child of block.children) walk(child);
  };
  walk(root);
  return found;
}

/** The first statement with a keyword directly in a block. */
export function statementIn(block: Block, keyword: string): Statement | undefined {
  return block.statements.find((s) => s.keyword === keyword);
}

/** Key/value pairs of a METADATA-like block. */
export function pairsOf(block: Block): Array<[SourceToken, SourceToken | undefined]> {
  const pairs: Array<[SourceToken, SourceToken | undefined]> = [];
  for (let i = 0; i < block.items.length; i += 2) pairs.push([block.items[i] as SourceToken, block.items[i + 1]]);
  return pairs;
}
