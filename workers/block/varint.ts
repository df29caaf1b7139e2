// Byte-level writer and reader for the block format: fixed-width little-endian fields, LEB128
// varints (unsigned, zigzag-signed and 64-bit), delta helpers. Numbers are JS doubles, so varints
// carry at most 53 bits; 64-bit addresses go through the bigint variants.

const MAX_SAFE = Number.MAX_SAFE_INTEGER;

const utf8 = new TextEncoder();
// ignoreBOM keeps a leading U+FEFF as text: stripping it would alter the strings that round-trip.
const utf8Strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Zigzag maps small magnitudes of either sign to small unsigned values; -2^52 ≤ v < 2^52. */
function zigzag(v: number): number {
  return v < 0 ? -2 * v - 1 : 2 * v;
}

function unzigzag(u: number): number {
  return u % 2 === 0 ? u / 2 : -(u + 1) / 2;
}

/** Zigzag of the signed 64-bit difference a - b, wrapping: exact for any pair of u64 values. */
export function zigzagDelta64(a: bigint, b: bigint): bigint {
  const d = BigInt.asIntN(64, a - b);
  return BigInt.asUintN(64, (d << 1n) ^ (d >> 63n));
}

/** Inverse of zigzagDelta64: the value a given b and the encoded difference. */
export function undoZigzagDelta64(zz: bigint, b: bigint): bigint {
  const d = (zz >> 1n) ^ -(zz & 1n);
  return BigInt.asUintN(64, b + d);
}

export class ByteWriter {
  private buf: Uint8Array;
  private dv: DataView;
  length = 0;

  constructor(initial = 1024) {
    this.buf = new Uint8Array(initial);
    this.dv = new DataView(this.buf.buffer);
  }

  private ensure(n: number): void {
    const need = this.length + n;
    if (need <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < need) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
    this.dv = new DataView(next.buffer);
  }

  u8(v: number): void {
    this.ensure(1);
    this.buf[this.length++] = v;
  }

  u16(v: number): void {
    this.ensure(2);
    this.dv.setUint16(this.length, v, true);
    this.length += 2;
  }

  u32(v: number): void {
    this.ensure(4);
    this.dv.setUint32(this.length, v, true);
    this.length += 4;
  }

  /** A non-negative integer ≤ 2^53 - 1 as 8 little-endian bytes. */
  u64(v: number): void {
    checkUint(v);
    this.u32(v % 0x100000000);
    this.u32(Math.floor(v / 0x100000000));
  }

  f64(v: number): void {
    this.ensure(8);
    this.dv.setFloat64(this.length, v, true);
    this.length += 8;
  }

  uvarint(v: number): void {
    checkUint(v);
    this.ensure(8);
    const buf = this.buf;
    let p = this.length;
    if (v < 0x80000000) {
      while (v > 0x7f) {
        buf[p++] = (v & 0x7f) | 0x80;
        v >>>= 7;
      }
    } else {
      while (v > 0x7f) {
        buf[p++] = (v % 128) | 0x80;
        v = Math.floor(v / 128);
      }
    }
    buf[p++] = v;
    this.length = p;
  }

  svarint(v: number): void {
    this.uvarint(zigzag(v));
  }

  u64varint(v: bigint): void {
    if (v < 0n || v > 0xffffffffffffffffn) throw new Error(`u64varint: ${v} is out of range`);
    let lo = Number(v & 0xfffffffn);
    const hi = Number(v >> 28n);
    if (hi === 0) return this.uvarint(lo);
    // The low 28 bits go out as four continued groups so the high part can use the number path.
    this.ensure(4);
    for (let k = 0; k < 4; k++) {
      this.buf[this.length++] = (lo & 0x7f) | 0x80;
      lo >>>= 7;
    }
    this.uvarint(hi);
  }

  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }

  /** Length-prefixed UTF-8. */
  string(s: string): void {
    const b = utf8.encode(s);
    this.uvarint(b.length);
    this.bytes(b);
  }

  /** The written bytes (a view of the internal buffer: stop writing after this). */
  finish(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }
}

function checkUint(v: number): void {
  if (!(v >= 0 && v <= MAX_SAFE && Math.floor(v) === v)) throw new Error(`varint: ${v} is not an unsigned safe integer`);
}

/**
 * Reads what ByteWriter wrote from buf[start, end). Every read checks the bounds and throws a
 * descriptive Error instead of returning garbage, so decoders need no checks of their own.
 */
export class ByteReader {
  pos: number;
  private readonly dv: DataView;

  constructor(
    readonly buf: Uint8Array,
    readonly what: string,
    start = 0,
    readonly end = buf.length,
  ) {
    this.pos = start;
    this.dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  fail(msg: string): never {
    throw new Error(`${this.what}: ${msg} at byte ${this.pos}`);
  }

  private need(n: number): void {
    if (this.end - this.pos < n) this.fail(`truncated (need ${n} bytes, have ${this.end - this.pos})`);
  }

  u8(): number {
    this.need(1);
    return this.buf[this.pos++];
  }

  u16(): number {
    this.need(2);
    const v = this.dv.getUint16(this.pos, true);
    this.pos += 2;
    return v;
  }

  u32(): number {
    this.need(4);
    const v = this.dv.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }

  u64(): number {
    const lo = this.u32();
    const hi = this.u32();
    if (hi > 0x1fffff) this.fail("64-bit field exceeds 2^53");
    return hi * 0x100000000 + lo;
  }

  f64(): number {
    this.need(8);
    const v = this.dv.getFloat64(this.pos, true);
    this.pos += 8;
    return v;
  }

  uvarint(): number {
    const buf = this.buf;
    const end = this.end;
    let p = this.pos;
    let result = 0;
    let mul = 1;
    // Eight groups of 7 bits cover 53 bits; a ninth byte can only be corruption.
    for (let k = 0; k < 8; k++) {
      if (p >= end) this.fail("truncated varint");
      const b = buf[p++];
      result += (b & 0x7f) * mul;
      if (b < 0x80) {
        if (result > MAX_SAFE) this.fail("varint exceeds 2^53");
        this.pos = p;
        return result;
      }
      mul *= 128;
    }
    this.fail("varint longer than 8 bytes");
  }

  svarint(): number {
    return unzigzag(this.uvarint());
  }

  u64varint(): bigint {
    const buf = this.buf;
    let lo = 0;
    for (let k = 0; k < 4; k++) {
      if (this.pos >= this.end) this.fail("truncated varint");
      const b = buf[this.pos++];
      lo |= (b & 0x7f) << (7 * k);
      if (b < 0x80) return BigInt(lo >>> 0);
    }
    const hi = this.uvarint();
    if (hi >= 2 ** 36) this.fail("varint exceeds 64 bits");
    return (BigInt(hi) << 28n) | BigInt(lo >>> 0);
  }

  /**
   * A row count that is about to size an allocation: each row takes at least `minBytes` of the
   * remaining input, so a corrupt count cannot ask for more memory than the input justifies.
   */
  count(label: string, minBytes = 1): number {
    const n = this.uvarint();
    if (n * minBytes > this.remaining) this.fail(`${label} count ${n} exceeds the remaining ${this.remaining} bytes`);
    return n;
  }

  bytes(n: number): Uint8Array {
    this.need(n);
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }

  string(): string {
    return decodeUtf8(this.bytes(this.uvarint()), this);
  }

  /** Throws unless every byte was consumed: trailing bytes mean the lengths were wrong. */
  done(): void {
    if (this.pos !== this.end) this.fail(`${this.end - this.pos} unexpected trailing bytes`);
  }
}

export function decodeUtf8(b: Uint8Array, r: ByteReader): string {
  try {
    return utf8Strict.decode(b);
  } catch {
    r.fail("invalid UTF-8");
  }
}

export function encodeUtf8(s: string): Uint8Array {
  return utf8.encode(s);
}
