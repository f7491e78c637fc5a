// What the MapServer image serves, as the image itself defines it (docker/): MS_MAP_PATTERN from
// its MapServer config file, the URL forms its web server routes, and the error files it prepares.
// The pattern is read from docker/mapserver/mapserver.conf when the project's files are at hand;
// the copy below is what the image ships (a test keeps them equal).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pairsOf, parseBlocks, type SourceToken } from './blocks.js';
import { tokenize } from './lexer.js';

/** MapServer's worker in the image: Debian's www-data (the mount's MOUNT_UID/MOUNT_GID default too). */
export const WORKER_UID = 33;
export const WORKER_GID = 33;

/** MS_MAP_PATTERN of docker/mapserver/mapserver.conf (POSIX ERE; also valid as a JavaScript RegExp). */
export const IMAGE_MAP_PATTERN = '^/mapfiles/([A-Za-z0-9_-][A-Za-z0-9_.-]*/)*[A-Za-z0-9_-][A-Za-z0-9_.-]*\\.map$';

/** Error files a mapfile may name: the image prepares /var/log/ms_error.log for www-data (docker/Dockerfile). */
export const PREPARED_ERROR_FILES = ['stderr', '/var/log/ms_error.log'] as const;

export const IMAGE_CONFIG_FILE = join('docker', 'mapserver', 'mapserver.conf');

/** Reads MS_MAP_PATTERN from a MapServer config file's CONFIG > ENV block. */
export function mapPatternFromConfig(text: string): string | undefined {
  const lex = tokenize(text);
  const tokens: SourceToken[] = lex.tokens.map((t) => ({ ...t, file: 'mapserver.conf' }));
  const { root } = parseBlocks(tokens);
  for (const config of root.children.filter((b) => b.type === 'CONFIG')) {
    for (const env of config.children.filter((b) => b.type === 'ENV')) {
      for (const [key, value] of pairsOf(env)) {
        if (value && key.value.toUpperCase() === 'MS_MAP_PATTERN') return value.value;
      }
    }
  }
  return undefined;
}

/** The plugin names of a MapServer config file's CONFIG > PLUGINS block (PLUGIN "name" in a layer looks them up). */
export function pluginsFromConfig(text: string): string[] {
  const tokens: SourceToken[] = tokenize(text).tokens.map((t) => ({ ...t, file: 'mapserver.conf' }));
  const { root } = parseBlocks(tokens);
  const names: string[] = [];
  for (const config of root.children.filter((b) => b.type === 'CONFIG')) {
    for (const plugins of config.children.filter((b) => b.type === 'PLUGINS')) names.push(...pairsOf(plugins).map(([key]) => key.value));
  }
  return names;
}

/** The plugins the image's config declares: none in the shipped docker/mapserver/mapserver.conf. */
export const IMAGE_PLUGINS: readonly string[] = [];

/** The image's plugins, from the checkout when it is there. */
export function imagePlugins(projectRoot?: string): readonly string[] {
  if (projectRoot) {
    try {
      return pluginsFromConfig(readFileSync(join(projectRoot, IMAGE_CONFIG_FILE), 'utf8'));
    } catch {
      // Not a checkout of this project: use the shipped list.
    }
  }
  return IMAGE_PLUGINS;
}

/**
 * The image's PROJ data folder and its files, where PROJ looks up init=<file>:<code> (the image sets
 * no PROJ_DATA): `docker run --rm --entrypoint ls mapserver-ecs:local /usr/share/proj`. init=epsg:
 * and init=IGNF: are read from proj.db when no such file exists, so they resolve without one.
 */
export const IMAGE_PROJ_DATA = '/usr/share/proj';
export const IMAGE_PROJ_INIT_FILES: readonly string[] = ['CH', 'GL27', 'ITRF2000', 'ITRF2008', 'ITRF2014', 'ITRF2020', 'nad27', 'nad83', 'other.extra', 'world'];
export const PROJ_DATABASE_INITS: readonly string[] = ['epsg', 'ignf'];

/** Where the image's MapServer runs: mod_fcgid starts mapserv in the folder of the script. */
export const IMAGE_WORKING_DIR = '/usr/lib/cgi-bin';

/** The project checkout when the command runs in one; outside one (the bundled action) reading root throws. */
export function checkoutRoot(project: { readonly root: string }): string | undefined {
  try {
    return project.root;
  } catch {
    return undefined;
  }
}

/** The image's pattern, from the checkout when it is there. */
export function imageMapPattern(projectRoot?: string): string {
  if (projectRoot) {
    try {
      const fromConfig = mapPatternFromConfig(readFileSync(join(projectRoot, IMAGE_CONFIG_FILE), 'utf8'));
      if (fromConfig) return fromConfig;
    } catch {
      // Not a checkout of this project (the bundled action run elsewhere): use the shipped copy.
    }
  }
  return IMAGE_MAP_PATTERN;
}

/** MapServer compiles MS_MAP_PATTERN as a POSIX extended regex; translate its bracket classes for JavaScript. */
export function posixPatternToRegExp(pattern: string): RegExp {
  const classes: Record<string, string> = {
    alnum: 'A-Za-z0-9',
    alpha: 'A-Za-z',
    digit: '0-9',
    lower: 'a-z',
    upper: 'A-Z',
    space: ' \\t\\r\\n\\v\\f',
    punct: '!-\\/:-@\\[-`{-~',
    xdigit: '0-9A-Fa-f',
  };
  const translated = pattern.replace(/\[:([a-z]+):\]/g, (whole, name: string) => classes[name] ?? whole);
  return new RegExp(translated);
}
