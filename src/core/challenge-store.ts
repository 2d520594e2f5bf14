/**
 * Where drawn challenges wait for their answer: the liveness challenges (challenges.ts) and the
 * chip active-authentication nonces (documents/active-authentication-challenges.ts). One node draws
 * a challenge and another may receive the answer, so with several nodes the store is shared
 * (src/store/postgres/challenge-store.ts); one process keeps them in memory (MemoryChallengeStore).
 *
 * The store decides nothing about expiry: the services compare their own clock with what they keep
 * in the payload, as before. `keepUntil` only says when a challenge may be forgotten.
 */

/** Which service a challenge belongs to: ids are unique within a kind. */
export type ChallengeKind = 'liveness' | 'chip_aa';

/** A JSON object (what a PostgreSQL JSONB column gives back: strings, numbers, booleans, arrays, objects). */
export type ChallengePayload = Record<string, unknown>;

export interface NewChallenge {
  kind: ChallengeKind;
  id: string;
  tenantId: string;
  payload: ChallengePayload;
  /** After this the challenge may be forgotten (by the next put's sweep). */
  keepUntil: Date;
}

export interface StoredChallenge {
  tenantId: string;
  payload: ChallengePayload;
  /** Spent by `spend` (a spent challenge is kept, so that a second answer is told "already used"). */
  used: boolean;
}

export interface ChallengeStore {
  /** Forgets the challenges of `challenge.kind` kept until before `sweepBefore`, then keeps `challenge`. */
  put(challenge: NewChallenge, sweepBefore: Date): Promise<void>;
  /** The challenge as it is, spending nothing; undefined when unknown or forgotten. */
  peek(kind: ChallengeKind, id: string): Promise<StoredChallenge | undefined>;
  /**
   * Marks the tenant's challenge used and returns it as it was before: `used: false` tells the one
   * caller (across every node) that spent it. Undefined when there is none of this tenant's.
   */
  spend(kind: ChallengeKind, id: string, tenantId: string): Promise<StoredChallenge | undefined>;
  /** Removes the tenant's challenge and returns it: one caller (across every node) gets it. */
  take(kind: ChallengeKind, id: string, tenantId: string): Promise<StoredChallenge | undefined>;
}

/**
 * Challenges in this process's memory (the single-node default): a restart forgets them, and the
 * client asks for a new one. `capacity` bounds them: when full, the oldest gives way (a Map keeps
 * insertion order), so a flood of requests cannot grow memory without limit.
 */
export class MemoryChallengeStore implements ChallengeStore {
  private readonly entries = new Map<string, { tenantId: string; payload: ChallengePayload; keepUntil: number; used: boolean }>();

  constructor(private readonly capacity = Infinity) {}

  async put(challenge: NewChallenge, sweepBefore: Date): Promise<void> {
    const cutoff = sweepBefore.getTime();
    const prefix = `${challenge.kind}:`;
    for (const [key, entry] of this.entries) {
      if (!key.startsWith(prefix)) continue;
      // A service keeps every challenge for the same time, so they come due in the order they were
      // put: the first not yet due ends the sweep (at worst one is forgotten later, never sooner).
      if (entry.keepUntil >= cutoff) break;
      this.entries.delete(key);
    }
    if (this.entries.size >= this.capacity) this.entries.delete(this.entries.keys().next().value!);
    // A copy, as a database would keep: the caller changing its object later changes nothing here.
    this.entries.set(keyOf(challenge.kind, challenge.id), {
      tenantId: challenge.tenantId, payload: structuredClone(challenge.payload), keepUntil: challenge.keepUntil.getTime(), used: false,
    });
  }

  async peek(kind: ChallengeKind, id: string): Promise<StoredChallenge | undefined> {
    const entry = this.entries.get(keyOf(kind, id));
    return entry && { tenantId: entry.tenantId, payload: structuredClone(entry.payload), used: entry.used };
  }

  async spend(kind: ChallengeKind, id: string, tenantId: string): Promise<StoredChallenge | undefined> {
    const entry = this.entries.get(keyOf(kind, id));
    if (!entry || entry.tenantId !== tenantId) return undefined;
    const before = { tenantId: entry.tenantId, payload: structuredClone(entry.payload), used: entry.used };
    entry.used = true;
    return before;
  }

  async take(kind: ChallengeKind, id: string, tenantId: string): Promise<StoredChallenge | undefined> {
    const key = keyOf(kind, id);
    const entry = this.entries.get(key);
    if (!entry || entry.tenantId !== tenantId) return undefined;
    this.entries.delete(key);
    return { tenantId: entry.tenantId, payload: entry.payload, used: entry.used };
  }

  /** How many it holds (tests of its bound). */
  get size(): number {
    return this.entries.size;
  }
}

const keyOf = (kind: ChallengeKind, id: string) => `${kind}:${id}`;
