// The services list of the dashboard's start page: the catalog's flushed figures per service plus
// what its ingesters hold buffered. Pure: the HTTP shell (workers/http/services.ts) reads D1 and
// asks the ingesters.

import type { BufferedGeneration } from "../flush/buffered";

export const HOUR_MS = 3_600_000;

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
  /**
   * The part of the figures above not flushed yet; `complete` is false when some ingester of the
   * service was not asked (past SERVICES_MAX_INGESTER_CALLS) or did not answer.
   */
  buffered: { profiles: number; ingestedBytes: number; complete: boolean };
}

export interface FlushedService {
  tenant: string;
  service: string;
  firstSeen: number;
  lastSeen: number;
  profileTypes: string[];
  spyNames: string[];
  sdkVersions: string[];
  profiles: number;
  ingestedBytes: number;
}

export interface RegisteredIngester {
  tenant: string;
  service: string;
  shard: number;
  /** The service's last flushed profile time; null before its first flush. */
  lastSeen: number | null;
  createdAt: number;
}

/** An ingester's answer; null when it was not asked or failed to answer. */
export interface IngesterAnswer {
  tenant: string;
  service: string;
  generations: BufferedGeneration[] | null;
}

/**
 * The ingesters a services view asks, at most `max` (0 = all): those of services never flushed
 * first (newest first: nothing else tells the page they exist), then by their service's last
 * flushed profile, most recent first (the likeliest to hold data since).
 */
export function ingestersToAsk(registered: readonly RegisteredIngester[], max: number): RegisteredIngester[] {
  const ordered = [...registered].sort((a, b) => {
    if ((a.lastSeen === null) !== (b.lastSeen === null)) return a.lastSeen === null ? -1 : 1;
    if (a.lastSeen === null || b.lastSeen === null) return b.createdAt - a.createdAt;
    return b.lastSeen - a.lastSeen;
  });
  return max > 0 ? ordered.slice(0, max) : ordered;
}

/** The 24 hour starts of the last day: the current hour is the last. */
export function lastDayHours(nowMs: number): number[] {
  const firstHour = Math.floor(nowMs / HOUR_MS) * HOUR_MS - 23 * HOUR_MS;
  return Array.from({ length: 24 }, (_, i) => firstHour + i * HOUR_MS);
}

/**
 * One summary per registered or flushed service. A buffered generation whose block is in
 * `committed` is already in the flushed figures (read after the ingesters answered), so it is
 * left out: every profile is counted once whether its flush committed before, during or after.
 */
export function mergeServices(input: {
  hours: readonly number[];
  flushed: readonly FlushedService[];
  hourly: readonly { tenant: string; service: string; hour: number; bytes: number }[];
  registered: readonly RegisteredIngester[];
  answers: readonly IngesterAnswer[];
  committed: ReadonlySet<string>;
}): ServiceSummary[] {
  const { hours } = input;
  const out = new Map<string, ServiceSummary>();
  const key = (tenant: string, service: string) => `${tenant}\u0000${service}`;
  const entry = (tenant: string, service: string): ServiceSummary => {
    let s = out.get(key(tenant, service));
    if (!s) {
      s = {
        tenant,
        service,
        profileTypes: [],
        spyNames: [],
        sdkVersions: [],
        firstSeen: null,
        lastSeen: null,
        profiles: 0,
        ingestedBytes: 0,
        lastDay: { hours: [...hours], bytes: hours.map(() => 0) },
        buffered: { profiles: 0, ingestedBytes: 0, complete: true },
      };
      out.set(key(tenant, service), s);
    }
    return s;
  };
  const addHour = (s: ServiceSummary, hour: number, bytes: number) => {
    const i = (hour - hours[0]) / HOUR_MS;
    if (Number.isInteger(i) && i >= 0 && i < hours.length) s.lastDay.bytes[i] += bytes;
  };
  // An ingester not asked leaves its service incomplete until it answers.
  const unanswered = new Map<string, number>();
  for (const r of input.registered) {
    entry(r.tenant, r.service);
    unanswered.set(key(r.tenant, r.service), (unanswered.get(key(r.tenant, r.service)) ?? 0) + 1);
  }
  for (const r of input.flushed) {
    const s = entry(r.tenant, r.service);
    Object.assign(s, {
      profileTypes: r.profileTypes,
      spyNames: r.spyNames,
      sdkVersions: r.sdkVersions,
      firstSeen: r.firstSeen,
      lastSeen: r.lastSeen,
      profiles: r.profiles,
      ingestedBytes: r.ingestedBytes,
    });
  }
  for (const h of input.hourly) {
    const s = out.get(key(h.tenant, h.service));
    if (s) addHour(s, h.hour, h.bytes);
  }
  for (const a of input.answers) {
    if (a.generations === null) continue;
    const k = key(a.tenant, a.service);
    unanswered.set(k, (unanswered.get(k) ?? 1) - 1);
    const s = entry(a.tenant, a.service);
    for (const g of a.generations) {
      if (input.committed.has(g.blockId)) continue;
      s.profileTypes = union(s.profileTypes, g.profileTypes);
      s.spyNames = union(s.spyNames, g.spyNames);
      s.sdkVersions = union(s.sdkVersions, g.sdkVersions);
      s.firstSeen = Math.min(s.firstSeen ?? Infinity, g.minTime);
      s.lastSeen = Math.max(s.lastSeen ?? -Infinity, g.maxTime);
      s.profiles += g.profiles;
      s.ingestedBytes += g.ingestedBytes;
      s.buffered.profiles += g.profiles;
      s.buffered.ingestedBytes += g.ingestedBytes;
      for (const h of g.hourlyBytes) addHour(s, h.hour, h.bytes);
    }
  }
  for (const [k, n] of unanswered) if (n > 0) out.get(k)!.buffered.complete = false;
  return [...out.values()].sort((a, b) => (b.lastSeen ?? 0) - (a.lastSeen ?? 0) || a.service.localeCompare(b.service));
}

function union(a: readonly string[], b: readonly string[]): string[] {
  return [...new Set([...a, ...b])].sort();
}
