// With the mirror driver, an instance holds only the keys the mirror's selection takes in (no
// imagery, nothing over the size limit). A mapfile that names such a file by path would find
// nothing in /mapfiles: warn, and name the /vsis3/ path that reads it from the bucket instead.
import { statSync } from 'node:fs';
import { posix } from 'node:path';
import { MAPFILES_CONTAINER_PATH } from '../container.js';
import { excludedObject, selectionFrom } from '../mirror/selection.js';
import type { Settings } from '../settings.js';
import { blocksOf, statementIn, statementsOf, type SourceToken } from './blocks.js';
import { finding, type Finding, type MirrorLintContext, type RuleContext } from './findings.js';

/** Layer connection types whose DATA is a file path (as in rules-paths). */
const FILE_DATA_CONNECTIONS = new Set(['', 'LOCAL', 'FLATGEOBUF', 'CONTOUR', 'UVRASTER']);

export function mirrorSelectionRule(context: RuleContext, findings: Finding[]): void {
  if (!context.mirror) return;
  const { doc, containerPath } = context;
  const mapDir = posix.dirname(containerPath);
  const mapBlock = doc.root.children.find((b) => b.type === 'MAP') ?? doc.root;
  const shapePath = statementIn(mapBlock, 'SHAPEPATH')?.args[0]?.value;
  const dataBase = !shapePath ? mapDir : posix.isAbsolute(shapePath) ? shapePath : posix.join(mapDir, shapePath);
  const named: Array<[SourceToken, string, string]> = [];
  for (const layer of blocksOf(doc.root, 'LAYER')) {
    const connectionType = (statementIn(layer, 'CONNECTIONTYPE')?.args[0]?.value ?? '').toUpperCase();
    const data = statementIn(layer, 'DATA')?.args[0];
    if (data && FILE_DATA_CONNECTIONS.has(connectionType)) named.push([data, 'DATA', dataBase]);
    const connection = statementIn(layer, 'CONNECTION')?.args[0];
    if (connection && connectionType === 'OGR') named.push([connection, 'CONNECTION', dataBase]);
    const tileIndex = statementIn(layer, 'TILEINDEX')?.args[0];
    if (tileIndex) named.push([tileIndex, 'TILEINDEX', dataBase]);
  }
  for (const keyword of ['SYMBOLSET', 'FONTSET']) {
    const statement = statementIn(mapBlock, keyword);
    if (statement?.args[0]) named.push([statement.args[0], keyword, mapDir]);
  }
  for (const keyword of ['TEMPLATE', 'HEADER', 'FOOTER', 'KEYIMAGE', 'IMAGE']) {
    for (const statement of statementsOf(doc.root, keyword)) if (statement.args[0]) named.push([statement.args[0], keyword, mapDir]);
  }
  for (const [token, keyword, base] of named) {
    const message = notMirrored(context, token.value.trim(), base);
    if (message) findings.push(finding(token, 'warning', 'mirror', `${keyword} ${JSON.stringify(token.value.trim())} ${message}`));
  }
}

/** Why the instances will not hold the file a path names, or undefined when they will (or it is not a local path). */
function notMirrored(context: RuleContext, value: string, base: string): string | undefined {
  const mirror = context.mirror;
  // Substitutions, placeholders, GDAL virtual paths, URLs and driver prefixes are not files under /mapfiles.
  if (!mirror || value === '' || /[%<>]/.test(value) || value.startsWith('/vsi') || /^[A-Za-z][A-Za-z0-9_+.-]*:/.test(value)) return undefined;
  const absolute = posix.normalize(posix.isAbsolute(value) ? value : posix.join(base.startsWith('/') ? base : posix.join(MAPFILES_CONTAINER_PATH, base), value));
  if (!absolute.startsWith(`${MAPFILES_CONTAINER_PATH}/`)) return undefined;
  const path = posix.relative(MAPFILES_CONTAINER_PATH, absolute);
  const size = localSize(posix.join(context.root.split('\\').join('/'), path));
  const reason = excludedObject(path, size ?? 0, mirror.selection);
  if (!reason) return undefined;
  return `names a file the mirror does not copy to the instances (${reason}), so MapServer would not find it in /mapfiles; read it from the bucket with /vsis3/${mirror.bucket || '<bucket>'}/${mirror.prefix}${path}`;
}

function localSize(path: string): number | undefined {
  try {
    return statSync(path).size;
  } catch {
    return undefined;
  }
}

/** The mirror's selection as the settings give it, when the instances run the mirror driver. */
export function mirrorLintContext(
  settings: Pick<Settings, 'mountDriver' | 'mirrorInclude' | 'mirrorExclude' | 'mirrorMaxObjectMib' | 'bucket' | 'bucketPrefix'>,
): MirrorLintContext | undefined {
  if (settings.mountDriver !== 'mirror') return undefined;
  const selection = selectionFrom(settings.mirrorInclude, settings.mirrorExclude, settings.mirrorMaxObjectMib);
  return { selection, bucket: settings.bucket ?? '', prefix: settings.bucketPrefix };
}
