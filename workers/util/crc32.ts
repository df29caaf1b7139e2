// CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320), the checksum zlib and gzip use. Deflate
// streams can inflate "successfully" from damaged bytes, so block sections carry one, and gzip
// trailers are checked with it because fflate does not check them.

const TABLE = (() => {
  const t = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  return t;
})();

export const CRC32_INIT = -1;

/** Feeds `data` into a running CRC (start from CRC32_INIT). */
export function crc32Update(crc: number, data: Uint8Array): number {
  let c = crc;
  for (let i = 0; i < data.length; i++) c = TABLE[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return c;
}

export function crc32Finish(crc: number): number {
  return (crc ^ -1) >>> 0;
}

export function crc32(data: Uint8Array): number {
  return crc32Finish(crc32Update(CRC32_INIT, data));
}
