/**
 * Per-client token buckets, the budget the rate limiter (src/api/rate-limiter.ts) spends: one token
 * a request. In one process they live in memory (MemoryRateBuckets); with several nodes behind a
 * load balancer a client's budget must be one across all of them, so they live in the shared
 * database (src/store/postgres/rate-buckets.ts), each step taken in one atomic statement.
 */
export interface RateBuckets {
  /**
   * Refills `key`'s bucket at `perSecond` tokens a second up to `burst` (a new bucket starts full),
   * then takes one token. Returns 0 when one was taken, else the seconds until one is free.
   * `perSecond` > 0 and `burst` >= 1: the limiter handles "unlimited" itself.
   */
  take(key: string, perSecond: number, burst: number): Promise<number>;
}

/** Buckets in this process's memory: a restart refills every bucket, which errs on the side of serving. */
export class MemoryRateBuckets implements RateBuckets {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  /** `now` in milliseconds, monotonic (performance.now() unless a test drives the clock). */
  constructor(private readonly now: () => number = () => performance.now()) {}

  async take(key: string, perSecond: number, burst: number): Promise<number> {
    const now = this.now();
    const bucket = this.buckets.get(key) ?? { tokens: burst, at: now };
    bucket.tokens = Math.min(burst, bucket.tokens + ((now - bucket.at) / 1000) * perSecond);
    bucket.at = now;
    this.buckets.set(key, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return (1 - bucket.tokens) / perSecond;
  }
}
