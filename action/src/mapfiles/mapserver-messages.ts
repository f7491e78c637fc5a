// MapServer's messages as findings: which lines of its output are messages, and the file and line
// each one is about. Messages name a line ("(line N)") only for parse errors; the others name a
// value (a file, a projection, a driver), found here among the mapfile's tokens.
import { basename, dirname, resolve } from 'node:path';
import type { SourceToken } from './blocks.js';
import type { MapfileDocument } from './document.js';
import type { Finding } from './findings.js';

const LOAD_CONFIG_NOTICE = /^msLoadConfig\(\): Unable to access file/;
/** PROJ's own debug and error lines, which repeat what MapServer's message says. */
const PROJ_LINE = /^(?:proj_|pj_)\w*: /;
const MESSAGE_START = /^[A-Za-z_][A-Za-z0-9_]*\(\): /;

/** One message per "function(): ...", each once; a parse error may quote a token across lines. */
export function mapServerMessages(output: string, sentinel: string): string[] {
  const chunks = output
    .split('\n')
    .filter((l) => !PROJ_LINE.test(l.trim()))
    .join('\n')
    .split(/\n(?=[A-Za-z_][A-Za-z0-9_]*\(\): )/);
  const messages = chunks
    .map((chunk) => (chunk.includes('Parsing error near (') ? chunk : (chunk.split('\n')[0] ?? '')))
    .map((l) => l.replace(/\s*<br>\s*$/, '').replace(/\s*\n\s*/g, ' ').trim())
    .filter((l) => MESSAGE_START.test(l) && !LOAD_CONFIG_NOTICE.test(l) && !l.includes(sentinel));
  return [...new Set(messages)];
}

/** Finds the file and line a MapServer message is about: "(line N)" plus the token it names. */
export function locate(message: string, doc: MapfileDocument): Finding {
  const lineMatch = /\(line (\d+)\)/.exec(message);
  const at = lineMatch ? byLine(message, Number(lineMatch[1]), doc) : byValue(message, doc);
  return { file: at.file, line: at.line, severity: 'error', rule: 'mapserver', message: `MapServer: ${message}` };
}

interface Place {
  file: string;
  line: number;
}

function byLine(message: string, line: number, doc: MapfileDocument): Place {
  const token = /Parsing error near \((.*?)\):\(line \d+\)/.exec(message)?.[1]?.toLowerCase();
  // MapServer gives the line within whichever file (main or included) held the token.
  const candidates = doc.files.filter((f) => f.lex.tokens.some((t) => t.line === line && (!token || f.text.slice(t.start, t.end).toLowerCase().includes(token))));
  const chosen = candidates.find((f) => f.path === doc.path) ?? candidates[0];
  return { file: chosen?.path ?? doc.path, line };
}

function placeOf(token: SourceToken | undefined): Place | undefined {
  return token ? { file: token.file, line: token.line } : undefined;
}

/** Messages that name no value but one keyword. */
function byKeyword(message: string, doc: MapfileDocument): Place | undefined {
  const word = (w: string): SourceToken | undefined => doc.tokens.find((t) => t.kind === 'word' && t.value.toUpperCase() === w);
  if (/Plugin value not found/.test(message)) {
    const plugin = word('PLUGIN');
    return placeOf(plugin ? (doc.tokens[doc.tokens.indexOf(plugin) + 1] ?? plugin) : undefined);
  }
  if (/First token must be MAP/.test(message)) return placeOf(doc.tokens[0]) ?? { file: doc.path, line: 1 };
  return undefined;
}

function byValue(message: string, doc: MapfileDocument): Place {
  const keyword = byKeyword(message, doc);
  if (keyword) return keyword;
  const included = doc.includes.find((i) => !i.found && message.includes(basename(i.target)));
  if (included) return { file: included.from, line: included.token.line };
  const valued = doc.tokens.filter((t) => (t.kind === 'string' || t.kind === 'word' || t.kind === 'include') && t.value.trim().length >= 3);
  // A quoted value in the message that is exactly a token's value ("init=epsg2:42304"): the first
  // such token, as MapServer stops at the first one that fails.
  for (const [, quoted = ''] of message.matchAll(/["'`(]([^"'`()]{3,})["'`)]/g)) {
    const exact = valued.find((t) => t.value.trim() === quoted.trim());
    if (exact) return { file: exact.file, line: exact.line };
  }
  // Else the longest value the message contains (a path, a URL, a driver name).
  const mainDir = dirname(doc.path);
  let best: SourceToken | undefined;
  for (const t of valued) {
    const value = t.value.trim();
    if ((message.includes(value) || message.includes(resolve(mainDir, value))) && value.length > (best?.value.trim().length ?? 0)) best = t;
  }
  return placeOf(best) ?? { file: doc.path, line: 1 };
}
