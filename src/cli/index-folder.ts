import fs from 'node:fs';
import path from 'node:path';
import cliProgress from 'cli-progress';
import { FaceproofError } from '../core/errors.ts';
import type { CollectionService } from '../core/collections.ts';
import { DEFAULT_TENANT } from '../core/image-store.ts';

const IMAGE_FILE = /\.(jpe?g|png|webp)$/i;

export interface FolderItem {
  file: string;
  externalId: string;
}

/**
 * The images of a folder and whose they are: in a sub-folder, the sub-folder's name (one identity
 * per sub-folder, as LFW is laid out); directly in the folder, the file name without extension.
 */
export function listFolder(dir: string): FolderItem[] {
  const items: FolderItem[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      for (const f of fs.readdirSync(full).sort()) if (IMAGE_FILE.test(f)) items.push({ file: path.join(full, f), externalId: entry.name });
    } else if (IMAGE_FILE.test(entry.name)) {
      items.push({ file: full, externalId: entry.name.replace(IMAGE_FILE, '') });
    }
  }
  return items;
}

export interface IndexSummary {
  collection: string;
  created: boolean;
  images: number;
  indexed_faces: number;
  identities: number;
  no_face: string[];
  failed: Array<{ file: string; code: string; message: string }>;
  seconds: number;
  images_per_second: number;
}

/** Bulk-indexes a folder into a collection, a few images at a time, with a progress bar on a terminal. */
export async function indexFolder(
  collections: CollectionService,
  dir: string,
  options: { collection: string; kind: 'gallery' | 'watchlist'; allFaces: boolean; concurrency: number },
): Promise<IndexSummary> {
  const items = listFolder(dir);
  let created = false;
  try {
    await collections.describe(DEFAULT_TENANT, options.collection);
  } catch (err) {
    if (!(err instanceof FaceproofError && err.code === 'not_found')) throw err;
    await collections.create(DEFAULT_TENANT, { name: options.collection, kind: options.kind });
    created = true;
  }
  const summary: IndexSummary = {
    collection: options.collection, created, images: items.length, indexed_faces: 0, identities: new Set(items.map((i) => i.externalId)).size,
    no_face: [], failed: [], seconds: 0, images_per_second: 0,
  };
  const bar = new cliProgress.SingleBar({ format: 'indexing {bar} {value}/{total} images | {faces} faces | {eta}s left', stream: process.stderr }, cliProgress.Presets.shades_classic);
  const tty = process.stderr.isTTY;
  if (tty) bar.start(items.length, 0, { faces: 0 });
  const started = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++];
      try {
        const faces = await collections.index(DEFAULT_TENANT, options.collection, { kind: 'image', source: { kind: 'bytes', data: fs.readFileSync(item.file) } }, {
          externalId: item.externalId, metadata: { file: path.relative(dir, item.file) }, allFaces: options.allFaces, autoRotate: false,
        });
        summary.indexed_faces += faces.length;
      } catch (err) {
        if (err instanceof FaceproofError && err.code === 'no_face_detected') summary.no_face.push(path.relative(dir, item.file));
        else if (err instanceof FaceproofError) summary.failed.push({ file: path.relative(dir, item.file), code: err.code, message: err.message });
        else throw err;
      }
      if (tty) bar.increment(1, { faces: summary.indexed_faces });
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, options.concurrency) }, worker));
  if (tty) bar.stop();
  summary.seconds = Math.round((performance.now() - started) / 100) / 10;
  summary.images_per_second = Math.round((items.length / Math.max(summary.seconds, 0.001)) * 10) / 10;
  return summary;
}
