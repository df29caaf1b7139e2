// Per-tenant query slots of one isolate (MAX_QUERY_CONCURRENCY). What a burst of queries exhausts
// is the memory of the isolate that runs them, so the count lives in that isolate: taking a slot
// costs nothing, where a slot in the tenant's Durable Object cost two calls per query. The bound
// is per isolate, not global: a tenant whose queries the runtime spreads over n isolates may run
// n × limit of them, each isolate holding at most `limit`.

/**
 * A slot older than this is taken to be free. The runtime may drop a request whose client went
 * away without running its remaining code, `finally` included: a slot it held would otherwise stay
 * taken for the isolate's lifetime, and a dashboard aborts a query at every change of range.
 */
export const QUERY_SLOT_STALE_MS = 120_000;

export class QuerySlots {
  /** Per tenant: slot token → when it was taken. Idle tenants leave no entry. */
  private readonly running = new Map<string, Map<number, number>>();
  private nextToken = 1;

  /**
   * Takes a slot of `tenant` unless `limit` are taken (0 = no limit): its token, to hand back to
   * `release`, or null.
   */
  tryAcquire(tenant: string, limit: number, nowMs = Date.now()): number | null {
    let slots = this.running.get(tenant);
    if (slots) {
      for (const [token, since] of slots) if (nowMs - since >= QUERY_SLOT_STALE_MS) slots.delete(token);
    } else {
      slots = new Map();
      this.running.set(tenant, slots);
    }
    if (limit > 0 && slots.size >= limit) return null;
    const token = this.nextToken++;
    slots.set(token, nowMs);
    return token;
  }

  release(tenant: string, token: number): void {
    const slots = this.running.get(tenant);
    if (!slots) return;
    slots.delete(token);
    if (slots.size === 0) this.running.delete(tenant);
  }

  /** Queries of `tenant` running now. */
  inUse(tenant: string): number {
    return this.running.get(tenant)?.size ?? 0;
  }
}

/** The slots of this isolate. */
export const querySlots = new QuerySlots();
