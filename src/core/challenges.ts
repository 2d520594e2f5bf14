import { randomBytes, randomInt, randomUUID } from 'node:crypto';
import type { LivenessService, AnalysedFrame, LivenessResult, Recording } from './liveness.ts';
import type { ImageSource } from './image-input.ts';
import { FaceproofError } from './errors.ts';
import type { SecurityLevel } from './liveness-model.ts';
import { MemoryChallengeStore, type ChallengeStore } from './challenge-store.ts';

export const GESTURES = ['turn_left', 'turn_right', 'look_up', 'look_down', 'blink'] as const;
export type Gesture = (typeof GESTURES)[number];
/** IDEMIA's statuses. */
export type ChallengeStatus = 'SUCCESS' | 'FAILED' | 'SPOOF' | 'TIMEOUT';

export interface Challenge {
  id: string;
  tenantId: string;
  nonce: string;
  gestures: Gesture[];
  createdAt: Date;
  expiresAt: Date;
  used: boolean;
}

export interface ChallengeOutcome {
  status: ChallengeStatus;
  reason?: string;
  /** The gestures seen, in order (repeats collapsed). */
  observed: Array<Gesture | 'neutral'>;
  livenessScore: number;
  sameIdentity: boolean;
}

/** Still images said to show one gesture (TrustVision's gesture_images), `fields` naming them in errors. */
export interface GestureImages {
  gesture: Gesture;
  images: ImageSource[];
  fields: string[];
}

export interface GestureImagesOutcome {
  /** Passive liveness of every image: the frontal ones first, then each gesture's in order. */
  liveness: LivenessResult;
  /** Per declared gesture: what each of its images shows, and whether one shows the gesture. */
  gestures: Array<{ gesture: Gesture; observed: Array<Gesture | 'neutral' | 'no_face'>; performed: boolean }>;
  sameIdentity: boolean;
  isLive: boolean;
  reason?: string;
}

export interface ChallengeSettings {
  ttlSeconds: number;
  /** Degrees of yaw or pitch that count as a turn. */
  turnDegrees: number;
  /** Eye openness under which a frame counts as a blink. */
  closedEyes: number;
}

/**
 * Challenge–response liveness: the server draws 2–4 gestures and a nonce; the frames or the video
 * sent back must show them in order, one identity throughout, and pass passive liveness. Challenges
 * wait in a ChallengeStore: this process's memory by default — they last a minute or two, and a
 * restart only means asking for a new one — or the shared database when several nodes serve, since
 * the answer may reach another node than the one that drew it. Each can be answered once; a spent
 * or expired one is kept a minute past its expiry, to tell a second answer why it fails.
 */
export class ChallengeService {
  constructor(
    private readonly liveness: LivenessService,
    private readonly settings: ChallengeSettings,
    private readonly now: () => Date = () => new Date(),
    private readonly draw: (n: number) => number = (n) => randomInt(n),
    private readonly store: ChallengeStore = new MemoryChallengeStore(),
  ) {}

  async create(tenantId: string): Promise<Challenge> {
    const count = 2 + this.draw(3);
    const gestures: Gesture[] = [];
    while (gestures.length < count) {
      const g = GESTURES[this.draw(GESTURES.length)];
      if (g !== gestures[gestures.length - 1]) gestures.push(g);
    }
    const createdAt = this.now();
    const challenge: Challenge = {
      id: `chl_${randomUUID().replace(/-/g, '')}`, tenantId, nonce: randomBytes(16).toString('hex'), gestures,
      createdAt, expiresAt: new Date(createdAt.getTime() + this.settings.ttlSeconds * 1000), used: false,
    };
    // Those that expired over a minute ago are forgotten as this one is kept.
    await this.store.put(
      { kind: 'liveness', id: challenge.id, tenantId, payload: toPayload(challenge), keepUntil: new Date(challenge.expiresAt.getTime() + KEEP_AFTER_EXPIRY_MS) },
      createdAt,
    );
    return challenge;
  }

  /** The gestures a challenge asked for ([] once it is gone). */
  async gesturesOf(tenantId: string, id: string): Promise<Gesture[]> {
    const c = await this.store.peek('liveness', id);
    return c && c.tenantId === tenantId ? fromPayload(id, c.tenantId, c.payload, c.used).gestures : [];
  }

  /** Judges the recording sent for a challenge; the challenge is spent whatever the outcome. */
  async verify(tenantId: string, id: string, nonce: string, input: Recording, level: SecurityLevel): Promise<ChallengeOutcome> {
    // Spent here, before anything is judged: of two answers at once (on any nodes) one alone goes on.
    const spent = await this.store.spend('liveness', id, tenantId);
    if (!spent) throw new FaceproofError('not_found', `no challenge ${id}`, 'challenge_id');
    const challenge = fromPayload(id, spent.tenantId, spent.payload, spent.used);
    const empty = { observed: [], livenessScore: 0, sameIdentity: false };
    if (challenge.used) return { status: 'FAILED', reason: 'challenge_already_used', ...empty };
    if (this.now() > challenge.expiresAt) return { status: 'TIMEOUT', reason: 'challenge_expired', ...empty };
    if (nonce !== challenge.nonce) return { status: 'FAILED', reason: 'nonce_mismatch', ...empty };
    const decoded = await this.liveness.decodeFrames(input, tenantId);
    const frames: AnalysedFrame[] = [];
    for (const f of decoded.frames) frames.push(await this.liveness.analyse(f.image, true));
    const usable = frames.filter((f) => !f.reason || f.reason === 'low_quality');
    const observed = collapse(usable.filter((f) => f.faces.length > 0).map((f) => this.gestureOf(f)));
    const sameIdentity = this.liveness.sameIdentity(usable);
    const scored = frames.filter((f) => !f.reason);
    const livenessScore = scored.length ? scored.reduce((s, f) => s + f.score, 0) / scored.length : 0;
    const outcome = { observed, livenessScore: Number(livenessScore.toFixed(4)), sameIdentity };
    if (usable.length === 0) return { status: 'FAILED', reason: 'no_face', ...outcome };
    if (!sameIdentity) return { status: 'FAILED', reason: 'identity_changed', ...outcome };
    if (!inOrder(challenge.gestures, observed)) return { status: 'FAILED', reason: 'gestures_not_performed', ...outcome };
    if (livenessScore < this.liveness.threshold(level)) return { status: 'SPOOF', reason: 'spoof', ...outcome };
    return { status: 'SUCCESS', ...outcome };
  }

  /**
   * Active liveness from stills: frontal images and, per declared gesture, images that must show it
   * (a face turned or tilted past the turn angle that way), one identity throughout, and every image
   * passing passive liveness together (fused as a session's images are). No challenge is drawn: the
   * client declares the gestures, so this proves the images agree with them, not that they were fresh.
   */
  async checkGestureImages(tenantId: string, frontal: { images: ImageSource[]; fields: string[] }, steps: GestureImages[], level: SecurityLevel): Promise<GestureImagesOutcome> {
    const frames = await this.liveness.analyseImages([...frontal.images, ...steps.flatMap((s) => s.images)], tenantId, true, [...frontal.fields, ...steps.flatMap((s) => s.fields)]);
    const liveness = this.liveness.fuse(frames, level);
    let at = frontal.images.length;
    const gestures = steps.map((step) => {
      const own = frames.slice(at, at + step.images.length);
      at += step.images.length;
      const observed = own.map((f) => (f.faces.length === 0 ? 'no_face' as const : this.gestureOf(f)));
      return { gesture: step.gesture, observed, performed: observed.includes(step.gesture) };
    });
    const sameIdentity = this.liveness.samePersonInStills(frames.filter((f) => !f.reason));
    const reason = liveness.reason ?? (!sameIdentity ? 'identity_changed' : gestures.some((g) => !g.performed) ? 'gestures_not_performed' : undefined);
    return { liveness, gestures, sameIdentity, isLive: reason === undefined, ...(reason ? { reason } : {}) };
  }

  /**
   * The subject's own directions: turning to their left shows, in an unmirrored frame, as the face
   * turning towards the image's right (positive yaw).
   */
  gestureOf(f: AnalysedFrame): Gesture | 'neutral' {
    const { yaw, pitch } = f.faces[0].pose;
    const t = this.settings.turnDegrees;
    if (f.eyesOpen !== undefined && f.eyesOpen < this.settings.closedEyes && Math.abs(yaw) < t) return 'blink';
    if (yaw > t) return 'turn_left';
    if (yaw < -t) return 'turn_right';
    if (pitch > t) return 'look_up';
    if (pitch < -t) return 'look_down';
    return 'neutral';
  }
}

/** How long a challenge is kept past its expiry: a late or second answer is told TIMEOUT or "already used" rather than "no challenge". */
const KEEP_AFTER_EXPIRY_MS = 60_000;

/** What the store keeps of a challenge: JSON (dates as ISO strings), as a JSONB column gives it back. */
function toPayload(c: Challenge): Record<string, unknown> {
  return { nonce: c.nonce, gestures: c.gestures, created_at: c.createdAt.toISOString(), expires_at: c.expiresAt.toISOString() };
}

function fromPayload(id: string, tenantId: string, p: Record<string, unknown>, used: boolean): Challenge {
  return {
    id, tenantId, nonce: String(p.nonce), gestures: p.gestures as Gesture[],
    createdAt: new Date(String(p.created_at)), expiresAt: new Date(String(p.expires_at)), used,
  };
}

function collapse(seq: Array<Gesture | 'neutral'>): Array<Gesture | 'neutral'> {
  return seq.filter((g, i) => i === 0 || g !== seq[i - 1]);
}

/** The required gestures appear in this order among the observed ones (others may come between). */
export function inOrder(required: readonly Gesture[], observed: ReadonlyArray<Gesture | 'neutral'>): boolean {
  let i = 0;
  for (const g of observed) if (g === required[i]) i++;
  return i === required.length;
}
