// Strict UTF-8 validation (RFC 3629, same acceptance as Go's utf8.Valid): pprof strings that are
// not valid UTF-8 make the profile malformed (spec API.md §7.2). A hand loop rather than a fatal
// TextDecoder so that checking a string table allocates nothing and throws nothing.

/** True when `bytes[start, end)` is well-formed UTF-8: no overlongs, surrogates, or code points past U+10FFFF. */
export function isValidUtf8(bytes: Uint8Array, start = 0, end = bytes.length): boolean {
  let i = start;
  while (i < end) {
    const b0 = bytes[i];
    if (b0 < 0x80) {
      i++;
      continue;
    }
    // The second byte's allowed range depends on the lead byte; that excludes overlong forms,
    // UTF-16 surrogates (ED A0..BF) and values above U+10FFFF (F4 90..BF) in one comparison.
    let need: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (b0 >= 0xc2 && b0 <= 0xdf) need = 1;
    else if (b0 >= 0xe0 && b0 <= 0xef) {
      need = 2;
      if (b0 === 0xe0) lo = 0xa0;
      else if (b0 === 0xed) hi = 0x9f;
    } else if (b0 >= 0xf0 && b0 <= 0xf4) {
      need = 3;
      if (b0 === 0xf0) lo = 0x90;
      else if (b0 === 0xf4) hi = 0x8f;
    } else return false;

    if (i + need >= end) return false;
    const b1 = bytes[i + 1];
    if (b1 < lo || b1 > hi) return false;
    for (let k = 2; k <= need; k++) {
      const b = bytes[i + k];
      if (b < 0x80 || b > 0xbf) return false;
    }
    i += need + 1;
  }
  return true;
}
