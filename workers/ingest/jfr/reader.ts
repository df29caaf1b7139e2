// The byte reader under every part of the JFR decoder: JFR's integers (LEB128-style varints when
// the chunk sets the compressed-integers feature, big-endian otherwise) and its string encodings.
// A read never passes `end`, which the caller sets to the enclosing event or chunk, so a lying
// size or a cut file surfaces here as a malformed-profile refusal and never as a TypeError.

import { IngestError, invalid } from "../errors";

const TWO_32 = 4294967296;
/** High halves below 2^21 keep hi·2^32 + lo under 2^53, where doubles are exact. */
const SAFE_HI = 0x200000;

// JFR string encodings (the first byte of every string value).
const STRING_NULL = 0;
const STRING_EMPTY = 1;
const STRING_POOL = 2;
const STRING_UTF8 = 3;
const STRING_CHARS = 4;
const STRING_LATIN1 = 5;

const utf8 = new TextDecoder();

export function malformed(message: string): IngestError {
  return invalid("malformed_profile", `invalid JFR recording: ${message}`);
}

/**
 * A constant pool key as an exact number: the key itself up to 2^53, else a negative stand-in
 * unique to the 64-bit value within one recording (the decoder shares one `BigKeys`).
 */
export type BigKeys = Map<string, number>;

export class JfrReader {
  pos = 0;
  end = 0;
  /** The two 32-bit halves of the last long read by long(). */
  lo = 0;
  hi = 0;

  constructor(
    readonly buf: Uint8Array,
    /** The chunk's compressed-integers feature. */
    readonly compressed: boolean,
    private readonly bigKeys: BigKeys,
  ) {}

  /** Points the reader at `[pos, end)`; `end` must lie within the buffer. */
  at(pos: number, end: number): this {
    this.pos = pos;
    this.end = end;
    return this;
  }

  /** Fails unless `n` more bytes are available. */
  need(n: number): void {
    if (n > this.end - this.pos) throw this.truncated();
  }

  truncated(): IngestError {
    return malformed(`truncated or overlong value at byte ${this.pos} (the enclosing record ends at ${this.end})`);
  }

  u8(): number {
    if (this.pos >= this.end) throw this.truncated();
    return this.buf[this.pos++];
  }

  /** Reads a long into `lo`/`hi`: a varint of at most 9 bytes (the 9th carries 8 bits), or 8 bytes. */
  long(): void {
    const buf = this.buf;
    let pos = this.pos;
    const end = this.end;
    if (!this.compressed) {
      if (end - pos < 8) throw this.truncated();
      this.hi = ((buf[pos] << 24) | (buf[pos + 1] << 16) | (buf[pos + 2] << 8) | buf[pos + 3]) >>> 0;
      this.lo = ((buf[pos + 4] << 24) | (buf[pos + 5] << 16) | (buf[pos + 6] << 8) | buf[pos + 7]) >>> 0;
      this.pos = pos + 8;
      return;
    }
    if (pos >= end) throw this.truncated();
    let b = buf[pos++];
    if (b < 0x80) {
      this.pos = pos;
      this.lo = b;
      this.hi = 0;
      return;
    }
    // Bytes 0–3 fill bits 0–27, byte 4 straddles the halves, bytes 5–7 take 7 bits and byte 8 all 8.
    let lo = b & 0x7f;
    let hi = 0;
    for (let i = 1; ; i++) {
      if (pos >= end) throw this.truncated();
      b = buf[pos++];
      if (i < 4) lo |= (b & 0x7f) << (7 * i);
      else if (i === 4) {
        lo |= (b & 0x0f) << 28;
        hi = (b & 0x7f) >>> 4;
      } else if (i < 8) hi |= (b & 0x7f) << (7 * i - 32);
      else {
        hi |= b << 24;
        break;
      }
      if (b < 0x80) break;
    }
    this.pos = pos;
    this.lo = lo >>> 0;
    this.hi = hi >>> 0;
  }

  /** A long as an unsigned number, exact up to 2^53 (durations, sizes and counts stay far below). */
  number(): number {
    this.long();
    return this.hi * TWO_32 + this.lo;
  }

  /** An int or short: the low 32 bits of a varint, or the fixed big-endian width. */
  int(width: 2 | 4 = 4): number {
    if (this.compressed) {
      this.long();
      return this.lo | 0;
    }
    this.need(width);
    const buf = this.buf;
    const p = this.pos;
    this.pos = p + width;
    return width === 4 ? (buf[p] << 24) | (buf[p + 1] << 16) | (buf[p + 2] << 8) | buf[p + 3] : (buf[p] << 8) | buf[p + 1];
  }

  /**
   * A size or count (an int on the wire), never truncated: a varint past 32 bits comes back whole,
   * so that bounds checks refuse it instead of seeing its low bits. Negative when it is negative.
   */
  size(): number {
    if (!this.compressed) return this.int();
    this.long();
    return this.hi > 0x7fffffff ? -1 : this.hi * TWO_32 + this.lo;
  }

  /**
   * A count of items that take at least `minBytes` each: refused when the rest of the record could
   * not hold them, so no count can make the decoder allocate or loop past the bytes it was given.
   */
  count(what: string, minBytes = 1): number {
    const at = this.pos;
    const n = this.size();
    if (n < 0 || n * minBytes > this.end - this.pos) {
      throw malformed(`${what} count ${n} at byte ${at} does not fit in the ${this.end - this.pos} bytes left`);
    }
    return n;
  }

  /** A constant pool key as an exact number (see BigKeys). */
  key(): number {
    this.long();
    return this.keyOf(this.hi, this.lo);
  }

  keyOf(hi: number, lo: number): number {
    if (hi < SAFE_HI) return hi * TWO_32 + lo;
    const text = `${hi}:${lo}`;
    let k = this.bigKeys.get(text);
    if (k === undefined) {
      k = -1 - this.bigKeys.size;
      this.bigKeys.set(text, k);
    }
    return k;
  }

  skip(n: number): void {
    this.need(n);
    this.pos += n;
  }

  /** Skips a scalar: `width` bytes, or a varint when `width` is 0. */
  skipScalar(width: number): void {
    if (width !== 0) {
      this.skip(width);
      return;
    }
    const buf = this.buf;
    const end = this.end;
    let pos = this.pos;
    // At most 8 bytes with the continuation bit, then a 9th whatever it holds.
    for (let i = 0; ; i++) {
      if (pos >= end) throw this.truncated();
      if (buf[pos++] < 0x80 || i === 8) break;
    }
    this.pos = pos;
  }

  /** Skips consecutive scalars of the given widths (see skipScalar). */
  skipScalars(widths: Int8Array): void {
    for (let i = 0; i < widths.length; i++) this.skipScalar(widths[i]);
  }

  /**
   * A string value. Pool references (encoding 2) go through `pooled`, which gets the key; null and
   * empty strings both read as "".
   */
  string(pooled: (key: number) => string): string {
    const at = this.pos;
    const encoding = this.u8();
    switch (encoding) {
      case STRING_NULL:
      case STRING_EMPTY:
        return "";
      case STRING_POOL:
        return pooled(this.key());
      case STRING_UTF8: {
        const n = this.count("UTF-8 string byte");
        const s = utf8.decode(this.buf.subarray(this.pos, this.pos + n));
        this.pos += n;
        return s;
      }
      case STRING_LATIN1: {
        const n = this.count("Latin-1 string byte");
        let s = "";
        // fromCharCode takes its arguments on the stack: convert in slices.
        for (let i = 0; i < n; i += 4096) {
          s += String.fromCharCode(...this.buf.subarray(this.pos + i, this.pos + Math.min(n, i + 4096)));
        }
        this.pos += n;
        return s;
      }
      case STRING_CHARS: {
        const n = this.count("string char");
        const codes = new Uint16Array(n);
        for (let i = 0; i < n; i++) codes[i] = this.int(2);
        let s = "";
        for (let i = 0; i < n; i += 4096) s += String.fromCharCode(...codes.subarray(i, i + 4096));
        return s;
      }
      default:
        throw malformed(`unknown string encoding ${encoding} at byte ${at}`);
    }
  }

  /** Skips a string value without decoding it. */
  skipString(): void {
    const at = this.pos;
    const encoding = this.u8();
    if (encoding === STRING_NULL || encoding === STRING_EMPTY) return;
    if (encoding === STRING_POOL) this.long();
    else if (encoding === STRING_UTF8 || encoding === STRING_LATIN1) this.skip(this.count("string byte"));
    else if (encoding === STRING_CHARS) {
      const n = this.count("string char");
      for (let i = 0; i < n; i++) this.int(2);
    } else throw malformed(`unknown string encoding ${encoding} at byte ${at}`);
  }
}
