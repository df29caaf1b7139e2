// Profile ids for exemplars and `profile_id_selector` (spec §3.5, §3.8), derived instead of
// stored: a profile is identified by its tenant, series and timestamp, so the id is a UUIDv8
// (RFC 9562, custom layout) carrying the timestamp in the UUIDv7 position (ids sort by time and
// name the range a drill-down must read) and a 64-bit hash of tenant and series. Blocks, pushes
// buffered in ingesters and compacted blocks all yield the same id for the same profile, and no
// byte per profile is stored for it. Two pushes of one series in the same millisecond share an id.

import { seriesKey } from "../block/builder";
import type { LabelPairs } from "./spec";

export interface ProfileIdent {
  timeMs: number;
  hi: number;
  lo: number;
}

/** The 64-bit hash of a series of a tenant, as two unsigned 32-bit halves. */
export function seriesHash(tenant: string, labels: LabelPairs, profileType: string): [hi: number, lo: number] {
  const key = `${tenant}\u0002${seriesKey(labels, profileType)}`;
  return [lane(key, 0x9e3779b9), lane(key, 0x7f4a7c15)];
}

/** One 32-bit lane: multiply-xorshift per UTF-16 unit, then a full avalanche so lanes stay independent. */
function lane(s: string, seed: number): number {
  let h = seed;
  for (let i = 0; i < s.length; i++) {
    h = Math.imul(h ^ s.charCodeAt(i), 0x5bd1e995);
    h ^= h >>> 15;
  }
  h ^= s.length;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

const MAX_TIME_MS = 2 ** 48 - 1;

/**
 * Bit layout, most significant first: 48 bits unix ms, version 8, the top 12 bits of `hi`, variant
 * 0b10, the low 20 bits of `hi`, the 32 bits of `lo`, 10 zero bits.
 */
export function formatProfileId(p: ProfileIdent): string {
  const t = BigInt(Math.min(MAX_TIME_MS, Math.max(0, Math.trunc(p.timeMs))));
  const v =
    (t << 80n) |
    (8n << 76n) |
    (BigInt(p.hi >>> 20) << 64n) |
    (2n << 62n) |
    (BigInt(p.hi & 0xfffff) << 42n) |
    (BigInt(p.lo) << 10n);
  const hex = v.toString(16).padStart(32, "0");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

const UUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;

/**
 * A UUID → the profile it names; null for a well-formed UUID this server did not issue (it names
 * no profile here); throws for a string that is not a UUID.
 */
export function parseProfileId(id: string): ProfileIdent | null {
  if (!UUID.test(id)) throw new Error(`${JSON.stringify(id)} is not a UUID`);
  const v = BigInt(`0x${id.replaceAll("-", "")}`);
  if (((v >> 76n) & 0xfn) !== 8n || ((v >> 62n) & 3n) !== 2n || (v & 0x3ffn) !== 0n) return null;
  const hi = Number(((v >> 64n) & 0xfffn) << 20n) + Number((v >> 42n) & 0xfffffn);
  return { timeMs: Number(v >> 80n), hi: hi >>> 0, lo: Number((v >> 10n) & 0xffffffffn) };
}

/** The profiles a selector names, for a membership test per profile. */
export class ProfileIdSet {
  private readonly byTime = new Map<number, Set<string>>();

  constructor(ids: readonly ProfileIdent[]) {
    for (const p of ids) {
      let hashes = this.byTime.get(p.timeMs);
      if (!hashes) this.byTime.set(p.timeMs, (hashes = new Set()));
      hashes.add(`${p.hi}:${p.lo}`);
    }
  }

  /** True when some id has this time; cheap enough to test before hashing a series. */
  hasTime(timeMs: number): boolean {
    return this.byTime.has(Math.trunc(timeMs));
  }

  has(timeMs: number, hi: number, lo: number): boolean {
    return this.byTime.get(Math.trunc(timeMs))?.has(`${hi}:${lo}`) ?? false;
  }
}
