import type { FaceBox, KeptFaceWithVector, UserEvent, UserRecord, UserRepository } from '../../core/ports.ts';
import type { ImageType } from '../../core/calibration.ts';
import { FaceproofError } from '../../core/errors.ts';
import type { Db } from './database.ts';
import { jsonOrNull, parseOrNull } from './vectors.ts';
import { TemplateCodec, withStoredVector } from './template-codec.ts';

interface UserRow {
  tenant_id: string; user_id: string; status: UserRecord['status']; metadata: string; template_model: string; template_version: number; created_at: string; updated_at: string;
}
interface FaceRow { id: string; image_type: ImageType; image_id: string | null; box: string | null; template: Buffer; created_at: string }
interface EventRow { seq: number; action: UserEvent['action']; result: string; detail: string; request_id: string | null; at: string }

const toUser = (r: UserRow): UserRecord => ({
  tenantId: r.tenant_id, userId: r.user_id, status: r.status, metadata: JSON.parse(r.metadata) as Record<string, unknown>,
  model: { modelId: r.template_model, version: r.template_version }, createdAt: r.created_at, updatedAt: r.updated_at,
});

/**
 * Enrolled users, their faces and their attempt history in SQLite; every statement is scoped by
 * tenant. Templates go through `codec` (sealed at rest when encryption is on).
 */
export class SqliteUserRepository implements UserRepository {
  private readonly s;

  constructor(private readonly db: Db, private readonly codec: TemplateCodec = TemplateCodec.plain()) {
    this.s = {
      insertUser: db.prepare(`INSERT INTO users (tenant_id, user_id, status, metadata, template_model, template_version, created_at, updated_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
      get: db.prepare('SELECT * FROM users WHERE tenant_id = ? AND user_id = ?'),
      insertFace: db.prepare(`INSERT INTO user_faces (id, tenant_id, user_id, image_type, image_id, box, template, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
      faces: db.prepare('SELECT * FROM user_faces WHERE tenant_id = ? AND user_id = ? ORDER BY created_at, id'),
      removeFace: db.prepare('DELETE FROM user_faces WHERE tenant_id = ? AND user_id = ? AND id = ?'),
      touch: db.prepare('UPDATE users SET updated_at = ? WHERE tenant_id = ? AND user_id = ?'),
      setStatus: db.prepare('UPDATE users SET status = ?, updated_at = ? WHERE tenant_id = ? AND user_id = ?'),
      setMetadata: db.prepare('UPDATE users SET metadata = ?, updated_at = ? WHERE tenant_id = ? AND user_id = ?'),
      delete: db.prepare('DELETE FROM users WHERE tenant_id = ? AND user_id = ?'),
      deleteEvents: db.prepare('DELETE FROM user_events WHERE tenant_id = ? AND user_id = ?'),
      event: db.prepare('INSERT INTO user_events (tenant_id, user_id, action, result, detail, request_id, at) VALUES (?, ?, ?, ?, ?, ?, ?)'),
      history: db.prepare('SELECT seq, action, result, detail, request_id, at FROM user_events WHERE tenant_id = ? AND user_id = ? AND seq < ? ORDER BY seq DESC LIMIT ?'),
      fromImage: db.prepare('SELECT user_id, id FROM user_faces WHERE tenant_id = ? AND image_id = ?'),
    };
  }

  async create(user: UserRecord, faces: KeptFaceWithVector[], event?: Omit<UserEvent, 'seq'>): Promise<void> {
    try {
      this.db.transaction(() => {
        this.s.insertUser.run(user.tenantId, user.userId, user.status, JSON.stringify(user.metadata), user.model.modelId, user.model.version, user.createdAt, user.updatedAt);
        this.insertFaces(user.tenantId, user.userId, faces);
        if (event) this.insertEvent(user.tenantId, user.userId, event);
      })();
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') throw new FaceproofError('already_exists', `user "${user.userId}" is already registered`, 'user_id');
      throw err;
    }
  }

  private insertFaces(tenantId: string, userId: string, faces: KeptFaceWithVector[]): void {
    for (const f of faces) this.s.insertFace.run(f.id, tenantId, userId, f.imageType, f.imageId, jsonOrNull(f.box), this.codec.encode(f.vector), f.createdAt);
  }

  async get(tenantId: string, userId: string): Promise<UserRecord | undefined> {
    const row = this.s.get.get(tenantId, userId) as UserRow | undefined;
    return row && toUser(row);
  }

  /** A user's faces; each template is decoded when first read (see withStoredVector). */
  async faces(tenantId: string, userId: string): Promise<KeptFaceWithVector[]> {
    return (this.s.faces.all(tenantId, userId) as FaceRow[]).map((r) => withStoredVector(
      { id: r.id, imageType: r.image_type, imageId: r.image_id, box: parseOrNull<FaceBox>(r.box), createdAt: r.created_at },
      r.template, this.codec, `face ${r.id} of user "${userId}"`,
    ));
  }

  async addFaces(tenantId: string, userId: string, faces: KeptFaceWithVector[], at: string, event?: Omit<UserEvent, 'seq'>): Promise<void> {
    this.db.transaction(() => {
      this.insertFaces(tenantId, userId, faces);
      this.s.touch.run(at, tenantId, userId);
      if (event) this.insertEvent(tenantId, userId, event);
    })();
  }

  async removeFace(tenantId: string, userId: string, faceId: string, at: string, event?: Omit<UserEvent, 'seq'>): Promise<boolean> {
    return this.db.transaction(() => {
      const removed = this.s.removeFace.run(tenantId, userId, faceId).changes > 0;
      if (removed) {
        this.s.touch.run(at, tenantId, userId);
        if (event) this.insertEvent(tenantId, userId, event);
      }
      return removed;
    })();
  }

  async setStatus(tenantId: string, userId: string, status: UserRecord['status'], at: string, event?: Omit<UserEvent, 'seq'>): Promise<void> {
    this.db.transaction(() => {
      this.s.setStatus.run(status, at, tenantId, userId);
      if (event) this.insertEvent(tenantId, userId, event);
    })();
  }

  async setMetadata(tenantId: string, userId: string, metadata: Record<string, unknown>, at: string): Promise<void> {
    this.s.setMetadata.run(JSON.stringify(metadata), at, tenantId, userId);
  }

  async replaceFaces(tenantId: string, userId: string, faces: KeptFaceWithVector[], metadata: Record<string, unknown>, at: string, event: Omit<UserEvent, 'seq'>): Promise<void> {
    this.db.transaction(() => {
      // every face goes, so no need to decode their templates: only their ids
      for (const face of this.s.faces.all(tenantId, userId) as FaceRow[]) this.s.removeFace.run(tenantId, userId, face.id);
      this.insertFaces(tenantId, userId, faces);
      this.s.setMetadata.run(JSON.stringify(metadata), at, tenantId, userId);
      this.insertEvent(tenantId, userId, event);
    })();
  }

  async delete(tenantId: string, userId: string): Promise<boolean> {
    return this.db.transaction(() => {
      this.s.deleteEvents.run(tenantId, userId);
      return this.s.delete.run(tenantId, userId).changes > 0;
    })();
  }

  async recordEvent(tenantId: string, userId: string, e: Omit<UserEvent, 'seq'>): Promise<void> {
    this.insertEvent(tenantId, userId, e);
  }

  /** Inside the transactions above (which cannot await). */
  private insertEvent(tenantId: string, userId: string, e: Omit<UserEvent, 'seq'>): void {
    this.s.event.run(tenantId, userId, e.action, e.result, JSON.stringify(e.detail), e.requestId, e.at);
  }

  async history(tenantId: string, userId: string, page: { beforeSeq?: number; limit: number }): Promise<UserEvent[]> {
    return (this.s.history.all(tenantId, userId, page.beforeSeq ?? Number.MAX_SAFE_INTEGER, page.limit) as EventRow[]).map((r) => ({
      seq: r.seq, action: r.action, result: r.result, detail: JSON.parse(r.detail) as Record<string, unknown>, requestId: r.request_id, at: r.at,
    }));
  }

  async facesFromImage(tenantId: string, imageId: string): Promise<Array<{ userId: string; faceId: string }>> {
    return (this.s.fromImage.all(tenantId, imageId) as Array<{ user_id: string; id: string }>).map((r) => ({ userId: r.user_id, faceId: r.id }));
  }
}
