import type { RateBuckets } from '../../core/rate-buckets.ts';
import type { Queryable } from './database.ts';

/**
 * Per-client token buckets in the shared database (migration 3's `rate_buckets`), so that a
 * client's budget is one across every node. Each take is ONE statement: the insert of a new, full
 * bucket or, when the client has one, the refill and take on it, under the row lock that
 * ON CONFLICT DO UPDATE holds. Concurrent takes on any nodes queue on that lock and each sees the
 * previous one's result (read committed re-reads the row it waited for), so a burst of N is N.
 *
 * Time is the database's clock (clock_timestamp(), read once per statement in VALUES), one clock
 * for every node. A take that read the clock before waiting for the lock may find a later `at`
 * written by the one it waited for: elapsed time is never counted negative, and `at` never moves back.
 */
const TAKE = (() => {
  // The refilled level: the bucket's tokens plus what accrued since `at`, capped at the burst.
  const refill = 'least($3::float8, b.tokens + greatest(0, EXCLUDED.at - b.at) * $2::float8)';
  return `
  INSERT INTO rate_buckets AS b (client_id, tokens, at, granted)
  VALUES ($1, $3::float8 - 1, extract(epoch FROM clock_timestamp()), true)
  ON CONFLICT (client_id) DO UPDATE SET
    tokens = CASE WHEN ${refill} >= 1 THEN ${refill} - 1 ELSE ${refill} END,
    at = greatest(b.at, EXCLUDED.at),
    granted = ${refill} >= 1
  RETURNING tokens, granted`;
})();

export class PgRateBuckets implements RateBuckets {
  constructor(private readonly db: Queryable) {}

  async take(key: string, perSecond: number, burst: number): Promise<number> {
    if (!(perSecond > 0) || !(burst >= 1)) throw new RangeError('a rate bucket needs perSecond > 0 and burst >= 1');
    const { rows } = await this.db.query<{ tokens: number; granted: boolean }>({ name: 'rate_buckets_take', text: TAKE, values: [key, perSecond, burst] });
    const { tokens, granted } = rows[0];
    return granted ? 0 : (1 - tokens) / perSecond;
  }
}

