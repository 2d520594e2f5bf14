import fs from 'node:fs/promises';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import type { BlobStore } from '../../core/ports.ts';

const SAFE_KEY = /^[A-Za-z0-9_-]+(\/[A-Za-z0-9_.-]+)*$/;
/** Where writes in progress live (no key can name it), so that those a crash interrupted are found without listing every blob. */
const PARTIAL = '.partial';

/** Blobs as files under one folder. Writes go to a temporary file renamed into place, so they are atomic. */
export class FolderBlobStore implements BlobStore {
  constructor(private readonly root: string) {}

  async put(key: string, bytes: Uint8Array): Promise<void> {
    const file = this.fileOf(key);
    const partial = path.join(this.root, PARTIAL);
    await Promise.all([fs.mkdir(path.dirname(file), { recursive: true }), fs.mkdir(partial, { recursive: true })]);
    const tmp = path.join(partial, randomUUID());
    try {
      await fs.writeFile(tmp, bytes);
      await fs.rename(tmp, file);
    } catch (err) {
      await fs.rm(tmp, { force: true });
      throw err;
    }
  }

  async get(key: string): Promise<Buffer | undefined> {
    try {
      return await fs.readFile(this.fileOf(key));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  async delete(key: string): Promise<void> {
    await fs.rm(this.fileOf(key), { force: true });
  }

  /** Removes the temporary files of writes that began before `before` and never finished (the process died); how many. */
  async sweepInterrupted(before: Date): Promise<number> {
    const dir = path.join(this.root, PARTIAL);
    let names: string[];
    try {
      names = await fs.readdir(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
      throw err;
    }
    let removed = 0;
    for (const name of names) {
      const file = path.join(dir, name);
      try {
        if ((await fs.stat(file)).mtime < before) { await fs.rm(file, { force: true }); removed++; }
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err; // renamed into place meanwhile
      }
    }
    return removed;
  }

  /** Keys are ours (tenant/kind/id), never a client's path; checked anyway so no key can leave the folder. */
  fileOf(key: string): string {
    if (!SAFE_KEY.test(key) || key.split('/').some((p) => p === '..' || p === '.')) throw new Error(`unsafe blob key ${key}`);
    return path.join(this.root, key);
  }
}
