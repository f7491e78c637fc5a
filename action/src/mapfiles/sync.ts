// sync-mapfiles' plan: the folder of mapfiles and side files compared with the objects under
// bucket/prefix. Objects carry the metadata s3fs reads as owner and mode (x-amz-meta-uid/gid/mode/
// mtime), so they are readable by MapServer's worker even on a mount without uid/gid options, and
// an MD5 checksum (x-amz-meta-md5chksum, as rclone writes it) so multipart uploads compare too.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { extname, join, relative, sep } from 'node:path';
import { walkFiles } from './folder.js';
import { WORKER_GID, WORKER_UID } from './served.js';

export interface LocalFile {
  /** Path inside the folder, with forward slashes; folders end with a slash. */
  relPath: string;
  /**
   * A folder, synced as an empty "folder/" object: without one s3fs shows the folder as
   * root-owned rwxr-x---, which MapServer's worker cannot enter on a mount without uid/gid options.
   */
  folder?: boolean;
  absPath: string;
  size: number;
  mtimeMs: number;
  /** MD5 of the content, hex. */
  md5: string;
}

export interface RemoteObject {
  key: string;
  size: number;
  /** ETag without quotes: the MD5 for single-part uploads, "<md5>-<parts>" for multipart ones. */
  etag: string;
  /** User metadata (x-amz-meta-*), when it was read. */
  metadata?: Record<string, string>;
}

export type SyncAction =
  | { kind: 'upload'; reason: 'new' | 'changed'; file: LocalFile; key: string }
  | { kind: 'metadata'; file: LocalFile; key: string }
  | { kind: 'delete'; key: string; size: number };

export interface SyncPlan {
  actions: SyncAction[];
  unchanged: number;
}

/** Regular file, rw-r--r--: what s3fs shows as the file's mode. */
export const FILE_MODE = 0o100644;
/** Folder, rwxr-xr-x. */
export const FOLDER_MODE = 0o40755;
export const EMPTY_MD5 = 'd41d8cd98f00b204e9800998ecf8427e';
const FOLDER_CONTENT_TYPE = 'application/x-directory';

const CONTENT_TYPES: Record<string, string> = {
  '.map': 'text/plain; charset=utf-8',
  '.inc': 'text/plain; charset=utf-8',
  '.include': 'text/plain; charset=utf-8',
  '.sym': 'text/plain; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.fnt': 'text/plain; charset=utf-8',
  '.conf': 'text/plain; charset=utf-8',
  '.prj': 'text/plain; charset=utf-8',
  '.cpg': 'text/plain; charset=utf-8',
  '.wld': 'text/plain; charset=utf-8',
  '.tfw': 'text/plain; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
  '.htm': 'text/html; charset=utf-8',
  '.xml': 'application/xml',
  '.sld': 'application/vnd.ogc.sld+xml',
  '.json': 'application/json',
  '.geojson': 'application/geo+json',
  '.csv': 'text/csv; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.svg': 'image/svg+xml',
  '.tif': 'image/tiff',
  '.tiff': 'image/tiff',
  '.ttf': 'font/ttf',
  '.otf': 'font/otf',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.gpkg': 'application/geopackage+sqlite3',
  '.fgb': 'application/octet-stream',
  '.zip': 'application/zip',
};

export function contentTypeFor(name: string): string {
  if (name.endsWith('/')) return FOLDER_CONTENT_TYPE;
  return CONTENT_TYPES[extname(name).toLowerCase()] ?? 'application/octet-stream';
}

export function md5Base64(hex: string): string {
  return Buffer.from(hex, 'hex').toString('base64');
}

/** The x-amz-meta-* headers of an object (the SDK adds the prefix). */
export function objectMetadata(file: LocalFile): Record<string, string> {
  return {
    mode: String(file.folder ? FOLDER_MODE : FILE_MODE),
    uid: String(WORKER_UID),
    gid: String(WORKER_GID),
    mtime: String(Math.floor(file.mtimeMs / 1000)),
    md5chksum: md5Base64(file.md5),
  };
}

/** Whether the object already has this content: by ETag when it is a plain MD5, else by the stored checksum. */
export function sameContent(file: LocalFile, remote: RemoteObject): boolean {
  if (remote.size !== file.size) return false;
  if (/^[0-9a-f]{32}$/i.test(remote.etag)) return remote.etag.toLowerCase() === file.md5;
  return remote.metadata?.md5chksum === md5Base64(file.md5);
}

/** Whether s3fs will show the object as owned by MapServer's worker with the right mode. */
export function hasWorkerMetadata(remote: RemoteObject, folder = false): boolean {
  const m = remote.metadata;
  return m !== undefined && m.mode === String(folder ? FOLDER_MODE : FILE_MODE) && m.uid === String(WORKER_UID) && m.gid === String(WORKER_GID) && /^\d+$/.test(m.mtime ?? '');
}

export function planSync(local: readonly LocalFile[], remote: ReadonlyMap<string, RemoteObject>, options: { prefix: string; deleteRemoved: boolean }): SyncPlan {
  const actions: SyncAction[] = [];
  let unchanged = 0;
  const wanted = new Set<string>();
  for (const file of local) {
    const key = `${options.prefix}${file.relPath}`;
    wanted.add(key);
    const existing = remote.get(key);
    if (!existing) actions.push({ kind: 'upload', reason: 'new', file, key });
    else if (!sameContent(file, existing)) actions.push({ kind: 'upload', reason: 'changed', file, key });
    else if (!hasWorkerMetadata(existing, file.folder)) actions.push({ kind: 'metadata', file, key });
    else unchanged++;
  }
  if (options.deleteRemoved) {
    for (const [key, object] of remote) {
      // Only under the prefix (never the prefix's own folder object).
      if (!key.startsWith(options.prefix) || key === options.prefix || wanted.has(key)) continue;
      actions.push({ kind: 'delete', key, size: object.size });
    }
  }
  const order = { upload: 0, metadata: 1, delete: 2 };
  actions.sort((a, b) => order[a.kind] - order[b.kind] || a.key.localeCompare(b.key));
  return { actions, unchanged };
}


export async function md5OfFile(path: string): Promise<string> {
  const hash = createHash('md5');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export async function scanLocal(dir: string): Promise<LocalFile[]> {
  const files: LocalFile[] = [];
  const folders = new Map<string, LocalFile>();
  for (const absPath of await walkFiles(dir)) {
    const info = await stat(absPath);
    const relPath = relative(dir, absPath).split(sep).join('/');
    files.push({ relPath, absPath, size: info.size, mtimeMs: info.mtimeMs, md5: await md5OfFile(absPath) });
    const parts = relPath.split('/');
    for (let i = 1; i < parts.length; i++) {
      const folder = `${parts.slice(0, i).join('/')}/`;
      if (folders.has(folder)) continue;
      const folderPath = join(dir, ...parts.slice(0, i));
      const folderInfo = await stat(folderPath);
      folders.set(folder, { relPath: folder, absPath: folderPath, size: 0, mtimeMs: folderInfo.mtimeMs, md5: EMPTY_MD5, folder: true });
    }
  }
  return [...folders.values(), ...files];
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  if (bytes < 1024 * 1024 * 1024) return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
  return `${(bytes / 1024 / 1024 / 1024).toFixed(2)} GiB`;
}

/** One line for the log: what an action does (or would do) to which object. */
export function formatAction(action: SyncAction, bucket: string): string {
  switch (action.kind) {
    case 'upload':
      if (action.file.folder) return `create folder object s3://${bucket}/${action.key} (${action.reason === 'new' ? 'owner and mode for s3fs' : 'changed'})`;
      return `upload (${action.reason}) ${action.file.relPath} (${formatBytes(action.file.size)}) -> s3://${bucket}/${action.key}`;
    case 'metadata':
      return `set owner/mode headers on s3://${bucket}/${action.key} (content unchanged)`;
    case 'delete':
      return `delete s3://${bucket}/${action.key} (no longer in the folder)`;
  }
}

export function countKind(actions: readonly SyncAction[], kind: SyncAction['kind']): number {
  return actions.filter((a) => a.kind === kind).length;
}

/** Files among the actions (the synced-files output): folder objects are bookkeeping for s3fs. */
export function syncedFileCount(actions: readonly SyncAction[]): number {
  return actions.filter((a) => (a.kind === 'delete' ? !a.key.endsWith('/') : !a.file.folder)).length;
}

export function formatPlanSummary(local: readonly LocalFile[], remoteObjects: number, plan: SyncPlan): string {
  const files = local.filter((f) => !f.folder).length;
  const folders = local.length - files;
  const { actions } = plan;
  return (
    `${files} local file${files === 1 ? '' : 's'} in ${folders} subfolder${folders === 1 ? '' : 's'}, ${remoteObjects} object${remoteObjects === 1 ? '' : 's'} under the prefix: ` +
    `${countKind(actions, 'upload')} to upload, ${countKind(actions, 'metadata')} to fix headers, ${countKind(actions, 'delete')} to delete, ${plan.unchanged} unchanged`
  );
}

export function formatSyncResult(done: readonly SyncAction[], unchanged: number): string {
  return `${countKind(done, 'upload')} uploaded, ${countKind(done, 'metadata')} headers fixed, ${countKind(done, 'delete')} deleted, ${unchanged} unchanged`;
}
