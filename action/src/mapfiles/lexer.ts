// A mapfile tokenizer that follows MapServer's own lexer (src/maplexer.l) closely enough that
// line numbers and token boundaries agree with what MapServer reports: flex's longest-match rule,
// strings in both quote kinds with backslash escapes (and across lines), `#` and `//` comments,
// `/* */` comments, [bindings], /regex/, (expressions) and {lists}. INCLUDE is returned as a token
// of its own; document.ts follows it.

export type TokenKind =
  | 'word' // keywords and unquoted values: MAP, LAYER, ON, /data/x.shp
  | 'string' // "..." or '...' (value has escapes resolved)
  | 'number'
  | 'binding' // [attribute]
  | 'regex' // /.../ or /.../i
  | 'expression' // (...)
  | 'list' // {...}
  | 'include' // INCLUDE "file": value is the file name
  | 'other'; // any other single character, which MapServer refuses

export interface Token {
  kind: TokenKind;
  /** The token's value: strings without quotes and with escapes resolved. */
  value: string;
  /** 1-based line where the token starts. */
  line: number;
  /** Offsets of the raw token text in the source (end exclusive). */
  start: number;
  end: number;
  /** For strings: offsets of the content between the quotes. */
  contentStart?: number;
  contentEnd?: number;
  quote?: '"' | "'";
}

export interface Comment {
  text: string;
  line: number;
  start: number;
  end: number;
}

export interface LexProblem {
  line: number;
  message: string;
}

export interface LexResult {
  tokens: Token[];
  comments: Comment[];
  problems: LexProblem[];
}

const WORD_START = /[A-Za-z/.]/;
const WORD_CHAR = /[A-Za-z0-9/._\-=]/;
const NUMBER = /^-?(?:[0-9]+\.[0-9]*(?:[eE][+-]?[0-9]+)?|[0-9]+(?:[eE][+-]?[0-9]+)?|\.[0-9]*(?:[eE][+-]?[0-9]+)?)/;

/** Rule order breaks ties between equally long matches, as flex does. */
type Candidate = { kind: TokenKind | 'comment' | 'block-comment'; length: number };

/** The scan so far: where it is, and what it has read. */
interface LexState extends LexResult {
  text: string;
  pos: number;
  /** 1-based line at pos. */
  line: number;
}

export function tokenize(source: string): LexResult {
  // A UTF-8 byte order mark is allowed at the start, as MapServer allows it.
  const state: LexState = { text: source, pos: source.startsWith('\uFEFF') ? 1 : 0, line: 1, tokens: [], comments: [], problems: [] };
  while (state.pos < state.text.length) {
    const c = state.text[state.pos] as string;
    if (c === '\n' || c === ' ' || c === '\t' || c === '\r') moveTo(state, state.pos + 1);
    else if (c === '"' || c === "'") scanString(state, c);
    else scanLongestMatch(state);
  }
  return { tokens: state.tokens, comments: state.comments, problems: state.problems };
}

/** Moves the scan forward, counting the lines it passes. */
function moveTo(state: LexState, end: number): void {
  for (let i = state.pos; i < end; i++) if (state.text.charCodeAt(i) === 10) state.line++;
  state.pos = end;
}

function lineEnd(text: string, from: number): number {
  const nl = text.indexOf('\n', from);
  return nl < 0 ? text.length : nl;
}

/** A quoted string, escapes resolved; unterminated, it runs to the end of the file. */
function scanString(state: LexState, quote: '"' | "'"): void {
  const { text } = state;
  const start = state.pos;
  const line = state.line;
  let value = '';
  let i = start + 1;
  while (i < text.length && text[i] !== quote) {
    const ch = text[i] as string;
    const next = text[i + 1];
    if (ch === '\\' && (next === '"' || next === "'" || next === '\\')) {
      value += next;
      i += 2;
    } else {
      value += ch;
      i += 1;
    }
  }
  if (i >= text.length) {
    state.problems.push({ line, message: `unterminated string: the ${quote === '"' ? 'double' : 'single'} quote opened here is never closed` });
    state.tokens.push({ kind: 'string', value, line, start, end: text.length, contentStart: start + 1, contentEnd: text.length, quote });
    moveTo(state, text.length);
    return;
  }
  let end = i + 1;
  // MapServer reads "..."i as a case-insensitive string.
  if (text[end] === 'i' || text[end] === 'I') end++;
  state.tokens.push({ kind: 'string', value, line, start, end, contentStart: start + 1, contentEnd: i, quote });
  moveTo(state, end);
}

/** Every rule that matches at pos, in flex's rule order. */
function candidatesAt(text: string, pos: number): Candidate[] {
  const c = text[pos] as string;
  const candidates: Candidate[] = [];
  if (c === '#' || text.startsWith('//', pos)) candidates.push({ kind: 'comment', length: lineEnd(text, pos) - pos });
  if (text.startsWith('/*', pos)) {
    const close = text.indexOf('*/', pos + 2);
    candidates.push({ kind: 'block-comment', length: (close < 0 ? text.length : close + 2) - pos });
  }
  if (c === '[') {
    const close = text.indexOf(']', pos + 1);
    if (close >= 0) candidates.push({ kind: 'binding', length: close + 1 - pos });
  }
  const number = NUMBER.exec(text.slice(pos, pos + 64));
  if (number && number[0] !== '' && number[0] !== '-') candidates.push({ kind: 'number', length: number[0].length });
  if (c === '/' && pos + 1 < text.length && text[pos + 1] !== '*') {
    const close = text.indexOf('/', pos + 2);
    if (close >= 0) {
      const iregex = text[close + 1] === 'i' || text[close + 1] === 'I';
      candidates.push({ kind: 'regex', length: close + 1 - pos + (iregex ? 1 : 0) });
    }
  }
  if (c === '(' || c === '{') {
    const close = text.lastIndexOf(c === '(' ? ')' : '}', lineEnd(text, pos) - 1);
    if (close > pos) candidates.push({ kind: c === '(' ? 'expression' : 'list', length: close + 1 - pos });
  }
  if (WORD_START.test(c)) {
    let i = pos + 1;
    while (i < text.length && WORD_CHAR.test(text[i] as string)) i++;
    candidates.push({ kind: 'word', length: i - pos });
  }
  return candidates;
}

/** Longest match wins; on a tie the earlier rule wins; no match is one character of 'other'. */
function longestMatch(text: string, pos: number): Candidate {
  let best: Candidate = { kind: 'other', length: 1 };
  let bestLength = 0;
  for (const candidate of candidatesAt(text, pos)) {
    if (candidate.length > bestLength) {
      best = candidate;
      bestLength = candidate.length;
    }
  }
  return best;
}

function scanLongestMatch(state: LexState): void {
  const start = state.pos;
  const best = longestMatch(state.text, start);
  const end = start + best.length;
  const raw = state.text.slice(start, end);
  const line = state.line;
  moveTo(state, end);
  switch (best.kind) {
    case 'comment':
      state.comments.push({ text: raw, line, start, end });
      break;
    case 'block-comment':
      if (!raw.endsWith('*/') || raw.length < 4) state.problems.push({ line, message: 'unterminated comment: the /* opened here is never closed' });
      state.comments.push({ text: raw, line, start, end });
      break;
    case 'binding':
    case 'expression':
    case 'list':
      state.tokens.push({ kind: best.kind, value: raw.slice(1, -1), line, start, end });
      break;
    case 'regex':
      pushRegex(state, raw, line, start, end);
      break;
    case 'word':
      if (raw.toUpperCase() === 'INCLUDE') scanInclude(state, line, start);
      else state.tokens.push({ kind: 'word', value: raw, line, start, end });
      break;
    default:
      state.tokens.push({ kind: best.kind, value: raw, line, start, end });
  }
}

function pushRegex(state: LexState, raw: string, line: number, start: number, end: number): void {
  // flex's longest match makes a `//` comment (or an unquoted /path) run to the next slash
  // on a later line as one /regular expression/: MapServer then fails on it.
  if (raw.includes('\n')) {
    state.problems.push({
      line,
      message: raw.startsWith('//')
        ? `this // comment is read by MapServer as a /regular expression/ up to the next "/" on line ${state.line}; use # for comments`
        : `this unquoted "/" starts what MapServer reads as a /regular expression/ up to line ${state.line}; put paths in quotes`,
    });
  }
  state.tokens.push({ kind: 'regex', value: raw.replace(/\/i$/i, '/').slice(1, -1), line, start, end });
}

/** INCLUDE and its file name become one token; the scan is just past the word INCLUDE. */
function scanInclude(state: LexState, line: number, start: number): void {
  const include = readInclude(state.text, state.pos);
  if (!include) {
    state.problems.push({ line, message: 'INCLUDE must be followed by a quoted file name' });
    return;
  }
  moveTo(state, include.end);
  state.tokens.push({
    kind: 'include',
    value: include.value,
    line,
    start,
    end: include.end,
    contentStart: include.end - 1 - include.value.length,
    contentEnd: include.end - 1,
  });
}

/** After INCLUDE, MapServer skips blanks (not newlines) and expects "file" or 'file' without escapes. */
function readInclude(text: string, from: number): { value: string; end: number } | undefined {
  let i = from;
  while (i < text.length && (text[i] === ' ' || text[i] === '\t' || text[i] === '\r')) i++;
  const quote = text[i];
  if (quote !== '"' && quote !== "'") return undefined;
  const close = text.indexOf(quote, i + 1);
  if (close < 0) return undefined;
  return { value: text.slice(i + 1, close), end: close + 1 };
}

/** Case-insensitive keyword test for word tokens. */
export function isWord(token: Token | undefined, ...words: string[]): boolean {
  if (!token || token.kind !== 'word') return false;
  const upper = token.value.toUpperCase();
  return words.includes(upper);
}
