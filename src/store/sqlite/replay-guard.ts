import type { Db } from './database.ts';
import type { ReplayGuard } from '../../core/authentication.ts';

/** Used request signatures, kept in the database so that a restart does not reopen the replay window. */
export class SqliteReplayGuard implements ReplayGuard {
  private readonly insert;
  private readonly prune;
  private sinceprune = 0;

  constructor(db: Db, private readonly now: () => number = Date.now) {
    this.insert = db.prepare('INSERT OR IGNORE INTO auth_replays (digest, expires_at) VALUES (?, ?)');
    this.prune = db.prepare('DELETE FROM auth_replays WHERE expires_at < ?');
  }

  async firstUse(digest: string, expiresAtMs: number): Promise<boolean> {
    if (++this.sinceprune >= 1000) {
      this.sinceprune = 0;
      this.prune.run(this.now());
    }
    return this.insert.run(digest, Math.ceil(expiresAtMs)).changes === 1;
  }
}
