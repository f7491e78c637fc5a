// lint-mapfiles: which files to check, the rules and MapServer's own check on each, and the
// report that sums them up (lint-output.ts shows it).
import { stat } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { InputError } from '../errors.js';
import { loadMapfile, type MapfileDocument } from './document.js';
import { findingKey, redactSecrets, type Finding, type MirrorLintContext, type SecretSpan } from './findings.js';
import { containerPathOf, isMapfileName, localRootFor, walkFiles } from './folder.js';
import { checkWithMapServer } from './mapserver.js';
import { chooseMapServer, type MapServerMode, type MapServerStatus } from './mapserver-choice.js';
import { startImageCheck, type ImageTarget } from './mapserver-image.js';
import { inParallel } from './parallel.js';
import { isBinary, scanSideFile } from './side-files.js';
import { runRules } from './rules.js';
import { checkSyntax } from './syntax.js';
import { imageMapPattern, imagePlugins, posixPatternToRegExp } from './served.js';

export interface LintOptions {
  /** Files and folders to lint; empty means mapfilesDir. */
  paths: readonly string[];
  /** The folder that is /mapfiles in the container (what sync-mapfiles uploads). */
  mapfilesDir: string;
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** The project checkout, to read MS_MAP_PATTERN from docker/; the shipped copy otherwise. */
  projectRoot?: string;
  /** 'auto': the image's MapServer in Docker, else map2img when installed; 'local': map2img; 'off': neither. */
  mapserver?: MapServerMode;
  /** The image whose MapServer judges (such as the service's, by digest); the image built from docker/ otherwise. */
  image?: string;
  /** With the mirror driver: warn about paths to files the instances will not hold. */
  mirror?: MirrorLintContext;
}

export type { MapServerStatus } from './mapserver-choice.js';

export interface LintReport {
  /** Mapfiles checked (absolute). */
  mapfiles: string[];
  /** Other files scanned for keys (absolute). */
  sideFiles: string[];
  findings: Finding[];
  errors: number;
  warnings: number;
  mapserver: MapServerStatus;
  /** Per mapfile, what was found while checking it, its includes' findings included. */
  byMapfile: Record<string, Finding[]>;
}

class LintPathError extends Error {}

/** The start of the finding for a file lint-mapfiles itself failed on (a crash, counted by the corpus test). */
export const INTERNAL_ERROR = 'lint-mapfiles failed on this file';

interface Target {
  file: string;
  /** Local folder that is /mapfiles for this file. */
  root: string;
}

async function collectTargets(options: LintOptions): Promise<{ mapfiles: Target[]; sideFiles: Target[] }> {
  const mapfilesDir = resolve(options.cwd, options.mapfilesDir);
  const given = options.paths.length > 0 ? options.paths : [options.mapfilesDir];
  const mapfiles: Target[] = [];
  const sideFiles: Target[] = [];
  const seen = new Set<string>();
  for (const path of given) {
    const absolute = resolve(options.cwd, path);
    const info = await stat(absolute).catch(() => undefined);
    if (!info) throw new LintPathError(`${path} does not exist (resolved to ${absolute})`);
    if (info.isDirectory()) {
      for (const file of await walkFiles(absolute)) {
        if (seen.has(file)) continue;
        seen.add(file);
        (isMapfileName(basename(file)) ? mapfiles : sideFiles).push({ file, root: localRootFor(file, mapfilesDir, absolute) });
      }
    } else {
      if (seen.has(absolute)) continue;
      seen.add(absolute);
      mapfiles.push({ file: absolute, root: localRootFor(absolute, mapfilesDir, resolve(absolute, '..')) });
    }
  }
  return { mapfiles, sideFiles };
}

/** lintMapfiles for a command: a path that does not exist is an error in the input that named it. */
export async function lintInputPaths(options: LintOptions): Promise<LintReport> {
  try {
    return await lintMapfiles(options);
  } catch (error) {
    if (error instanceof LintPathError) {
      throw new InputError([{ input: options.paths.length > 0 ? 'files or folders' : 'mapfiles-dir', message: `expected existing mapfiles or folders: ${error.message}` }]);
    }
    throw error;
  }
}

export async function lintMapfiles(options: LintOptions): Promise<LintReport> {
  const { mapfiles, sideFiles } = await collectTargets(options);
  const { judge, status: mapserver } = await chooseMapServer(options.mapserver ?? 'auto', options.image, options.env);
  const checks: FileChecks = {
    mapPattern: posixPatternToRegExp(imageMapPattern(options.projectRoot)),
    imagePlugins: imagePlugins(options.projectRoot),
    ...(options.mirror ? { mirror: options.mirror } : {}),
  };
  const imageTargets: ImageTarget[] = [];
  const byMapfile: Record<string, Finding[]> = {};
  /** Per mapfile, the lines our own checks already reported: MapServer often says the same. */
  const ownLines = new Map<string, Set<string>>();
  const addMapServer = (path: string, found: readonly Finding[]): void => {
    const own = ownLines.get(path) ?? new Set<string>();
    byMapfile[path]?.push(...found.filter((f) => !own.has(`${f.file}:${f.line}`)));
  };
  // MapInfo's binary .MAP files share the extension: they are data, not mapfiles.
  const binary = await Promise.all(mapfiles.map((t) => isBinary(t.file)));
  const skipped = mapfiles.filter((_, i) => binary[i]).map((t) => t.file);
  const texts = mapfiles.filter((_, i) => !binary[i]);
  // The image's MapServer reads the files itself: it starts now and loads them while our own checks run.
  const imageRun =
    judge.kind === 'image'
      ? startImageCheck(judge.image, texts.filter((t) => isMapfileName(basename(t.file))).map((t) => ({ path: t.file, root: t.root })), options.env)
      : undefined;
  const lintOne = async (target: Target): Promise<void> => {
    // One file that trips lint-mapfiles itself must not hide the others' findings.
    const checked = await checkFile(target, checks).catch((error: unknown) => ({
      doc: undefined,
      secrets: [],
      findings: [{ file: target.file, line: 1, severity: 'error' as const, rule: 'syntax' as const, message: `${INTERNAL_ERROR}: ${(error as Error).message}` }],
    }));
    byMapfile[target.file] = checked.findings;
    if (!checked.doc || !isMapfileName(basename(target.file))) return;
    const parseRules: ReadonlySet<string> = new Set(['syntax', 'include', 'mapserver']);
    ownLines.set(target.file, new Set(checked.findings.filter((f) => parseRules.has(f.rule)).map((f) => `${f.file}:${f.line}`)));
    if (judge.kind === 'image') imageTargets.push({ doc: checked.doc, secrets: checked.secrets, root: target.root });
    if (judge.kind === 'local') addMapServer(target.file, (await checkWithMapServer(judge.tool, checked.doc, checked.secrets, options.env)).findings);
  };
  // A few MapServer processes at a time: each load takes a fraction of a second.
  await inParallel(texts, 4, lintOne);
  if (imageRun) {
    const check = await imageRun.finish(imageTargets);
    mapserver.version = check.version;
    for (const [path, found] of check.findings) addMapServer(path, found);
  }
  const findings = Object.values(byMapfile).flat();
  for (const target of sideFiles) findings.push(...(await scanSideFile(target.file)));
  const unique = sortFindings([...new Map(findings.map((f) => [findingKey(f), f])).values()]);
  return {
    mapfiles: mapfiles.map((t) => t.file).filter((f) => !skipped.includes(f)),
    sideFiles: [...sideFiles.map((t) => t.file), ...skipped].sort(),
    findings: unique,
    errors: unique.filter((f) => f.severity === 'error').length,
    warnings: unique.filter((f) => f.severity === 'warning').length,
    mapserver,
    byMapfile,
  };
}

function sortFindings(findings: Finding[]): Finding[] {
  const order = (f: Finding): string => `${f.rule}\0${f.message}`;
  return findings.sort((a, b) => (a.file !== b.file ? (a.file < b.file ? -1 : 1) : a.line !== b.line ? a.line - b.line : order(a) < order(b) ? -1 : order(a) > order(b) ? 1 : 0));
}

interface FileChecks {
  mapPattern: RegExp;
  imagePlugins: readonly string[];
  mirror?: MirrorLintContext;
}

/** Our own checks of one file: its reading, MapServer's parser's checks (syntax.ts) and the rules. */
async function checkFile(target: Target, checks: FileChecks): Promise<{ doc?: MapfileDocument; findings: Finding[]; secrets: SecretSpan[] }> {
  let doc: MapfileDocument;
  try {
    doc = await loadMapfile(target.file, { containerRoot: target.root });
  } catch (error) {
    return { findings: [{ file: target.file, line: 1, severity: 'error', rule: 'syntax', message: `cannot read the file: ${(error as Error).message}` }], secrets: [] };
  }
  // A mapfile is judged by MapServer's parser's checks, which also find unbalanced blocks.
  const isMapfile = isMapfileName(basename(target.file));
  const own: Finding[] = doc.problems
    .filter((p) => !(isMapfile && p.structural))
    .map((p) => ({ file: p.file, line: p.line, severity: 'error', rule: p.message.startsWith('INCLUDE') ? 'include' : 'syntax', message: p.message }));
  const { findings, secrets } = runRules({ doc, root: target.root, containerPath: containerPathOf(target.file, target.root), ...checks });
  const parse = isMapfile ? checkSyntax(doc.tokens) : undefined;
  // The parser quotes the token it stops at, which may be a key pasted where a keyword belongs.
  if (parse && !own.some((f) => f.file === parse.file && f.line === parse.line)) own.push({ ...parse, message: redactSecrets(parse.message, secrets), severity: 'error', rule: 'syntax' });
  return { doc, findings: [...own, ...findings], secrets };
}
