/**
 * What the use cases need from storage. Adapters live in src/store (SQLite and a blob folder now,
 * PostgreSQL later); the core never imports them. Every call names its tenant, and no adapter may
 * return a row of another tenant.
 */

/** What is recorded of every stored picture, whole image or video frame. */
export interface PictureFacts {
  label: string | null;
  metadata: Record<string, unknown>;
  format: 'jpeg' | 'png' | 'webp';
  width: number;
  height: number;
  bytes: number;
  /** SHA-256 of the stored bytes, hex. */
  sha256: string;
}

export interface StoredImageRecord extends PictureFacts {
  id: string;
  tenantId: string;
  createdAt: string;
  /** ISO time after which the image is deleted; null keeps it until deleted. */
  expiresAt: string | null;
}

export interface ImageRepository {
  insert(record: StoredImageRecord): void;
  get(tenantId: string, id: string): StoredImageRecord | undefined;
  update(tenantId: string, id: string, changes: { label?: string | null; metadata?: Record<string, unknown> }): StoredImageRecord | undefined;
  delete(tenantId: string, id: string): boolean;
  /** Images of any tenant whose expiry is at or before `now`, oldest first. */
  expired(now: string, limit: number): Array<{ tenantId: string; id: string }>;
}

export interface StoredFrame extends PictureFacts {
  index: number;
}

/** A video or audio file, or a list of video frames (TrustVision's /v1/files). */
export interface StoredFileRecord {
  id: string;
  tenantId: string;
  kind: 'video' | 'audio' | 'frames';
  /** Container type recognised from the file's signature (video/audio only). */
  mediaType: string | null;
  label: string | null;
  metadata: Record<string, unknown>;
  /** Total bytes, frames included. */
  bytes: number;
  /** SHA-256 of a video or audio file; frames carry their own. */
  sha256: string | null;
  createdAt: string;
  frames: StoredFrame[];
}

export interface FileRepository {
  insert(record: StoredFileRecord): void;
  get(tenantId: string, id: string): StoredFileRecord | undefined;
  delete(tenantId: string, id: string): boolean;
}

/** Opaque bytes by key; writes are atomic (a reader sees the whole blob or none). */
export interface BlobStore {
  put(key: string, bytes: Uint8Array): Promise<void>;
  get(key: string): Promise<Buffer | undefined>;
  delete(key: string): Promise<void>;
}
