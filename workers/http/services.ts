// GET /api/services: the dashboard's start page — every service of the caller's tenants from the
// D1 catalog, without reading any profile: profile types, spy names and SDKs, first and last seen,
// totals, and the ingested bytes per hour over the last day (a sparkline). Services whose first
// flush is still pending come from the ingester registry, with empty statistics.

import { and, eq, gte, inArray } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { ingesters, labelStats, services } from "../catalog/schema";
import type { Env } from "../env";

const HOUR_MS = 3_600_000;

export interface ServiceSummary {
  tenant: string;
  service: string;
  profileTypes: string[];
  spyNames: string[];
  sdkVersions: string[];
  firstSeen: number | null;
  lastSeen: number | null;
  profiles: number;
  ingestedBytes: number;
  /** Start of each of the last 24 hours (unix ms) and the bytes ingested in it. */
  lastDay: { hours: number[]; bytes: number[] };
}

export async function handleServices(env: Env, tenants: string[], nowMs: number): Promise<Response> {
  const db = drizzle(env.DB);
  const firstHour = Math.floor(nowMs / HOUR_MS) * HOUR_MS - 23 * HOUR_MS;
  const hours = Array.from({ length: 24 }, (_, i) => firstHour + i * HOUR_MS);
  const [rows, registered, perHour] = await Promise.all([
    db.select().from(services).where(inArray(services.tenant, tenants)).all(),
    db.selectDistinct({ tenant: ingesters.tenant, service: ingesters.service }).from(ingesters).where(inArray(ingesters.tenant, tenants)).all(),
    db
      .select({ tenant: labelStats.tenant, service: labelStats.service, hour: labelStats.hour, bytes: labelStats.bytes })
      .from(labelStats)
      .where(and(inArray(labelStats.tenant, tenants), eq(labelStats.name, "service_name"), gte(labelStats.hour, firstHour)))
      .all(),
  ]);
  const out = new Map<string, ServiceSummary>();
  const key = (tenant: string, service: string) => `${tenant}\u0000${service}`;
  const empty = (tenant: string, service: string): ServiceSummary => ({
    tenant,
    service,
    profileTypes: [],
    spyNames: [],
    sdkVersions: [],
    firstSeen: null,
    lastSeen: null,
    profiles: 0,
    ingestedBytes: 0,
    lastDay: { hours, bytes: hours.map(() => 0) },
  });
  for (const r of registered) out.set(key(r.tenant, r.service), empty(r.tenant, r.service));
  for (const r of rows) {
    out.set(key(r.tenant, r.service), {
      ...empty(r.tenant, r.service),
      profileTypes: JSON.parse(r.profileTypes) as string[],
      spyNames: JSON.parse(r.spyNames) as string[],
      sdkVersions: JSON.parse(r.sdkVersions) as string[],
      firstSeen: r.firstSeen,
      lastSeen: r.lastSeen,
      profiles: r.profiles,
      ingestedBytes: r.ingestedBytes,
    });
  }
  for (const h of perHour) {
    const s = out.get(key(h.tenant, h.service));
    const i = (h.hour - firstHour) / HOUR_MS;
    if (s && i >= 0 && i < 24) s.lastDay.bytes[i] += h.bytes;
  }
  const list = [...out.values()].sort((a, b) => (b.lastSeen ?? 0) - (a.lastSeen ?? 0) || a.service.localeCompare(b.service));
  return Response.json({ services: list });
}
