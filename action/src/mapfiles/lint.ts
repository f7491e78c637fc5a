// lint-mapfiles: which files to check, the rules and MapServer's own check on each, and the
// report that sums them up (lint-output.ts shows it).
import { open, stat } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { InputError } from '../errors.js';
import { loadMapfile, type MapfileDocument } from './document.js';
import { findingKey, type Finding, type MirrorLintContext } from './findings.js';
import { containerPathOf, isMapfileName, localRootFor, walkFiles } from './folder.js';
import { checkWithMapServer, findMapServerTool, type MapServerTool } from './mapserver.js';
import { inParallel } from './parallel.js';
import { runRules } from './rules.js';
import { imageMapPattern, posixPatternToRegExp } from './served.js';

export interface LintOptions {
  /** Files and folders to lint; empty means mapfilesDir. */
  paths: readonly string[];
  /** The folder that is /mapfiles in the container (what sync-mapfiles uploads). */
  mapfilesDir: string;
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** The project checkout, to read MS_MAP_PATTERN from docker/; the shipped copy otherwise. */
  projectRoot?: string;
  /** 'auto' uses map2img/shp2img when installed; 'off' skips MapServer's check. */
  mapserver?: 'auto' | 'off';
  /** With the mirror driver: warn about paths to files the instances will not hold. */
  mirror?: MirrorLintContext;
}

export interface MapServerStatus {
  checked: boolean;
  tool?: string;
  /** Why MapServer's check did not run. */
  skipped?: string;
}

export interface LintReport {
  /** Mapfiles checked (absolute). */
  mapfiles: string[];
  /** Other files scanned for keys (absolute). */
  sideFiles: string[];
  findings: Finding[];
  errors: number;
  warnings: number;
  mapserver: MapServerStatus;
}

class LintPathError extends Error {}

const SIDE_FILE_SCAN_LIMIT = 2 * 1024 * 1024;

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
  const mapPattern = posixPatternToRegExp(imageMapPattern(options.projectRoot));
  const tool: MapServerTool | undefined = options.mapserver === 'off' ? undefined : findMapServerTool(options.env);
  const mapserver: MapServerStatus = tool
    ? { checked: true, tool: tool.path }
    : { checked: false, skipped: options.mapserver === 'off' ? 'turned off' : 'MapServer (map2img or shp2img) is not installed on this machine' };

  const findings: Finding[] = [];
  const lintOne = async (target: Target): Promise<void> => {
    let doc: MapfileDocument;
    try {
      doc = await loadMapfile(target.file, { containerRoot: target.root });
    } catch (error) {
      findings.push({ file: target.file, line: 1, severity: 'error', rule: 'syntax', message: `cannot read the file: ${(error as Error).message}` });
      return;
    }
    const own: Finding[] = doc.problems.map((p) => ({
      file: p.file,
      line: p.line,
      severity: 'error',
      rule: p.message.startsWith('INCLUDE') ? 'include' : 'syntax',
      message: p.message,
    }));
    const { findings: ruleFindings, secrets } = runRules({
      doc,
      root: target.root,
      containerPath: containerPathOf(target.file, target.root),
      mapPattern,
      ...(options.mirror ? { mirror: options.mirror } : {}),
    });
    findings.push(...own, ...ruleFindings);
    if (tool && isMapfileName(basename(target.file))) {
      const check = await checkWithMapServer(tool, doc, secrets, options.env);
      // MapServer often reports what our own parser already found: keep one finding per line.
      const ownLines = new Set(own.map((f) => `${f.file}:${f.line}`));
      findings.push(...check.findings.filter((f) => !ownLines.has(`${f.file}:${f.line}`)));
    }
  };
  // A few MapServer processes at a time: each load takes a fraction of a second.
  await inParallel(mapfiles, 4, lintOne);
  for (const target of sideFiles) findings.push(...(await scanSideFile(target.file)));

  const unique = [...new Map(findings.map((f) => [findingKey(f), f])).values()];
  const order = (f: Finding): string => `${f.rule}\0${f.message}`;
  unique.sort((a, b) => (a.file !== b.file ? (a.file < b.file ? -1 : 1) : a.line !== b.line ? a.line - b.line : order(a) < order(b) ? -1 : order(a) > order(b) ? 1 : 0));
  return {
    mapfiles: mapfiles.map((t) => t.file),
    sideFiles: sideFiles.map((t) => t.file),
    findings: unique,
    errors: unique.filter((f) => f.severity === 'error').length,
    warnings: unique.filter((f) => f.severity === 'warning').length,
    mapserver,
  };
}

const SIDE_FILE_KEY = /\b(?:AKIA|ASIA)[A-Z0-9]{16}\b/;
const PRIVATE_KEY = /-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----/;

/** Templates, symbol sets and other side files go to the bucket too: look for keys in text files. */
async function scanSideFile(file: string): Promise<Finding[]> {
  const handle = await open(file, 'r');
  try {
    const buffer = Buffer.alloc(SIDE_FILE_SCAN_LIMIT);
    const { bytesRead } = await handle.read(buffer, 0, SIDE_FILE_SCAN_LIMIT, 0);
    const data = buffer.subarray(0, bytesRead);
    if (data.includes(0)) return [];
    const lines = data.toString('utf8').split('\n');
    const findings: Finding[] = [];
    lines.forEach((text, index) => {
      if (SIDE_FILE_KEY.test(text)) {
        findings.push({
          file,
          line: index + 1,
          severity: 'error',
          rule: 'secret',
          message: 'an AWS access key id is written in this file (value not shown); remove it: the bucket is no place for keys, and the ECS task role gives MapServer its access',
        });
      }
      if (PRIVATE_KEY.test(text)) {
        findings.push({ file, line: index + 1, severity: 'error', rule: 'secret', message: 'a private key is written in this file (not shown); remove it from the mapfiles folder' });
      }
    });
    return findings;
  } finally {
    await handle.close();
  }
}
