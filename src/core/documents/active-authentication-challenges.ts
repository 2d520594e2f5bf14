import { randomBytes, randomUUID } from 'node:crypto';
import { FaceproofError } from '../errors.ts';
import { MemoryChallengeStore, type ChallengeStore } from '../challenge-store.ts';

export interface IssuedChallenge {
  challenge_id: string;
  /** The 8 bytes the chip must sign (ICAO 9303-11 INTERNAL AUTHENTICATE), base64. */
  challenge: string;
  expires_at: string;
}

/**
 * Nonces for active authentication. The server draws them so that a recorded chip answer cannot be
 * replayed: each is used once, by the tenant it was issued to, within its lifetime. They wait in a
 * ChallengeStore: by default this process's memory (a restart forgets the few minutes' worth
 * outstanding; the client asks again), bounded so that a flood of requests cannot grow it without
 * limit; with several nodes, the shared database, where taking one is single-use across nodes.
 */
export class ActiveAuthenticationChallenges {
  private readonly store: ChallengeStore;

  /** `store` replaces the in-memory one (and its `capacity`): the composition's shared store. */
  constructor(private readonly ttlMs = 300_000, capacity = 100_000, private readonly now: () => number = Date.now, store?: ChallengeStore) {
    this.store = store ?? new MemoryChallengeStore(capacity);
  }

  async issue(tenantId: string): Promise<IssuedChallenge> {
    const id = randomUUID();
    const nonce = randomBytes(8);
    const now = this.now();
    const expiresAt = now + this.ttlMs;
    // Expired ones are forgotten as this one is kept.
    await this.store.put({ kind: 'chip_aa', id, tenantId, payload: { nonce: nonce.toString('base64'), expires_at: expiresAt }, keepUntil: new Date(expiresAt) }, new Date(now));
    return { challenge_id: id, challenge: nonce.toString('base64'), expires_at: new Date(expiresAt).toISOString() };
  }

  /** The nonce of an outstanding challenge, which is spent by this call. */
  async take(tenantId: string, challengeId: string, field = 'active_authentication.challenge_id'): Promise<Buffer> {
    // Removed whatever its expiry (an expired one is of no more use): of two answers, one alone gets it.
    const found = await this.store.take('chip_aa', challengeId, tenantId);
    if (!found || Number(found.payload.expires_at) <= this.now()) {
      throw new FaceproofError('challenge_invalid', 'the challenge is unknown, expired or already used: ask for a new one (POST /v1/documents/chip/challenge)', field);
    }
    return Buffer.from(String(found.payload.nonce), 'base64');
  }
}
