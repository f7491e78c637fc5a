// The local folder of mapfiles and the container's view of it: which files it holds, which of
// them are mapfiles, and where each one sits under /mapfiles once the bucket is mounted there.
import { readdir, stat } from 'node:fs/promises';
import { isAbsolute, join, relative, sep } from 'node:path';
import { MAPFILES_CONTAINER_PATH } from '../container.js';
import { hasMapExtension, MAP_EXTENSION } from '../values.js';


/** Folders and files never linted or synced: version control, editor and OS litter. */
export function isIgnoredName(name: string): boolean {
  return name.startsWith('.') || name === 'node_modules' || name === 'Thumbs.db';
}

export function withoutMapExtension(name: string): string {
  return name.replace(MAP_EXTENSION, '');
}

/** Source maps of web templates share the .map extension but are not mapfiles. */
export function isMapfileName(name: string): boolean {
  return hasMapExtension(name) && !/\.(js|css|mjs)\.map$/i.test(name);
}

/** Every file below a folder, in name order, skipping ignored names and following links to files. */
export async function walkFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const entries = await readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    if (isIgnoredName(entry.name)) continue;
    const full = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await walkFiles(full)));
    else if (entry.isFile()) out.push(full);
    else if (entry.isSymbolicLink()) {
      const target = await stat(full).catch(() => undefined);
      if (target?.isFile()) out.push(full);
    }
  }
  return out;
}

/** Whether a path lies below a folder (the folder itself does not count). */
export function isInside(file: string, dir: string): boolean {
  const rel = relative(dir, file);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
}

/**
 * The local folder that is /mapfiles for a file: the mapfiles folder when the file is in it,
 * else `otherwise` (the folder the file was found in).
 */
export function localRootFor(file: string, mapfilesDir: string, otherwise: string): string {
  return isInside(file, mapfilesDir) ? mapfilesDir : otherwise;
}

/** A local file's path in the container, such as /mapfiles/roads/roads.map. */
export function containerPathOf(file: string, localRoot: string): string {
  return `${MAPFILES_CONTAINER_PATH}/${relative(localRoot, file).split(sep).join('/')}`;
}

/** Whether a path names /mapfiles or something below it. */
export function isContainerPath(path: string): boolean {
  return path === MAPFILES_CONTAINER_PATH || path.startsWith(`${MAPFILES_CONTAINER_PATH}/`);
}

/** A /mapfiles/... path as a path in the local folder that is /mapfiles. */
export function localPathOf(containerPath: string, localRoot: string): string {
  return join(localRoot, containerPath.slice(MAPFILES_CONTAINER_PATH.length));
}

/** A /mapfiles/... path without the /mapfiles/ in front: the name the image's /maps/ alias uses. */
export function pathInContainerRoot(containerPath: string): string {
  return containerPath.startsWith(`${MAPFILES_CONTAINER_PATH}/`) ? containerPath.slice(MAPFILES_CONTAINER_PATH.length + 1) : containerPath;
}
