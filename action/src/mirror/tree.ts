// The mirrored folder on local disk. A changed file is streamed into a staging folder on the same
// file system and renamed over its target, so a reader (MapServer) opens either the old file or the
// new one, never half of one. Ownership and modes are those the s3fs mount gives (uid/gid/umask).
import { randomBytes } from 'node:crypto';
import { createWriteStream, type BigIntStats } from 'node:fs';
import { chmod, chown, lstat, mkdir, readdir, rename, rm, rmdir, stat } from 'node:fs/promises';
import { dirname, join, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

export interface TreeOptions {
  /** The mirrored folder (bind-mounted read-only where MapServer reads it). */
  root: string;
  /** Staging folder for downloads in progress; must be on the same file system as root. */
  staging: string;
  uid?: number;
  gid?: number;
  /** Like the mount's umask: 0022 gives 0644 files and 0755 folders. */
  umask: number;
}

/** Identifies one version of a file on disk: a rename puts another inode in place. */
export function stampOf(stats: BigIntStats): string {
  return `${stats.ino}:${stats.mtimeNs}`;
}

/** A key cannot be placed because a file stands where a folder must be, or the other way round. */
export class PathConflict extends Error {
  override readonly name = 'PathConflict';
}

export class LocalTree {
  readonly fileMode: number;
  readonly folderMode: number;

  constructor(private readonly options: TreeOptions) {
    this.fileMode = 0o666 & ~options.umask;
    this.folderMode = 0o777 & ~options.umask;
  }

  async prepare(): Promise<void> {
    await mkdir(this.options.root, { recursive: true });
    await this.own(this.options.root, this.folderMode);
    // Leftovers of downloads cut short by a restart.
    await rm(this.options.staging, { recursive: true, force: true });
    await mkdir(this.options.staging, { recursive: true, mode: 0o700 });
    const [rootDevice, stagingDevice] = await Promise.all([stat(this.options.root), stat(this.options.staging)]);
    if (rootDevice.dev !== stagingDevice.dev) {
      throw new Error(`${this.options.staging} and ${this.options.root} are on different file systems: renames would not be atomic`);
    }
  }

  /** Streams `body` into place atomically; returns the file's stamp (see stampOf). */
  async writeFile(relativePath: string, body: Readable): Promise<string> {
    const target = this.absolute(relativePath);
    await this.ensureFolders(dirname(relativePath));
    const existing = await lstat(target).catch(() => undefined);
    if (existing?.isDirectory()) throw new PathConflict(`${relativePath} is a folder of other keys`);
    const temporary = join(this.options.staging, randomBytes(8).toString('hex'));
    try {
      await pipeline(body, createWriteStream(temporary, { mode: this.fileMode }));
      await this.own(temporary, this.fileMode);
      const stamp = stampOf(await stat(temporary, { bigint: true }));
      try {
        await rename(temporary, target);
      } catch (error) {
        // A folder-marker delete pruned the parent folder between ensureFolders and the rename.
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
        await this.ensureFolders(dirname(relativePath));
        await rename(temporary, target);
      }
      return stamp;
    } catch (error) {
      await rm(temporary, { force: true });
      // A folder took the target's place, or a file took a parent folder's, since the checks above.
      if (['EISDIR', 'ENOTDIR', 'ENOTEMPTY', 'EEXIST'].includes((error as NodeJS.ErrnoException).code ?? '')) {
        throw new PathConflict(`${relativePath} collides with another key's file or folder`);
      }
      throw error;
    }
  }

  /** Removes a file and the folders it leaves empty (except those kept as folder markers). */
  async removeFile(relativePath: string, keepFolders: (path: string) => boolean): Promise<void> {
    const target = this.absolute(relativePath);
    const existing = await lstat(target).catch(() => undefined);
    if (!existing) return;
    if (existing.isDirectory()) throw new PathConflict(`${relativePath} is a folder of other keys`);
    await rm(target, { force: true });
    await this.pruneFolders(dirname(relativePath), keepFolders);
  }

  async ensureFolders(relativeFolder: string): Promise<void> {
    if (relativeFolder === '.' || relativeFolder === '') return;
    let current = this.options.root;
    for (const segment of relativeFolder.split('/')) {
      current = join(current, segment);
      const existing = await lstat(current).catch(() => undefined);
      if (existing?.isDirectory()) continue;
      if (existing) throw this.fileInTheWay(relativeFolder, current);
      try {
        await mkdir(current);
      } catch (error) {
        // Another key's refresh may have placed a file or a folder here meanwhile.
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        if ((await lstat(current)).isDirectory()) continue;
        throw this.fileInTheWay(relativeFolder, current);
      }
      await this.own(current, this.folderMode);
    }
  }

  /** Removes empty folders from `relativeFolder` upwards, stopping at the root or a kept folder. */
  async pruneFolders(relativeFolder: string, keep: (path: string) => boolean): Promise<void> {
    let folder = relativeFolder;
    while (folder !== '.' && folder !== '' && !keep(folder)) {
      try {
        await rmdir(this.absolute(folder));
      } catch {
        return; // not empty, or already gone
      }
      folder = dirname(folder);
    }
  }

  /** Every file under the root with its size and stamp, as relative paths (for the first reconciliation). */
  async listFiles(): Promise<Map<string, { size: number; stamp: string }>> {
    const files = new Map<string, { size: number; stamp: string }>();
    const walk = async (relative: string): Promise<void> => {
      const entries = await readdir(relative ? this.absolute(relative) : this.options.root, { withFileTypes: true });
      for (const entry of entries) {
        const path = relative ? `${relative}/${entry.name}` : entry.name;
        if (entry.isDirectory()) await walk(path);
        else {
          const stats = await lstat(this.absolute(path), { bigint: true });
          files.set(path, { size: Number(stats.size), stamp: stampOf(stats) });
        }
      }
    };
    await walk('');
    return files;
  }

  private fileInTheWay(relativeFolder: string, file: string): PathConflict {
    return new PathConflict(`${relativeFolder} needs a folder where the file ${file.slice(this.options.root.length + 1)} is`);
  }

  private absolute(relativePath: string): string {
    const path = join(this.options.root, relativePath);
    // placeOfKey already refuses anything that could escape; this guards against a future caller.
    if (!path.startsWith(this.options.root + sep)) throw new Error(`refusing a path outside ${this.options.root}: ${relativePath}`);
    return path;
  }

  private async own(path: string, mode: number): Promise<void> {
    await chmod(path, mode);
    if (this.options.uid !== undefined && this.options.gid !== undefined) await chown(path, this.options.uid, this.options.gid);
  }
}
