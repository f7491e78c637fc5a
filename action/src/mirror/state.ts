// The ETags of the mirrored files, kept across restarts: a snapshot (state.json) plus a journal of
// the changes since (state.log, one JSON line each), so a change costs one appended line, not a
// rewrite of every key. The journal is folded into a new snapshot once it outgrows it.
import { appendFile, readFile, rename, rm, writeFile } from 'node:fs/promises';

export interface Entry {
  etag: string;
  size: number;
  folder: boolean;
  /**
   * The file's inode and modification time when its ETag was recorded. A file replaced after the
   * last save (a kill between the rename and the save) no longer matches, so its ETag is not trusted.
   */
  stamp?: string;
}

type Change = [key: string, entry: Entry | null];

export class StateStore {
  private pending = new Map<string, Entry | null>();
  private journalLines = 0;
  /** An append cut short (a full disk) may have left half a line: the next one starts afresh. */
  private torn = false;

  constructor(
    private readonly snapshotFile: string,
    private readonly journalFile = snapshotFile.replace(/\.json$/, '.log'),
  ) {}

  get dirty(): boolean {
    return this.pending.size > 0;
  }

  /** The saved entries: the snapshot, then the journal replayed; a line cut short by a kill is ignored. */
  async load(): Promise<Map<string, Entry>> {
    const entries = new Map<string, Entry>();
    try {
      const saved = JSON.parse(await readFile(this.snapshotFile, 'utf8')) as Record<string, Entry>;
      for (const [key, entry] of Object.entries(saved)) entries.set(key, entry);
    } catch {
      // No snapshot yet, or an unreadable one: every file is fetched again.
    }
    const journal = await readFile(this.journalFile, 'utf8').catch(() => '');
    for (const line of journal.split('\n')) {
      if (!line) continue;
      this.journalLines += 1;
      let change: Change;
      try {
        change = JSON.parse(line) as Change;
      } catch {
        continue;
      }
      if (change[1]) entries.set(change[0], change[1]);
      else entries.delete(change[0]);
    }
    return entries;
  }

  set(key: string, entry: Entry): void {
    this.pending.set(key, entry);
  }

  delete(key: string): void {
    this.pending.set(key, null);
  }

  /** Appends the pending changes, or writes a new snapshot when the journal has grown past `all`. */
  async save(all: ReadonlyMap<string, Entry>): Promise<void> {
    if (this.pending.size === 0) return;
    const changes = this.pending;
    this.pending = new Map();
    try {
      if (this.journalLines + changes.size > Math.max(1000, all.size)) {
        const temporary = `${this.snapshotFile}.tmp`;
        await writeFile(temporary, JSON.stringify(Object.fromEntries(all)));
        await rename(temporary, this.snapshotFile);
        await rm(this.journalFile, { force: true });
        this.journalLines = 0;
        return;
      }
      let text = this.torn ? '\n' : '';
      for (const change of changes) text += `${JSON.stringify(change)}\n`;
      await appendFile(this.journalFile, text);
      this.journalLines += changes.size;
      this.torn = false;
    } catch (error) {
      this.torn = true;
      // Nothing was lost: the changes are written with the next save.
      for (const [key, entry] of changes) if (!this.pending.has(key)) this.pending.set(key, entry);
      throw error;
    }
  }
}
