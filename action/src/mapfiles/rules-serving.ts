// Rules about how the image serves the mapfile: where MapServer writes its errors, the file name
// MS_MAP_PATTERN lets through, and the service URLs the metadata advertises to clients.
import { posix } from 'node:path';
import { blocksOf, pairsOf, statementsOf } from './blocks.js';
import { finding, type Finding, type RuleContext } from './findings.js';
import { hasMapExtension } from '../values.js';
import { pathInContainerRoot, withoutMapExtension } from './folder.js';
import { PREPARED_ERROR_FILES } from './served.js';

/** CONFIG "MS_ERRORFILE" must name a log the image prepares: any other file fails every request. */
export function errorFileRule({ doc, containerPath }: RuleContext, findings: Finding[]): void {
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

const ONLINE_RESOURCE_KEYS = new Set(['wms_onlineresource', 'ows_onlineresource', 'wfs_onlineresource', 'wcs_onlineresource']);

/** wms_onlineresource and its kin must be a URL that reaches this very mapfile. */
export function onlineResourceRule({ doc, containerPath, mapPattern }: RuleContext, findings: Finding[]): void {
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

/** The image refuses a mapfile whose /mapfiles path its MS_MAP_PATTERN does not match. */
export function mapPatternRule({ doc, containerPath, mapPattern }: RuleContext, findings: Finding[]): void {
  if (!hasMapExtension(containerPath)) return;
  if (mapPattern.test(containerPath)) return;
  findings.push(
    finding(
      { file: doc.path, line: 1 },
      'error',
      'map-pattern',
      `the image would refuse this mapfile as ${containerPath}: its MS_MAP_PATTERN (${mapPattern.source}) allows only names of letters, digits, _, - and . under /mapfiles, each folder and file name starting with a letter, digit, _ or -, and ending in .map; rename it`,
    ),
  );
}
