import { createHash, randomUUID } from 'node:crypto';
import type { DecodeLimits } from '../engine/image/decode.ts';
import { FaceproofError } from './errors.ts';
import { loadImage, type InlineImageSource } from './image-input.ts';
import type { BlobStore, FileRepository, StoredFileRecord, StoredFrame } from './ports.ts';
import { BLOB_GRACE_MS } from './image-store.ts';
import { eraseBlob, sweepPendingBlobs } from './pending-blobs.ts';

export type MediaLabel = 'video' | 'audio';

export interface FrameInput {
  source: InlineImageSource;
  index?: number;
  label?: string;
  metadata?: Record<string, unknown>;
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const ascii = (b: Uint8Array, from: number, to: number) => String.fromCharCode(...b.subarray(from, to));

/** The container of a video or audio file, from its signature; undefined when it is neither. */
export function sniffMedia(b: Uint8Array): { kind: MediaLabel; mediaType: string } | undefined {
  if (b.length >= 12 && ascii(b, 4, 8) === 'ftyp') {
    const brand = ascii(b, 8, 12);
    if (brand.startsWith('M4A') || brand.startsWith('M4B')) return { kind: 'audio', mediaType: 'audio/mp4' };
    return { kind: 'video', mediaType: brand === 'qt  ' ? 'video/quicktime' : 'video/mp4' };
  }
  if (b.length >= 4 && b[0] === 0x1a && b[1] === 0x45 && b[2] === 0xdf && b[3] === 0xa3) return { kind: 'video', mediaType: 'video/webm' };
  if (b.length >= 12 && ascii(b, 0, 4) === 'RIFF' && ascii(b, 8, 12) === 'AVI ') return { kind: 'video', mediaType: 'video/x-msvideo' };
  if (b.length >= 12 && ascii(b, 0, 4) === 'RIFF' && ascii(b, 8, 12) === 'WAVE') return { kind: 'audio', mediaType: 'audio/wav' };
  if (b.length >= 4 && ascii(b, 0, 4) === 'OggS') return { kind: 'audio', mediaType: 'audio/ogg' };
  if (b.length >= 3 && (ascii(b, 0, 3) === 'ID3' || (b[0] === 0xff && (b[1] & 0xe0) === 0xe0))) return { kind: 'audio', mediaType: 'audio/mpeg' };
  return undefined;
}

/**
 * Uploaded media for the video checks that follow: a video or audio file, or a list of video frames
 * with their indexes (TrustVision's /v1/files). Bytes in the blob store, descriptions in the repository.
 */
export class FileStore {
  constructor(
    private readonly repository: FileRepository,
    private readonly blobs: BlobStore,
    private readonly limits: DecodeLimits & { maxFrames: number },
    private readonly now: () => Date = () => new Date(),
  ) {}

  async storeMedia(tenantId: string, bytes: Uint8Array, label: MediaLabel, metadata: Record<string, unknown> = {}): Promise<StoredFileRecord> {
    if (bytes.byteLength > this.limits.maxBytes) throw new FaceproofError('image_too_large', `the file is ${bytes.byteLength} bytes; the limit is ${this.limits.maxBytes}`, 'file');
    const media = sniffMedia(bytes);
    if (!media) throw new FaceproofError('invalid_file_format', 'not a recognised video (MP4, QuickTime, WebM, AVI) or audio (MP4, WAV, Ogg, MP3) file', 'file');
    if (media.kind !== label) throw new FaceproofError('invalid_parameter', `label says ${label} but the file is ${media.mediaType}`, 'label');
    const record = this.newRecord(tenantId, label, metadata, { mediaType: media.mediaType, bytes: bytes.byteLength, sha256: sha256(bytes) });
    await this.writeThenInsert(record, [[mediaKey(tenantId, record.id), bytes]]);
    return record;
  }

  async storeFrames(tenantId: string, inputs: FrameInput[], metadata: Record<string, unknown> = {}): Promise<StoredFileRecord> {
    if (inputs.length === 0 || inputs.length > this.limits.maxFrames) {
      throw new FaceproofError('invalid_parameter', `give between 1 and ${this.limits.maxFrames} frames`, 'frames');
    }
    const indexes = inputs.map((f, i) => f.index ?? i);
    if (new Set(indexes).size !== indexes.length) throw new FaceproofError('invalid_parameter', 'frame indexes must be unique', 'frames');
    const decoded = await Promise.all(inputs.map((f, i) => loadImage(f.source, this.limits, `frames.${i}`)));
    const frames: StoredFrame[] = decoded.map((d, i) => ({
      index: indexes[i], label: inputs[i].label ?? null, metadata: inputs[i].metadata ?? {},
      format: d.format, width: d.width, height: d.height, bytes: d.bytes.byteLength, sha256: sha256(d.bytes),
    }));
    const record = this.newRecord(tenantId, 'frames', metadata, { mediaType: null, bytes: frames.reduce((n, f) => n + f.bytes, 0), sha256: null });
    record.frames = frames;
    await this.writeThenInsert(record, decoded.map((d, i) => [frameKey(tenantId, record.id, indexes[i]), d.bytes]));
    return record;
  }

  async describe(tenantId: string, id: string): Promise<StoredFileRecord> {
    const record = await this.repository.get(tenantId, id);
    if (!record) throw new FaceproofError('not_found', `no file ${id}`, 'file_id');
    return record;
  }

  async readMedia(tenantId: string, id: string): Promise<{ record: StoredFileRecord; bytes: Buffer }> {
    const record = await this.describe(tenantId, id);
    if (record.kind === 'frames') throw new FaceproofError('invalid_parameter', `file ${id} is a list of frames; read them one by one`, 'file_id');
    const bytes = await this.blobs.get(mediaKey(tenantId, id));
    if (!bytes) throw new FaceproofError('not_found', `no file ${id}`, 'file_id');
    return { record, bytes };
  }

  async readFrame(tenantId: string, id: string, index: number): Promise<{ frame: StoredFrame; bytes: Buffer }> {
    const frame = (await this.describe(tenantId, id)).frames.find((f) => f.index === index);
    const bytes = frame && await this.blobs.get(frameKey(tenantId, id, index));
    if (!frame || !bytes) throw new FaceproofError('not_found', `file ${id} has no frame ${index}`, 'index');
    return { frame, bytes };
  }

  /**
   * Bytes first, so a row is only ever visible once its blobs exist; marked pending until the row's
   * insert clears the marks, so the sweeper erases what a crash or a failed insert left without a row.
   */
  private async writeThenInsert(record: StoredFileRecord, blobs: Array<[string, Uint8Array]>): Promise<void> {
    const keys = blobs.map(([key]) => key);
    await this.repository.markPendingBlobs(keys, new Date(this.now().getTime() + BLOB_GRACE_MS).toISOString());
    await Promise.all(blobs.map(([key, bytes]) => this.blobs.put(key, bytes)));
    await this.repository.insert(record, keys);
  }

  /** Erases files (rows marking their bytes pending erasure, then the bytes); returns which ids existed and which did not. */
  async delete(tenantId: string, ids: string[]): Promise<{ deleted: string[]; notFound: string[] }> {
    const deleted: string[] = [];
    const notFound: string[] = [];
    for (const id of ids) {
      const record = await this.repository.get(tenantId, id);
      const keys = record ? blobKeysOf(record) : [];
      if (!record || !(await this.repository.delete(tenantId, id, { keys, due: this.now().toISOString() }))) { notFound.push(id); continue; }
      await Promise.all(keys.map((key) => this.eraseBytes(key)));
      deleted.push(id);
    }
    return { deleted, notFound };
  }

  /** Erases marked file bytes that no row claims (a crash between bytes and row, or row and erasure); returns how many. */
  async sweepPendingBytes(batch = 500): Promise<number> {
    return sweepPendingBlobs(this.repository, this.blobs, this.now(), async (key) => {
      const [tenantId, , id] = key.split('/');
      const record = await this.repository.get(tenantId, id);
      return record !== undefined && blobKeysOf(record).includes(key);
    }, batch);
  }

  private async eraseBytes(key: string): Promise<void> {
    return eraseBlob(this.repository, this.blobs, key);
  }

  private newRecord(tenantId: string, kind: StoredFileRecord['kind'], metadata: Record<string, unknown>, extra: Pick<StoredFileRecord, 'mediaType' | 'bytes' | 'sha256'>): StoredFileRecord {
    return {
      id: `file_${randomUUID().replace(/-/g, '')}`, tenantId, kind, label: kind === 'frames' ? null : kind, metadata,
      createdAt: this.now().toISOString(), frames: [], ...extra,
    };
  }
}

const mediaKey = (tenantId: string, id: string) => `${tenantId}/files/${id}/media`;
const frameKey = (tenantId: string, id: string, index: number) => `${tenantId}/files/${id}/frames/${index}`;
const blobKeysOf = (r: StoredFileRecord) => (r.kind === 'frames' ? r.frames.map((f) => frameKey(r.tenantId, r.id, f.index)) : [mediaKey(r.tenantId, r.id)]);
