import type {
  CollectionFace, CollectionRecord, CollectionRepository, FaceBox, FaceQuery, FaceSelector, IndexJournal, InquiryQuery, InquiryWindow, NewCollectionFace,
  WatchlistInquiry,
} from '../../core/ports.ts';
import { FaceproofError } from '../../core/errors.ts';
import type { Db } from './database.ts';
import { jsonOrNull, parseOrNull } from './vectors.ts';
import { indexableVectors, searchableVectors, TemplateCodec } from './template-codec.ts';

interface CollectionRow {
  id: number; tenant_id: string; name: string; kind: CollectionRecord['kind']; description: string | null; metadata: string;
  template_model: string; template_version: number; dimension: number; created_at: string;
}

interface FaceRow {
  key: number; id: string; external_id: string | null; metadata: string; image_id: string | null; box: string | null; created_at: string; indexed_by: string | null;
}

const toCollection = (r: CollectionRow): CollectionRecord => ({
  id: r.id, tenantId: r.tenant_id, name: r.name, kind: r.kind, description: r.description,
  metadata: JSON.parse(r.metadata) as Record<string, unknown>,
  model: { modelId: r.template_model, version: r.template_version, dimension: r.dimension }, createdAt: r.created_at,
});

const toFace = (r: FaceRow): CollectionFace => ({
  key: r.key, id: r.id, externalId: r.external_id, metadata: JSON.parse(r.metadata) as Record<string, unknown>,
  imageId: r.image_id, box: parseOrNull<FaceBox>(r.box), createdAt: r.created_at, indexedBy: r.indexed_by,
});

interface TemplateRow { key: number; id: string; template: Buffer }

const FACE_COLUMNS = 'key, id, external_id, metadata, image_id, box, created_at, indexed_by';
const DAY_MS = 86_400_000;
/** A tenant's watch-list inquiries of one collection, each with the face it matched. */
const INQUIRIES = 'FROM watchlist_inquiries i JOIN faces f ON f.key = i.face_key WHERE i.tenant_id = ? AND f.collection_id = ?';

/**
 * Collections, their faces and the removal journal in SQLite; collection ids are only reachable
 * through their tenant. Templates go through `codec` (sealed at rest when encryption is on).
 */
export class SqliteCollectionRepository implements CollectionRepository, IndexJournal {
  private readonly s;

  constructor(private readonly db: Db, private readonly codec: TemplateCodec = TemplateCodec.plain()) {
    this.s = {
      create: db.prepare(`INSERT INTO collections (tenant_id, name, kind, description, metadata, template_model, template_version, dimension, created_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`),
      get: db.prepare('SELECT * FROM collections WHERE tenant_id = ? AND name = ?'),
      list: db.prepare('SELECT * FROM collections WHERE tenant_id = ? ORDER BY name'),
      delete: db.prepare('DELETE FROM collections WHERE tenant_id = ? AND id = ?'),
      deleteRemovals: db.prepare('DELETE FROM face_removals WHERE collection_id = ?'),
      count: db.prepare('SELECT COUNT(*) FROM faces WHERE collection_id = ?').pluck(),
      insertFace: db.prepare(`INSERT INTO faces (id, tenant_id, collection_id, external_id, metadata, image_id, box, template, created_at, indexed_by)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
      getFace: db.prepare(`SELECT ${FACE_COLUMNS} FROM faces WHERE collection_id = ? AND id = ?`),
      logRemoval: db.prepare('INSERT INTO face_removals (collection_id, face_key) VALUES (?, ?)'),
      deleteFace: db.prepare('DELETE FROM faces WHERE key = ?'),
      keysById: db.prepare('SELECT key FROM faces WHERE collection_id = ? AND id = ?').pluck(),
      keysByExternalId: db.prepare('SELECT key FROM faces WHERE collection_id = ? AND external_id = ?').pluck(),
      allKeys: db.prepare('SELECT key FROM faces WHERE collection_id = ?').pluck(),
      vectorsOf: db.prepare('SELECT key, id, template FROM faces WHERE collection_id = ? AND key IN (SELECT value FROM json_each(?))'),
      byKeys: db.prepare(`SELECT ${FACE_COLUMNS} FROM faces WHERE collection_id = ? AND key IN (SELECT value FROM json_each(?))`),
      fromImage: db.prepare('SELECT collection_id, id FROM faces WHERE tenant_id = ? AND image_id = ?'),
      inquiry: db.prepare('INSERT INTO watchlist_inquiries (face_key, tenant_id, client_id, at) VALUES (?, ?, ?, ?)'),
      history: db.prepare('SELECT COUNT(*) AS inquiries, COUNT(DISTINCT client_id) AS clients FROM watchlist_inquiries WHERE face_key = ? AND at >= ?'),
      inquiries: db.prepare(`SELECT DISTINCT i.at, i.client_id ${INQUIRIES} ORDER BY i.at DESC, i.client_id DESC LIMIT ?`),
      // Written `at <= ? AND (…)` rather than `at < ? OR (at = ? AND …)`, so the index seeks to the cursor instead of walking from the newest.
      inquiriesBefore: db.prepare(`SELECT DISTINCT i.at, i.client_id ${INQUIRIES} AND i.at <= ? AND (i.at < ? OR i.client_id < ?) ORDER BY i.at DESC, i.client_id DESC LIMIT ?`),
      inquiryFaces: db.prepare(`SELECT i.at, i.client_id, f.id, f.external_id, f.image_id ${INQUIRIES} AND i.at BETWEEN ? AND ? ORDER BY f.key`),
      vectorsAfter: db.prepare('SELECT key, id, template FROM faces WHERE collection_id = ? AND key > ? ORDER BY key LIMIT ?'),
      removalsAfter: db.prepare('SELECT seq, face_key FROM face_removals WHERE collection_id = ? AND seq > ? ORDER BY seq'),
      lastRemoval: db.prepare('SELECT COALESCE(MAX(seq), 0) FROM face_removals WHERE collection_id = ?').pluck(),
      pruneRemovals: db.prepare('DELETE FROM face_removals WHERE collection_id = ? AND seq <= ?'),
      keysAfter: db.prepare('SELECT key FROM faces WHERE collection_id = ? AND key > ? ORDER BY key').pluck(),
    };
  }

  async create(record: Omit<CollectionRecord, 'id'>): Promise<CollectionRecord> {
    try {
      const { lastInsertRowid } = this.s.create.run(record.tenantId, record.name, record.kind, record.description, JSON.stringify(record.metadata),
        record.model.modelId, record.model.version, record.model.dimension, record.createdAt);
      return { ...record, id: Number(lastInsertRowid) };
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') throw new FaceproofError('already_exists', `a collection named "${record.name}" already exists`, 'name');
      throw err;
    }
  }

  async get(tenantId: string, name: string): Promise<CollectionRecord | undefined> {
    const row = this.s.get.get(tenantId, name) as CollectionRow | undefined;
    return row && toCollection(row);
  }

  async list(tenantId: string): Promise<CollectionRecord[]> {
    return (this.s.list.all(tenantId) as CollectionRow[]).map(toCollection);
  }

  async delete(tenantId: string, id: number): Promise<boolean> {
    return this.db.transaction(() => {
      const deleted = this.s.delete.run(tenantId, id).changes > 0;
      if (deleted) this.s.deleteRemovals.run(id);
      return deleted;
    })();
  }

  async count(collectionId: number): Promise<number> {
    return this.s.count.get(collectionId) as number;
  }

  async sizes(): Promise<Array<{ tenantId: string; name: string; faces: number }>> {
    return this.db.prepare('SELECT c.tenant_id AS tenantId, c.name AS name, (SELECT count(*) FROM faces f WHERE f.collection_id = c.id) AS faces FROM collections c').all() as Array<{ tenantId: string; name: string; faces: number }>;
  }

  /** A collection deleted meanwhile fails the insert on the foreign key: not_found, as the use case answers for one gone before. */
  async addFaces(tenantId: string, collectionId: number, faces: NewCollectionFace[]): Promise<CollectionFace[]> {
    try {
      return this.db.transaction(() => faces.map((f): CollectionFace => {
        const { lastInsertRowid } = this.s.insertFace.run(f.id, tenantId, collectionId, f.externalId, JSON.stringify(f.metadata), f.imageId,
          jsonOrNull(f.box), this.codec.encode(f.vector), f.createdAt, f.indexedBy ?? null);
        const { vector: _vector, ...face } = f;
        return { ...face, key: Number(lastInsertRowid) };
      }))();
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_FOREIGNKEY') throw new FaceproofError('not_found', 'the collection was deleted', 'collection');
      throw err;
    }
  }

  async getFace(collectionId: number, faceId: string): Promise<CollectionFace | undefined> {
    const row = this.s.getFace.get(collectionId, faceId) as FaceRow | undefined;
    return row && toFace(row);
  }

  async findFaces(collectionId: number, query: FaceQuery): Promise<CollectionFace[]> {
    const where = ['collection_id = ?', 'key > ?'];
    const params: unknown[] = [collectionId, query.afterKey ?? 0];
    if (query.externalId !== undefined) { where.push('external_id = ?'); params.push(query.externalId); }
    for (const [field, value] of Object.entries(query.metadata ?? {})) {
      // `->` yields JSON text (true stays true, not 1), compared with the value serialised the same way.
      where.push('(metadata -> ?) IS ?');
      params.push(`$."${field.replace(/"/g, '""')}"`, JSON.stringify(value));
    }
    params.push(query.limit);
    const rows = this.db.prepare(`SELECT ${FACE_COLUMNS} FROM faces WHERE ${where.join(' AND ')} ORDER BY key LIMIT ?`).all(...params) as FaceRow[];
    return rows.map(toFace);
  }

  async removeFaces(collectionId: number, selector: FaceSelector): Promise<number[]> {
    return this.db.transaction(() => {
      const keys = 'all' in selector ? (this.s.allKeys.all(collectionId) as number[])
        : 'faceIds' in selector ? selector.faceIds.flatMap((id) => this.s.keysById.all(collectionId, id) as number[])
          : selector.externalIds.flatMap((id) => this.s.keysByExternalId.all(collectionId, id) as number[]);
      for (const key of keys) {
        this.s.deleteFace.run(key);
        this.s.logRemoval.run(collectionId, key);
      }
      return keys;
    })();
  }

  /**
   * The stored templates of search candidates. One whose sealed template fails its integrity check
   * is left out and reported (process warning naming the face): it cannot be scored, and one damaged
   * row must not make every search of its collection fail; the search answers as if it were not
   * enrolled. (A template sealed under a key this server lacks still throws: that is configuration.)
   */
  async vectorsOf(collectionId: number, keys: number[]): Promise<Array<{ key: number; vector: Float32Array }>> {
    if (keys.length === 0) return [];
    return searchableVectors(this.codec, this.s.vectorsOf.all(collectionId, JSON.stringify(keys)) as TemplateRow[], collectionId);
  }

  async facesByKeys(collectionId: number, keys: number[]): Promise<CollectionFace[]> {
    if (keys.length === 0) return [];
    return (this.s.byKeys.all(collectionId, JSON.stringify(keys)) as FaceRow[]).map(toFace);
  }

  async facesFromImage(tenantId: string, imageId: string): Promise<Array<{ collectionId: number; faceId: string }>> {
    return (this.s.fromImage.all(tenantId, imageId) as Array<{ collection_id: number; id: string }>).map((r) => ({ collectionId: r.collection_id, faceId: r.id }));
  }

  async recordInquiries(tenantId: string, clientId: string, keys: number[], at: string): Promise<void> {
    this.db.transaction(() => { for (const key of keys) this.s.inquiry.run(key, tenantId, clientId, at); })();
  }

  async inquiryHistory(keys: number[], now: Date, windows: number[]): Promise<Map<number, InquiryWindow[]>> {
    const out = new Map<number, InquiryWindow[]>();
    for (const key of new Set(keys)) {
      out.set(key, windows.map((days) => {
        const since = new Date(now.getTime() - days * DAY_MS).toISOString();
        const row = this.s.history.get(key, since) as { inquiries: number; clients: number };
        return { days, inquiries: row.inquiries, clients: row.clients };
      }));
    }
    return out;
  }

  async inquiries(tenantId: string, collectionId: number, q: InquiryQuery): Promise<WatchlistInquiry[]> {
    // The page's inquiries (one per client and instant), then their faces: two queries a page, each
    // walking the (tenant, at, client) index newest first rather than every face of the collection.
    const groups = (q.before
      ? this.s.inquiriesBefore.all(tenantId, collectionId, q.before.at, q.before.at, q.before.clientId, q.limit)
      : this.s.inquiries.all(tenantId, collectionId, q.limit)) as Array<{ at: string; client_id: string }>;
    if (!groups.length) return [];
    const page = new Map(groups.map((g): [string, WatchlistInquiry] => [JSON.stringify([g.at, g.client_id]), { at: g.at, clientId: g.client_id, faces: [] }]));
    const rows = this.s.inquiryFaces.all(tenantId, collectionId, groups[groups.length - 1].at, groups[0].at) as Array<{ at: string; client_id: string; id: string; external_id: string | null; image_id: string | null }>;
    for (const r of rows) page.get(JSON.stringify([r.at, r.client_id]))?.faces.push({ id: r.id, externalId: r.external_id, imageId: r.image_id });
    return [...page.values()];
  }

  /**
   * Templates to (re)build an index from. The index must hold every row, so a template that fails
   * its integrity check stops the build: the search answers internal_error naming the face, which
   * DELETE /v1/collections/{name}/faces/{face_id} removes (that path does not read templates).
   */
  async vectorsAfter(collectionId: number, afterKey: number, limit: number): Promise<Array<{ key: number; vector: Float32Array }>> {
    return indexableVectors(this.codec, this.s.vectorsAfter.all(collectionId, afterKey, limit) as TemplateRow[], collectionId);
  }

  async removalsAfter(collectionId: number, afterSeq: number): Promise<{ keys: number[]; lastSeq: number }> {
    const rows = this.s.removalsAfter.all(collectionId, afterSeq) as Array<{ seq: number; face_key: number }>;
    return { keys: rows.map((r) => r.face_key), lastSeq: rows.length ? rows[rows.length - 1].seq : afterSeq };
  }

  async lastRemovalSeq(collectionId: number): Promise<number> {
    return this.s.lastRemoval.get(collectionId) as number;
  }

  async keysAfter(collectionId: number, afterKey: number): Promise<number[]> {
    return this.s.keysAfter.all(collectionId, afterKey) as number[];
  }

  async pruneRemovals(collectionId: number, uptoSeq: number): Promise<void> {
    this.s.pruneRemovals.run(collectionId, uptoSeq);
  }
}
