// Per-tenant query slots of one isolate (MAX_QUERY_CONCURRENCY). What a burst of queries exhausts
// is the memory of the isolate that runs them, so the count lives in that isolate: taking a slot
// costs nothing, where a slot in the tenant's Durable Object cost two calls per query. The bound
// is per isolate, not global: a tenant whose queries the runtime spreads over n isolates may run
// n × limit of them, each isolate holding at most `limit`.

export class QuerySlots {
  private readonly running = new Map<string, number>();

  /** Takes a slot of `tenant` unless `limit` are taken (0 = no limit); the caller must release it. */
  tryAcquire(tenant: string, limit: number): boolean {
    const n = this.running.get(tenant) ?? 0;
    if (limit > 0 && n >= limit) return false;
    this.running.set(tenant, n + 1);
    return true;
  }

  release(tenant: string): void {
    const n = (this.running.get(tenant) ?? 0) - 1;
    // Idle tenants leave no entry: the map holds running tenants only.
    if (n > 0) this.running.set(tenant, n);
    else this.running.delete(tenant);
  }

  /** Queries of `tenant` running now. */
  inUse(tenant: string): number {
    return this.running.get(tenant) ?? 0;
  }
}

/** The slots of this isolate. */
export const querySlots = new QuerySlots();
