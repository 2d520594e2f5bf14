import type { BlobStore } from './ports.ts';

/** Where a store keeps the marks of bytes written before their row, or left after it (pending_blobs). */
export interface PendingBlobMarks {
  pendingBlobs(now: string, limit: number): Promise<string[]>;
  clearPendingBlob(key: string): Promise<void>;
}

/**
 * Settles the marks due by `now`: a mark whose bytes a row claims is cleared (the row came after
 * all); otherwise the bytes are erased, then the mark. Returns how many were erased.
 */
export async function sweepPendingBlobs(marks: PendingBlobMarks, blobs: BlobStore, now: Date, claimed: (key: string) => Promise<boolean>, batch = 500): Promise<number> {
  let erased = 0;
  for (;;) {
    const keys = await marks.pendingBlobs(now.toISOString(), batch);
    for (const key of keys) {
      if (await claimed(key)) await marks.clearPendingBlob(key);
      else { await eraseBlob(marks, blobs, key); erased++; }
    }
    if (keys.length < batch) return erased;
  }
}

/** Erases bytes, then their mark (a crash in between leaves the mark, and the next sweep finishes). */
export async function eraseBlob(marks: PendingBlobMarks, blobs: BlobStore, key: string): Promise<void> {
  await blobs.delete(key);
  await marks.clearPendingBlob(key);
}
