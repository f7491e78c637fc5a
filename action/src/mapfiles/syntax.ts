// The checks MapServer's parser (src/mapfile.c) makes while it loads a mapfile, on our tokens:
// MAP comes first, each block holds only its own keywords, each keyword gets the kind of value it
// reads (an unquoted keyword is never a string), and every block is closed. The keyword tables are
// those of the MapServer release the image runs (keywords-data.ts); a keyword or value that only a
// newer release knows is named as such. Like MapServer, the check stops at the first error.
import type { SourceToken } from './blocks.js';
import { NEWER_BLOCKS, NEWER_LEXER_WORDS, NEWER_VERSION, SERVING_BLOCKS, SERVING_LEXER_WORDS, SERVING_VERSION } from './keywords-data.js';

export interface SyntaxProblem {
  file: string;
  line: number;
  message: string;
}

type Grammar = Map<string, Map<string, string>>;

function grammarOf(table: Record<string, string>): Grammar {
  const grammar: Grammar = new Map();
  for (const [block, entries] of Object.entries(table)) {
    const keywords = new Map<string, string>();
    for (const entry of entries.split(' ')) {
      const eq = entry.indexOf('=');
      keywords.set(entry.slice(0, eq), entry.slice(eq + 1));
    }
    grammar.set(block, keywords);
  }
  return grammar;
}

const SERVING = grammarOf(SERVING_BLOCKS);
const NEWER = grammarOf(NEWER_BLOCKS);
const SERVING_WORDS = new Set(SERVING_LEXER_WORDS.split(' '));
const NEWER_WORDS = new Set(NEWER_LEXER_WORDS.split(' '));

class Stop extends Error {
  constructor(readonly problem: SyntaxProblem) {
    super(problem.message);
  }
}

/** The symbol MapServer's lexer makes of a token, in the tables' notation. */
function symbolOf(token: SourceToken, words: ReadonlySet<string>): string {
  switch (token.kind) {
    case 'number':
      return '#';
    case 'string':
      return '$';
    case 'binding':
      return '[';
    case 'expression':
      return '(';
    case 'regex':
      return '/';
    case 'list':
      return '{';
    case 'word':
      return words.has(token.value.toUpperCase()) ? token.value.toLowerCase() : '$';
    default:
      return token.value;
  }
}

const KIND_NAMES: Record<string, string> = { '#': 'a number', $: 'a string', '[': 'an [attribute] binding', '(': 'an (expression)', '/': 'a /regex/', '{': 'a {list}' };

function describeAllowed(allowed: readonly string[]): string {
  return allowed.map((a) => KIND_NAMES[a] ?? a.toUpperCase()).join(', ');
}

function shown(token: SourceToken): string {
  return token.kind === 'string' ? JSON.stringify(token.value) : token.value.length > 40 ? `${token.value.slice(0, 40)}...` : token.value;
}

/** A parse over one mapfile's tokens (includes spliced in), as loadMapInternal and its helpers read them. */
class Parser {
  private pos = 0;
  constructor(private readonly tokens: readonly SourceToken[]) {}

  private fail(token: SourceToken | undefined, message: string): never {
    const at = token ?? this.tokens[this.tokens.length - 1];
    throw new Stop({ file: at?.file ?? '', line: at?.line ?? 1, message });
  }

  private next(): SourceToken | undefined {
    return this.tokens[this.pos++];
  }

  run(): void {
    const first = this.next();
    if (!first || first.kind !== 'word' || first.value.toUpperCase() !== 'MAP') {
      this.fail(
        first,
        'MapServer loads a mapfile only if its first keyword is MAP ("First token must be MAP"); a file that is only INCLUDEd by other mapfiles needs another extension than .map, or it cannot be requested on its own',
      );
    }
    this.block('MAP', first);
  }

  /** Reads statements up to the END of a block. */
  private block(type: string, opener: SourceToken): void {
    const keywords = SERVING.get(type) ?? new Map<string, string>();
    let unsure = false;
    for (;;) {
      const token = this.next();
      if (!token) this.fail(opener, `${type} opened here (line ${opener.line}) is never closed with END`);
      if (token.kind === 'word' && token.value.toUpperCase() === 'END') return;
      const keyword = token.kind === 'word' ? token.value.toUpperCase() : '';
      const spec = keywords.get(keyword);
      if (spec === undefined) {
        // After a value this table does not model, only a keyword of the block ends it.
        if (unsure) continue;
        this.unknown(type, token);
      }
      unsure = this.statement(type, token, keyword, spec);
    }
  }

  private unknown(type: string, token: SourceToken): never {
    const keyword = token.value.toUpperCase();
    if (token.kind === 'word' && NEWER.get(type)?.has(keyword)) {
      this.fail(token, `${keyword} is a ${type} keyword of MapServer ${NEWER_VERSION}; the image's MapServer ${SERVING_VERSION} does not know it and refuses the mapfile`);
    }
    if (token.kind === 'word' && SERVING_WORDS.has(keyword)) {
      this.fail(token, `${keyword} is not a keyword of ${type} in MapServer ${SERVING_VERSION}; is an END missing before it, or is it in the wrong block?`);
    }
    if (token.kind === 'word') this.fail(token, `unknown keyword ${shown(token)} in ${type}: MapServer ${SERVING_VERSION} refuses it`);
    this.fail(token, `${shown(token)} stands where ${type} expects a keyword: is it the value of the keyword before it, given one value too many?`);
  }

  /** Reads one statement's values; true when what follows cannot be checked with certainty. */
  private statement(type: string, token: SourceToken, keyword: string, spec: string): boolean {
    if (spec === 'b') {
      if (SERVING.has(keyword)) this.block(keyword, token);
      else this.skipList(keyword, token);
      return false;
    }
    if (spec === '?') return true;
    if (spec === 'c') return this.color(keyword);
    if (spec.startsWith('y:')) return this.symbol(type, keyword, spec);
    for (const [index, kind] of [...spec].entries()) {
      if (kind === '?') return true;
      // A value after the first that is a keyword of the block comes from a branch of MapServer's
      // code the table flattened (PLUGIN reads one string either way): the statement ends there.
      const ahead = this.tokens[this.pos];
      if (index > 0 && ahead?.kind === 'word' && (ahead.value.toUpperCase() === 'END' || SERVING.get(type)?.has(ahead.value.toUpperCase()))) return false;
      const value = this.next();
      if (!value) this.fail(token, `${keyword} has no value`);
      if (kind === 's') this.expectString(keyword, value);
      else if (kind === 'n' && value.kind !== 'number') this.fail(value, `${keyword} expects a number here, not ${shown(value)}`);
    }
    return false;
  }

  private expectString(keyword: string, value: SourceToken): void {
    const symbol = symbolOf(value, SERVING_WORDS);
    if (symbol === '$') return;
    if (value.kind === 'word') {
      this.fail(value, `the value of ${keyword}, ${value.value}, is unquoted and MapServer reads it as its keyword ${value.value.toUpperCase()}: write ${keyword} "${value.value}"`);
    }
    this.fail(value, `${keyword} expects a quoted string, not ${shown(value)}`);
  }

  private symbol(type: string, keyword: string, spec: string): boolean {
    const more = spec.endsWith('+');
    const allowed = spec.slice(2, more ? -1 : undefined).split('|');
    const value = this.next();
    if (!value) this.fail(this.tokens[this.pos - 2], `${keyword} has no value`);
    const symbol = symbolOf(value, SERVING_WORDS);
    if (allowed.includes(symbol)) return more;
    const newer = NEWER.get(type)?.get(keyword);
    const newerSymbol = symbolOf(value, NEWER_WORDS);
    if (newer?.startsWith('y:') && newer.slice(2).replace(/\+$/, '').split('|').includes(newerSymbol) && newerSymbol !== '$') {
      this.fail(value, `${keyword} ${value.value.toUpperCase()} is MapServer ${NEWER_VERSION}'s; the image's MapServer ${SERVING_VERSION} does not know it and refuses the mapfile`);
    }
    if (value.kind === 'word' && symbol !== '$' && allowed.includes('$')) {
      this.fail(value, `the value of ${keyword}, ${value.value}, is unquoted and MapServer reads it as its keyword ${value.value.toUpperCase()}: write ${keyword} "${value.value}"`);
    }
    this.fail(value, `${keyword} ${shown(value)} is not valid: MapServer ${SERVING_VERSION} expects ${describeAllowed(allowed)}`);
  }

  /** COLOR r g b, COLOR "#rrggbb" or COLOR [attribute]; further numbers (alpha, ranges) are taken too. */
  private color(keyword: string): boolean {
    const value = this.next();
    if (!value) this.fail(this.tokens[this.pos - 2], `${keyword} has no value`);
    if (value.kind === 'number') {
      while (this.tokens[this.pos]?.kind === 'number') this.pos++;
      return false;
    }
    if (value.kind === 'string' || value.kind === 'binding') {
      while (this.tokens[this.pos]?.kind === 'string' || this.tokens[this.pos]?.kind === 'number') this.pos++;
      return false;
    }
    this.fail(value, `${keyword} expects red green blue numbers, a "#rrggbb" string or an [attribute], not ${shown(value)}`);
  }

  /** METADATA, PROJECTION, POINTS, PATTERN...: values up to END. */
  private skipList(keyword: string, opener: SourceToken): void {
    for (;;) {
      const token = this.next();
      if (!token) this.fail(opener, `${keyword} opened here is never closed with END`);
      if (token.kind === 'word' && token.value.toUpperCase() === 'END') return;
    }
  }
}

/** The first problem MapServer's parser would stop at, if any. */
export function checkSyntax(tokens: readonly SourceToken[]): SyntaxProblem | undefined {
  try {
    new Parser(tokens).run();
    return undefined;
  } catch (error) {
    if (error instanceof Stop) return error.problem;
    throw error;
  }
}
