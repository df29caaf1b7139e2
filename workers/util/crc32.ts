// CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320), the checksum zlib and gzip use. Deflate
// streams can inflate "successfully" from damaged bytes, so block sections carry one, and gzip
// trailers are checked with it because fflate does not check them.

// Slicing-by-8: eight tables, table k advancing a byte's CRC by k more zero bytes, so the loop
// consumes 8 bytes per step (about 4x the byte-at-a-time loop; gzip trailers of every upload pass here).
const TABLES = (() => {
  const t = new Int32Array(8 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  for (let n = 0; n < 256; n++) {
    for (let k = 1; k < 8; k++) t[k * 256 + n] = (t[(k - 1) * 256 + n] >>> 8) ^ t[t[(k - 1) * 256 + n] & 0xff];
  }
  return t;
})();

export const CRC32_INIT = -1;

/** Feeds `data` into a running CRC (start from CRC32_INIT). */
export function crc32Update(crc: number, data: Uint8Array): number {
  const t = TABLES;
  let c = crc;
  let i = 0;
  for (const end8 = data.length - 7; i < end8; i += 8) {
    const lo = c ^ (data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24));
    c =
      t[1792 + (lo & 0xff)] ^
      t[1536 + ((lo >>> 8) & 0xff)] ^
      t[1280 + ((lo >>> 16) & 0xff)] ^
      t[1024 + (lo >>> 24)] ^
      t[768 + data[i + 4]] ^
      t[512 + data[i + 5]] ^
      t[256 + data[i + 6]] ^
      t[data[i + 7]];
  }
  for (; i < data.length; i++) c = t[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return c;
}

export function crc32Finish(crc: number): number {
  return (crc ^ -1) >>> 0;
}

export function crc32(data: Uint8Array): number {
  return crc32Finish(crc32Update(CRC32_INIT, data));
}
