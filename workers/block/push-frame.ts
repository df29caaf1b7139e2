// The push frame: how the edge Worker hands a request's profiles to an ingester, and how the
// ingester buffers them until the next flush. It is the builder's columns as they are in memory,
// so writing one is a few copies and reading one is views over the bytes; the block format's
// varints, deltas and deflate are paid once per flush instead of once per push. A frame never
// leaves the ingester's SQLite storage, so it has no checksums: its reader checks lengths and
// leaves the references to checkColumns.
//
//   magic "EPYP" | version u16 | reserved u16 | string count u32 | UTF-8 blob length u32
//   | element count u32 of each column in COLUMN_LAYOUT order | padding to 8
//   | each column's elements (little-endian), padded to 8 | string lengths u32[] (UTF-16 units)
//   | UTF-8 blob of the strings, concatenated

import { BlockBuilder, type BuilderColumns, COLUMN_LAYOUT, type ColumnKind, type ColumnName } from "./builder";
import { decodeBlock } from "./decode";
import { encodeUtf8 } from "./varint";

export const PUSH_MAGIC = Uint8Array.of(0x45, 0x50, 0x59, 0x50);
const PUSH_VERSION = 1;

const COLUMNS = Object.entries(COLUMN_LAYOUT).map(([name, [kind]]) => [name as ColumnName, kind] as const);

// ignoreBOM: a string that starts with U+FEFF must keep it.
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const WIDTH: Record<ColumnKind, number> = { u64: 8, i32: 4, f64: 8 };
const HEADER_BYTES = align8(16 + 4 * COLUMNS.length);
// Typed arrays are in platform byte order; every Workers host (x86-64, arm64) is little-endian.
const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

function align8(n: number): number {
  return (n + 7) & ~7;
}

/** Whether `bytes` starts like a push frame (an ingester also reads pushes buffered as blocks). */
export function isPushFrame(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && PUSH_MAGIC.every((m, i) => bytes[i] === m);
}

/** The frame of every profile in `b` (whose last profile must be ended). */
export function encodePushFrame(b: BlockBuilder): Uint8Array {
  if (!LITTLE_ENDIAN) throw new Error("push frame: a big-endian host is not supported");
  if (b.profileSampleStart.length !== b.profileCount + 1) throw new Error("push frame: a profile is still open");
  const views = COLUMNS.map(([name]) => b[name].view());
  const blob = encodeUtf8(b.strings.join(""));
  const nStrings = b.strings.length;
  let size = HEADER_BYTES;
  for (const v of views) size += align8(v.byteLength);
  size += 4 * nStrings + blob.length;

  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  out.set(PUSH_MAGIC, 0);
  dv.setUint16(4, PUSH_VERSION, true);
  dv.setUint32(8, nStrings, true);
  dv.setUint32(12, blob.length, true);
  let at = HEADER_BYTES;
  views.forEach((v, i) => {
    dv.setUint32(16 + 4 * i, v.length, true);
    out.set(new Uint8Array(v.buffer, v.byteOffset, v.byteLength), at);
    at += align8(v.byteLength);
  });
  const lengths = new Uint32Array(out.buffer, at, nStrings);
  for (let i = 0; i < nStrings; i++) lengths[i] = b.strings[i].length;
  out.set(blob, at + 4 * nStrings);
  return out;
}

/**
 * The columns of a frame. Numeric columns are views over `bytes` when it is 8-byte aligned (a
 * copy otherwise), so the caller must not modify `bytes` while it uses them.
 */
export function decodePushFrame(bytes: Uint8Array): BuilderColumns {
  const fail = (msg: string): never => {
    throw new Error(`push frame: ${msg}`);
  };
  if (!isPushFrame(bytes)) fail("bad magic");
  if (bytes.length < HEADER_BYTES) fail(`truncated header (${bytes.length} bytes)`);
  const src = bytes.byteOffset % 8 === 0 ? bytes : bytes.slice();
  const dv = new DataView(src.buffer, src.byteOffset, src.byteLength);
  const version = dv.getUint16(4, true);
  if (version !== PUSH_VERSION) fail(`version ${version} is not ${PUSH_VERSION}`);
  if (dv.getUint16(6, true) !== 0) fail("the reserved header field is not 0");
  const nStrings = dv.getUint32(8, true);
  const blobBytes = dv.getUint32(12, true);

  const cols = {} as Record<ColumnName, BigUint64Array | Int32Array | Float64Array>;
  let at = HEADER_BYTES;
  COLUMNS.forEach(([name, kind], i) => {
    const n = dv.getUint32(16 + 4 * i, true);
    const byteLength = n * WIDTH[kind];
    if (at + byteLength > src.length) fail(`column ${name} runs past the end`);
    const offset = src.byteOffset + at;
    cols[name] =
      kind === "u64" ? new BigUint64Array(src.buffer, offset, n) : kind === "i32" ? new Int32Array(src.buffer, offset, n) : new Float64Array(src.buffer, offset, n);
    at += align8(byteLength);
  });
  if (at + 4 * nStrings + blobBytes !== src.length) fail(`the strings do not end where the frame does (${src.length} bytes)`);
  const lengths = new Uint32Array(src.buffer, src.byteOffset + at, nStrings);
  const text = utf8.decode(src.subarray(at + 4 * nStrings));
  const strings: string[] = new Array(nStrings);
  let pos = 0;
  for (let i = 0; i < nStrings; i++) {
    strings[i] = text.slice(pos, pos + lengths[i]);
    pos += lengths[i];
  }
  if (pos !== text.length) fail(`string lengths add up to ${pos} but the text has ${text.length}`);
  return { strings, ...(cols as Omit<BuilderColumns, "strings">) };
}

/** A buffered push as a read-only builder: a frame, or a block as ingesters buffered them before frames. */
export function builderOfPush(bytes: Uint8Array): BlockBuilder {
  return isPushFrame(bytes) ? BlockBuilder.fromColumns(decodePushFrame(bytes), false) : decodeBlock(bytes, undefined, false);
}
