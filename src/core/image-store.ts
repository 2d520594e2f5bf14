import { createHash, randomUUID } from 'node:crypto';
import type { DecodeLimits } from '../engine/image/decode.ts';
import { FaceproofError } from './errors.ts';
import { loadImage, type InlineImageSource } from './image-input.ts';
import type { BlobStore, ImageRepository, StoredImageRecord } from './ports.ts';

export const DEFAULT_TENANT = 'default';

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
    // Bytes first: a row is only ever visible once its blob exists.
    await this.blobs.put(blobKey(tenantId, record.id), data);
    this.repository.insert(record);
    return record;
  }

  describe(tenantId: string, id: string, field = 'image_id'): StoredImageRecord {
    const record = this.repository.get(tenantId, id);
    if (!record || this.isExpired(record)) throw new FaceproofError('not_found', `no image ${id}`, field);
    return record;
  }

  async read(tenantId: string, id: string, field = 'image_id'): Promise<{ record: StoredImageRecord; bytes: Buffer }> {
    const record = this.describe(tenantId, id, field);
    const bytes = await this.blobs.get(blobKey(tenantId, id));
    if (!bytes) throw new FaceproofError('not_found', `no image ${id}`, field);
    return { record, bytes };
  }

  update(tenantId: string, id: string, changes: { label?: string | null; metadata?: Record<string, unknown> }): StoredImageRecord {
    this.describe(tenantId, id);
    return this.repository.update(tenantId, id, changes)!;
  }

  /** Erases the image: its row, then its bytes. */
  async delete(tenantId: string, id: string): Promise<void> {
    if (!this.repository.delete(tenantId, id)) throw new FaceproofError('not_found', `no image ${id}`, 'image_id');
    await this.blobs.delete(blobKey(tenantId, id));
  }

  /** Deletes images whose retention has run out; returns how many. */
  async sweepExpired(batch = 500): Promise<number> {
    let removed = 0;
    for (;;) {
      const due = this.repository.expired(this.now().toISOString(), batch);
      for (const { tenantId, id } of due) {
        if (this.repository.delete(tenantId, id)) removed++;
        await this.blobs.delete(blobKey(tenantId, id));
      }
      if (due.length < batch) return removed;
    }
  }

  private isExpired(record: StoredImageRecord): boolean {
    return record.expiresAt !== null && record.expiresAt <= this.now().toISOString();
  }
}

export function blobKey(tenantId: string, imageId: string): string {
  return `${tenantId}/images/${imageId}`;
}
