import type {
  CollectionFace, CollectionRecord, CollectionRepository, FaceBox, FaceQuery, FaceSelector, IndexJournal, InquiryQuery, InquiryWindow, NewCollectionFace,
  WatchlistInquiry,
} from '../../core/ports.ts';
import { FaceproofError } from '../../core/errors.ts';
import { indexableVectors, searchableVectors, TemplateCodec } from '../sqlite/template-codec.ts';
import type { PostgresDatabase, Queryable } from './database.ts';
import { jsonb, jsonbOrNull, pgCode, PG, run } from './statements.ts';

interface CollectionRow {
  id: number; tenant_id: string; name: string; kind: CollectionRecord['kind']; description: string | null; metadata: Record<string, unknown>;
  template_model: string; template_version: number; dimension: number; created_at: string;
}

interface FaceRow {
  key: number; id: string; external_id: string | null; metadata: Record<string, unknown>; image_id: string | null; box: FaceBox | null; created_at: string; indexed_by: string | null;
}

interface TemplateRow { key: number; id: string; template: Buffer }

const toCollection = (r: CollectionRow): CollectionRecord => ({
  id: r.id, tenantId: r.tenant_id, name: r.name, kind: r.kind, description: r.description, metadata: r.metadata,
  model: { modelId: r.template_model, version: r.template_version, dimension: r.dimension }, createdAt: r.created_at,
});

const toFace = (r: FaceRow): CollectionFace => ({
  key: r.key, id: r.id, externalId: r.external_id, metadata: r.metadata, imageId: r.image_id, box: r.box, createdAt: r.created_at, indexedBy: r.indexed_by,
});

/**
 * The first half of the two-int advisory lock a collection's writers take (pg_advisory_xact_lock(int4,
 * int4), the second half the collection id): "FPC1" in ASCII, for "Faceproof collection, v1". The
 * two-int form is its own key space, apart from the single-bigint one of the migrations' lock
 * (database.ts, MIGRATION_LOCK_KEY); other repositories must pick another namespace.
 */
export const COLLECTION_LOCK_NAMESPACE = 0x46504331;

/** Takes the collection's writer lock until the transaction ends. Ids past 2^31 share a lock with another id: only more waiting, never less. */
const LOCK_COLLECTION = 'SELECT pg_advisory_xact_lock($1::int4, ($2::bigint % 2147483648)::int4)';

/** A day: a node whose index has not caught up on a removal a day after it was logged is assumed gone (see pruneRemovals). */
export const DEFAULT_REMOVAL_RETENTION_MS = 86_400_000;

/** SQLSTATEs this repository turns into FaceproofErrors (besides the NUL refusals of statements.ts). */
const PG_FOREIGN_KEY_VIOLATION = '23503';
const COLLECTION_NAME_CONSTRAINT = 'collections_tenant_id_name_key';

const FACE_COLUMNS = 'key, id, external_id, metadata, image_id, box, created_at, indexed_by';
const DAY_MS = 86_400_000;
/** Rows of one INSERT … VALUES: 10 parameters each, well below PostgreSQL's 65,535 per statement. */
const INSERT_BATCH = 2_000;
/** A tenant's watch-list inquiries of one collection, each with the face it matched ($1 tenant, $2 collection). */
const INQUIRIES = 'FROM watchlist_inquiries i JOIN faces f ON f.key = i.face_key WHERE i.tenant_id = $1 AND f.collection_id = $2';

export interface PgCollectionOptions {
  /**
   * How long a logged removal is kept whatever pruneRemovals is asked (milliseconds, default a day).
   * One node's snapshot says nothing of how far the other nodes' indexes got; they catch up within
   * seconds while they run, so a removal this old has been applied by every live node.
   */
  removalRetentionMs?: number;
}

/**
 * Collections, their faces and the removal journal in PostgreSQL, shared by every node; the same
 * behaviour and errors as SqliteCollectionRepository. Templates go through `codec` (sealed at rest
 * when encryption is on), so the two stores hold the same bytes.
 *
 * Several nodes write one collection at once, and each node's vector index catches up by "faces
 * with a key above the last one I read" and "removals with a seq above the last one I applied"
 * (UsearchIndexProvider.refresh). Sequences hand out numbers in call order, not commit order: a
 * transaction holding key 7 may commit after another's key 8 was read, and the reader would never
 * look below 8 again. So every transaction that adds or removes a collection's faces first takes
 * that collection's advisory lock and holds it to its commit: its keys and removal seqs are drawn
 * and made visible before the next writer of the collection draws any, so within a collection
 * numbers become visible in increasing order. (Other collections' writers are not held up.)
 */
export class PgCollectionRepository implements CollectionRepository, IndexJournal {
  private readonly removalRetentionMs: number;

  constructor(private readonly db: PostgresDatabase, private readonly codec: TemplateCodec = TemplateCodec.plain(), options: PgCollectionOptions = {}) {
    this.removalRetentionMs = options.removalRetentionMs ?? DEFAULT_REMOVAL_RETENTION_MS;
  }

  async create(record: Omit<CollectionRecord, 'id'>): Promise<CollectionRecord> {
    try {
      const { rows } = await run<{ id: number }>(this.db, 'fp-collections-create', `INSERT INTO collections
        (tenant_id, name, kind, description, metadata, template_model, template_version, dimension, created_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
      [record.tenantId, record.name, record.kind, record.description, jsonb(record.metadata), record.model.modelId, record.model.version, record.model.dimension, record.createdAt]);
      return { ...record, id: rows[0].id };
    } catch (err) {
      if (pgCode(err) === PG.uniqueViolation && (err as { constraint?: string }).constraint === COLLECTION_NAME_CONSTRAINT) {
        throw new FaceproofError('already_exists', `a collection named "${record.name}" already exists`, 'name');
      }
      throw err;
    }
  }

  async get(tenantId: string, name: string): Promise<CollectionRecord | undefined> {
    const { rows } = await run<CollectionRow>(this.db, 'fp-collections-get', 'SELECT * FROM collections WHERE tenant_id = $1 AND name = $2', [tenantId, name]);
    return rows[0] && toCollection(rows[0]);
  }

  async list(tenantId: string): Promise<CollectionRecord[]> {
    const { rows } = await run<CollectionRow>(this.db, 'fp-collections-list', 'SELECT * FROM collections WHERE tenant_id = $1 ORDER BY name', [tenantId]);
    return rows.map(toCollection);
  }

  async delete(tenantId: string, id: number): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      // Under the writers' lock, so that a removal being logged does not outlive the collection in face_removals.
      await this.lock(tx, id);
      const deleted = ((await run(tx, 'fp-collections-delete', 'DELETE FROM collections WHERE tenant_id = $1 AND id = $2', [tenantId, id])).rowCount ?? 0) > 0;
      if (deleted) await run(tx, 'fp-collections-delete-removals', 'DELETE FROM face_removals WHERE collection_id = $1', [id]);
      return deleted;
    });
  }

  async count(collectionId: number): Promise<number> {
    const { rows } = await run<{ n: number }>(this.db, 'fp-collections-count', 'SELECT count(*) AS n FROM faces WHERE collection_id = $1', [collectionId]);
    return rows[0].n;
  }

  async sizes(): Promise<Array<{ tenantId: string; name: string; faces: number }>> {
    const { rows } = await run<{ tenantId: string; name: string; faces: number }>(this.db, 'fp-collections-sizes',
      'SELECT c.tenant_id AS "tenantId", c.name AS name, (SELECT count(*) FROM faces f WHERE f.collection_id = c.id) AS faces FROM collections c');
    return rows;
  }

  /**
   * One transaction under the collection's lock (see the class), in multi-row INSERTs. A collection
   * deleted meanwhile (by this node or another) fails the insert on the foreign key: not_found, as
   * the use case answers for a collection gone before the insert.
   */
  async addFaces(tenantId: string, collectionId: number, faces: NewCollectionFace[]): Promise<CollectionFace[]> {
    if (faces.length === 0) return [];
    const templates = faces.map((f) => this.codec.encode(f.vector));
    const keys = new Map<string, number>();
    try {
      await this.db.transaction(async (tx) => {
        keys.clear(); // a retried transaction starts over
        await this.lock(tx, collectionId);
        for (let start = 0; start < faces.length; start += INSERT_BATCH) {
          const batch = faces.slice(start, start + INSERT_BATCH);
          const values: unknown[] = [];
          const rows = batch.map((f, i) => {
            values.push(f.id, tenantId, collectionId, f.externalId, jsonb(f.metadata), f.imageId, jsonbOrNull(f.box), templates[start + i], f.createdAt, f.indexedBy ?? null);
            const p = i * 10;
            return `($${p + 1}, $${p + 2}, $${p + 3}, $${p + 4}, $${p + 5}, $${p + 6}, $${p + 7}, $${p + 8}, $${p + 9}, $${p + 10})`;
          });
          // Not named: its text changes with the number of rows, and each name would stay prepared on every connection.
          const { rows: inserted } = await run<{ key: number; id: string }>(tx, undefined,
            `INSERT INTO faces (id, tenant_id, collection_id, external_id, metadata, image_id, box, template, created_at, indexed_by)
             VALUES ${rows.join(', ')} RETURNING key, id`, values);
          for (const r of inserted) keys.set(r.id, r.key);
        }
      });
    } catch (err) {
      if (pgCode(err) === PG_FOREIGN_KEY_VIOLATION) throw new FaceproofError('not_found', 'the collection was deleted', 'collection');
      throw err;
    }
    return faces.map(({ vector: _vector, ...face }): CollectionFace => ({ ...face, key: keys.get(face.id)! }));
  }

  async getFace(collectionId: number, faceId: string): Promise<CollectionFace | undefined> {
    const { rows } = await run<FaceRow>(this.db, 'fp-faces-get', `SELECT ${FACE_COLUMNS} FROM faces WHERE collection_id = $1 AND id = $2`, [collectionId, faceId]);
    return rows[0] && toFace(rows[0]);
  }

  async findFaces(collectionId: number, query: FaceQuery): Promise<CollectionFace[]> {
    const params: unknown[] = [collectionId, query.afterKey ?? 0];
    const where = ['collection_id = $1', 'key > $2'];
    if (query.externalId !== undefined) { params.push(query.externalId); where.push(`external_id = $${params.length}`); }
    for (const [field, value] of Object.entries(query.metadata ?? {})) {
      // JSONB equality: a string matches only a string, true only true, null only a field present and null (as SQLite's `->` IS).
      params.push(field, jsonb(value));
      where.push(`(metadata -> $${params.length - 1}::text) = $${params.length}::jsonb`);
    }
    params.push(query.limit);
    const { rows } = await run<FaceRow>(this.db, undefined, `SELECT ${FACE_COLUMNS} FROM faces WHERE ${where.join(' AND ')} ORDER BY key LIMIT $${params.length}`, params);
    return rows.map(toFace);
  }

  async removeFaces(collectionId: number, selector: FaceSelector): Promise<number[]> {
    const [which, values] = 'all' in selector ? ['', []]
      : 'faceIds' in selector ? ['AND id = ANY($2::text[])', [selector.faceIds]]
        : ['AND external_id = ANY($2::text[])', [selector.externalIds]];
    if (values.length && (values[0] as string[]).length === 0) return [];
    return this.db.transaction(async (tx) => {
      await this.lock(tx, collectionId);
      // The faces and the log of their removal in one statement, seqs drawn in key order under the lock.
      const { rows } = await run<{ face_key: number }>(tx, `fp-faces-remove${'all' in selector ? '-all' : 'faceIds' in selector ? '-ids' : '-external'}`,
        `WITH gone AS (DELETE FROM faces WHERE collection_id = $1 ${which} RETURNING key)
         INSERT INTO face_removals (collection_id, face_key) SELECT $1, key FROM gone ORDER BY key RETURNING face_key`,
        [collectionId, ...values]);
      return rows.map((r) => r.face_key);
    });
  }

  /** As SqliteCollectionRepository.vectorsOf: a template failing its integrity check is left out and reported. */
  async vectorsOf(collectionId: number, keys: number[]): Promise<Array<{ key: number; vector: Float32Array }>> {
    if (keys.length === 0) return [];
    const { rows } = await run<TemplateRow>(this.db, 'fp-faces-vectors-of', 'SELECT key, id, template FROM faces WHERE collection_id = $1 AND key = ANY($2::bigint[])', [collectionId, keys]);
    return searchableVectors(this.codec, rows, collectionId);
  }

  async facesByKeys(collectionId: number, keys: number[]): Promise<CollectionFace[]> {
    if (keys.length === 0) return [];
    const { rows } = await run<FaceRow>(this.db, 'fp-faces-by-keys', `SELECT ${FACE_COLUMNS} FROM faces WHERE collection_id = $1 AND key = ANY($2::bigint[])`, [collectionId, keys]);
    return rows.map(toFace);
  }

  async facesFromImage(tenantId: string, imageId: string): Promise<Array<{ collectionId: number; faceId: string }>> {
    const { rows } = await run<{ collection_id: number; id: string }>(this.db, 'fp-faces-from-image', 'SELECT collection_id, id FROM faces WHERE tenant_id = $1 AND image_id = $2', [tenantId, imageId]);
    return rows.map((r) => ({ collectionId: r.collection_id, faceId: r.id }));
  }

  /**
   * One row per face key, as SQLite. Only keys whose face still exists are recorded: on several
   * nodes a face another node deleted while this search ran is likelier than on one, and its
   * inquiry would go with it anyway (ON DELETE CASCADE), so it is not worth failing the search.
   */
  async recordInquiries(tenantId: string, clientId: string, keys: number[], at: string): Promise<void> {
    if (keys.length === 0) return;
    await run(this.db, 'fp-inquiries-record', `INSERT INTO watchlist_inquiries (face_key, tenant_id, client_id, at)
      SELECT k.key, $2, $3, $4 FROM unnest($1::bigint[]) WITH ORDINALITY AS k(key, n) WHERE EXISTS (SELECT 1 FROM faces f WHERE f.key = k.key) ORDER BY k.n`,
    [keys, tenantId, clientId, at]);
  }

  /** Every key's counts over every window in one statement (SQLite runs one small query per pair, cheap there, a round trip each here). */
  async inquiryHistory(keys: number[], now: Date, windows: number[]): Promise<Map<number, InquiryWindow[]>> {
    const out = new Map<number, InquiryWindow[]>();
    const unique = [...new Set(keys)];
    if (unique.length === 0) return out;
    const since = windows.map((days) => new Date(now.getTime() - days * DAY_MS).toISOString());
    const { rows } = await run<{ key: number; n: number; inquiries: number; clients: number }>(this.db, 'fp-inquiries-history',
      `SELECT k.key, w.n, count(i.face_key) AS inquiries, count(DISTINCT i.client_id) AS clients
       FROM unnest($1::bigint[]) AS k(key)
       CROSS JOIN unnest($2::text[]) WITH ORDINALITY AS w(since, n)
       LEFT JOIN watchlist_inquiries i ON i.face_key = k.key AND i.at >= w.since COLLATE "C"
       GROUP BY k.key, w.n`, [unique, since]);
    const counts = new Map(rows.map((r) => [`${r.key}:${r.n}`, r]));
    for (const key of unique) {
      out.set(key, windows.map((days, i) => {
        const r = counts.get(`${key}:${i + 1}`);
        return { days, inquiries: r?.inquiries ?? 0, clients: r?.clients ?? 0 };
      }));
    }
    return out;
  }

  async inquiries(tenantId: string, collectionId: number, q: InquiryQuery): Promise<WatchlistInquiry[]> {
    // As SQLite: the page's inquiries (one per client and instant), then their faces.
    const { rows: groups } = q.before
      ? await run<{ at: string; client_id: string }>(this.db, 'fp-inquiries-page-before',
        `SELECT DISTINCT i.at, i.client_id ${INQUIRIES} AND i.at <= $3 AND (i.at < $3 OR i.client_id < $4) ORDER BY i.at DESC, i.client_id DESC LIMIT $5`,
        [tenantId, collectionId, q.before.at, q.before.clientId, q.limit])
      : await run<{ at: string; client_id: string }>(this.db, 'fp-inquiries-page',
        `SELECT DISTINCT i.at, i.client_id ${INQUIRIES} ORDER BY i.at DESC, i.client_id DESC LIMIT $3`, [tenantId, collectionId, q.limit]);
    if (!groups.length) return [];
    const page = new Map(groups.map((g): [string, WatchlistInquiry] => [JSON.stringify([g.at, g.client_id]), { at: g.at, clientId: g.client_id, faces: [] }]));
    const { rows } = await run<{ at: string; client_id: string; id: string; external_id: string | null; image_id: string | null }>(this.db, 'fp-inquiries-faces',
      `SELECT i.at, i.client_id, f.id, f.external_id, f.image_id ${INQUIRIES} AND i.at BETWEEN $3 AND $4 ORDER BY f.key`,
      [tenantId, collectionId, groups[groups.length - 1].at, groups[0].at]);
    for (const r of rows) page.get(JSON.stringify([r.at, r.client_id]))?.faces.push({ id: r.id, externalId: r.external_id, imageId: r.image_id });
    return [...page.values()];
  }

  /** As SqliteCollectionRepository.vectorsAfter: a template failing its integrity check stops the build (internal_error naming the face). */
  async vectorsAfter(collectionId: number, afterKey: number, limit: number): Promise<Array<{ key: number; vector: Float32Array }>> {
    const { rows } = await run<TemplateRow>(this.db, 'fp-faces-vectors-after',
      'SELECT key, id, template FROM faces WHERE collection_id = $1 AND key > $2 ORDER BY key LIMIT $3', [collectionId, afterKey, limit]);
    return indexableVectors(this.codec, rows, collectionId);
  }

  async removalsAfter(collectionId: number, afterSeq: number): Promise<{ keys: number[]; lastSeq: number }> {
    const { rows } = await run<{ seq: number; face_key: number }>(this.db, 'fp-removals-after',
      'SELECT seq, face_key FROM face_removals WHERE collection_id = $1 AND seq > $2 ORDER BY seq', [collectionId, afterSeq]);
    return { keys: rows.map((r) => r.face_key), lastSeq: rows.length ? rows[rows.length - 1].seq : afterSeq };
  }

  async lastRemovalSeq(collectionId: number): Promise<number> {
    const { rows } = await run<{ seq: number }>(this.db, 'fp-removals-last', 'SELECT COALESCE(MAX(seq), 0) AS seq FROM face_removals WHERE collection_id = $1', [collectionId]);
    return rows[0].seq;
  }

  async keysAfter(collectionId: number, afterKey: number): Promise<number[]> {
    const { rows } = await run<{ key: number }>(this.db, 'fp-faces-keys-after', 'SELECT key FROM faces WHERE collection_id = $1 AND key > $2 ORDER BY key', [collectionId, afterKey]);
    return rows.map((r) => r.key);
  }

  /**
   * Forgets the removals up to `uptoSeq` that are older than the retention (a day by default). The
   * caller's snapshot holds them, but that is one node's: another node's index may not have applied
   * them yet, and once forgotten it never would (its catch-up asks for removals after the last it
   * applied, and would keep serving the deleted faces). Nodes do not report how far they got, so age
   * stands in for it: running nodes catch up within seconds, so a day-old removal is applied
   * everywhere. (A node that holds an index it has not refreshed for longer must reload it.)
   */
  async pruneRemovals(collectionId: number, uptoSeq: number): Promise<void> {
    await run(this.db, 'fp-removals-prune',
      "DELETE FROM face_removals WHERE collection_id = $1 AND seq <= $2 AND removed_at < now() - $3 * interval '1 millisecond'",
      [collectionId, uptoSeq, this.removalRetentionMs]);
  }

  private async lock(tx: Queryable, collectionId: number): Promise<void> {
    await tx.query({ name: 'fp-collections-lock', text: LOCK_COLLECTION, values: [COLLECTION_LOCK_NAMESPACE, collectionId] });
  }
}
