// GET /api/services: the tenant's services, flushed figures from the D1 catalog plus what their
// ingesters hold unflushed (workers/http/services.ts).

import { getJson } from "./client";

export interface ServiceSummary {
  tenant: string;
  service: string;
  profileTypes: string[];
  spyNames: string[];
  sdkVersions: string[];
  /** Unix ms (profile times), null while no profile of it is known. */
  firstSeen: number | null;
  lastSeen: number | null;
  profiles: number;
  ingestedBytes: number;
  /** Start of each of the last 24 hours (unix ms) and the bytes ingested in it. */
  lastDay: { hours: number[]; bytes: number[] };
  /**
   * The part of the figures its ingesters hold unflushed; `complete` is false when some ingester
   * was not asked (the server bounds how many one view asks), whose pushes since its last flush
   * are then missing.
   */
  buffered: { profiles: number; ingestedBytes: number; complete: boolean };
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
    // Servers before read-your-writes sent no buffered part: all of it was flushed.
    buffered: s.buffered
      ? { profiles: Number(s.buffered.profiles), ingestedBytes: Number(s.buffered.ingestedBytes), complete: s.buffered.complete }
      : { profiles: 0, ingestedBytes: 0, complete: true },
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
