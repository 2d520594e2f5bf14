import type { ImageType } from './calibration.ts';

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
  /** Inserts the row and, in the same transaction, clears its blob's pending mark (see markPendingBlob). */
  insert(record: StoredImageRecord, blobKey: string): Promise<void>;
  get(tenantId: string, id: string): Promise<StoredImageRecord | undefined>;
  update(tenantId: string, id: string, changes: { label?: string | null; metadata?: Record<string, unknown> }): Promise<StoredImageRecord | undefined>;
  /** Deletes the row and, in the same transaction, marks its blob pending erasure (due at `blob.due`); false when there was no row. */
  delete(tenantId: string, id: string, blob: { key: string; due: string }): Promise<boolean>;
  /**
   * Notes, before a blob is written, that it may exist without a row: the sweeper erases it after
   * `due` unless a row claims it. The row's insert clears the mark; a crash between the file and its
   * row (or between an erased row and its file) leaves it, so the bytes are found and erased.
   */
  markPendingBlob(key: string, due: string): Promise<void>;
  clearPendingBlob(key: string): Promise<void>;
  /** Marked blob keys due at or before `now`, oldest first. */
  pendingBlobs(now: string, limit: number): Promise<string[]>;
  /** Images of any tenant whose expiry is at or before `now`, oldest first. */
  expired(now: string, limit: number): Promise<Array<{ tenantId: string; id: string }>>;
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
  /** Inserts the row and, in the same transaction, clears its blobs' pending marks (see markPendingBlobs). */
  insert(record: StoredFileRecord, blobKeys: string[]): Promise<void>;
  get(tenantId: string, id: string): Promise<StoredFileRecord | undefined>;
  /** Deletes the row and, in the same transaction, marks its blobs pending erasure (due at `due`). */
  delete(tenantId: string, id: string, pending?: { keys: string[]; due: string }): Promise<boolean>;
  /** Bytes about to be written for a row not yet inserted: erased by the sweeper after `due` unless the row came. */
  markPendingBlobs(keys: string[], due: string): Promise<void>;
  clearPendingBlob(key: string): Promise<void>;
  /** Marked file blobs due by `now`. */
  pendingBlobs(now: string, limit: number): Promise<string[]>;
}

/** Opaque bytes by key; writes are atomic (a reader sees the whole blob or none). */
export interface BlobStore {
  put(key: string, bytes: Uint8Array): Promise<void>;
  get(key: string): Promise<Buffer | undefined>;
  delete(key: string): Promise<void>;
  /** Removes what writes interrupted by a crash left behind, when started before `before`; how many. */
  sweepInterrupted?(before: Date): Promise<number>;
}

/** A face box in original-image pixels. */
export interface FaceBox { x: number; y: number; width: number; height: number }

export type CollectionKind = 'gallery' | 'watchlist';

/** Which templates a stored face set holds; set when it is created, checked on every use. */
export interface TemplateModel {
  modelId: string;
  version: number;
  dimension: number;
}

export interface CollectionRecord {
  /** Internal key; clients name collections by `name`, unique per tenant. */
  id: number;
  tenantId: string;
  name: string;
  kind: CollectionKind;
  description: string | null;
  metadata: Record<string, unknown>;
  model: TemplateModel;
  createdAt: string;
}

export interface CollectionFace {
  /** Vector-index key: assigned by the repository, never reused. */
  key: number;
  id: string;
  externalId: string | null;
  metadata: Record<string, unknown>;
  imageId: string | null;
  box: FaceBox | null;
  createdAt: string;
  /** The API client that indexed the face (absent on faces indexed before it was kept). */
  indexedBy?: string | null;
}

export type NewCollectionFace = Omit<CollectionFace, 'key'> & { vector: Float32Array };

/** Which faces of a collection a deletion names. */
export type FaceSelector = { faceIds: string[] } | { externalIds: string[] } | { all: true };

export interface FaceQuery {
  externalId?: string;
  /** Exact match on top-level metadata fields. */
  metadata?: Record<string, string | number | boolean | null>;
  /** Faces with a key above this one (pagination cursor). */
  afterKey?: number;
  limit: number;
}

/** Inquiries that matched one watch-list face within a window of days. */
export interface InquiryWindow { days: number; inquiries: number; clients: number }

/**
 * One search that hit a watch-list: when, which API client made it, and which of the watch-list's
 * faces it matched. Inquiries are kept per face, so one is the faces recorded by one client at one
 * instant; a face deleted since takes its part of the history with it.
 */
export interface WatchlistInquiry { at: string; clientId: string; faces: Array<{ id: string; externalId: string | null; imageId: string | null }> }

/** A page of a watch-list's inquiries, newest first; `before`: the last inquiry of the previous page. */
export interface InquiryQuery { before?: { at: string; clientId: string }; limit: number }

export interface CollectionRepository {
  /** Throws `already_exists` when the tenant has a collection of that name. */
  create(record: Omit<CollectionRecord, 'id'>): Promise<CollectionRecord>;
  get(tenantId: string, name: string): Promise<CollectionRecord | undefined>;
  list(tenantId: string): Promise<CollectionRecord[]>;
  /** Deletes the collection, its faces and their inquiry history. */
  delete(tenantId: string, id: number): Promise<boolean>;
  count(collectionId: number): Promise<number>;
  /** Faces per collection, every tenant (for metrics). */
  sizes(): Promise<Array<{ tenantId: string; name: string; faces: number }>>;
  /** Inserts the faces in one transaction and returns them with their keys. */
  addFaces(tenantId: string, collectionId: number, faces: NewCollectionFace[]): Promise<CollectionFace[]>;
  getFace(collectionId: number, faceId: string): Promise<CollectionFace | undefined>;
  findFaces(collectionId: number, query: FaceQuery): Promise<CollectionFace[]>;
  /** Deletes the named faces, logging each removal for the vector index in the same transaction; returns their keys. */
  removeFaces(collectionId: number, selector: FaceSelector): Promise<number[]>;
  /** The stored vectors of these keys (for exact re-ranking); keys not in the collection are left out. */
  vectorsOf(collectionId: number, keys: number[]): Promise<Array<{ key: number; vector: Float32Array }>>;
  /** The faces with these keys, in no particular order. */
  facesByKeys(collectionId: number, keys: number[]): Promise<CollectionFace[]>;
  /** Every face of the tenant indexed from a stored image, by collection (right to erasure). */
  facesFromImage(tenantId: string, imageId: string): Promise<Array<{ collectionId: number; faceId: string }>>;
  recordInquiries(tenantId: string, clientId: string, keys: number[], at: string): Promise<void>;
  inquiryHistory(keys: number[], now: Date, windows: number[]): Promise<Map<number, InquiryWindow[]>>;
  /** The collection's inquiries, newest first (at, then client id, descending). */
  inquiries(tenantId: string, collectionId: number, query: InquiryQuery): Promise<WatchlistInquiry[]>;
}

/** What a vector index needs to bring itself up to date with the repository after a restart. */
export interface IndexJournal {
  /** Faces with a key above `afterKey`, ascending, at most `limit`. */
  vectorsAfter(collectionId: number, afterKey: number, limit: number): Promise<Array<{ key: number; vector: Float32Array }>>;
  /** Keys removed after the removal numbered `afterSeq`, and the newest removal number. */
  removalsAfter(collectionId: number, afterSeq: number): Promise<{ keys: number[]; lastSeq: number }>;
  lastRemovalSeq(collectionId: number): Promise<number>;
  /** Forgets removals up to `uptoSeq`, once a snapshot contains them. */
  pruneRemovals(collectionId: number, uptoSeq: number): Promise<void>;
  /** Keys of the faces stored with a key above `afterKey`, ascending. */
  keysAfter(collectionId: number, afterKey: number): Promise<number[]>;
  count(collectionId: number): Promise<number>;
}

/** A candidate and its cosine similarity to the query, as near exact as the index keeps its vectors. */
export interface VectorMatch { key: number; similarity: number }

/** Approximate nearest neighbours by cosine similarity over one collection's vectors. */
export interface VectorIndex {
  add(keys: number[], vectors: Float32Array[]): void;
  remove(keys: number[]): void;
  /** The `k` most similar of the `candidates` the approximate search finds, best first. */
  search(vector: Float32Array, k: number, candidates: number): VectorMatch[];
  readonly size: number;
}

export interface VectorIndexProvider {
  /** The collection's index, loaded and brought up to date with the repository on first use. */
  open(collection: CollectionRecord): Promise<VectorIndex>;
  /** Forgets the collection's index and deletes its files. */
  drop(collectionId: number): void;
  /** Writes snapshots of the indexes that changed; called on shutdown. */
  close(): Promise<void>;
}

/** A face kept for 1:1 or 1:few matching (a user's enrolment, a session's faces). */
export interface KeptFace {
  id: string;
  imageType: ImageType;
  imageId: string | null;
  box: FaceBox | null;
  createdAt: string;
}

export type KeptFaceWithVector = KeptFace & { vector: Float32Array };

export interface UserRecord {
  tenantId: string;
  userId: string;
  status: 'active' | 'inactive';
  metadata: Record<string, unknown>;
  model: Omit<TemplateModel, 'dimension'>;
  createdAt: string;
  updatedAt: string;
}

export interface UserEvent {
  seq: number;
  action: 'register' | 'authenticate' | 'add_faces' | 'remove_face' | 'deactivate' | 'activate' | 'unregister';
  result: string;
  detail: Record<string, unknown>;
  requestId: string | null;
  at: string;
}

/**
 * Users, their faces and their history. A change given an `event` records it in the same
 * transaction, so that no crash keeps the change without its history (or the history without it).
 */
export interface UserRepository {
  /** Throws `already_exists` when the tenant has that user. */
  create(user: UserRecord, faces: KeptFaceWithVector[], event?: Omit<UserEvent, 'seq'>): Promise<void>;
  get(tenantId: string, userId: string): Promise<UserRecord | undefined>;
  faces(tenantId: string, userId: string): Promise<KeptFaceWithVector[]>;
  addFaces(tenantId: string, userId: string, faces: KeptFaceWithVector[], at: string, event?: Omit<UserEvent, 'seq'>): Promise<void>;
  removeFace(tenantId: string, userId: string, faceId: string, at: string, event?: Omit<UserEvent, 'seq'>): Promise<boolean>;
  setStatus(tenantId: string, userId: string, status: UserRecord['status'], at: string, event?: Omit<UserEvent, 'seq'>): Promise<void>;
  setMetadata(tenantId: string, userId: string, metadata: Record<string, unknown>, at: string): Promise<void>;
  /** Replaces every face and the metadata of a user in one transaction, with its event (a re-registration). */
  replaceFaces(tenantId: string, userId: string, faces: KeptFaceWithVector[], metadata: Record<string, unknown>, at: string, event: Omit<UserEvent, 'seq'>): Promise<void>;
  /** Deletes the user, their faces and their history. */
  delete(tenantId: string, userId: string): Promise<boolean>;
  recordEvent(tenantId: string, userId: string, event: Omit<UserEvent, 'seq'>): Promise<void>;
  /** Newest first; `beforeSeq` continues a previous page. */
  history(tenantId: string, userId: string, page: { beforeSeq?: number; limit: number }): Promise<UserEvent[]>;
  facesFromImage(tenantId: string, imageId: string): Promise<Array<{ userId: string; faceId: string }>>;
}

export interface SessionRecord {
  tenantId: string;
  id: string;
  imageStorageEnabled: boolean;
  metadata: Record<string, unknown>;
  model: Omit<TemplateModel, 'dimension'>;
  createdAt: string;
  expiresAt: string;
}

/**
 * What a session face keeps beyond its template: what its detection found and what the request said
 * of it (IDEMIA's face resource). Absent on faces added before it was kept.
 */
export interface SessionFaceDetails {
  /** SHA-256 (hex) of the image file the face was taken from. */
  digest?: string;
  /** Eye centres in the image's pixels: (x1, y1) the one on the image's left, (x2, y2) the other. */
  eyes?: { x1: number; y1: number; x2: number; y2: number };
  /** The detector's confidence, 0–1. */
  confidence?: number;
  /** Pixels between the eye centres. */
  interEyeDistance?: number;
  /** Whether the image was tried turned by quarter turns (auto-rotation). */
  autoRotate?: boolean;
  /** What the client said of the face (a name, its own fields), kept as given. */
  metadata?: Record<string, unknown>;
}

export type SessionFace = KeptFace & { imageOwned: boolean; details?: SessionFaceDetails };

export interface SessionRepository {
  create(session: SessionRecord): Promise<void>;
  get(tenantId: string, id: string): Promise<SessionRecord | undefined>;
  /** Deletes the session and its faces; returns the images it stored, for the caller to erase. */
  delete(tenantId: string, id: string): Promise<{ deleted: boolean; ownedImages: string[] }>;
  addFaces(tenantId: string, sessionId: string, faces: Array<SessionFace & { vector: Float32Array }>): Promise<void>;
  faces(tenantId: string, sessionId: string): Promise<Array<SessionFace & { vector: Float32Array }>>;
  removeFace(tenantId: string, sessionId: string, faceId: string): Promise<{ deleted: boolean; ownedImage: string | null }>;
  expired(now: string, limit: number): Promise<Array<{ tenantId: string; id: string }>>;
  facesFromImage(tenantId: string, imageId: string): Promise<Array<{ sessionId: string; faceId: string }>>;
}

/**
 * Authenticated encryption under the server's master key (templates and HMAC secrets at rest).
 * `purpose` is bound to the ciphertext: a value only opens for the purpose it was sealed for.
 */
export interface SecretBox {
  seal(plain: Uint8Array, purpose: string): Buffer;
  open(sealed: Uint8Array, purpose: string): Buffer;
}

/**
 * A trust anchor the operator imported (server-wide, not per tenant): a CSCA certificate, or a CRL
 * (subject/issuer: the CRL's issuer; serial: its CRL number; not_before/not_after: this and next update).
 */
export interface TrustAnchorRecord {
  id: string;
  kind: 'certificate' | 'crl';
  subject: string;
  issuer: string;
  serial: string;
  country: string | null;
  notBefore: string;
  notAfter: string;
  subjectKeyId: string | null;
  authorityKeyId: string | null;
  /** The comparison key of the subject's name (a CRL's: its issuer's), by which chains are looked up. */
  nameKey: string;
  /** SHA-256 of the DER, hex: unique, so importing a file twice adds nothing. */
  sha256: string;
  source: string;
  addedAt: string;
  der: Uint8Array;
}

export interface TrustAnchorRepository {
  /** Inserts the records whose fingerprint is not there yet, in one transaction; returns the fingerprints it added. */
  insert(records: TrustAnchorRecord[]): Promise<Set<string>>;
  /** Every anchor, oldest first. */
  list(): Promise<TrustAnchorRecord[]>;
  get(id: string): Promise<TrustAnchorRecord | undefined>;
  remove(id: string): Promise<boolean>;
  /** A value that changes whenever an anchor is added or removed, by this process or another (the CLI). */
  revision(): Promise<string>;
}
