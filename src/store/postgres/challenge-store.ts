import type { ChallengeKind, ChallengeStore, NewChallenge, StoredChallenge } from '../../core/challenge-store.ts';
import type { Queryable } from './database.ts';

interface Row { tenant_id: string; payload: Record<string, unknown>; used: boolean }

/**
 * Challenges in the shared database (migration 3's `challenges`): one node draws a challenge, any
 * node takes the answer. Spending and taking are single statements that lock the row, so of two
 * answers to one challenge arriving on two nodes at once, exactly one is told it got it.
 */
export class PgChallengeStore implements ChallengeStore {
  constructor(private readonly db: Queryable) {}

  async put(challenge: NewChallenge, sweepBefore: Date): Promise<void> {
    // The sweep rides along in the same statement: one round trip. Every node sweeps as it puts;
    // a row two nodes both want gone is deleted by one, and the other skips it.
    await this.db.query({
      name: 'challenges_put',
      text: `WITH swept AS (DELETE FROM challenges WHERE kind = $1 AND keep_until < $6)
        INSERT INTO challenges (kind, id, tenant_id, payload, keep_until) VALUES ($1, $2, $3, $4, $5)`,
      values: [challenge.kind, challenge.id, challenge.tenantId, JSON.stringify(challenge.payload), challenge.keepUntil, sweepBefore],
    });
  }

  async peek(kind: ChallengeKind, id: string): Promise<StoredChallenge | undefined> {
    const { rows } = await this.db.query<Row>({
      name: 'challenges_peek',
      text: 'SELECT tenant_id, payload, used FROM challenges WHERE kind = $1 AND id = $2',
      values: [kind, id],
    });
    return rows[0] && stored(rows[0]);
  }

  async spend(kind: ChallengeKind, id: string, tenantId: string): Promise<StoredChallenge | undefined> {
    // Only an unspent row is updated, and the update locks it: of concurrent spends, the first
    // commits and the others, re-checking `NOT used` on the row it left, update nothing.
    const { rows } = await this.db.query<Row>({
      name: 'challenges_spend',
      text: 'UPDATE challenges SET used = true WHERE kind = $1 AND id = $2 AND tenant_id = $3 AND NOT used RETURNING tenant_id, payload, false AS used',
      values: [kind, id, tenantId],
    });
    if (rows[0]) return stored(rows[0]);
    // Nothing spent: either spent before (told "already used") or none of this tenant's.
    const { rows: spent } = await this.db.query<Row>({
      name: 'challenges_spent',
      text: 'SELECT tenant_id, payload, used FROM challenges WHERE kind = $1 AND id = $2 AND tenant_id = $3',
      values: [kind, id, tenantId],
    });
    return spent[0] && { ...stored(spent[0]), used: true };
  }

  async take(kind: ChallengeKind, id: string, tenantId: string): Promise<StoredChallenge | undefined> {
    // DELETE … RETURNING: the row goes to the one statement that deletes it; a concurrent one finds nothing.
    const { rows } = await this.db.query<Row>({
      name: 'challenges_take',
      text: 'DELETE FROM challenges WHERE kind = $1 AND id = $2 AND tenant_id = $3 RETURNING tenant_id, payload, used',
      values: [kind, id, tenantId],
    });
    return rows[0] && stored(rows[0]);
  }
}

const stored = (row: Row): StoredChallenge => ({ tenantId: row.tenant_id, payload: row.payload, used: row.used });
