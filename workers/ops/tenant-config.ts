// Per-tenant limits: the defaults of workers/config.ts with the tenant's overrides from D1's
// tenant_limits table on top. Each isolate keeps a tenant's effective config for a few seconds, so
// limits cost one D1 read per tenant and isolate every TTL, not one per request; a change made
// through the admin API applies at once in the isolate that made it and within TTL_MS elsewhere.

import { and, eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { auditLog, tenantLimits } from "../catalog/schema";
import { type Config, DEFAULTS, loadConfig } from "../config";

const TTL_MS = 10_000;

/** The limits a tenant may have its own value for (spec §7.3, §7.4 and issue #5). */
export const TENANT_LIMITS = [
  "INGESTION_RATE_BYTES",
  "INGESTION_BURST_BYTES",
  "MAX_SERIES_PER_TENANT",
  "MAX_SERIES_PER_SERVICE",
  "MAX_LABEL_NAMES_PER_SERIES",
  "MAX_LABEL_NAME_LENGTH",
  "MAX_LABEL_VALUE_LENGTH",
  "MAX_PROFILE_SIZE_BYTES",
  "MAX_PROFILE_STACKTRACE_SAMPLES",
  "MAX_QUERY_LOOKBACK_SECONDS",
  "MAX_QUERY_LENGTH_SECONDS",
  "MAX_FLAMEGRAPH_NODES_DEFAULT",
  "MAX_FLAMEGRAPH_NODES_MAX",
  "MAX_QUERY_CONCURRENCY",
] as const satisfies readonly (keyof Config)[];
export type TenantLimit = (typeof TENANT_LIMITS)[number];

export function isTenantLimit(name: string): name is TenantLimit {
  return (TENANT_LIMITS as readonly string[]).includes(name);
}

// Keyed by the base config too: a new one (changed bindings) must not see configs built on the old.
const cache = new WeakMap<Config, Map<string, { until: number; config: Config }>>();

export async function configFor(d1: D1Database, base: Config, tenant: string): Promise<Config> {
  let perTenant = cache.get(base);
  if (!perTenant) cache.set(base, (perTenant = new Map()));
  const hit = perTenant.get(tenant);
  if (hit && hit.until > Date.now()) return hit.config;
  const overrides = await tenantOverrides(d1, tenant);
  const config = Object.keys(overrides).length === 0 ? base : loadConfig({ ...base, ...overrides });
  perTenant.set(tenant, { until: Date.now() + TTL_MS, config });
  return config;
}

export async function tenantOverrides(d1: D1Database, tenant: string): Promise<Partial<Record<TenantLimit, number>>> {
  const rows = await drizzle(d1).select({ name: tenantLimits.name, value: tenantLimits.value }).from(tenantLimits).where(eq(tenantLimits.tenant, tenant)).all();
  const out: Partial<Record<TenantLimit, number>> = {};
  for (const r of rows) if (isTenantLimit(r.name)) out[r.name] = Number(r.value);
  return out;
}

/** Sets (or, with null, removes) a tenant's override; validated like a start-up setting. */
export async function setTenantLimit(
  d1: D1Database,
  base: Config,
  tenant: string,
  name: TenantLimit,
  value: number | null,
  actor: string,
): Promise<void> {
  if (value !== null) loadConfig({ ...DEFAULTS, [name]: value });
  const db = drizzle(d1);
  const now = Date.now();
  const change =
    value === null
      ? db.delete(tenantLimits).where(and(eq(tenantLimits.tenant, tenant), eq(tenantLimits.name, name)))
      : db
          .insert(tenantLimits)
          .values({ tenant, name, value: String(value), updatedAt: now })
          .onConflictDoUpdate({ target: [tenantLimits.tenant, tenantLimits.name], set: { value: String(value), updatedAt: now } });
  await db.batch([change, db.insert(auditLog).values({ at: now, tenant, actor, action: "limit.set", detail: JSON.stringify({ name, value }) })]);
  cache.get(base)?.delete(tenant);
}
