// Byte-level facts about pprof strings that JS strings hide: limits are in bytes (Go `len`), not
// UTF-16 code units.

/** A string by table index; "" when out of range (validation refuses such indices). */
export function stringAt(strings: readonly string[], index: number): string {
  return index >= 0 && index < strings.length ? strings[index] : "";
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

const isHighSurrogate = (c: number) => c >= 0xd800 && c <= 0xdbff;
const isLowSurrogate = (c: number) => c >= 0xdc00 && c <= 0xdfff;
