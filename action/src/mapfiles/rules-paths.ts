// Rules about the files a mapfile names (DATA, SHAPEPATH, SYMBOLSET, templates, INCLUDE...): the
// container reaches only /mapfiles (the bucket) and, through GDAL, /vsis3/ and other remote paths.
import { existsSync } from 'node:fs';
import { posix } from 'node:path';
import { blocksOf, statementIn, statementsOf, type SourceToken } from './blocks.js';
import { finding, type Finding, type RuleContext, type Severity } from './findings.js';
import { MAPFILES_CONTAINER_PATH } from '../container.js';
import { isContainerPath } from './folder.js';

type PathRole = 'data' | 'folder' | 'side-file' | 'template';

/** Layer connection types whose DATA is a file path (shapefile, GDAL raster, FlatGeobuf...). */
const FILE_DATA_CONNECTIONS = new Set(['', 'LOCAL', 'FLATGEOBUF', 'CONTOUR', 'UVRASTER']);

/** Every file a mapfile names must be reachable in the container. */
export function dataPathRule(context: RuleContext, findings: Finding[]): void {
  const { doc, containerPath } = context;
  const mapDir = posix.dirname(containerPath);
  const mapBlock = doc.root.children.find((b) => b.type === 'MAP') ?? doc.root;
  const shapePathStatement = statementIn(mapBlock, 'SHAPEPATH');
  const shapePath = shapePathStatement?.args[0]?.value;
  if (shapePathStatement?.args[0]) checkPath(context, shapePathStatement.args[0], 'SHAPEPATH', [mapDir], 'folder', findings);

  const dataBase = shapePath === undefined || shapePath === '' ? mapDir : posix.isAbsolute(shapePath) ? shapePath : posix.join(mapDir, shapePath);
  const layerNames = new Set(
    blocksOf(doc.root, 'LAYER')
      .map((layer) => statementIn(layer, 'NAME')?.args[0]?.value.toLowerCase())
      .filter((n): n is string => n !== undefined),
  );

  for (const layer of blocksOf(doc.root, 'LAYER')) {
    const connectionType = (statementIn(layer, 'CONNECTIONTYPE')?.args[0]?.value ?? '').toUpperCase();
    const isRaster = (statementIn(layer, 'TYPE')?.args[0]?.value ?? '').toUpperCase() === 'RASTER';
    // Shapefiles are read from SHAPEPATH only; OGR sources, GDAL rasters and tile indexes are
    // tried there first and then from the mapfile's folder (msTryBuildPath3, then msTryBuildPath).
    const fallback = isRaster || connectionType === 'OGR' ? [mapDir] : [];
    const data = statementIn(layer, 'DATA')?.args[0];
    if (data && FILE_DATA_CONNECTIONS.has(connectionType)) checkPath(context, data, 'DATA', [dataBase, ...fallback], 'data', findings);
    const connection = statementIn(layer, 'CONNECTION')?.args[0];
    if (connection && connectionType === 'OGR' && !isConnectionString(connection.value)) checkPath(context, connection, 'CONNECTION', [dataBase, mapDir], 'data', findings);
    const tileIndex = statementIn(layer, 'TILEINDEX')?.args[0];
    // TILEINDEX names either another layer of the map or a file.
    if (tileIndex && !layerNames.has(tileIndex.value.toLowerCase())) checkPath(context, tileIndex, 'TILEINDEX', [dataBase, mapDir], 'data', findings);
  }
  for (const keyword of ['SYMBOLSET', 'FONTSET']) {
    const statement = statementIn(mapBlock, keyword);
    if (statement?.args[0]) checkPath(context, statement.args[0], keyword, [mapDir], 'side-file', findings);
  }
  for (const keyword of ['TEMPLATE', 'HEADER', 'FOOTER', 'KEYIMAGE', 'IMAGE']) {
    for (const statement of statementsOf(doc.root, keyword)) {
      if (statement.args[0]) checkPath(context, statement.args[0], keyword, [mapDir], 'template', findings);
    }
  }
  // A missing INCLUDE is already an error of its own; here only where it points matters.
  for (const include of doc.includes) {
    checkPath(context, include.token, 'INCLUDE', [mapDir], 'template', findings);
  }
}

/** GDAL's virtual file systems that read from object storage or the network. */
const REMOTE_VSI = /^\/vsi(s3|s3_streaming|gs|gs_streaming|az|az_streaming|adls|oss|oss_streaming|swift|swift_streaming|curl|curl_streaming|webhdfs|hdfs)\//i;
/** Archive/compression wrappers whose inner path is checked like any other path. */
const WRAPPER_VSI = /^\/vsi(zip|gzip|tar|7z|rar|subfile|sparse|cached|crypt)\/(.*)$/i;

/** OGR data sources that are not files: inline VRT XML, key=value connection strings. */
function isConnectionString(value: string): boolean {
  return value.trimStart().startsWith('<') || /^\s*\w+\s*=/.test(value) || /[;]/.test(value);
}

/** A path is fine when it is fine from any of the folders MapServer tries, in order. */
function checkPath(context: RuleContext, token: SourceToken, keyword: string, baseDirs: readonly string[], role: PathRole, findings: Finding[]): void {
  const value = token.value.trim();
  // Runtime substitutions (%name%) and empty values cannot be judged before a request.
  // Nor can template placeholders (<name>) that a generator fills in later.
  if (value === '' || value.includes('%') || /<[^<>]+>/.test(value)) return;
  let first: ReturnType<typeof pathProblem>;
  for (const baseDir of baseDirs) {
    const problem = pathProblem(context, value, baseDir, role);
    if (!problem) return;
    first ??= problem;
  }
  if (first) findings.push(finding(token, first.severity, 'data-path', `${keyword} ${JSON.stringify(value)} ${first.message}`));
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

  const containerPath = posix.normalize(posix.isAbsolute(value) ? value : posix.join(baseDir.startsWith('/') ? baseDir : posix.join(MAPFILES_CONTAINER_PATH, baseDir), value));
  if (REMOTE_VSI.test(containerPath)) return undefined;
  if (!isContainerPath(containerPath)) {
    const how = posix.isAbsolute(value) ? 'is an absolute path outside /mapfiles' : `resolves to ${containerPath}, outside /mapfiles`;
    return {
      severity: 'error',
      message: `${how}: the container sees only the bucket (mounted at /mapfiles); put the file in the mapfiles folder and use a path relative to the mapfile, or read it from S3 with /vsis3/<bucket>/<key>`,
    };
  }
  if (role === 'template') return undefined;
  const local = posix.join(context.root.split('\\').join('/'), posix.relative(MAPFILES_CONTAINER_PATH, containerPath));
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
