import { randomUUID } from 'node:crypto';
import { FaceproofError } from './errors.ts';
import type { FaceInput, FaceService } from './face-service.ts';
import { Calibrator, type ImageType } from './calibration.ts';
import { fpirOf } from './identification.ts';
import { cosineSimilarity } from './template.ts';
import { assertSameModel, boxOf, storedImageIdOf } from './face-records.ts';
import type { KeptFace, KeptFaceWithVector, UserEvent, UserRecord, UserRepository } from './ports.ts';

export interface EnrolInput {
  input: FaceInput;
  imageType: ImageType;
  /** Refuse the face unless it is good under this quality profile. */
  qualityProfile?: string;
  /** Refuse an image showing another face at least this share of the largest's width (FacesOfOptions.otherFaceShare). */
  otherFaceShare?: number;
}

export interface UserView extends UserRecord {
  faces: KeptFace[];
}

export interface Authentication {
  decision: 'match' | 'no_match';
  /** Calibrated score of the fused decision. */
  score: number;
  /** False-accept rate of the fused decision: the best of N comparisons, so 1 − (1 − far_best)^N. */
  far: number;
  /** The same from the calibration's tail line (CalibratedScore.tailFar): what vendor score scales are computed from. */
  tailFar: number;
  similarity: number;
  /** The enrolled face that matched best, and how many were compared. */
  bestFaceId: string;
  comparedFaces: number;
  threshold: { far: number; score: number };
}

/** Most faces one user may have enrolled. */
export const MAX_USER_FACES = 20;

/** How long an enrolled selfie stays valid (TrustVision's expiry_date_face): a year. */
export const FACE_VALIDITY_DAYS = 365;

/** A user withdrawn from face authentication (UserService.withdraw): kept, with no enrolled face. */
export const isUnregistered = (user: UserView): boolean => user.faces.length === 0;

/** When the newest enrolled selfie (else the newest face) expires; null without faces. */
export function faceExpiry(user: UserView, days = FACE_VALIDITY_DAYS): string | null {
  const selfies = user.faces.filter((f) => f.imageType === 'SELFIE');
  const faces = selfies.length > 0 ? selfies : user.faces;
  if (faces.length === 0) return null;
  const newest = Math.max(...faces.map((f) => Date.parse(f.createdAt)));
  return new Date(newest + days * 86_400_000).toISOString();
}

/** Face authentication: users enrolled with selfies and/or an ID photo, who later prove who they are with a new image. */
export class UserService {
  constructor(
    private readonly repository: UserRepository,
    private readonly faces: FaceService,
    private readonly calibrator: Calibrator,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** `context` (the caller's device, place, …) is kept in the history event. */
  async register(tenantId: string, userId: string, inputs: EnrolInput[], metadata: Record<string, unknown>, requestId: string, context: Record<string, unknown> = {}): Promise<UserView> {
    if (await this.repository.get(tenantId, userId)) throw new FaceproofError('already_exists', `user "${userId}" is already registered`, 'user_id');
    const at = this.now().toISOString();
    let faces: KeptFaceWithVector[];
    try {
      faces = await this.embedAll(tenantId, inputs, 'faces');
    } catch (err) {
      if (err instanceof FaceproofError && err.status === 422) await this.record(tenantId, userId, 'register', 'failed', { ...context, error: err.code, field: err.field }, requestId);
      throw err;
    }
    const { modelId, version } = this.faces.templateModel;
    const user: UserRecord = { tenantId, userId, status: 'active', metadata, model: { modelId, version }, createdAt: at, updatedAt: at };
    await this.repository.create(user, faces, this.event('register', 'registered', { ...context, faces: faces.length, face_ids: faces.map((f) => f.id) }, requestId));
    return { ...user, faces: faces.map(strip) };
  }

  /**
   * Registers a user again: the new faces replace the enrolled ones (or an unregistered user's none)
   * and the metadata is replaced; the history is kept. A user who is not there is registered.
   */
  async reregister(tenantId: string, userId: string, inputs: EnrolInput[], metadata: Record<string, unknown>, requestId: string, context: Record<string, unknown> = {}): Promise<UserView> {
    const before = await this.repository.get(tenantId, userId);
    if (!before) return this.register(tenantId, userId, inputs, metadata, requestId, context);
    if (inputs.length > MAX_USER_FACES) throw new FaceproofError('invalid_parameter', `a user has at most ${MAX_USER_FACES} faces`, 'faces');
    let faces: KeptFaceWithVector[];
    try {
      faces = await this.embedAll(tenantId, inputs, 'faces');
    } catch (err) {
      if (err instanceof FaceproofError && err.status === 422 && (await this.repository.get(tenantId, userId))) {
        await this.record(tenantId, userId, 'register', 'failed', { ...context, error: err.code, field: err.field }, requestId);
      }
      throw err;
    }
    // Deleted (or deleted and registered again) while the engine ran.
    if ((await this.user(tenantId, userId)).createdAt !== before.createdAt) throw new FaceproofError('not_found', `no user "${userId}"`, 'user_id');
    const old = await this.repository.faces(tenantId, userId);
    const at = this.now().toISOString();
    // One transaction: a crash leaves the old faces or the new ones, never both.
    await this.repository.replaceFaces(tenantId, userId, faces, metadata, at, this.event('register', 'registered', { ...context, faces: faces.length, face_ids: faces.map((f) => f.id), replaced: old.length }, requestId));
    return this.get(tenantId, userId);
  }

  /**
   * Unregisters a user but keeps them and their history: their faces are erased, so that they cannot
   * authenticate until registered again (TrustVision's is_unregistered). See isUnregistered.
   */
  async withdraw(tenantId: string, userId: string, requestId: string, context: Record<string, unknown> = {}): Promise<UserView> {
    await this.user(tenantId, userId);
    const faces = await this.repository.faces(tenantId, userId);
    const at = this.now().toISOString();
    for (const face of faces) await this.repository.removeFace(tenantId, userId, face.id, at);
    await this.record(tenantId, userId, 'unregister', 'unregistered', { ...context, faces: faces.length }, requestId);
    return this.get(tenantId, userId);
  }

  async get(tenantId: string, userId: string): Promise<UserView> {
    const user = await this.user(tenantId, userId);
    return { ...user, faces: (await this.repository.faces(tenantId, userId)).map(strip) };
  }

  /**
   * With several probes, each is compared with every enrolled face and the best pair decides, its
   * false-accept rate corrected for all the comparisons made. `context` is kept in the history event.
   */
  async authenticate(tenantId: string, userId: string, probe: EnrolInput | EnrolInput[], requestId: string, context: Record<string, unknown> = {}): Promise<Authentication> {
    const probes = Array.isArray(probe) ? probe : [probe];
    if (probes.length === 0) throw FaceproofError.missing('an image to authenticate with is required', 'image');
    const user = await this.user(tenantId, userId);
    if (user.status !== 'active') {
      await this.record(tenantId, userId, 'authenticate', 'rejected', { ...context, reason: 'user_inactive' }, requestId);
      throw new FaceproofError('user_inactive', `user "${userId}" is deactivated`, 'user_id');
    }
    assertSameModel({ ...user.model, dimension: this.faces.templateModel.dimension }, this.faces.templateModel, 'user');
    const enrolled = await this.repository.faces(tenantId, userId);
    // Deleted (or deleted and registered again) while the engine ran: no answer from the faces it
    // had, and no event in a history the deletion erased (it would outlive the user, or join the new one's).
    const stillThere = async () => {
      const now = await this.user(tenantId, userId);
      if (now.createdAt !== user.createdAt) throw new FaceproofError('not_found', `no user "${userId}"`, 'user_id');
    };
    if (enrolled.length === 0) {
      await this.record(tenantId, userId, 'authenticate', 'rejected', { ...context, reason: 'user_unregistered' }, requestId);
      throw new FaceproofError('user_inactive', `user "${userId}" is unregistered: no enrolled face`, 'user_id');
    }
    let vectors: Float32Array[];
    try {
      vectors = await Promise.all(probes.map(async (p, i) => (await this.faces.facesOf(p.input, { tenantId, field: probes.length > 1 ? `images[${i}]` : 'image', allFaces: false, autoRotate: false, qualityProfile: p.qualityProfile, otherFaceShare: p.otherFaceShare }))[0].vector));
    } catch (err) {
      await stillThere();
      if (err instanceof FaceproofError && err.status === 422) await this.record(tenantId, userId, 'authenticate', 'failed', { ...context, error: err.code }, requestId);
      throw err;
    }
    await stillThere();
    let best = (enrolled)[0];
    let bestProbe = probes[0];
    let bestSimilarity = -Infinity;
    for (const [i, vector] of vectors.entries()) {
      for (const face of enrolled) {
        const s = cosineSimilarity(vector, face.vector);
        if (s > bestSimilarity) { bestSimilarity = s; best = face; bestProbe = probes[i]; }
      }
    }
    // Taking the best of N comparisons multiplies the chances of a false accept by about N.
    const comparisons = enrolled.length * probes.length;
    const far = Number(fpirOf(this.calibrator.far(bestSimilarity), comparisons).toPrecision(3));
    const matchFar = this.calibrator.fars(bestProbe.imageType, best.imageType).matchFar;
    const result: Authentication = {
      decision: far <= matchFar ? 'match' : 'no_match',
      score: Calibrator.score(far),
      far,
      tailFar: fpirOf(this.calibrator.farAtTail(bestSimilarity), comparisons),
      similarity: Math.round(bestSimilarity * 1e4) / 1e4,
      bestFaceId: best.id,
      comparedFaces: enrolled.length,
      threshold: { far: matchFar, score: Calibrator.score(matchFar) },
    };
    await this.record(tenantId, userId, 'authenticate', result.decision, { ...context, score: result.score, far: result.far, best_face_id: best.id, image_type: bestProbe.imageType }, requestId);
    return result;
  }

  async addFaces(tenantId: string, userId: string, inputs: EnrolInput[], requestId: string): Promise<KeptFace[]> {
    const room = async () => {
      await this.user(tenantId, userId);
      const existing = (await this.repository.faces(tenantId, userId)).length;
      if (existing + inputs.length > MAX_USER_FACES) {
        throw new FaceproofError('invalid_parameter', `a user has at most ${MAX_USER_FACES} faces (has ${existing})`, 'faces');
      }
    };
    await room();
    const faces = await this.embedAll(tenantId, inputs, 'faces');
    // Deleted, or filled by another request, while the engine ran: checked again in the insert's turn.
    await room();
    await this.repository.addFaces(tenantId, userId, faces, this.now().toISOString(), this.event('add_faces', 'added', { faces: faces.map((f) => f.id) }, requestId));
    return faces.map(strip);
  }

  async removeFace(tenantId: string, userId: string, faceId: string, requestId: string): Promise<void> {
    await this.user(tenantId, userId);
    const remaining = await this.repository.faces(tenantId, userId);
    if (!remaining.some((f) => f.id === faceId)) throw new FaceproofError('not_found', `user "${userId}" has no face ${faceId}`, 'face_id');
    if (remaining.length === 1) throw new FaceproofError('invalid_parameter', 'a user keeps at least one face: unregister the user instead', 'face_id');
    await this.repository.removeFace(tenantId, userId, faceId, this.now().toISOString(), this.event('remove_face', 'removed', { face_id: faceId }, requestId));
  }

  async setActive(tenantId: string, userId: string, active: boolean, requestId: string): Promise<UserView> {
    await this.user(tenantId, userId);
    await this.repository.setStatus(tenantId, userId, active ? 'active' : 'inactive', this.now().toISOString(),
      this.event(active ? 'activate' : 'deactivate', active ? 'active' : 'inactive', {}, requestId));
    return this.get(tenantId, userId);
  }

  /** Unregisters: erases the user, their templates and their history. */
  async unregister(tenantId: string, userId: string): Promise<void> {
    if (!(await this.repository.delete(tenantId, userId))) throw new FaceproofError('not_found', `no user "${userId}"`, 'user_id');
  }

  async history(tenantId: string, userId: string, page: { beforeSeq?: number; limit: number }): Promise<UserEvent[]> {
    await this.user(tenantId, userId);
    return this.repository.history(tenantId, userId, page);
  }

  /** Right to erasure: removes the user faces enrolled from a stored image (a user's last face takes the user with it). */
  async eraseImage(tenantId: string, imageId: string): Promise<number> {
    const hits = await this.repository.facesFromImage(tenantId, imageId);
    const at = this.now().toISOString();
    for (const { userId, faceId } of hits) {
      if ((await this.repository.faces(tenantId, userId)).length <= 1) await this.repository.delete(tenantId, userId);
      else await this.repository.removeFace(tenantId, userId, faceId, at);
    }
    return hits.length;
  }

  private async embedAll(tenantId: string, inputs: EnrolInput[], field: string): Promise<KeptFaceWithVector[]> {
    const at = this.now().toISOString();
    return Promise.all(inputs.map(async ({ input, imageType, qualityProfile, otherFaceShare }, i) => {
      const [found] = await this.faces.facesOf(input, { tenantId, field: `${field}[${i}].image`, allFaces: false, autoRotate: false, qualityProfile, otherFaceShare });
      return { id: `uface_${randomUUID().replace(/-/g, '')}`, imageType, imageId: storedImageIdOf(input), box: boxOf(found.face), createdAt: at, vector: found.vector };
    }));
  }

  private async user(tenantId: string, userId: string): Promise<UserRecord> {
    const user = await this.repository.get(tenantId, userId);
    if (!user) throw new FaceproofError('not_found', `no user "${userId}"`, 'user_id');
    return user;
  }

  /** A history event, recorded in the same transaction as the change it describes (or alone, for an attempt that changed nothing). */
  private event(action: UserEvent['action'], result: string, detail: Record<string, unknown>, requestId: string): Omit<UserEvent, 'seq'> {
    return { action, result, detail, requestId, at: this.now().toISOString() };
  }

  private async record(tenantId: string, userId: string, action: UserEvent['action'], result: string, detail: Record<string, unknown>, requestId: string): Promise<void> {
    await this.repository.recordEvent(tenantId, userId, this.event(action, result, detail, requestId));
  }
}

const strip = ({ vector: _vector, ...face }: KeptFaceWithVector): KeptFace => face;
