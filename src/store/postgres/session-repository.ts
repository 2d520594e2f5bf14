import type { FaceBox, SessionFace, SessionFaceDetails, SessionRecord, SessionRepository } from '../../core/ports.ts';
import type { ImageType } from '../../core/calibration.ts';
import type { PostgresDatabase } from './database.ts';
import { TemplateCodec, withStoredVector } from '../sqlite/template-codec.ts';
import { jsonb, jsonbOrNull, run } from './statements.ts';

interface SessionRow {
  tenant_id: string; id: string; image_storage_enabled: boolean; metadata: Record<string, unknown>; template_model: string; template_version: number; created_at: string; expires_at: string;
}
interface FaceRow {
  id: string; image_type: ImageType; image_id: string | null; image_owned: boolean; box: FaceBox | null; template: Buffer; created_at: string; details: SessionFaceDetails | null;
}

const toSession = (r: SessionRow): SessionRecord => ({
  tenantId: r.tenant_id, id: r.id, imageStorageEnabled: r.image_storage_enabled, metadata: r.metadata,
  model: { modelId: r.template_model, version: r.template_version }, createdAt: r.created_at, expiresAt: r.expires_at,
});

const SQL = {
  insert: `INSERT INTO sessions (tenant_id, id, image_storage_enabled, metadata, template_model, template_version, created_at, expires_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
  get: 'SELECT * FROM sessions WHERE tenant_id = $1 AND id = $2',
  ownedImages: 'SELECT image_id FROM session_faces WHERE tenant_id = $1 AND session_id = $2 AND image_owned',
  delete: 'DELETE FROM sessions WHERE tenant_id = $1 AND id = $2',
  insertFace: `INSERT INTO session_faces (tenant_id, session_id, id, image_type, image_id, image_owned, box, template, created_at, details)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
  faces: 'SELECT * FROM session_faces WHERE tenant_id = $1 AND session_id = $2 ORDER BY created_at, id',
  // The row is read and deleted in one statement, so two concurrent removals cannot both report its image.
  removeFace: 'DELETE FROM session_faces WHERE tenant_id = $1 AND session_id = $2 AND id = $3 RETURNING image_id, image_owned',
  expired: 'SELECT tenant_id, id FROM sessions WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2',
  fromImage: 'SELECT session_id, id FROM session_faces WHERE tenant_id = $1 AND image_id = $2',
};

/**
 * Short-lived one-to-few sessions and their faces in PostgreSQL, as SqliteSessionRepository keeps
 * them; every statement is scoped by tenant. Templates go through `codec`.
 */
export class PgSessionRepository implements SessionRepository {
  constructor(private readonly db: PostgresDatabase, private readonly codec: TemplateCodec = TemplateCodec.plain()) {}

  async create(r: SessionRecord): Promise<void> {
    await run(this.db, 'fp-sessions-insert', SQL.insert, [r.tenantId, r.id, r.imageStorageEnabled, jsonb(r.metadata), r.model.modelId, r.model.version, r.createdAt, r.expiresAt]);
  }

  async get(tenantId: string, id: string): Promise<SessionRecord | undefined> {
    const row = (await run<SessionRow>(this.db, 'fp-sessions-get', SQL.get, [tenantId, id])).rows[0];
    return row && toSession(row);
  }

  async delete(tenantId: string, id: string): Promise<{ deleted: boolean; ownedImages: string[] }> {
    return this.db.transaction(async (tx) => {
      const ownedImages = (await run<{ image_id: string }>(tx, 'fp-sessions-owned-images', SQL.ownedImages, [tenantId, id])).rows.map((r) => r.image_id);
      return { deleted: ((await run(tx, 'fp-sessions-delete', SQL.delete, [tenantId, id])).rowCount ?? 0) > 0, ownedImages };
    });
  }

  async addFaces(tenantId: string, sessionId: string, faces: Array<SessionFace & { vector: Float32Array }>): Promise<void> {
    await this.db.transaction(async (tx) => {
      for (const f of faces) {
        await run(tx, 'fp-sessions-insert-face', SQL.insertFace,
          [tenantId, sessionId, f.id, f.imageType, f.imageId, f.imageOwned, jsonbOrNull(f.box), this.codec.encode(f.vector), f.createdAt, jsonbOrNull(f.details)]);
      }
    });
  }

  /** A session's faces; each template is decoded when first read (see withStoredVector). */
  async faces(tenantId: string, sessionId: string): Promise<Array<SessionFace & { vector: Float32Array }>> {
    return (await run<FaceRow>(this.db, 'fp-sessions-faces', SQL.faces, [tenantId, sessionId])).rows.map((r) => withStoredVector(
      { id: r.id, imageType: r.image_type, imageId: r.image_id, imageOwned: r.image_owned, box: r.box, createdAt: r.created_at,
        ...(r.details === null ? {} : { details: r.details }) },
      r.template, this.codec, `face ${r.id} of session ${sessionId}`,
    ));
  }

  async removeFace(tenantId: string, sessionId: string, faceId: string): Promise<{ deleted: boolean; ownedImage: string | null }> {
    const row = (await run<{ image_id: string | null; image_owned: boolean }>(this.db, 'fp-sessions-remove-face', SQL.removeFace, [tenantId, sessionId, faceId])).rows[0];
    if (!row) return { deleted: false, ownedImage: null };
    return { deleted: true, ownedImage: row.image_owned ? row.image_id : null };
  }

  async expired(now: string, limit: number): Promise<Array<{ tenantId: string; id: string }>> {
    return (await run<{ tenant_id: string; id: string }>(this.db, 'fp-sessions-expired', SQL.expired, [now, limit])).rows.map((r) => ({ tenantId: r.tenant_id, id: r.id }));
  }

  async facesFromImage(tenantId: string, imageId: string): Promise<Array<{ sessionId: string; faceId: string }>> {
    return (await run<{ session_id: string; id: string }>(this.db, 'fp-sessions-from-image', SQL.fromImage, [tenantId, imageId])).rows.map((r) => ({ sessionId: r.session_id, faceId: r.id }));
  }
}
