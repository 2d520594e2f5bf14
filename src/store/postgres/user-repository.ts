import type { FaceBox, KeptFaceWithVector, UserEvent, UserRecord, UserRepository } from '../../core/ports.ts';
import type { ImageType } from '../../core/calibration.ts';
import { FaceproofError } from '../../core/errors.ts';
import type { PostgresDatabase, Queryable } from './database.ts';
import { TemplateCodec, withStoredVector } from '../sqlite/template-codec.ts';
import { jsonb, jsonbOrNull, PG, pgCode, run } from './statements.ts';

interface UserRow {
  tenant_id: string; user_id: string; status: UserRecord['status']; metadata: Record<string, unknown>; template_model: string; template_version: number; created_at: string; updated_at: string;
}
interface FaceRow { id: string; image_type: ImageType; image_id: string | null; box: FaceBox | null; template: Buffer; created_at: string }
interface EventRow { seq: number; action: UserEvent['action']; result: string; detail: Record<string, unknown>; request_id: string | null; at: string }

const toUser = (r: UserRow): UserRecord => ({
  tenantId: r.tenant_id, userId: r.user_id, status: r.status, metadata: r.metadata,
  model: { modelId: r.template_model, version: r.template_version }, createdAt: r.created_at, updatedAt: r.updated_at,
});

const SQL = {
  insertUser: `INSERT INTO users (tenant_id, user_id, status, metadata, template_model, template_version, created_at, updated_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
  get: 'SELECT * FROM users WHERE tenant_id = $1 AND user_id = $2',
  insertFace: 'INSERT INTO user_faces (id, tenant_id, user_id, image_type, image_id, box, template, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)',
  faces: 'SELECT * FROM user_faces WHERE tenant_id = $1 AND user_id = $2 ORDER BY created_at, id',
  removeFace: 'DELETE FROM user_faces WHERE tenant_id = $1 AND user_id = $2 AND id = $3',
  removeFaces: 'DELETE FROM user_faces WHERE tenant_id = $1 AND user_id = $2',
  touch: 'UPDATE users SET updated_at = $1 WHERE tenant_id = $2 AND user_id = $3',
  setStatus: 'UPDATE users SET status = $1, updated_at = $2 WHERE tenant_id = $3 AND user_id = $4',
  setMetadata: 'UPDATE users SET metadata = $1, updated_at = $2 WHERE tenant_id = $3 AND user_id = $4',
  delete: 'DELETE FROM users WHERE tenant_id = $1 AND user_id = $2',
  deleteEvents: 'DELETE FROM user_events WHERE tenant_id = $1 AND user_id = $2',
  event: 'INSERT INTO user_events (tenant_id, user_id, action, result, detail, request_id, at) VALUES ($1, $2, $3, $4, $5, $6, $7)',
  history: 'SELECT seq, action, result, detail, request_id, at FROM user_events WHERE tenant_id = $1 AND user_id = $2 AND seq < $3 ORDER BY seq DESC LIMIT $4',
  fromImage: 'SELECT user_id, id FROM user_faces WHERE tenant_id = $1 AND image_id = $2',
};

/**
 * Enrolled users, their faces and their attempt history in PostgreSQL, as SqliteUserRepository
 * keeps them: every statement scoped by tenant, a change and its event in one transaction,
 * templates through `codec` (the same bytes as SQLite's, sealed at rest when encryption is on).
 */
export class PgUserRepository implements UserRepository {
  constructor(private readonly db: PostgresDatabase, private readonly codec: TemplateCodec = TemplateCodec.plain()) {}

  async create(user: UserRecord, faces: KeptFaceWithVector[], event?: Omit<UserEvent, 'seq'>): Promise<void> {
    try {
      await this.db.transaction(async (tx) => {
        await run(tx, 'fp-users-insert', SQL.insertUser, [user.tenantId, user.userId, user.status, jsonb(user.metadata), user.model.modelId, user.model.version, user.createdAt, user.updatedAt]);
        await this.insertFaces(tx, user.tenantId, user.userId, faces);
        if (event) await this.insertEvent(tx, user.tenantId, user.userId, event);
      });
    } catch (err) {
      // SQLite's PRIMARY KEY conflict (the user, or one of its face ids), here a unique violation.
      if (pgCode(err) === PG.uniqueViolation) throw new FaceproofError('already_exists', `user "${user.userId}" is already registered`, 'user_id');
      throw err;
    }
  }

  private async insertFaces(tx: Queryable, tenantId: string, userId: string, faces: KeptFaceWithVector[]): Promise<void> {
    for (const f of faces) {
      await run(tx, 'fp-users-insert-face', SQL.insertFace, [f.id, tenantId, userId, f.imageType, f.imageId, jsonbOrNull(f.box), this.codec.encode(f.vector), f.createdAt]);
    }
  }

  async get(tenantId: string, userId: string): Promise<UserRecord | undefined> {
    const row = (await run<UserRow>(this.db, 'fp-users-get', SQL.get, [tenantId, userId])).rows[0];
    return row && toUser(row);
  }

  /** A user's faces; each template is decoded when first read (see withStoredVector). */
  async faces(tenantId: string, userId: string): Promise<KeptFaceWithVector[]> {
    return (await run<FaceRow>(this.db, 'fp-users-faces', SQL.faces, [tenantId, userId])).rows.map((r) => withStoredVector(
      { id: r.id, imageType: r.image_type, imageId: r.image_id, box: r.box, createdAt: r.created_at },
      r.template, this.codec, `face ${r.id} of user "${userId}"`,
    ));
  }

  async addFaces(tenantId: string, userId: string, faces: KeptFaceWithVector[], at: string, event?: Omit<UserEvent, 'seq'>): Promise<void> {
    await this.db.transaction(async (tx) => {
      await this.insertFaces(tx, tenantId, userId, faces);
      await run(tx, 'fp-users-touch', SQL.touch, [at, tenantId, userId]);
      if (event) await this.insertEvent(tx, tenantId, userId, event);
    });
  }

  async removeFace(tenantId: string, userId: string, faceId: string, at: string, event?: Omit<UserEvent, 'seq'>): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      const removed = ((await run(tx, 'fp-users-remove-face', SQL.removeFace, [tenantId, userId, faceId])).rowCount ?? 0) > 0;
      if (removed) {
        await run(tx, 'fp-users-touch', SQL.touch, [at, tenantId, userId]);
        if (event) await this.insertEvent(tx, tenantId, userId, event);
      }
      return removed;
    });
  }

  async setStatus(tenantId: string, userId: string, status: UserRecord['status'], at: string, event?: Omit<UserEvent, 'seq'>): Promise<void> {
    await this.db.transaction(async (tx) => {
      await run(tx, 'fp-users-set-status', SQL.setStatus, [status, at, tenantId, userId]);
      if (event) await this.insertEvent(tx, tenantId, userId, event);
    });
  }

  async setMetadata(tenantId: string, userId: string, metadata: Record<string, unknown>, at: string): Promise<void> {
    await run(this.db, 'fp-users-set-metadata', SQL.setMetadata, [jsonb(metadata), at, tenantId, userId]);
  }

  async replaceFaces(tenantId: string, userId: string, faces: KeptFaceWithVector[], metadata: Record<string, unknown>, at: string, event: Omit<UserEvent, 'seq'>): Promise<void> {
    await this.db.transaction(async (tx) => {
      await run(tx, 'fp-users-remove-faces', SQL.removeFaces, [tenantId, userId]);
      await this.insertFaces(tx, tenantId, userId, faces);
      await run(tx, 'fp-users-set-metadata', SQL.setMetadata, [jsonb(metadata), at, tenantId, userId]);
      await this.insertEvent(tx, tenantId, userId, event);
    });
  }

  async delete(tenantId: string, userId: string): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      await run(tx, 'fp-users-delete-events', SQL.deleteEvents, [tenantId, userId]);
      return ((await run(tx, 'fp-users-delete', SQL.delete, [tenantId, userId])).rowCount ?? 0) > 0; // faces go by cascade
    });
  }

  async recordEvent(tenantId: string, userId: string, e: Omit<UserEvent, 'seq'>): Promise<void> {
    await this.insertEvent(this.db, tenantId, userId, e);
  }

  private async insertEvent(db: Queryable, tenantId: string, userId: string, e: Omit<UserEvent, 'seq'>): Promise<void> {
    await run(db, 'fp-users-event', SQL.event, [tenantId, userId, e.action, e.result, jsonb(e.detail), e.requestId, e.at]);
  }

  async history(tenantId: string, userId: string, page: { beforeSeq?: number; limit: number }): Promise<UserEvent[]> {
    const { rows } = await run<EventRow>(this.db, 'fp-users-history', SQL.history, [tenantId, userId, page.beforeSeq ?? Number.MAX_SAFE_INTEGER, page.limit]);
    return rows.map((r) => ({ seq: r.seq, action: r.action, result: r.result, detail: r.detail, requestId: r.request_id, at: r.at }));
  }

  async facesFromImage(tenantId: string, imageId: string): Promise<Array<{ userId: string; faceId: string }>> {
    return (await run<{ user_id: string; id: string }>(this.db, 'fp-users-from-image', SQL.fromImage, [tenantId, imageId])).rows.map((r) => ({ userId: r.user_id, faceId: r.id }));
  }
}
