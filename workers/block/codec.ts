// Column codecs shared by the section writers and readers: index columns as varints, number
// columns as scaled (and optionally delta) zigzag varints with a raw-double fallback, 64-bit
// columns as varints or zigzag deltas.

import { type ByteReader, type ByteWriter, undoZigzagDelta64, zigzagDelta64 } from "./varint";

/** Number column modes (first byte of a number column). */
export const NUM_INT = 0;
export const NUM_F64 = 1;

// Values below 2^51 in magnitude have deltas below 2^52, whose zigzag codes stay below 2^53, i.e.
// exact in a double.
const INT_LIMIT = 2 ** 51;

export function writeIndices(w: ByteWriter, col: ArrayLike<number>, start: number, end: number): void {
  for (let i = start; i < end; i++) w.uvarint(col[i]);
}

/** Reads n indices into out[at, at + n), each checked to be below `bound`. */
export function readIndices(r: ByteReader, n: number, out: Int32Array, at: number, bound: number, label: string): void {
  for (let i = 0; i < n; i++) {
    const v = r.uvarint();
    if (v >= bound) r.fail(`${label} ${v} out of range (< ${bound})`);
    out[at + i] = v;
  }
}

function gcd(a: number, b: number): number {
  while (b !== 0) {
    const t = a % b;
    a = b;
    b = t;
  }
  return a;
}

/**
 * Writes values[start, end). Integers (the normal case: counts, nanoseconds, bytes, unix ms) are
 * divided by their common divisor, because sampled profiles are multiples of the period (10 ms of
 * CPU = 10_000_000 ns), and zigzag-coded; `delta` codes differences from the previous value for
 * nearly sorted columns such as timestamps. Anything else (fractions, -0, huge values) falls back
 * to raw doubles so that every column round-trips exactly.
 */
export function writeNumbers(w: ByteWriter, values: Float64Array, start: number, end: number, delta: boolean): void {
  let divisor = 0;
  let prev = 0;
  for (let i = start; i < end; i++) {
    const v = values[i];
    if (!Number.isInteger(v) || Math.abs(v) >= INT_LIMIT || Object.is(v, -0)) {
      w.u8(NUM_F64);
      for (let k = start; k < end; k++) w.f64(values[k]);
      return;
    }
    divisor = gcd(divisor, Math.abs(delta ? v - prev : v));
    prev = v;
  }
  if (divisor === 0) divisor = 1;
  w.u8(NUM_INT);
  w.uvarint(divisor);
  prev = 0;
  for (let i = start; i < end; i++) {
    const v = values[i];
    w.svarint((delta ? v - prev : v) / divisor);
    prev = v;
  }
}

/** Reads n numbers written by writeNumbers into out[at, at + n). */
export function readNumbers(r: ByteReader, n: number, out: Float64Array, at: number, delta: boolean): void {
  const mode = r.u8();
  if (mode === NUM_F64) {
    if (n * 8 > r.remaining) r.fail(`${n} doubles exceed the remaining ${r.remaining} bytes`);
    for (let i = 0; i < n; i++) out[at + i] = r.f64();
    return;
  }
  if (mode !== NUM_INT) r.fail(`unknown number column mode ${mode}`);
  const divisor = r.uvarint();
  let prev = 0;
  for (let i = 0; i < n; i++) {
    const v = r.svarint() * divisor;
    prev = delta ? prev + v : v;
    out[at + i] = prev;
  }
}

/** 64-bit values, either plain or as zigzag differences from the previous value. */
export function writeU64s(w: ByteWriter, values: BigUint64Array, start: number, end: number, delta: boolean): void {
  let prev = 0n;
  for (let i = start; i < end; i++) {
    const v = values[i];
    w.u64varint(delta ? zigzagDelta64(v, prev) : v);
    prev = v;
  }
}

export function readU64s(r: ByteReader, n: number, out: BigUint64Array, at: number, delta: boolean): void {
  let prev = 0n;
  for (let i = 0; i < n; i++) {
    const v = r.u64varint();
    prev = delta ? undoZigzagDelta64(v, prev) : v;
    out[at + i] = prev;
  }
}
