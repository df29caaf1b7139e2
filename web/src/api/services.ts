// GET /api/services: the tenant's services from the D1 catalog (workers/http/services.ts).

import { getJson } from "./client";

export interface ServiceSummary {
  tenant: string;
  service: string;
  profileTypes: string[];
  spyNames: string[];
  sdkVersions: string[];
  /** Unix ms, null until the first flush. */
  firstSeen: number | null;
  lastSeen: number | null;
  profiles: number;
  ingestedBytes: number;
  /** Start of each of the last 24 hours (unix ms) and the bytes ingested in it. */
  lastDay: { hours: number[]; bytes: number[] };
}

export async function listServices(signal?: AbortSignal): Promise<ServiceSummary[]> {
  const body = await getJson<{ services?: ServiceSummary[] }>("/api/services", signal);
  return (body.services ?? []).map((s) => ({
    ...s,
    // int64 columns may arrive as strings from other deployments of this API: normalise once here
    firstSeen: s.firstSeen === null ? null : Number(s.firstSeen),
    lastSeen: s.lastSeen === null ? null : Number(s.lastSeen),
    profiles: Number(s.profiles),
    ingestedBytes: Number(s.ingestedBytes),
    lastDay: { hours: s.lastDay.hours.map(Number), bytes: s.lastDay.bytes.map(Number) },
  }));
}

/**
 * One entry per service name: a caller reading several tenants (`a|b`) sees the same service once,
 * with the union of its profile types, as the query API merges those tenants too.
 */
export function servicesByName(list: readonly ServiceSummary[]): Map<string, string[]> {
  const out = new Map<string, Set<string>>();
  for (const s of list) {
    const types = out.get(s.service) ?? new Set<string>();
    for (const t of s.profileTypes) types.add(t);
    out.set(s.service, types);
  }
  return new Map([...out].sort(([a], [b]) => a.localeCompare(b)).map(([name, types]) => [name, [...types].sort()]));
}
