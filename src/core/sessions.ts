import { createHash, randomUUID } from 'node:crypto';
import { FaceproofError } from './errors.ts';
import type { EmbeddedFace, FaceInput, FaceService } from './face-service.ts';
import type { Calibrator, CalibratedScore, ImageType } from './calibration.ts';
import { cosineSimilarity } from './template.ts';
import { assertSameModel, boxOf, storedImageIdOf } from './face-records.ts';
import type { ImageStore } from './image-store.ts';
import type { SessionFace, SessionFaceDetails, SessionRecord, SessionRepository } from './ports.ts';
import { decodeBase64 } from './image-input.ts';

export interface SessionSettings {
  defaultTtlSeconds: number;
  maxTtlSeconds: number;
  /** Most faces one session may hold. */
  maxFaces: number;
}

export interface RankedFace extends CalibratedScore {
  face: SessionFace;
}

/**
 * One-to-few matching (IDEMIA's bio-sessions): a short-lived set of faces, each ranked against a
 * reference. With image storage enabled the session keeps a copy of each image, erased with it.
 */
export class SessionService {
  constructor(
    private readonly repository: SessionRepository,
    private readonly faces: FaceService,
    private readonly images: ImageStore,
    private readonly calibrator: Calibrator,
    private readonly settings: SessionSettings,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async create(tenantId: string, spec: { ttlSeconds?: number; imageStorageEnabled: boolean; metadata?: Record<string, unknown> }): Promise<SessionRecord> {
    const ttl = spec.ttlSeconds ?? this.settings.defaultTtlSeconds;
    if (ttl > this.settings.maxTtlSeconds) throw new FaceproofError('invalid_parameter', `ttl_seconds is at most ${this.settings.maxTtlSeconds}`, 'ttl_seconds');
    const now = this.now();
    const { modelId, version } = this.faces.templateModel;
    const session: SessionRecord = {
      tenantId, id: `ses_${randomUUID().replace(/-/g, '')}`, imageStorageEnabled: spec.imageStorageEnabled, metadata: spec.metadata ?? {},
      model: { modelId, version }, createdAt: now.toISOString(), expiresAt: new Date(now.getTime() + ttl * 1000).toISOString(),
    };
    await this.repository.create(session);
    return session;
  }

  async get(tenantId: string, id: string): Promise<SessionRecord> {
    const session = await this.repository.get(tenantId, id);
    if (!session || session.expiresAt <= this.now().toISOString()) throw new FaceproofError('not_found', `no session ${id} (or it expired)`, 'session_id');
    return session;
  }

  /**
   * Adds the largest face (or every face) of an image, or a template's face. `autoRotate` also tries
   * the image turned; `metadata` is what the client said of the face, kept in its details with the
   * image's digest, the eyes and the detector's confidence.
   */
  async addFaces(tenantId: string, id: string, input: FaceInput, options: { imageType: ImageType; allFaces: boolean; autoRotate?: boolean; metadata?: Record<string, unknown> }): Promise<SessionFace[]> {
    const session = await this.get(tenantId, id);
    assertSameModel({ ...session.model, dimension: this.faces.templateModel.dimension }, this.faces.templateModel, 'session');
    const found = await this.faces.facesOf(input, { tenantId, field: 'image', allFaces: options.allFaces, autoRotate: options.autoRotate ?? false });
    const digest = digestOf(input);
    // After each wait the session may have been deleted (or filled) by another request: checked
    // again in the turn that writes, so the insert never meets a missing session.
    const room = async () => {
      await this.get(tenantId, id);
      const held = (await this.repository.faces(tenantId, id)).length;
      if (held + found.length > this.settings.maxFaces) {
        throw new FaceproofError('invalid_parameter', `a session holds at most ${this.settings.maxFaces} faces (has ${held})`, 'image');
      }
    };
    await room();
    let imageId = storedImageIdOf(input);
    let imageOwned = false;
    if (session.imageStorageEnabled && input.kind === 'image' && input.source.kind !== 'stored') {
      const remaining = Math.max(1, Math.ceil((Date.parse(session.expiresAt) - this.now().getTime()) / 1000));
      imageId = (await this.images.store(tenantId, input.source, { label: `session ${id}`, ttlSeconds: remaining })).id;
      imageOwned = true;
      try {
        await room();
      } catch (err) {
        await this.eraseOwnedImages(tenantId, [imageId]);
        throw err;
      }
    }
    const at = this.now().toISOString();
    const faces = found.map((f) => ({
      id: `sface_${randomUUID().replace(/-/g, '')}`, imageType: options.imageType, imageId, imageOwned, box: boxOf(f.face), createdAt: at, vector: f.vector,
      details: detailsOf(f, digest, options),
    }));
    await this.repository.addFaces(tenantId, id, faces);
    return faces.map(({ vector: _v, ...face }) => face);
  }

  async listFaces(tenantId: string, id: string): Promise<SessionFace[]> {
    await this.get(tenantId, id);
    return (await this.repository.faces(tenantId, id)).map(({ vector: _v, ...face }) => face);
  }

  /** The session's faces, each with its template (base64, as /v1/detect returns them). */
  async listFacesWithTemplates(tenantId: string, id: string): Promise<Array<SessionFace & { template: string }>> {
    await this.get(tenantId, id);
    return (await this.repository.faces(tenantId, id)).map(({ vector, ...face }) => ({ ...face, template: this.faces.encodeVector(vector) }));
  }

  async getFace(tenantId: string, id: string, faceId: string): Promise<SessionFace> {
    const face = (await this.listFaces(tenantId, id)).find((f) => f.id === faceId);
    if (!face) throw new FaceproofError('not_found', `no face ${faceId} in session ${id}`, 'face_id');
    return face;
  }

  async deleteFace(tenantId: string, id: string, faceId: string): Promise<void> {
    await this.get(tenantId, id);
    const { deleted, ownedImage } = await this.repository.removeFace(tenantId, id, faceId);
    if (!deleted) throw new FaceproofError('not_found', `no face ${faceId} in session ${id}`, 'face_id');
    if (ownedImage) await this.eraseOwnedImages(tenantId, [ownedImage]);
  }

  /**
   * Ranks every face of the session against a reference: one of its faces (by id, itself excluded),
   * or a new image or template. Best first, each with its calibrated score, FAR and decision.
   */
  async match(tenantId: string, id: string, reference: { faceId: string } | { input: FaceInput; imageType: ImageType }): Promise<RankedFace[]> {
    await this.get(tenantId, id);
    const stored = await this.repository.faces(tenantId, id);
    let vector: Float32Array;
    let referenceType: ImageType;
    let candidates = stored;
    if ('faceId' in reference) {
      const ref = stored.find((f) => f.id === reference.faceId);
      if (!ref) throw new FaceproofError('not_found', `no face ${reference.faceId} in session ${id}`, 'reference_face_id');
      ({ vector } = ref);
      referenceType = ref.imageType;
      candidates = stored.filter((f) => f.id !== ref.id);
    } else {
      [{ vector }] = await this.faces.facesOf(reference.input, { tenantId, field: 'image', allFaces: false, autoRotate: false });
      referenceType = reference.imageType;
    }
    return candidates
      .map(({ vector: v, ...face }) => ({ face, ...this.calibrator.assess(cosineSimilarity(vector, v), referenceType, face.imageType) }))
      .sort((a, b) => b.similarity - a.similarity);
  }

  /** Ends the session now: its faces, templates and the images it stored. */
  async delete(tenantId: string, id: string): Promise<void> {
    const { deleted, ownedImages } = await this.repository.delete(tenantId, id);
    if (!deleted) throw new FaceproofError('not_found', `no session ${id}`, 'session_id');
    await this.eraseOwnedImages(tenantId, ownedImages);
  }

  /** Erases sessions past their expiry with their data; returns how many. */
  async sweepExpired(batch = 500): Promise<number> {
    let removed = 0;
    for (;;) {
      const due = await this.repository.expired(this.now().toISOString(), batch);
      for (const { tenantId, id } of due) {
        const { deleted, ownedImages } = await this.repository.delete(tenantId, id);
        if (deleted) removed++;
        await this.eraseOwnedImages(tenantId, ownedImages);
      }
      if (due.length < batch) return removed;
    }
  }

  /** Right to erasure: removes session faces taken from a stored image. */
  async eraseImage(tenantId: string, imageId: string): Promise<number> {
    const hits = await this.repository.facesFromImage(tenantId, imageId);
    for (const { sessionId, faceId } of hits) await this.repository.removeFace(tenantId, sessionId, faceId);
    return hits.length;
  }

  private async eraseOwnedImages(tenantId: string, imageIds: string[]): Promise<void> {
    for (const imageId of new Set(imageIds)) {
      try {
        await this.images.delete(tenantId, imageId);
      } catch (err) {
        // Already gone (its own retention, or erased by the client): nothing left to erase.
        if (!(err instanceof FaceproofError && err.code === 'not_found')) throw err;
      }
    }
  }
}

/** SHA-256 (hex) of an image given in the request; undefined for a template or a stored image. */
function digestOf(input: FaceInput): string | undefined {
  if (input.kind !== 'image' || input.source.kind === 'stored') return undefined;
  const bytes = input.source.kind === 'bytes' ? input.source.data : decodeBase64(input.source.data, 'image');
  return createHash('sha256').update(bytes).digest('hex');
}

function detailsOf(found: EmbeddedFace, digest: string | undefined, options: { autoRotate?: boolean; metadata?: Record<string, unknown> }): SessionFaceDetails {
  const details: SessionFaceDetails = {};
  if (digest !== undefined) details.digest = digest;
  const face = found.face;
  if (face) {
    const [left, right] = face.points5;
    details.eyes = { x1: round2(left[0]), y1: round2(left[1]), x2: round2(right[0]), y2: round2(right[1]) };
    details.confidence = Math.round(face.confidence * 1e4) / 1e4;
    details.interEyeDistance = round2(face.interEyeDistance);
  }
  if (options.autoRotate !== undefined) details.autoRotate = options.autoRotate;
  if (options.metadata !== undefined) details.metadata = options.metadata;
  return details;
}

const round2 = (v: number) => Math.round(v * 100) / 100;
