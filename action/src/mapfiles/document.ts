// A mapfile read the way MapServer reads it: INCLUDEs spliced in (relative to the main mapfile's
// folder, at most 5 deep), then parsed into blocks (blocks.ts). Enough for the lint rules;
// MapServer itself stays the judge of full syntax.
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parseBlocks, type Block, type DocumentProblem, type SourceToken } from './blocks.js';
import { isContainerPath, localPathOf } from './folder.js';
import { tokenize, type Comment, type LexResult } from './lexer.js';

export interface SourceFile {
  path: string;
  text: string;
  lex: LexResult;
}

export interface IncludeRef {
  /** The file holding the INCLUDE, its token, and the resolved target. */
  from: string;
  token: SourceToken;
  target: string;
  found: boolean;
}

export interface MapfileDocument {
  path: string;
  /** Every file read: the main mapfile first, then included files in order. */
  files: SourceFile[];
  tokens: SourceToken[];
  comments: Array<Comment & { file: string }>;
  includes: IncludeRef[];
  root: Block;
  problems: DocumentProblem[];
}

/** MapServer's limit (MAX_INCLUDE_DEPTH in maplexer.l). */
const MAX_INCLUDE_DEPTH = 5;

export type FileReader = (path: string) => Promise<string>;

const defaultReader: FileReader = (path) => readFile(path, 'utf8');

export interface LoadOptions {
  read?: FileReader;
  /** The local folder that is /mapfiles in the container: INCLUDE "/mapfiles/x.inc" is read from there. */
  containerRoot?: string;
}

/** MapServer resolves every INCLUDE against the main mapfile's folder, whichever file holds it. */
function includeTarget(name: string, baseDir: string, containerRoot: string | undefined): string {
  if (containerRoot && isContainerPath(name)) return resolve(localPathOf(name, containerRoot));
  return isAbsolute(name) ? name : resolve(baseDir, name);
}

export async function loadMapfile(path: string, readOrOptions: FileReader | LoadOptions = {}): Promise<MapfileDocument> {
  const options: LoadOptions = typeof readOrOptions === 'function' ? { read: readOrOptions } : readOrOptions;
  const read = options.read ?? defaultReader;
  const main = resolve(path);
  const baseDir = dirname(main);
  const files: SourceFile[] = [];
  const tokens: SourceToken[] = [];
  const comments: Array<Comment & { file: string }> = [];
  const includes: IncludeRef[] = [];
  const problems: DocumentProblem[] = [];

  const readSource = async (file: string): Promise<SourceFile> => {
    const text = await read(file);
    const source = { path: file, text, lex: tokenize(text) };
    files.push(source);
    for (const p of source.lex.problems) problems.push({ file, line: p.line, message: p.message });
    for (const c of source.lex.comments) comments.push({ ...c, file });
    return source;
  };

  const expand = async (source: SourceFile, depth: number): Promise<void> => {
    for (const token of source.lex.tokens) {
      const sourceToken: SourceToken = { ...token, file: source.path };
      if (token.kind !== 'include') {
        tokens.push(sourceToken);
        continue;
      }
      const target = includeTarget(token.value, baseDir, options.containerRoot);
      if (depth >= MAX_INCLUDE_DEPTH) {
        includes.push({ from: source.path, token: sourceToken, target, found: false });
        problems.push({ file: source.path, line: token.line, message: `INCLUDE is nested more than ${MAX_INCLUDE_DEPTH} deep (MapServer's limit)` });
        continue;
      }
      let included: SourceFile;
      try {
        included = await readSource(target);
      } catch (error) {
        includes.push({ from: source.path, token: sourceToken, target, found: false });
        const code = (error as NodeJS.ErrnoException).code;
        problems.push({
          file: source.path,
          line: token.line,
          message: `INCLUDE "${token.value}" cannot be read (${code ?? 'error'}); MapServer resolves it from the main mapfile's folder: ${target}`,
        });
        continue;
      }
      includes.push({ from: source.path, token: sourceToken, target, found: true });
      await expand(included, depth + 1);
    }
  };

  const mainSource = await readSource(main);
  await expand(mainSource, 0);
  const { root, problems: structureProblems } = parseBlocks(tokens);
  problems.push(...structureProblems);
  return { path: main, files, tokens, comments, includes, root, problems };
}
