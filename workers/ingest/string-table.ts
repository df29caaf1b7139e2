// Byte-level facts about pprof strings that the decoded JS strings hide. pprof-format decodes the
// string table with a non-fatal TextDecoder, so invalid UTF-8 silently becomes U+FFFD; Pyroscope
// refuses it, so the raw bytes must be read again. Limits are in bytes (Go `len`), not UTF-16
// code units.

import { tableIndex, type Numeric } from "./pprof-numeric";

const PROFILE_STRING_TABLE_FIELD = 6;

/** A string by table index; "" when out of range (validation refuses such indices). */
export function stringAt(strings: readonly string[], index: Numeric): string {
  const i = tableIndex(index);
  return i >= 0 && i < strings.length ? strings[i] : "";
}

/**
 * The raw bytes of every string_table entry of an encoded Profile, in table order (views into
 * `profile`, no copies). Walks only the top-level protobuf fields.
 */
export function rawStringTable(profile: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  let i = 0;
  const varint = (): number => {
    let v = 0;
    let mul = 1;
    for (;;) {
      if (i >= profile.length) throw new Error("truncated varint");
      const b = profile[i++];
      v += (b & 0x7f) * mul;
      if (b < 0x80) return v;
      mul *= 128;
    }
  };
  while (i < profile.length) {
    const tag = varint();
    const wire = tag % 8;
    const field = Math.floor(tag / 8);
    if (wire === 0) varint();
    else if (wire === 1) i += 8;
    else if (wire === 5) i += 4;
    else if (wire === 2) {
      const len = varint();
      if (field === PROFILE_STRING_TABLE_FIELD) out.push(profile.subarray(i, i + len));
      i += len;
    } else throw new Error(`unsupported wire type ${wire}`);
  }
  return out;
}

/** Bytes of `s` encoded as UTF-8 (a lone surrogate counts as the 3 bytes of U+FFFD). */
export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && isLowSurrogate(s.charCodeAt(i + 1))) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

/**
 * The longest suffix of `s` that fits in `maxBytes` of UTF-8. Pyroscope keeps the last N bytes;
 * we move the cut forward to a character boundary so truncation never produces invalid UTF-8
 * (Go would then refuse the profile for a string it shortened itself).
 */
export function utf8Tail(s: string, maxBytes: number): string {
  if (s.length * 3 <= maxBytes || utf8Length(s) <= maxBytes) return s;
  let bytes = 0;
  let i = s.length;
  while (i > 0) {
    const c = s.charCodeAt(i - 1);
    let step = 1;
    let size: number;
    if (c < 0x80) size = 1;
    else if (c < 0x800) size = 2;
    else if (isLowSurrogate(c) && i >= 2 && isHighSurrogate(s.charCodeAt(i - 2))) {
      size = 4;
      step = 2;
    } else size = 3;
    if (bytes + size > maxBytes) break;
    bytes += size;
    i -= step;
  }
  return s.slice(i);
}

export function toHex(b: Uint8Array): string {
  let out = "";
  for (let i = 0; i < b.length; i++) out += b[i].toString(16).padStart(2, "0");
  return out;
}

const isHighSurrogate = (c: number) => c >= 0xd800 && c <= 0xdbff;
const isLowSurrogate = (c: number) => c >= 0xdc00 && c <= 0xdfff;
