// pprof-format decodes a varint of up to 4 bytes as a number and a longer one as an unsigned
// BigInt, so one int64 field can arrive as either type and a negative int64 arrives as 2^64 - x.
// These helpers give each field its protobuf meaning.

export type Numeric = number | bigint;

/** A signed int64 field (values, line numbers, times) as a number; beyond ±2^53 precision is lost. */
export function int64(v: Numeric): number {
  return typeof v === "number" ? v : Number(BigInt.asIntN(64, v));
}

/** A signed int64 field as an exact BigInt (timestamps). */
export function int64Big(v: Numeric): bigint {
  return typeof v === "number" ? BigInt(v) : BigInt.asIntN(64, v);
}

/** An unsigned uint64 field (addresses, mapping ranges). */
export function uint64(v: Numeric): bigint {
  return typeof v === "number" ? BigInt(v) : BigInt.asUintN(64, v);
}

/** A string-table index; -1 when it cannot index any table (negative or huge). */
export function tableIndex(v: Numeric): number {
  if (typeof v === "number") return v;
  const s = BigInt.asIntN(64, v);
  return s >= 0n && s <= 0x7fffffffn ? Number(s) : -1;
}

/**
 * A Map key for a uint64 id. Ids above 2^53 stay BigInt (Maps compare BigInts by value) because
 * some producers use addresses as ids and rounding them to doubles would merge distinct ids.
 */
export function idKey(v: Numeric): number | bigint {
  if (typeof v === "number") return v;
  return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

export function isZero(v: Numeric): boolean {
  return typeof v === "number" ? v === 0 : v === 0n;
}
