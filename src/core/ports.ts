/**
 * What the use cases need from storage. Adapters live in src/store (SQLite and a blob folder now,
 * PostgreSQL later); the core never imports them. Every call names its tenant, and no adapter may
 * return a row of another tenant.
 */

export interface StoredImageRecord {
  id: string;
  tenantId: string;
  label: string | null;
  metadata: Record<string, unknown>;
  format: 'jpeg' | 'png' | 'webp';
  width: number;
  height: number;
  bytes: number;
  sha256: string;
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

export interface StoredFrame {
  index: number;
  label: string | null;
  metadata: Record<string, unknown>;
  format: 'jpeg' | 'png' | 'webp';
  width: number;
  height: number;
  bytes: number;
  sha256: string;
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
