import type { ApiClient } from '../core/api-clients.ts';
import { MemoryRateBuckets, type RateBuckets } from '../core/rate-buckets.ts';

export interface RateLimits {
  /** Requests per second a client may sustain (0: unlimited). */
  perSecond: number;
  /** Requests a client may make at once after being idle. */
  burst: number;
}

/**
 * One token bucket per client. A client's own rate (set by an admin) overrides the server's
 * default. The buckets are this process's memory by default (a restart refills every bucket, which
 * errs on the side of serving); several nodes share theirs in the database, so that a client's
 * budget is one whichever node its requests reach.
 */
export class RateLimiter {
  private readonly buckets: RateBuckets;

  /** `buckets`: where the budgets live, or a clock (milliseconds) for in-memory ones. */
  constructor(private readonly defaults: RateLimits, buckets: RateBuckets | (() => number) = new MemoryRateBuckets()) {
    this.buckets = typeof buckets === 'function' ? new MemoryRateBuckets(buckets) : buckets;
  }

  /** Takes one token; resolves to 0 when the request may go ahead, else the seconds until one is free. */
  async take(client: Pick<ApiClient, 'id' | 'ratePerSecond' | 'burst'>): Promise<number> {
    const rate = client.ratePerSecond ?? this.defaults.perSecond;
    if (!(rate > 0)) return 0;
    const burst = Math.max(1, client.burst ?? this.defaults.burst);
    return this.buckets.take(client.id, rate, burst);
  }
}
