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

export function tokenize(source: string): LexResult {
  const tokens: Token[] = [];
  const comments: Comment[] = [];
  const problems: LexProblem[] = [];
  let pos = 0;
  let line = 1;
  const text = source;
  // A UTF-8 byte order mark is allowed at the start, as MapServer allows it.
  if (text.startsWith('\uFEFF')) pos = 1;

  const countLines = (from: number, to: number): number => {
    let n = 0;
    for (let i = from; i < to; i++) if (text.charCodeAt(i) === 10) n++;
    return n;
  };
  const lineEnd = (from: number): number => {
    const nl = text.indexOf('\n', from);
    return nl < 0 ? text.length : nl;
  };

  while (pos < text.length) {
    const c = text[pos] as string;
    if (c === '\n') {
      line++;
      pos++;
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\r') {
      pos++;
      continue;
    }
    if (c === '"' || c === "'") {
      const startLine = line;
      const start = pos;
      let value = '';
      let i = pos + 1;
      let closed = false;
      while (i < text.length) {
        const ch = text[i] as string;
        if (ch === '\\') {
          const next = text[i + 1];
          if (next === '"' || next === "'" || next === '\\') {
            value += next;
            i += 2;
          } else {
            value += '\\';
            i += 1;
          }
          continue;
        }
        if (ch === c) {
          closed = true;
          break;
        }
        value += ch;
        i++;
      }
      if (!closed) {
        problems.push({ line: startLine, message: `unterminated string: the ${c === '"' ? 'double' : 'single'} quote opened here is never closed` });
        tokens.push({ kind: 'string', value, line: startLine, start, end: text.length, contentStart: start + 1, contentEnd: text.length, quote: c });
        line += countLines(start, text.length);
        pos = text.length;
        break;
      }
      let end = i + 1;
      // MapServer reads "..."i as a case-insensitive string.
      if (text[end] === 'i' || text[end] === 'I') end++;
      tokens.push({ kind: 'string', value, line: startLine, start, end, contentStart: start + 1, contentEnd: i, quote: c });
      line += countLines(start, end);
      pos = end;
      continue;
    }

    const candidates: Candidate[] = [];
    if (c === '#' || text.startsWith('//', pos)) candidates.push({ kind: 'comment', length: lineEnd(pos) - pos });
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
      const closer = c === '(' ? ')' : '}';
      const eol = lineEnd(pos);
      const close = text.lastIndexOf(closer, eol - 1);
      if (close > pos) candidates.push({ kind: c === '(' ? 'expression' : 'list', length: close + 1 - pos });
    }
    if (WORD_START.test(c)) {
      let i = pos + 1;
      while (i < text.length && WORD_CHAR.test(text[i] as string)) i++;
      candidates.push({ kind: 'word', length: i - pos });
    }
    // Longest match wins; on a tie the earlier rule (the order pushed above) wins.
    let best: Candidate = { kind: 'other', length: 1 };
    let bestLength = 0;
    for (const candidate of candidates) {
      if (candidate.length > bestLength) {
        best = candidate;
        bestLength = candidate.length;
      }
    }
    const start = pos;
    const end = pos + best.length;
    const raw = text.slice(start, end);
    const startLine = line;
    line += countLines(start, end);
    pos = end;
    switch (best.kind) {
      case 'comment':
        comments.push({ text: raw, line: startLine, start, end });
        break;
      case 'block-comment':
        if (!raw.endsWith('*/') || raw.length < 4) problems.push({ line: startLine, message: 'unterminated comment: the /* opened here is never closed' });
        comments.push({ text: raw, line: startLine, start, end });
        break;
      case 'binding':
        tokens.push({ kind: 'binding', value: raw.slice(1, -1), line: startLine, start, end });
        break;
      case 'regex':
        // flex's longest match makes a `//` comment (or an unquoted /path) run to the next slash
        // on a later line as one /regular expression/: MapServer then fails on it.
        if (raw.includes('\n')) {
          problems.push({
            line: startLine,
            message: raw.startsWith('//')
              ? `this // comment is read by MapServer as a /regular expression/ up to the next "/" on line ${line}; use # for comments`
              : `this unquoted "/" starts what MapServer reads as a /regular expression/ up to line ${line}; put paths in quotes`,
          });
        }
        tokens.push({ kind: 'regex', value: raw.replace(/\/i$/i, '/').slice(1, -1), line: startLine, start, end });
        break;
      case 'expression':
      case 'list':
        tokens.push({ kind: best.kind, value: raw.slice(1, -1), line: startLine, start, end });
        break;
      case 'word':
        if (raw.toUpperCase() === 'INCLUDE') {
          const include = readInclude(text, end);
          if (include) {
            line += countLines(end, include.end);
            tokens.push({
              kind: 'include',
              value: include.value,
              line: startLine,
              start,
              end: include.end,
              contentStart: include.end - 1 - include.value.length,
              contentEnd: include.end - 1,
            });
            pos = include.end;
          } else {
            problems.push({ line: startLine, message: 'INCLUDE must be followed by a quoted file name' });
          }
          break;
        }
        tokens.push({ kind: 'word', value: raw, line: startLine, start, end });
        break;
      default:
        tokens.push({ kind: best.kind, value: raw, line: startLine, start, end });
    }
  }
  return { tokens, comments, problems };
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
