import type { ReplayGuard } from '../../core/authentication.ts';
import type { Queryable } from './database.ts';
import { run } from './statements.ts';

/**
 * Used request signatures (HMAC, ADVANCE) in PostgreSQL, shared by every node: the primary key
 * decides, so of two nodes offered the same signature at once exactly one inserts it and accepts;
 * a signature replayed on another node is refused as on this one.
 */
export class PgReplayGuard implements ReplayGuard {
  private sincePrune = 0;

  constructor(private readonly db: Queryable, private readonly now: () => number = Date.now) {}

  async firstUse(digest: string, expiresAtMs: number): Promise<boolean> {
    // Now and then, as SqliteReplayGuard: each node prunes after its own thousand signatures, and
    // a prune is one indexed DELETE that any node may run at any time.
    if (++this.sincePrune >= 1000) {
      this.sincePrune = 0;
      await run(this.db, 'fp-replay-prune', 'DELETE FROM auth_replays WHERE expires_at < $1', [this.now()]);
    }
    const inserted = await run(this.db, 'fp-replay-insert', 'INSERT INTO auth_replays (digest, expires_at) VALUES ($1, $2) ON CONFLICT (digest) DO NOTHING',
      [digest, Math.ceil(expiresAtMs)]);
    return inserted.rowCount === 1;
  }
}
