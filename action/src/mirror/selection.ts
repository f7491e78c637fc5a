// Which keys the mirror holds: what MapServer opens as files (mapfiles, includes, symbols, fonts,
// templates, vector side files), not the imagery GDAL reads through /vsis3/ from the same bucket.
// Pure rules, shared by the mirror and by the pipeline's lint rule that warns about them.

import { GLOB_PATTERN } from '../values.js';

export interface Selection {
  /** Patterns a key's path (relative to the prefix) must match; `*` matches everything. */
  include: readonly string[];
  /** Patterns that keep a key out even when included. */
  exclude: readonly string[];
  /** Objects larger than this are not mirrored. */
  maxObjectBytes: number;
}

/**
 * Raster and point-cloud formats: GDAL reads them by range through /vsis3/, and one of them can be
 * larger than the whole disk. Mapfiles, symbols, fonts, templates and vector files stay in.
 */
export const DEFAULT_EXCLUDE: readonly string[] = [
  '*.tif', '*.tiff', '*.ovr', '*.jp2', '*.j2k', '*.ecw', '*.sid', '*.img', '*.mrf', '*.nc', '*.hdf', '*.h5', '*.grib', '*.grb2', '*.las', '*.laz',
];
export const DEFAULT_INCLUDE: readonly string[] = ['*'];
/** Larger than any mapfile or side file the corpus holds by far; a raster of any use is larger. */
export const DEFAULT_MAX_OBJECT_BYTES = 64 * 1024 * 1024;
/** The most disk the mirror takes: the 30 GiB root volume keeps room for the system and Docker. */
export const DEFAULT_BUDGET_BYTES = 4 * 1024 * 1024 * 1024;

export const DEFAULT_SELECTION: Selection = { include: DEFAULT_INCLUDE, exclude: DEFAULT_EXCLUDE, maxObjectBytes: DEFAULT_MAX_OBJECT_BYTES };

/** A pattern is a glob: `*` and `?` stay within a path segment, `**` crosses them. */
export const PATTERN = GLOB_PATTERN;

const compiled = new Map<string, RegExp>();

/**
 * A pattern without `/` matches a file name in any folder (`*.tif`); one with `/` matches the whole
 * path (`imagery/**`). Matching ignores case: `.TIF` is as much a raster as `.tif`.
 */
export function matchesPattern(path: string, pattern: string): boolean {
  let regexp = compiled.get(pattern);
  if (!regexp) {
    let source = '';
    for (let i = 0; i < pattern.length; i++) {
      const char = pattern[i] ?? '';
      if (char === '*' && pattern[i + 1] === '*') {
        source += '.*';
        i += 1;
      } else if (char === '*') source += '[^/]*';
      else if (char === '?') source += '[^/]';
      else source += char.replace(/[.+^${}()|[\]\\]/g, '\\$&');
    }
    regexp = new RegExp(`^${source}$`, 'i');
    compiled.set(pattern, regexp);
  }
  const subject = pattern.includes('/') ? path : path.slice(path.lastIndexOf('/') + 1);
  return regexp.test(subject);
}

/** Why a path is not mirrored by its name, or undefined when its name is mirrored. */
export function excludedByName(path: string, selection: Selection): string | undefined {
  if (!selection.include.some((p) => matchesPattern(path, p))) return `not matched by the include patterns (${selection.include.join(' ')})`;
  const exclude = selection.exclude.find((p) => matchesPattern(path, p));
  return exclude ? `excluded by the pattern ${exclude}` : undefined;
}

/** Why an object is not mirrored by its name or size, or undefined when it is mirrored. */
export function excludedObject(path: string, size: number, selection: Selection): string | undefined {
  const byName = excludedByName(path, selection);
  if (byName) return byName;
  return size > selection.maxObjectBytes ? `larger than the largest mirrored object (${size} > ${selection.maxObjectBytes} bytes)` : undefined;
}

/** Parses a list of patterns separated by spaces or commas. */
export function parsePatterns(text: string): string[] {
  return text.split(/[\s,]+/).filter(Boolean);
}

/** A selection from pattern lists as settings give them: empty means the defaults, `none` means no patterns. */
export function selectionFrom(include: readonly string[], exclude: readonly string[], maxObjectMib: number): Selection {
  const list = (given: readonly string[], fallback: readonly string[]): string[] => (given.length === 0 ? [...fallback] : given.filter((p) => p !== 'none'));
  return { include: list(include, DEFAULT_INCLUDE), exclude: list(exclude, DEFAULT_EXCLUDE), maxObjectBytes: maxObjectMib * 1024 * 1024 };
}
