// JFR chunk headers. A recording is a sequence of self-contained chunks; each starts with a fixed
// 68-byte header (magic, version, size, constant pool and metadata offsets relative to the chunk's
// first byte, start time, duration, start ticks, ticks per second, feature flags). The times are
// not used: profiles are dated by the upload's `from`, as Pyroscope dates them.

import { malformed } from "./reader";

export const CHUNK_HEADER_BYTES = 68;
const MAGIC = [0x46, 0x4c, 0x52, 0x00]; // "FLR\0"
const FEATURE_COMPRESSED_INTS = 1;

export interface ChunkHeader {
  /** Absolute offsets of the chunk's first byte and one past its last. */
  start: number;
  end: number;
  /** Absolute offsets of the newest checkpoint event and of the metadata event. */
  constantPool: number;
  metadata: number;
  /** Integers are LEB128-style varints (the feature every current writer sets). */
  compressed: boolean;
}

/** Reads the header of the chunk at `start`, checking that every offset lies inside the chunk. */
export function readChunkHeader(buf: Uint8Array, start: number): ChunkHeader {
  const left = buf.length - start;
  if (left < CHUNK_HEADER_BYTES) throw malformed(`chunk at byte ${start} is cut short: ${left} bytes, a header needs ${CHUNK_HEADER_BYTES}`);
  for (let i = 0; i < MAGIC.length; i++) {
    if (buf[start + i] !== MAGIC[i]) throw malformed(`no "FLR" magic at byte ${start}: not a JFR chunk`);
  }
  const view = new DataView(buf.buffer, buf.byteOffset + start, CHUNK_HEADER_BYTES);
  const major = view.getUint16(4);
  const minor = view.getUint16(6);
  // 2.x is what JDK 11+ and async-profiler write; 1.0 (JDK 9, 10) lays its metadata out otherwise.
  if (major !== 2) throw malformed(`unsupported JFR version ${major}.${minor} in chunk at byte ${start} (2.x is read)`);

  const size = view.getBigInt64(8);
  if (size < CHUNK_HEADER_BYTES || size > BigInt(left)) {
    throw malformed(`chunk at byte ${start} declares ${size} bytes; ${left} bytes are left in the recording`);
  }
  const end = start + Number(size);
  const offset = (at: number, what: string) => {
    const v = view.getBigInt64(at);
    if (v < CHUNK_HEADER_BYTES || v >= size) throw malformed(`${what} offset ${v} of chunk at byte ${start} lies outside the chunk`);
    return start + Number(v);
  };
  return {
    start,
    end,
    constantPool: offset(16, "constant pool"),
    metadata: offset(24, "metadata"),
    compressed: (view.getInt32(64) & FEATURE_COMPRESSED_INTS) !== 0,
  };
}
