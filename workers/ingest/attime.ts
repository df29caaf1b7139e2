// `from`/`until` on /ingest and the legacy query API (spec API.md §1.3). Pyroscope never rejects a
// time: anything it cannot read means "now", so this parser has no error path either.

const INT64_MAX = (1n << 63n) - 1n;

/**
 * Milliseconds since the epoch (finer precision is truncated). Empty or absent input gives
 * `nowMs`, which is also Pyroscope's default for a missing `from`/`until`.
 */
export function parseTimeMs(input: string | null | undefined, nowMs: number): number {
  const s = (input ?? "").trim().replace(/[_, ]/g, "");

  if (/^\d+$/.test(s)) {
    if (s.length === 8) {
      const date = dateMs(s);
      if (date !== undefined) return date;
    }
    // Go's Atoi saturates at int64 instead of failing; so does this.
    const v = minBig(BigInt(s), INT64_MAX);
    switch (s.length) {
      case 13:
        return Number(v);
      case 16:
        return Number(v / 1_000n);
      case 19:
        return Number(v / 1_000_000n);
      default:
        return Number(v) * 1000;
    }
  }

  // The reference before the sign is ignored: it always means now.
  let sign = s.indexOf("+");
  if (sign < 0) sign = s.indexOf("-");
  return sign < 0 ? nowMs : nowMs + offsetMs(s.slice(sign));
}

/** `YYYYMMDD` with a real calendar date after 1900, as midnight UTC; undefined otherwise. */
function dateMs(s: string): number | undefined {
  const y = Number(s.slice(0, 4));
  const m = Number(s.slice(4, 6));
  const d = Number(s.slice(6, 8));
  if (y <= 1900 || m < 1 || m > 12 || d < 1) return undefined;
  const daysInMonth = new Date(Date.UTC(y, m, 0)).getUTCDate();
  return d > daysInMonth ? undefined : Date.UTC(y, m - 1, d);
}

/**
 * `±<int><unit>`. Pyroscope's loop reads the digits, then takes everything after them as the unit
 * and matches it by prefix, so only one term counts: `-1h30m` is one hour.
 */
function offsetMs(offset: string): number {
  const sign = offset[0] === "-" ? -1 : 1;
  const [, digits, unit] = /^(\d*)(.*)$/s.exec(offset.slice(1)) as RegExpExecArray;
  const n = digits === "" ? 0 : Number(minBig(BigInt(digits), INT64_MAX));
  return sign * n * unitSeconds(unit) * 1000;
}

function unitSeconds(unit: string): number {
  if (unit.startsWith("s")) return 1;
  if (unit.startsWith("mon") || unit.startsWith("M")) return 30 * 86400;
  if (unit.startsWith("m")) return 60;
  if (unit.startsWith("h")) return 3600;
  if (unit.startsWith("d")) return 86400;
  if (unit.startsWith("w")) return 7 * 86400;
  if (unit.startsWith("y")) return 365 * 86400;
  return 0;
}

function minBig(a: bigint, b: bigint): bigint {
  return a < b ? a : b;
}
