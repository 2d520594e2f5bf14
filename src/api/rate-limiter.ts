import type { ApiClient } from '../core/api-clients.ts';

export interface RateLimits {
  /** Requests per second a client may sustain (0: unlimited). */
  perSecond: number;
  /** Requests a client may make at once after being idle. */
  burst: number;
}

/**
 * One token bucket per client, in memory: a restart refills every bucket, which errs on the side
 * of serving. A client's own rate (set by an admin) overrides the server's default.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(private readonly defaults: RateLimits, private readonly now: () => number = () => performance.now()) {}

  /** Takes one token; returns 0 when the request may go ahead, else the seconds until one is free. */
  take(client: Pick<ApiClient, 'id' | 'ratePerSecond' | 'burst'>): number {
    const rate = client.ratePerSecond ?? this.defaults.perSecond;
    if (!(rate > 0)) return 0;
    const burst = Math.max(1, client.burst ?? this.defaults.burst);
    const now = this.now();
    const bucket = this.buckets.get(client.id) ?? { tokens: burst, at: now };
    bucket.tokens = Math.min(burst, bucket.tokens + ((now - bucket.at) / 1000) * rate);
    bucket.at = now;
    this.buckets.set(client.id, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return (1 - bucket.tokens) / rate;
  }
}
