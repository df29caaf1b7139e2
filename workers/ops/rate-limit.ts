// Per-tenant ingestion rate limiting as a token bucket of uncompressed bytes, Pyroscope's
// ingestion_rate_mb (refill rate) and ingestion_burst_size_mb (bucket size). Pure: the Tenant
// Durable Object owns the bucket and stores it, so limits hold across the many stateless isolates.

export interface Bucket {
  /** Bytes that may be taken now; fractional, since refill is continuous. */
  tokens: number;
  /** When `tokens` was last computed. */
  atMs: number;
}

export interface Limit {
  /** Refill rate; 0 (or less) means unlimited. */
  rateBytesPerSec: number;
  /** Bucket size: the most that may be taken at once. */
  burstBytes: number;
}

export interface Decision {
  allowed: boolean;
  /**
   * When refused, how long until the same request would be allowed; Infinity when it is larger
   * than the burst and so never fits. 0 when allowed.
   */
  retryAfterMs: number;
}

/**
 * The bucket at `nowMs`: refilled since its last update and capped at the burst; a tenant's first
 * bucket starts full. Callers pass their own clocks, which differ by a little between machines: a
 * time before the bucket's last update refills nothing and does not move it back, so skew can
 * neither mint tokens nor refill the same interval twice.
 */
export function refill(bucket: Bucket | null, limit: Limit, nowMs: number): Bucket {
  if (!bucket) return { tokens: limit.burstBytes, atMs: nowMs };
  const elapsedMs = Math.max(0, nowMs - bucket.atMs);
  return {
    tokens: Math.min(limit.burstBytes, bucket.tokens + (elapsedMs * limit.rateBytesPerSec) / 1000),
    atMs: Math.max(bucket.atMs, nowMs),
  };
}

/**
 * Takes `bytes` from the bucket when they are all there. `next` is the bucket to store, or null
 * when nothing was taken: a refusal need not be stored, because refilling is a function of time
 * alone (refilling to t1 and then to t2 equals refilling to t2), so the stored bucket still yields
 * the right state later. A refused request takes nothing, as in Pyroscope (x/time/rate AllowN).
 */
export function takeTokens(
  bucket: Bucket | null,
  bytes: number,
  limit: Limit,
  nowMs: number,
): { decision: Decision; next: Bucket | null } {
  if (limit.rateBytesPerSec <= 0 || bytes <= 0) return { decision: { allowed: true, retryAfterMs: 0 }, next: null };
  if (bytes > limit.burstBytes) return { decision: { allowed: false, retryAfterMs: Infinity }, next: null };
  const now = refill(bucket, limit, nowMs);
  if (now.tokens < bytes) {
    const retryAfterMs = Math.ceil(((bytes - now.tokens) * 1000) / limit.rateBytesPerSec);
    return { decision: { allowed: false, retryAfterMs }, next: null };
  }
  return { decision: { allowed: true, retryAfterMs: 0 }, next: { tokens: now.tokens - bytes, atMs: now.atMs } };
}
