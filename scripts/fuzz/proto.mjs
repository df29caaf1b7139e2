// Protobuf wire format for the fuzzer: a walker that finds every length-delimited field whose
// payload is itself a well-formed message (so lies can be told at any depth), and an encoder for
// the requests it builds (Push, OTLP attributes). Varints are BigInt-safe up to 2^64 - 1.

export function varint(value) {
  let v = BigInt(value);
  const out = [];
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return Uint8Array.from(out);
}

export function concat(parts) {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const enc = new TextEncoder();
const asBytes = (v) => (typeof v === "string" ? enc.encode(v) : v);

/** A length-delimited field (wire type 2). */
export const lenField = (field, value) => {
  const b = asBytes(value);
  return concat([varint((field << 3) | 2), varint(b.length), b]);
};
export const varintField = (field, value) => concat([varint(field << 3), varint(value)]);

/** Reads a varint at `at`: [value as Number (may lose precision past 2^53), end] or null. */
function readVarint(buf, at) {
  let v = 0;
  let mul = 1;
  for (let i = 0; i < 10; i++) {
    if (at + i >= buf.length) return null;
    const b = buf[at + i];
    v += (b & 0x7f) * mul;
    mul *= 128;
    if (b < 0x80) return [v, at + i + 1];
  }
  return null;
}

/**
 * The fields of a message spanning buf[start, end), or null if those bytes are not one.
 * Each field: { field, wire, start, lenStart, dataStart, end } (lenStart/dataStart for wire 2).
 */
export function fields(buf, start = 0, end = buf.length) {
  const out = [];
  let at = start;
  while (at < end) {
    const tag = readVarint(buf, at);
    if (!tag || tag[1] > end) return null;
    const field = Math.floor(tag[0] / 8);
    const wire = tag[0] % 8;
    if (field === 0) return null;
    const f = { field, wire, start: at, lenStart: tag[1] };
    at = tag[1];
    if (wire === 0) {
      const v = readVarint(buf, at);
      if (!v || v[1] > end) return null;
      at = v[1];
    } else if (wire === 1) at += 8;
    else if (wire === 5) at += 4;
    else if (wire === 2) {
      const len = readVarint(buf, at);
      if (!len || len[1] + len[0] > end) return null;
      f.dataStart = len[1];
      at = len[1] + len[0];
    } else return null;
    if (at > end) return null;
    f.end = at;
    out.push(f);
  }
  return out;
}

/**
 * The fields of the message in buf, at any depth down to `maxDepth`, each with its depth, that
 * `keep` accepts: nested messages are recognised by parsing (a string that happens to parse is
 * walked too, which is harmless for lying). Bounded by `limit` fields.
 */
function walkFields(buf, { maxDepth = 6, limit = 20000 } = {}, keep) {
  const found = [];
  const stack = [[0, buf.length, 0]];
  while (stack.length && found.length < limit) {
    const [start, end, depth] = stack.pop();
    const fs = fields(buf, start, end);
    if (!fs) continue;
    for (const f of fs) {
      const kept = keep(f, depth);
      if (kept) found.push(kept);
      if (f.wire === 2 && depth + 1 < maxDepth && f.end - f.dataStart >= 2) stack.push([f.dataStart, f.end, depth + 1]);
    }
  }
  return found;
}

/** Every length-delimited field at any depth, with its depth. */
export function lengthFields(buf, opts) {
  return walkFields(buf, opts, (f, depth) => f.wire === 2 && { ...f, depth });
}

/** buf with the length varint of field `f` replaced by `newLength` (the payload is left as it was). */
export function withLength(buf, f, newLength) {
  return concat([buf.subarray(0, f.lenStart), varint(newLength), buf.subarray(f.dataStart)]);
}

/** Every varint-typed field (wire 0) at any depth: [valueStart, valueEnd] ranges. */
export function varintFields(buf, opts) {
  return walkFields(buf, opts, (f) => f.wire === 0 && { ...f, valueStart: f.lenStart });
}
