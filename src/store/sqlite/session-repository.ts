import type { FaceBox, SessionFace, SessionFaceDetails, SessionRecord, SessionRepository } from '../../core/ports.ts';
import type { ImageType } from '../../core/calibration.ts';
import type { Db } from './database.ts';
import { jsonOrNull, parseOrNull } from './vectors.ts';
import { TemplateCodec, withStoredVector } from './template-codec.ts';

interface SessionRow {
  tenant_id: string; id: string; image_storage_enabled: number; metadata: string; template_model: string; template_version: number; created_at: string; expires_at: string;
}
interface FaceRow { id: string; image_type: ImageType; image_id: string | null; image_owned: number; box: string | null; template: Buffer; created_at: string; details: string | null }

const toSession = (r: SessionRow): SessionRecord => ({
  tenantId: r.tenant_id, id: r.id, imageStorageEnabled: r.image_storage_enabled === 1, metadata: JSON.parse(r.metadata) as Record<string, unknown>,
  model: { modelId: r.template_model, version: r.template_version }, createdAt: r.created_at, expiresAt: r.expires_at,
});

/**
 * Short-lived one-to-few sessions and their faces in SQLite; every statement is scoped by tenant.
 * Templates go through `codec` (sealed at rest when encryption is on).
 */
export class SqliteSessionRepository implements SessionRepository {
  private readonly s;

  constructor(private readonly db: Db, private readonly codec: TemplateCodec = TemplateCodec.plain()) {
    this.s = {
      insert: db.prepare(`INSERT INTO sessions (tenant_id, id, image_storage_enabled, metadata, template_model, template_version, created_at, expires_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
      get: db.prepare('SELECT * FROM sessions WHERE tenant_id = ? AND id = ?'),
      ownedImages: db.prepare('SELECT image_id FROM session_faces WHERE tenant_id = ? AND session_id = ? AND image_owned = 1').pluck(),
      delete: db.prepare('DELETE FROM sessions WHERE tenant_id = ? AND id = ?'),
      insertFace: db.prepare(`INSERT INTO session_faces (tenant_id, session_id, id, image_type, image_id, image_owned, box, template, created_at, details)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
      faces: db.prepare('SELECT * FROM session_faces WHERE tenant_id = ? AND session_id = ? ORDER BY created_at, id'),
      face: db.prepare('SELECT image_id, image_owned FROM session_faces WHERE tenant_id = ? AND session_id = ? AND id = ?'),
      removeFace: db.prepare('DELETE FROM session_faces WHERE tenant_id = ? AND session_id = ? AND id = ?'),
      expired: db.prepare('SELECT tenant_id, id FROM sessions WHERE expires_at <= ? ORDER BY expires_at LIMIT ?'),
      fromImage: db.prepare('SELECT session_id, id FROM session_faces WHERE tenant_id = ? AND image_id = ?'),
    };
  }

  async create(r: SessionRecord): Promise<void> {
    this.s.insert.run(r.tenantId, r.id, r.imageStorageEnabled ? 1 : 0, JSON.stringify(r.metadata), r.model.modelId, r.model.version, r.createdAt, r.expiresAt);
  }

  async get(tenantId: string, id: string): Promise<SessionRecord | undefined> {
    const row = this.s.get.get(tenantId, id) as SessionRow | undefined;
    return row && toSession(row);
  }

  async delete(tenantId: string, id: string): Promise<{ deleted: boolean; ownedImages: string[] }> {
    return this.db.transaction(() => {
      const ownedImages = this.s.ownedImages.all(tenantId, id) as string[];
      return { deleted: this.s.delete.run(tenantId, id).changes > 0, ownedImages };
    })();
  }

  async addFaces(tenantId: string, sessionId: string, faces: Array<SessionFace & { vector: Float32Array }>): Promise<void> {
    this.db.transaction(() => {
      for (const f of faces) {
        this.s.insertFace.run(tenantId, sessionId, f.id, f.imageType, f.imageId, f.imageOwned ? 1 : 0, jsonOrNull(f.box), this.codec.encode(f.vector), f.createdAt, jsonOrNull(f.details));
      }
    })();
  }

  /** A session's faces; each template is decoded when first read (see withStoredVector). */
  async faces(tenantId: string, sessionId: string): Promise<Array<SessionFace & { vector: Float32Array }>> {
    return (this.s.faces.all(tenantId, sessionId) as FaceRow[]).map((r) => withStoredVector(
      { id: r.id, imageType: r.image_type, imageId: r.image_id, imageOwned: r.image_owned === 1, box: parseOrNull<FaceBox>(r.box), createdAt: r.created_at,
        ...(r.details === null ? {} : { details: parseOrNull<SessionFaceDetails>(r.details)! }) },
      r.template, this.codec, `face ${r.id} of session ${sessionId}`,
    ));
  }

  async removeFace(tenantId: string, sessionId: string, faceId: string): Promise<{ deleted: boolean; ownedImage: string | null }> {
    return this.db.transaction(() => {
      const row = this.s.face.get(tenantId, sessionId, faceId) as { image_id: string | null; image_owned: number } | undefined;
      if (!row) return { deleted: false, ownedImage: null };
      this.s.removeFace.run(tenantId, sessionId, faceId);
      return { deleted: true, ownedImage: row.image_owned === 1 ? row.image_id : null };
    })();
  }

  async expired(now: string, limit: number): Promise<Array<{ tenantId: string; id: string }>> {
    return (this.s.expired.all(now, limit) as Array<{ tenant_id: string; id: string }>).map((r) => ({ tenantId: r.tenant_id, id: r.id }));
  }

  async facesFromImage(tenantId: string, imageId: string): Promise<Array<{ sessionId: string; faceId: string }>> {
    return (this.s.fromImage.all(tenantId, imageId) as Array<{ session_id: string; id: string }>).map((r) => ({ sessionId: r.session_id, faceId: r.id }));
  }
}
