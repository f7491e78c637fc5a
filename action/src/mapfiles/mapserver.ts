// MapServer's own judgement of a mapfile, with the MapServer installed on this machine.
//
// map2img (shp2img before MapServer 8) loads the mapfile completely - lexer, parser, INCLUDEs,
// projections, symbol and font sets - before it draws. Asked to enable a layer the map does not
// have (-l <name>), it stops right after loading with "Layer (-l) <name> not found": that line
// proves the mapfile loaded, without touching any data source. Anything else is a load error.
//
// MapServer runs on a working copy: CONFIG "MS_ERRORFILE" would otherwise make it write (or fail
// to open) a log file on this machine, and secrets are replaced so MapServer cannot echo them.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, delimiter, dirname, extname, isAbsolute, join, resolve } from 'node:path';
import { execa } from 'execa';
import { statementsOf, type SourceToken } from './blocks.js';
import type { MapfileDocument } from './document.js';
import { isContainerPath, localPathOf } from './folder.js';
import { redactSecrets, type Finding, type SecretSpan } from './findings.js';
import { locate, mapServerMessages } from './mapserver-messages.js';

export { locate, mapServerMessages } from './mapserver-messages.js';

export interface MapServerTool {
  /** Absolute path of map2img or shp2img. */
  path: string;
  name: 'map2img' | 'shp2img';
}

/** The first map2img (MapServer 8) or shp2img (MapServer 7) on PATH. */
export function findMapServerTool(env: NodeJS.ProcessEnv): MapServerTool | undefined {
  const dirs = (env.PATH ?? '').split(delimiter).filter(Boolean);
  for (const name of ['map2img', 'shp2img'] as const) {
    for (const dir of dirs) {
      const candidate = join(dir, name);
      if (existsSync(candidate)) return { path: candidate, name };
    }
  }
  return undefined;
}

export interface WorkingCopy {
  dir: string;
  /** The copy of the main mapfile to hand to MapServer. */
  mainPath: string;
  /** Copy path -> original path, to translate MapServer's messages back. */
  originals: Map<string, string>;
  remove(): Promise<void>;
}

export interface WorkingCopyOptions {
  secrets: readonly SecretSpan[];
  /**
   * Paths MapServer resolves against the mapfile's folder (SYMBOLSET, FONTSET, SHAPEPATH) are made
   * absolute so they still point at the originals. For preview, /mapfiles/... paths are also
   * pointed at the local folder that is /mapfiles in the container.
   */
  localRoot?: string;
  /** Also anchor relative data paths (preview renders data; the syntax check reads none). */
  anchorData?: boolean;
}

interface Edit {
  start: number;
  end: number;
  text: string;
}

/** Writes copies of the mapfile and its includes with edits that keep every line number. */
export async function makeWorkingCopy(doc: MapfileDocument, options: WorkingCopyOptions): Promise<WorkingCopy> {
  const dir = await mkdtemp(join(tmpdir(), 'mapserver-ecs-lint-'));
  const originals = new Map<string, string>();
  const copies = new Map<string, string>();
  doc.files.forEach((file, index) => {
    if (copies.has(file.path)) return;
    const ext = extname(file.path) || '.map';
    const copy = join(dir, `${index}-${basename(file.path, extname(file.path)).replace(/[^A-Za-z0-9_-]/g, '_')}${ext}`);
    copies.set(file.path, copy);
    originals.set(copy, file.path);
  });
  const mainDir = dirname(doc.path);
  const edits = new Map<string, Edit[]>();
  const edit = (file: string, start: number, end: number, text: string): void => {
    const list = edits.get(file) ?? [];
    list.push({ start, end, text });
    edits.set(file, list);
  };
  const replaceValue = (token: SourceToken, text: string): void => {
    if (token.contentStart !== undefined && token.contentEnd !== undefined) edit(token.file, token.contentStart, token.contentEnd, escapeFor(token, text));
    else edit(token.file, token.start, token.end, `"${text}"`);
  };

  for (const include of doc.includes) {
    const copy = include.found ? copies.get(include.target) : undefined;
    replaceValue(include.token, copy ?? include.target);
  }
  for (const statement of statementsOf(doc.root, 'CONFIG')) {
    const [key, value] = statement.args;
    if (key && value && key.value.toUpperCase() === 'MS_ERRORFILE') replaceValue(value, 'stderr');
    // MapServer reads a relative PROJ_DATA (PROJ_LIB) from the mapfile's folder, not the copy's.
    if (key && value && /^PROJ_(DATA|LIB)$/i.test(key.value) && value.value !== '' && !isAbsolute(value.value)) replaceValue(value, resolve(mainDir, value.value));
  }
  const anchored = ['SYMBOLSET', 'FONTSET', ...(options.anchorData ? ['SHAPEPATH'] : [])];
  for (const keyword of anchored) {
    for (const statement of statementsOf(doc.root, keyword)) {
      const value = statement.args[0];
      if (!value || value.value === '' || /^\/vsi|^[a-z][a-z0-9+.-]*:\/\//i.test(value.value)) continue;
      const local = localPath(value.value, mainDir, options.localRoot);
      if (local !== value.value) replaceValue(value, local);
    }
  }
  if (options.anchorData) {
    const hasShapePath = statementsOf(doc.root, 'SHAPEPATH').length > 0;
    const mapToken = doc.tokens.find((t) => t.kind === 'word' && t.value.toUpperCase() === 'MAP');
    // Without SHAPEPATH, data is relative to the mapfile's folder: name that folder explicitly.
    if (!hasShapePath && mapToken) edit(mapToken.file, mapToken.end, mapToken.end, ` SHAPEPATH "${escapeText(mainDir + '/')}"`);
    if (options.localRoot) {
      for (const keyword of ['DATA', 'CONNECTION', 'TILEINDEX', 'SHAPEPATH']) {
        for (const statement of statementsOf(doc.root, keyword)) {
          const value = statement.args[0];
          if (value && isContainerPath(value.value)) replaceValue(value, localPath(value.value, mainDir, options.localRoot));
        }
      }
    }
  }
  for (const secret of options.secrets) edit(secret.file, secret.start, secret.end, 'REDACTED');

  for (const file of doc.files) {
    const copy = copies.get(file.path);
    if (!copy || originals.get(copy) !== file.path) continue;
    await writeFile(copy, applyEdits(file.text, edits.get(file.path) ?? []), { mode: 0o600 });
  }
  return {
    dir,
    mainPath: copies.get(doc.path) ?? join(dir, '0.map'),
    originals,
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

function localPath(value: string, mainDir: string, localRoot: string | undefined): string {
  if (localRoot && isContainerPath(value)) return localPathOf(value, localRoot);
  if (isAbsolute(value)) return value;
  return resolve(mainDir, value) + (value.endsWith('/') ? '/' : '');
}

function escapeText(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/"/g, '\\"');
}

function escapeFor(token: SourceToken, text: string): string {
  // INCLUDE names take no escapes; strings do.
  if (token.kind === 'include') return text;
  const quote = token.quote ?? '"';
  return text.replace(/\\/g, '\\\\').replace(new RegExp(quote, 'g'), `\\${quote}`);
}

/** Applies non-overlapping edits; newlines inside a replaced span are kept so lines stay put. */
function applyEdits(text: string, edits: Edit[]): string {
  const sorted = [...edits].sort((a, b) => a.start - b.start || a.end - b.end);
  let out = '';
  let pos = 0;
  for (const e of sorted) {
    if (e.start < pos) continue;
    const replaced = text.slice(e.start, e.end);
    const newlines = replaced.split('\n').length - 1;
    out += text.slice(pos, e.start) + e.text + '\n'.repeat(newlines);
    pos = e.end;
  }
  return out + text.slice(pos);
}

/** Replaces every secret value (and the working copy's paths) in MapServer's words. */
export function cleanMessage(message: string, copy: WorkingCopy, secrets: readonly SecretSpan[]): string {
  let out = message;
  for (const [copyPath, original] of copy.originals) out = out.split(copyPath).join(original);
  out = out.split(copy.dir).join('<working copy>');
  return redactSecrets(out, secrets);
}

export interface SyntaxCheck {
  findings: Finding[];
  /** MapServer's lines as printed (cleaned), for debugging. */
  output: string;
}

/** A MapServer config file in the working copy that sends errors to stderr, as the image's does. */
export async function writeStderrConfig(copy: WorkingCopy): Promise<string> {
  const config = join(copy.dir, 'mapserver.conf');
  await writeFile(config, 'CONFIG\n  ENV\n    MS_ERRORFILE "stderr"\n  END\nEND\n');
  return config;
}

export async function checkWithMapServer(tool: MapServerTool, doc: MapfileDocument, secrets: readonly SecretSpan[], env: NodeJS.ProcessEnv): Promise<SyntaxCheck> {
  const copy = await makeWorkingCopy(doc, { secrets });
  try {
    const config = await writeStderrConfig(copy);
    const sentinel = `mapserver_ecs_lint_${randomBytes(6).toString('hex')}`;
    const args = ['-m', copy.mainPath, '-o', '/dev/null', '-l', sentinel];
    if (tool.name === 'map2img') args.push('-conf', config);
    // map2img exits 1 on success here too (the sentinel layer is missing), so run() and its
    // exit-code handling do not fit; the sentinel line tells the outcome.
    const result = await execa(tool.path, args, {
      reject: false,
      all: true,
      timeout: 60_000,
      env: { ...env, MAPSERVER_CONFIG_FILE: config, MS_ERRORFILE: 'stderr' },
      extendEnv: false,
      // From the mapfile's own folder, where paths MapServer leaves to the working folder
      // (init=./epsg) are found as when MapServer is run next to the mapfile.
      cwd: dirname(doc.path),
    });
    const output = cleanMessage(String(result.all ?? ''), copy, secrets);
    if (result.timedOut) {
      return { findings: [{ file: doc.path, line: 1, severity: 'error', rule: 'mapserver', message: `${tool.name} did not finish loading the mapfile within 60 s` }], output };
    }
    if (output.includes(`Layer (-l) "${sentinel}" not found`) || output.includes(`Layer (-l) ${sentinel} not found`)) return { findings: [], output };
    const lines = mapServerMessages(output, sentinel);
    const messages = lines.length > 0 ? lines : [`${tool.name} could not load the mapfile (exit code ${result.exitCode ?? 'none'}) and said nothing`];
    return { findings: messages.map((m) => locate(m, doc)), output };
  } finally {
    await copy.remove();
  }
}
