// Reference (b), the decode ceiling: gunzip plus a wire-level walk over every protobuf field of a
// pprof, in this Node process. Nothing is materialised: each tag is read, each sub-message of the
// pprof schema is descended into, packed varint arrays are read element by element, scalar
// varints are read as their declared type (int64/uint64 as bigint, bool), and strings are read as
// bytes (a view, never UTF-8 decoded). It is the least work any pprof decoder has to do.

import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";
import { gunzipSync } from "fflate";

// Field kinds. Message schemas map field number → kind or nested schema (for sub-messages).
const I64 = "int64";
const U64 = "uint64";
const BOOL = "bool";
const BYTES = "bytes";
const PACKED_I64 = "packed-int64";
const PACKED_U64 = "packed-uint64";

const VALUE_TYPE = { 1: I64, 2: I64 }; // type, unit (string table indices)
const LABEL = { 1: I64, 2: I64, 3: I64, 4: I64 }; // key, str, num, num_unit
const SAMPLE = { 1: PACKED_U64, 2: PACKED_I64, 3: LABEL }; // location_id, value, label
const MAPPING = {
  1: U64, 2: U64, 3: U64, 4: U64, 5: I64, 6: I64, // id, memory_start/limit, file_offset, filename, build_id
  7: BOOL, 8: BOOL, 9: BOOL, 10: BOOL, // has_functions, has_filenames, has_line_numbers, has_inline_frames
};
const LINE = { 1: U64, 2: I64, 3: I64 }; // function_id, line, column
const LOCATION = { 1: U64, 2: U64, 3: U64, 4: LINE, 5: BOOL }; // id, mapping_id, address, line, is_folded
const FUNCTION = { 1: U64, 2: I64, 3: I64, 4: I64, 5: I64 }; // id, name, system_name, filename, start_line
export const PROFILE = {
  1: VALUE_TYPE, // sample_type
  2: SAMPLE,
  3: MAPPING,
  4: LOCATION,
  5: FUNCTION,
  6: BYTES, // string_table
  7: I64, // drop_frames
  8: I64, // keep_frames
  9: I64, // time_nanos
  10: I64, // duration_nanos
  11: VALUE_TYPE, // period_type
  12: I64, // period
  13: PACKED_I64, // comment
  14: I64, // default_sample_type
};

/**
 * Walks `bytes` (a decompressed pprof) and returns the number of fields and packed elements read,
 * so the work cannot be optimised away. Unknown fields are skipped; malformed input throws.
 */
export function walkPprof(bytes) {
  const reader = new BinaryReader(bytes);
  return walkMessage(reader, PROFILE, bytes.length);
}

function walkMessage(reader, schema, end) {
  let fields = 0;
  while (reader.pos < end) {
    const [no, wireType] = reader.tag();
    const kind = schema[no];
    fields++;
    if (kind === undefined) {
      reader.skip(wireType, no);
      continue;
    }
    if (wireType === WireType.Varint) {
      // A non-packed element of a packed field is legal protobuf: read it by its element type.
      if (kind === I64 || kind === PACKED_I64) reader.int64();
      else if (kind === U64 || kind === PACKED_U64) reader.uint64();
      else if (kind === BOOL) reader.bool();
      else reader.skip(wireType, no);
      continue;
    }
    if (wireType !== WireType.LengthDelimited) {
      reader.skip(wireType, no);
      continue;
    }
    if (kind === BYTES) {
      reader.bytes();
    } else if (kind === PACKED_I64 || kind === PACKED_U64) {
      const stop = reader.uint32() + reader.pos;
      if (kind === PACKED_I64) while (reader.pos < stop) { reader.int64(); fields++; }
      else while (reader.pos < stop) { reader.uint64(); fields++; }
    } else if (typeof kind === "object") {
      const stop = reader.uint32() + reader.pos;
      if (stop > end) throw new Error(`field ${no}: sub-message overruns its parent`);
      fields += walkMessage(reader, kind, stop);
    } else {
      reader.skip(wireType, no);
    }
  }
  if (reader.pos !== end) throw new Error("message overruns its length");
  return fields;
}

const isGzip = (b) => b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b;

/** One request body as the server gets it: gunzip when gzipped, then the walk. */
export function decodeBody(body) {
  const raw = isGzip(body) ? gunzipSync(body) : body;
  return { rawBytes: raw.length, fields: walkPprof(raw) };
}

/**
 * Runs decodeBody over `bodies` `runs` times after `warmup` runs; returns per-run MB/s of
 * uncompressed pprof and the Node process's peak memory (sampled every `memEvery` bodies).
 */
export function measureDecodeCeiling(bodies, { runs = 5, warmup = 1, memEvery = 64 } = {}) {
  for (let r = 0; r < warmup; r++) for (const b of bodies) decodeBody(b);
  globalThis.gc?.();
  const base = process.memoryUsage();
  let peakRss = base.rss;
  let peakHeap = base.heapUsed;
  const sample = () => {
    const m = process.memoryUsage();
    if (m.rss > peakRss) peakRss = m.rss;
    if (m.heapUsed > peakHeap) peakHeap = m.heapUsed;
  };
  const perRun = [];
  let fields = 0;
  for (let r = 0; r < runs; r++) {
    let rawBytes = 0;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < bodies.length; i++) {
      const d = decodeBody(bodies[i]);
      rawBytes += d.rawBytes;
      fields += d.fields;
      if (i % memEvery === 0) sample();
    }
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    sample();
    perRun.push({ seconds, rawBytes, mbPerSec: rawBytes / 1e6 / seconds });
  }
  return {
    runs: perRun,
    fieldsRead: fields,
    memory: { baseRss: base.rss, baseHeapUsed: base.heapUsed, peakRss, peakHeapUsed: peakHeap },
    gcAvailable: typeof globalThis.gc === "function",
  };
}
