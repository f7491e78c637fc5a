// Rules about what a mapfile takes from the server rather than from itself: the plugins declared in
// the image's MapServer config file, and paths resolved against the server's working directory.
import { blocksOf, statementIn, statementsOf } from './blocks.js';
import { finding, type Finding, type RuleContext } from './findings.js';
import { IMAGE_CONFIG_FILE, IMAGE_PROJ_DATA, IMAGE_PROJ_INIT_FILES, IMAGE_WORKING_DIR, PROJ_DATABASE_INITS } from './served.js';

/** PLUGIN "name" is looked up in the config file's PLUGINS block; MapServer refuses a name not there. */
export function pluginRule({ doc, imagePlugins = [] }: RuleContext, findings: Finding[]): void {
  for (const layer of blocksOf(doc.root, 'LAYER')) {
    const plugin = statementIn(layer, 'PLUGIN')?.args[0];
    if (!plugin || plugin.kind !== 'string' || imagePlugins.includes(plugin.value)) continue;
    const declared = imagePlugins.length === 0 ? 'declares no plugin' : `declares only ${imagePlugins.map((p) => `"${p}"`).join(', ')}`;
    findings.push(
      finding(
        plugin,
        'error',
        'mapserver',
        `PLUGIN "${plugin.value}" is not a plugin the image's MapServer knows: MapServer 8 looks the name up in the PLUGINS block of its config file, and the image's (${IMAGE_CONFIG_FILE}) ${declared}, so MapServer refuses this mapfile ("Plugin value not found in config file"); add the plugin to the image and its config, or use a built-in CONNECTIONTYPE`,
      ),
    );
  }
}

/** init=path:code with a relative path: PROJ opens it from the process's working directory. */
const RELATIVE_INIT = /^\+?init=((?:\.{1,2}\/|[^/:][^:]*\/)[^:]*):/i;

export function relativeInitRule({ doc }: RuleContext, findings: Finding[]): void {
  for (const projection of blocksOf(doc.root, 'PROJECTION')) {
    for (const item of projection.items) {
      const match = RELATIVE_INIT.exec(item.value.trim());
      if (!match) continue;
      const path = match[1] as string;
      findings.push(
        finding(
          item,
          'warning',
          'data-path',
          `PROJECTION "${item.value}" reads ${path} from the folder MapServer runs in, not from this mapfile's folder: it works where MapServer is started next to ${path}, but the image's MapServer runs in ${IMAGE_WORKING_DIR}, where ${path} is not, and then refuses the mapfile; give the projection by EPSG code or parameters, or name the file by its absolute path in the container (/mapfiles/...)`,
        ),
      );
    }
  }
}

/** init=name:code with a bare name: PROJ opens the file name from its data folder. */
const BARE_INIT = /^\+?init=([^/:]+):/i;

/** A bare init file the image's PROJ data does not have: MapServer refuses the projection. */
export function initFileRule({ doc }: RuleContext, findings: Finding[]): void {
  // A mapfile that points PROJ at its own data folder may bring any init file.
  if (statementsOf(doc.root, 'CONFIG').some((s) => /^PROJ_(DATA|LIB)$/i.test(s.args[0]?.value ?? ''))) return;
  const known = new Set([...IMAGE_PROJ_INIT_FILES, ...PROJ_DATABASE_INITS].map((name) => name.toLowerCase()));
  for (const projection of blocksOf(doc.root, 'PROJECTION')) {
    for (const item of projection.items) {
      const name = BARE_INIT.exec(item.value.trim())?.[1];
      if (!name || known.has(name.toLowerCase())) continue;
      findings.push(
        finding(
          item,
          'error',
          'mapserver',
          `PROJECTION "${item.value}" names the PROJ init file "${name}", which the image's PROJ data (${IMAGE_PROJ_DATA}) does not have, so MapServer refuses this mapfile ("Invalid value for an argument"); give the projection by EPSG code or parameters, or name the file by its absolute path in the container (/mapfiles/...)`,
        ),
      );
    }
  }
}
