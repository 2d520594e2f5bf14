import { createHash, randomUUID } from 'node:crypto';
import type { DecodeLimits } from '../engine/image/decode.ts';
import { FaceproofError } from './errors.ts';
import { loadImage, type InlineImageSource } from './image-input.ts';
import type { BlobStore, ImageRepository, StoredImageRecord } from './ports.ts';
import { eraseBlob, sweepPendingBlobs } from './pending-blobs.ts';

export const DEFAULT_TENANT = 'default';

/** How long an image's bytes may wait for their row (a store in progress, here or in another process) before the sweeper erases them. */
export const BLOB_GRACE_MS = 10 * 60_000;

export interface StoreImageOptions {
  label?: string;
  metadata?: Record<string, unknown>;
  /** Seconds until the image is deleted by the retention sweeper; absent keeps it until deleted. */
  ttlSeconds?: number;
}

/** Stored images: validated on the way in, bytes in the blob store, description and digest in the repository. */
export class ImageStore {
  constructor(
    private readonly repository: ImageRepository,
    private readonly blobs: BlobStore,
    private readonly limits: DecodeLimits,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async store(tenantId: string, source: InlineImageSource, options: StoreImageOptions, field = 'image'): Promise<StoredImageRecord> {
    const decoded = await loadImage(source, this.limits, field);
    const data = decoded.bytes;
    const created = this.now();
    const record: StoredImageRecord = {
      id: `img_${randomUUID().replace(/-/g, '')}`,
      tenantId,
      label: options.label ?? null,
      metadata: options.metadata ?? {},
      format: decoded.format,
      width: decoded.width,
      height: decoded.height,
      bytes: data.byteLength,
      sha256: createHash('sha256').update(data).digest('hex'),
      createdAt: created.toISOString(),
      expiresAt: options.ttlSeconds !== undefined ? new Date(created.getTime() + options.ttlSeconds * 1000).toISOString() : null,
    };
    // Bytes first: a row is only ever visible once its blob exists. The mark, cleared by the row's
    // insert, lets the sweeper erase bytes whose row never came (a crash, a failed insert).
    const key = blobKey(tenantId, record.id);
    await this.repository.markPendingBlob(key, new Date(created.getTime() + BLOB_GRACE_MS).toISOString());
    await this.blobs.put(key, data);
    await this.repository.insert(record, key);
    return record;
  }

  async describe(tenantId: string, id: string, field = 'image_id'): Promise<StoredImageRecord> {
    const record = await this.repository.get(tenantId, id);
    if (!record || this.isExpired(record)) throw new FaceproofError('not_found', `no image ${id}`, field);
    return record;
  }

  async read(tenantId: string, id: string, field = 'image_id'): Promise<{ record: StoredImageRecord; bytes: Buffer }> {
    const record = await this.describe(tenantId, id, field);
    const bytes = await this.blobs.get(blobKey(tenantId, id));
    if (!bytes) throw new FaceproofError('not_found', `no image ${id}`, field);
    return { record, bytes };
  }

  async update(tenantId: string, id: string, changes: { label?: string | null; metadata?: Record<string, unknown> }): Promise<StoredImageRecord> {
    await this.describe(tenantId, id);
    return (await this.repository.update(tenantId, id, changes))!;
  }

  /** Erases the image: its row (marking its bytes pending erasure, so a crash cannot keep them), then its bytes. */
  async delete(tenantId: string, id: string): Promise<void> {
    const key = blobKey(tenantId, id);
    if (!(await this.repository.delete(tenantId, id, { key, due: this.now().toISOString() }))) throw new FaceproofError('not_found', `no image ${id}`, 'image_id');
    await this.eraseBytes(key);
  }

  /**
   * Deletes images whose retention has run out, and the bytes a crash left without a row (written
   * for a row never committed, or whose row was erased first); returns how many images.
   */
  async sweepExpired(batch = 500): Promise<number> {
    let removed = 0;
    for (;;) {
      const due = await this.repository.expired(this.now().toISOString(), batch);
      for (const { tenantId, id } of due) {
        const key = blobKey(tenantId, id);
        if (await this.repository.delete(tenantId, id, { key, due: this.now().toISOString() })) removed++;
        await this.eraseBytes(key);
      }
      if (due.length < batch) break;
    }
    await this.sweepPendingBytes(batch);
    return removed;
  }

  /** Erases marked bytes that no row claims; returns how many were erased. */
  async sweepPendingBytes(batch = 500): Promise<number> {
    const now = this.now();
    const erased = await sweepPendingBlobs(this.repository, this.blobs, now, async (key) => {
      const [tenantId, , id] = key.split('/');
      return (await this.repository.get(tenantId, id)) !== undefined;
    }, batch);
    await this.blobs.sweepInterrupted?.(new Date(now.getTime() - BLOB_GRACE_MS));
    return erased;
  }

  private async eraseBytes(key: string): Promise<void> {
    return eraseBlob(this.repository, this.blobs, key);
  }

  private isExpired(record: StoredImageRecord): boolean {
    return record.expiresAt !== null && record.expiresAt <= this.now().toISOString();
  }
}

export function blobKey(tenantId: string, imageId: string): string {
  return `${tenantId}/images/${imageId}`;
}
