// The lint rules: what breaks a mapfile once it is in the bucket and served by the image, checked
// on the parsed document. Messages name keywords and places, never the secret values themselves.
import { existsSync } from 'node:fs';
import { posix } from 'node:path';
import { blocksOf, pairsOf, statementIn, statementsOf, type Block, type SourceToken, type Statement } from './blocks.js';
import type { MapfileDocument } from './document.js';
import { CONTAINER_ROOT, hasMapExtension, isContainerPath, pathInContainerRoot, withoutMapExtension } from './folder.js';
import { PREPARED_ERROR_FILES } from './served.js';

export type Severity = 'error' | 'warning';
export type RuleId = 'syntax' | 'include' | 'secret' | 'errorfile' | 'data-path' | 'onlineresource' | 'map-pattern' | 'mapserver';

export interface Finding {
  file: string;
  line: number;
  severity: Severity;
  rule: RuleId;
  message: string;
}

/** Where a secret value sits in a source file, so every output can leave it out. */
export interface SecretSpan {
  file: string;
  start: number;
  end: number;
  value: string;
}

export interface RuleContext {
  doc: MapfileDocument;
  /** Local folder that is /mapfiles in the container (the synced folder). */
  root: string;
  /** The mapfile's path in the container, such as /mapfiles/roads/roads.map. */
  containerPath: string;
  mapPattern: RegExp;
  /** Whether a local file exists; injectable for tests. */
  exists?: (path: string) => boolean;
}

export interface RuleResult {
  findings: Finding[];
  secrets: SecretSpan[];
}

const TASK_ROLE_ADVICE =
  'remove it: in the container GDAL reads /vsis3/ with the ECS task role (input task-role-arn), which hands out short-lived credentials, so no key belongs in a mapfile';

/** CONFIG keys that are credentials (GDAL/CPL options and libpq's). */
const SECRET_CONFIG_KEYS = new Set([
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AZURE_STORAGE_ACCESS_KEY',
  'AZURE_STORAGE_CONNECTION_STRING',
  'AZURE_STORAGE_SAS_TOKEN',
  'AZURE_SAS',
  'GS_ACCESS_KEY_ID',
  'GS_SECRET_ACCESS_KEY',
  'GS_OAUTH2_CLIENT_SECRET',
  'GS_OAUTH2_REFRESH_TOKEN',
  'GS_OAUTH2_PRIVATE_KEY',
  'OSS_ACCESS_KEY_ID',
  'OSS_SECRET_ACCESS_KEY',
  'SWIFT_AUTH_V1_KEY',
  'GDAL_HTTP_USERPWD',
  'GDAL_HTTP_BEARER',
  'GDAL_HTTP_PROXYUSERPWD',
  'PGPASSWORD',
]);
const SECRET_CONFIG_NAME = /(SECRET|PASSWORD|PASSWD|TOKEN|ACCESS_KEY|USERPWD|CONNECTION_STRING|API_?KEY|PRIVATE_KEY)/i;
const AWS_CONFIG_KEYS = new Set(['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN']);

/** AWS access key ids (long-lived AKIA, temporary ASIA). */
const AWS_KEY_ID = /\b(?:AKIA|ASIA)[A-Z0-9]{16}\b/g;
/** key=value credentials inside connection strings, URLs' query strings and GDAL options. */
const SECRET_ASSIGNMENT = /\b(password|passwd|pwd|aws_secret_access_key|aws_session_token|secret_access_key|x-amz-security-token|sig|access_token)\s*=\s*('[^']*'|"[^"]*"|[^\s;&'"]+)/gi;
/** Credentials in a URL's user info: scheme://user:password@host. */
const URL_CREDENTIALS = /\b[a-z][a-z0-9+.-]*:\/\/[^/\s:@'"]+:([^/\s@'"]+)@/gi;
/** METADATA keys that hold credentials (wms_auth_password, wms_proxy_password...). */
const SECRET_METADATA_KEY = /(password|passwd|secret|token|api_?key)$/i;

export function runRules(context: RuleContext): RuleResult {
  const findings: Finding[] = [];
  const secrets: SecretSpan[] = [];
  secretRule(context, findings, secrets);
  errorFileRule(context, findings);
  dataPathRule(context, findings);
  onlineResourceRule(context, findings);
  mapPatternRule(context, findings);
  return { findings: dedupe(findings), secrets };
}

function finding(token: { file: string; line: number }, severity: Severity, rule: RuleId, message: string): Finding {
  return { file: token.file, line: token.line, severity, rule, message };
}

function dedupe(findings: Finding[]): Finding[] {
  const seen = new Set<string>();
  return findings.filter((f) => {
    const key = `${f.file}\0${f.line}\0${f.rule}\0${f.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function lineAt(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

// ---------------------------------------------------------------------------------------------
// Secrets

function secretRule({ doc }: RuleContext, findings: Finding[], secrets: SecretSpan[]): void {
  const addSpan = (token: SourceToken): void => {
    const start = token.contentStart ?? token.start;
    const end = token.contentEnd ?? token.end;
    if (end > start) secrets.push({ file: token.file, start, end, value: token.value });
  };

  // CONFIG "AWS_SECRET_ACCESS_KEY" "..." and other credential options.
  for (const statement of statementsOf(doc.root, 'CONFIG')) {
    const [key, value] = statement.args;
    if (!key || !value || value.value.trim() === '') continue;
    const name = key.value.toUpperCase();
    if (!SECRET_CONFIG_KEYS.has(name) && !SECRET_CONFIG_NAME.test(name)) continue;
    addSpan(value);
    const advice = AWS_CONFIG_KEYS.has(name)
      ? TASK_ROLE_ADVICE
      : 'remove it: no long-lived credential belongs in a mapfile; give the ECS task role access instead, or pass the value to the task as a secret from AWS Secrets Manager';
    findings.push(finding(key, 'error', 'secret', `CONFIG "${name}" writes a credential into the mapfile (value not shown); ${advice}`));
  }

  // METADATA "wms_auth_password" "..." and the like.
  for (const type of ['METADATA', 'VALIDATION', 'CONNECTIONOPTIONS']) {
    for (const block of blocksOf(doc.root, type)) {
      for (const [key, value] of pairsOf(block)) {
        if (!value || value.value.trim() === '' || !SECRET_METADATA_KEY.test(key.value)) continue;
        addSpan(value);
        findings.push(
          finding(key, 'error', 'secret', `${type} "${key.value}" holds a credential (value not shown); remove it and let the ECS task role or a Secrets Manager secret provide access`),
        );
      }
    }
  }

  // Any value: AWS key ids, password=... in connection strings, user:password@ in URLs.
  for (const token of doc.tokens) {
    if (token.kind === 'number' || token.kind === 'other') continue;
    scanText(token.value, token, token.contentStart ?? token.start, doc, findings, secrets, statementFor(doc, token));
  }
  // Comments too: a key in a commented-out line is still a key in the bucket.
  for (const comment of doc.comments) {
    scanText(comment.text, { file: comment.file, line: comment.line }, comment.start, doc, findings, secrets, 'a comment');
  }
}

function statementFor(doc: MapfileDocument, token: SourceToken): string {
  const found = findStatement(doc.root, token);
  return found ? found.keyword : 'a value';
}

function findStatement(block: Block, token: SourceToken): Statement | undefined {
  for (const s of block.statements) if (s.args.includes(token)) return s;
  for (const child of block.children) {
    const found = findStatement(child, token);
    if (found) return found;
  }
  return undefined;
}

function scanText(
  text: string,
  where: { file: string; line: number },
  baseOffset: number,
  doc: MapfileDocument,
  findings: Finding[],
  secrets: SecretSpan[],
  place: string,
): void {
  const source = doc.files.find((f) => f.path === where.file);
  // Offsets are exact only where the value is the raw text (no escapes); spans are also
  // redacted by value, so an inexact offset never leaks the secret.
  const spanAt = (index: number, value: string): SecretSpan => ({ file: where.file, start: baseOffset + index, end: baseOffset + index + value.length, value });
  const lineOf = (index: number): number => (source ? lineAt(source.text, baseOffset + index) : where.line);

  for (const match of text.matchAll(AWS_KEY_ID)) {
    secrets.push(spanAt(match.index ?? 0, match[0]));
    findings.push({
      file: where.file,
      line: lineOf(match.index ?? 0),
      severity: 'error',
      rule: 'secret',
      message: `an AWS access key id is written in ${place} (value not shown); ${TASK_ROLE_ADVICE}`,
    });
  }
  for (const match of text.matchAll(SECRET_ASSIGNMENT)) {
    const [, name = '', rawValue = ''] = match;
    const value = rawValue.replace(/^['"]|['"]$/g, '');
    if (value === '') continue;
    const index = (match.index ?? 0) + match[0].length - rawValue.length;
    secrets.push(spanAt(index, rawValue));
    if (value !== rawValue) secrets.push(spanAt(index + 1, value));
    const lower = name.toLowerCase();
    const advice = lower.startsWith('aws_') || lower === 'secret_access_key' || lower === 'x-amz-security-token'
      ? TASK_ROLE_ADVICE
      : 'remove it: keep the password out of the bucket, for example in a PostgreSQL service file (service=name) or an environment variable the ECS task gets from AWS Secrets Manager';
    findings.push({
      file: where.file,
      line: lineOf(match.index ?? 0),
      severity: 'error',
      rule: 'secret',
      message: `${place} holds ${lower}= with a credential (value not shown); ${advice}`,
    });
  }
  for (const match of text.matchAll(URL_CREDENTIALS)) {
    const password = match[1] ?? '';
    const index = (match.index ?? 0) + match[0].length - 1 - password.length;
    secrets.push(spanAt(index, password));
    findings.push({
      file: where.file,
      line: lineOf(match.index ?? 0),
      severity: 'error',
      rule: 'secret',
      message: `${place} holds a URL with a user name and password (value not shown); remove the credentials from the URL and grant access to the ECS task role instead`,
    });
  }
}

// ---------------------------------------------------------------------------------------------
// MS_ERRORFILE

function errorFileRule({ doc, containerPath }: RuleContext, findings: Finding[]): void {
  for (const statement of statementsOf(doc.root, 'CONFIG')) {
    const [key, value] = statement.args;
    if (!key || !value || key.value.toUpperCase() !== 'MS_ERRORFILE') continue;
    const file = value.value;
    if (file === '' || (PREPARED_ERROR_FILES as readonly string[]).includes(file)) continue;
    const advice = `use "stderr" (MapServer's errors then reach the container log) or "/var/log/ms_error.log", which the image prepares`;
    if (file === 'stdout') {
      findings.push(finding(key, 'error', 'errorfile', `MS_ERRORFILE "stdout" mixes MapServer's errors into the HTTP responses; ${advice}`));
    } else if (posix.isAbsolute(file)) {
      findings.push(
        finding(key, 'error', 'errorfile', `MS_ERRORFILE "${file}" is not prepared by the image: MapServer (user www-data) cannot open it and then fails every request to this mapfile; ${advice}`),
      );
    } else {
      const resolved = posix.join(posix.dirname(containerPath), file);
      findings.push(
        finding(key, 'error', 'errorfile', `MS_ERRORFILE "${file}" resolves to ${resolved}, inside the read-only /mapfiles mount, so every request to this mapfile fails; ${advice}`),
      );
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Data paths

type PathRole = 'data' | 'folder' | 'side-file' | 'template';

/** Layer connection types whose DATA is a file path (shapefile, GDAL raster, FlatGeobuf...). */
const FILE_DATA_CONNECTIONS = new Set(['', 'LOCAL', 'FLATGEOBUF', 'CONTOUR', 'UVRASTER']);

function dataPathRule(context: RuleContext, findings: Finding[]): void {
  const { doc, containerPath } = context;
  const mapDir = posix.dirname(containerPath);
  const mapBlock = doc.root.children.find((b) => b.type === 'MAP') ?? doc.root;
  const shapePathStatement = statementIn(mapBlock, 'SHAPEPATH');
  const shapePath = shapePathStatement?.args[0]?.value;
  if (shapePathStatement?.args[0]) checkPath(context, shapePathStatement.args[0], 'SHAPEPATH', mapDir, 'folder', findings);

  const dataBase = shapePath === undefined || shapePath === '' ? mapDir : posix.isAbsolute(shapePath) ? shapePath : posix.join(mapDir, shapePath);
  const layerNames = new Set(
    blocksOf(doc.root, 'LAYER')
      .map((layer) => statementIn(layer, 'NAME')?.args[0]?.value.toLowerCase())
      .filter((n): n is string => n !== undefined),
  );

  for (const layer of blocksOf(doc.root, 'LAYER')) {
    const connectionType = (statementIn(layer, 'CONNECTIONTYPE')?.args[0]?.value ?? '').toUpperCase();
    const data = statementIn(layer, 'DATA')?.args[0];
    if (data && FILE_DATA_CONNECTIONS.has(connectionType)) checkPath(context, data, 'DATA', dataBase, 'data', findings);
    const connection = statementIn(layer, 'CONNECTION')?.args[0];
    if (connection && connectionType === 'OGR') checkPath(context, connection, 'CONNECTION', dataBase, 'data', findings);
    const tileIndex = statementIn(layer, 'TILEINDEX')?.args[0];
    // TILEINDEX names either another layer of the map or a file.
    if (tileIndex && !layerNames.has(tileIndex.value.toLowerCase())) checkPath(context, tileIndex, 'TILEINDEX', dataBase, 'data', findings);
  }
  for (const keyword of ['SYMBOLSET', 'FONTSET']) {
    const statement = statementIn(mapBlock, keyword);
    if (statement?.args[0]) checkPath(context, statement.args[0], keyword, mapDir, 'side-file', findings);
  }
  for (const keyword of ['TEMPLATE', 'HEADER', 'FOOTER', 'KEYIMAGE', 'IMAGE']) {
    for (const statement of statementsOf(doc.root, keyword)) {
      if (statement.args[0]) checkPath(context, statement.args[0], keyword, mapDir, 'template', findings);
    }
  }
  // A missing INCLUDE is already an error of its own; here only where it points matters.
  for (const include of doc.includes) {
    checkPath(context, include.token, 'INCLUDE', mapDir, 'template', findings);
  }
}

/** GDAL's virtual file systems that read from object storage or the network. */
const REMOTE_VSI = /^\/vsi(s3|s3_streaming|gs|gs_streaming|az|az_streaming|adls|oss|oss_streaming|swift|swift_streaming|curl|curl_streaming|webhdfs|hdfs)\//i;
/** Archive/compression wrappers whose inner path is checked like any other path. */
const WRAPPER_VSI = /^\/vsi(zip|gzip|tar|7z|rar|subfile|sparse|cached|crypt)\/(.*)$/i;

function checkPath(context: RuleContext, token: SourceToken, keyword: string, baseDir: string, role: PathRole, findings: Finding[]): void {
  const value = token.value.trim();
  // Runtime substitutions (%name%) and empty values cannot be judged before a request.
  // Nor can template placeholders (<name>) that a generator fills in later.
  if (value === '' || value.includes('%') || /<[^<>]+>/.test(value)) return;
  const problem = pathProblem(context, value, baseDir, role);
  if (problem) findings.push(finding(token, problem.severity, 'data-path', `${keyword} ${JSON.stringify(value)} ${problem.message}`));
}

function pathProblem(context: RuleContext, value: string, baseDir: string, role: PathRole): { severity: Severity; message: string } | undefined {
  const s3Url = /^s3:\/\/([^/]+)\/?(.*)$/i.exec(value);
  if (s3Url) return { severity: 'error', message: `is an s3:// URL, which GDAL and MapServer cannot open; write /vsis3/${s3Url[1]}/${s3Url[2]} (read with the ECS task role)` };
  const s3Http = /^https?:\/\/(?:([a-z0-9.-]+)\.s3[.-](?:[a-z0-9-]+\.)?amazonaws\.com\/(.*)|s3[.-](?:[a-z0-9-]+\.)?amazonaws\.com\/([^/]+)\/(.*))$/i.exec(value);
  if (s3Http) {
    const bucket = s3Http[1] ?? s3Http[3];
    const key = s3Http[2] ?? s3Http[4];
    return {
      severity: 'warning',
      message: `reads S3 over plain HTTP, which works only for public objects; write /vsis3/${bucket}/${key} so GDAL signs the requests with the ECS task role`,
    };
  }
  if (/^(vsis3|vsicurl|vsigs|vsiaz|vsizip)\//i.test(value)) {
    return { severity: 'error', message: `has no leading slash, so it is read as a local path under /mapfiles; write /${value}` };
  }
  if (/^\/vsis3\/?$/i.test(value) || /^\/vsis3\/\//i.test(value)) {
    return { severity: 'error', message: 'names no bucket; write /vsis3/<bucket>/<key>' };
  }
  if (REMOTE_VSI.test(value) || /^[a-z][a-z0-9+.-]*:\/\//i.test(value)) return undefined;
  const wrapped = WRAPPER_VSI.exec(value);
  if (wrapped) return wrapped[2] ? pathProblem(context, `/${wrapped[2].replace(/^\/+/, '')}`, baseDir, role) : undefined;
  if (/^[A-Za-z]:[\\/]/.test(value) || value.startsWith('\\\\')) {
    return { severity: 'error', message: 'is a Windows path; the container runs Linux and sees only /mapfiles (the bucket) and /vsis3/ paths' };
  }
  if (value.startsWith('~')) return { severity: 'error', message: 'starts with ~, which MapServer does not expand; use a path relative to the mapfile or /vsis3/' };
  // Driver-prefixed data sources (PG:, GPKG:file:layer, NETCDF:...) are not plain paths.
  if (/^[A-Za-z][A-Za-z0-9_]*:/.test(value)) return undefined;

  const containerPath = posix.normalize(posix.isAbsolute(value) ? value : posix.join(baseDir.startsWith('/') ? baseDir : posix.join(CONTAINER_ROOT, baseDir), value));
  if (REMOTE_VSI.test(containerPath)) return undefined;
  if (!isContainerPath(containerPath)) {
    const how = posix.isAbsolute(value) ? 'is an absolute path outside /mapfiles' : `resolves to ${containerPath}, outside /mapfiles`;
    return {
      severity: 'error',
      message: `${how}: the container sees only the bucket (mounted at /mapfiles); put the file in the mapfiles folder and use a path relative to the mapfile, or read it from S3 with /vsis3/<bucket>/<key>`,
    };
  }
  if (role === 'template') return undefined;
  const local = posix.join(context.root.split('\\').join('/'), posix.relative(CONTAINER_ROOT, containerPath));
  const exists = context.exists ?? existsSync;
  const candidates = role === 'data' && posix.extname(local) === '' ? [local, `${local}.shp`, `${local}.SHP`] : [local];
  if (!candidates.some((c) => exists(c))) {
    return {
      severity: 'warning',
      message: `is not in the mapfiles folder (looked for ${local}${candidates.length > 1 ? '[.shp]' : ''}); in the container it would be ${containerPath}, which is only there if it is in the bucket; for data kept elsewhere in S3 use /vsis3/<bucket>/<key>`,
    };
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Online resource URLs

const ONLINE_RESOURCE_KEYS = new Set(['wms_onlineresource', 'ows_onlineresource', 'wfs_onlineresource', 'wcs_onlineresource']);

function onlineResourceRule({ doc, containerPath, mapPattern }: RuleContext, findings: Finding[]): void {
  const expectedAlias = withoutMapExtension(pathInContainerRoot(containerPath));
  const forms = `https://<host>/?map=${containerPath}, https://<host>/wms/?map=${containerPath} or https://<host>/maps/${expectedAlias}?`;
  for (const block of blocksOf(doc.root, 'METADATA')) {
    for (const [key, value] of pairsOf(block)) {
      if (!value || !ONLINE_RESOURCE_KEYS.has(key.value.toLowerCase())) continue;
      const problem = onlineResourceProblem(value.value, containerPath, expectedAlias, mapPattern);
      if (problem) findings.push(finding(key, 'warning', 'onlineresource', `"${key.value}" ${problem}; the image serves this mapfile as ${forms}`));
    }
  }
}

export function onlineResourceProblem(value: string, containerPath: string, expectedAlias: string, mapPattern: RegExp): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return `${JSON.stringify(value)} is not an absolute http(s) URL (clients call the URL given in GetCapabilities)`;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return `${JSON.stringify(value)} is not an http(s) URL`;
  const path = url.pathname;
  if (path === '/' || path === '/wms/' || path === '/wms') {
    const map = url.searchParams.get('map');
    if (!map) return `${JSON.stringify(value)} has no map= parameter, which the path ${path} needs`;
    if (!mapPattern.test(map)) return `names map=${map}, which the image's MS_MAP_PATTERN refuses`;
    if (map !== containerPath) return `names map=${map}, but this file is ${containerPath}`;
    return undefined;
  }
  const alias = /^\/maps\/(.+)$/.exec(path);
  if (alias) {
    if (alias[1] !== expectedAlias) return `points at /maps/${alias[1]}, but this file is served as /maps/${expectedAlias}`;
    return undefined;
  }
  return `${JSON.stringify(value)} uses the path ${path}, which the image does not serve`;
}

// ---------------------------------------------------------------------------------------------
// File names

function mapPatternRule({ doc, containerPath, mapPattern }: RuleContext, findings: Finding[]): void {
  if (!hasMapExtension(containerPath)) return;
  if (mapPattern.test(containerPath)) return;
  findings.push({
    file: doc.path,
    line: 1,
    severity: 'error',
    rule: 'map-pattern',
    message: `the image would refuse this mapfile as ${containerPath}: its MS_MAP_PATTERN (${mapPattern.source}) allows only names of letters, digits, _, - and . under /mapfiles, each folder and file name starting with a letter, digit, _ or -, and ending in .map; rename it`,
  });
}
