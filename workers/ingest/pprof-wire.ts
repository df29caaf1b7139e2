// @bufbuild/protobuf's BinaryReader (skipping unknown fields, exact int64 as BigInt) plus what the
// pprof decoder does millions of times per upload without allocating: BinaryReader's tag() returns
// a new array per field and skip() a new view per skipped field, its 64-bit readers allocate a
// BigInt per value, and its uint32() keeps only the low 32 bits, which would turn a huge string
// index or length into a small valid one. These read the varint's two 32-bit halves and build a
// plain number, going through BigInt only above 2^53.

import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";

export { WireType };

// Read once: hot paths compare against plain constants, not an enum behind an import.
const VARINT = WireType.Varint;
const LD = WireType.LengthDelimited;
const BIT32 = WireType.Bit32;

const TWO_32 = 4294967296;
/** High halves below 2^21 keep hi·2^32 + lo under 2^53, where doubles are exact. */
const SAFE_HI = 0x200000;

export class PprofReader extends BinaryReader {
  /** The wire type of the tag last read by field(). */
  wireType: WireType = VARINT;
  private lo = 0;
  private hi = 0;
  /** Ids above 2^53 get negative stand-ins, unique per value, so every id is an exact number. */
  private readonly bigIds = new Map<bigint, number>();

  constructor(private readonly buffer: Uint8Array) {
    super(buffer);
  }

  /** Reads a tag, checked as tag() checks it: returns its field number, its wire type goes to `wireType`. */
  field(): number {
    const b = this.buffer[this.pos];
    let tag: number;
    if (b < 0x80) {
      this.pos++;
      tag = b;
    } else {
      this.readVarint64();
      if (this.hi !== 0) throw new Error(`tag at offset ${this.pos} overflows uint32`);
      tag = this.lo;
    }
    const field = tag >>> 3;
    const wt = tag & 7;
    if (field === 0 || wt > BIT32) throw new Error(`illegal tag: field ${field}, wire type ${wt}`);
    this.wireType = wt;
    return field;
  }

  /** Refuses a field of a known type sent with another wire type, as Go's decoder does. */
  expect(want: WireType, message: string, field: number): void {
    if (this.wireType !== want) throw new Error(`wrong wire type ${this.wireType} for ${message} field ${field}`);
  }

  /** Skips the value of a field not read, whatever its wire type; nothing may run past `limit`. */
  skipField(field: number, limit: number): void {
    if (this.wireType === LD) this.pos = this.delimited(limit);
    else if (this.wireType === VARINT) this.readVarint64();
    else this.skip(this.wireType, field);
  }

  /** A uint64 id as an exact key: the id itself up to 2^53, else a negative number unique to it. */
  id(): number {
    const buf = this.buffer;
    const pos = this.pos;
    const b = buf[pos];
    if (b < 0x80) {
      this.pos = pos + 1;
      return b;
    }
    // Ids below 16384, most of them in practice, take at most two bytes.
    const b1 = buf[pos + 1];
    if (b1 < 0x80) {
      this.pos = pos + 2;
      return (b & 0x7f) | (b1 << 7);
    }
    this.readVarint64();
    if (this.hi < SAFE_HI) return this.hi * TWO_32 + this.lo;
    const big = this.big();
    let key = this.bigIds.get(big);
    if (key === undefined) this.bigIds.set(big, (key = -1 - this.bigIds.size));
    return key;
  }

  /** An int64 as the nearest double (exact within ±2^53, like Number(BigInt)). */
  int64Number(): number {
    const b = this.buffer[this.pos];
    if (b < 0x80) {
      this.pos++;
      return b;
    }
    this.readVarint64();
    if (this.hi < SAFE_HI) return this.hi * TWO_32 + this.lo;
    return Number(BigInt.asIntN(64, this.big()));
  }

  /** A uint64 as an exact BigInt (addresses, mapping ranges). */
  uint64Big(): bigint {
    const b = this.buffer[this.pos];
    if (b === 0) {
      this.pos++;
      return 0n;
    }
    this.readVarint64();
    return this.hi < SAFE_HI ? BigInt(this.hi * TWO_32 + this.lo) : this.big();
  }

  /** An int64 string-table index; -1 when negative or too large to index any table. */
  index(): number {
    const b = this.buffer[this.pos];
    if (b < 0x80) {
      this.pos++;
      return b;
    }
    this.readVarint64();
    return this.hi === 0 && this.lo <= 0x7fffffff ? this.lo : -1;
  }

  /** Checks and discards a varint of a field the pipeline does not use. */
  skipVarint(): void {
    this.readVarint64();
  }

  /** Reads a length prefix; returns where the delimited bytes end, which must be within `limit`. */
  delimited(limit: number): number {
    const b = this.buffer[this.pos];
    let length: number;
    if (b < 0x80) {
      this.pos++;
      length = b;
    } else {
      this.readVarint64();
      length = this.hi === 0 ? this.lo : Infinity;
    }
    const end = this.pos + length;
    if (end > limit) throw new Error(`length ${length} at offset ${this.pos} runs past its message`);
    return end;
  }

  /** Ends a nested message: its last field must stop exactly at its end. */
  finish(end: number): void {
    if (this.pos !== end) throw new Error(`a field overruns its message ending at offset ${end}`);
  }

  private big(): bigint {
    return (BigInt(this.hi) << 32n) | BigInt(this.lo);
  }

  /** Reads one varint of at most 10 bytes into lo/hi, the low and high halves of its 64 bits. */
  private readVarint64(): void {
    const buf = this.buffer;
    let pos = this.pos;
    let lo = 0;
    let hi = 0;
    // Past the end a read gives undefined, which ends the varint; the bounds check below refuses it.
    let b = 0x80;
    for (let shift = 0; shift < 28 && b & 0x80; shift += 7) {
      b = buf[pos++];
      lo |= (b & 0x7f) << shift;
    }
    if (b & 0x80) {
      b = buf[pos++];
      lo |= (b & 0x0f) << 28;
      hi = (b & 0x7f) >> 4;
      for (let shift = 3; shift < 38 && b & 0x80; shift += 7) {
        b = buf[pos++];
        hi |= (b & 0x7f) << shift;
      }
      if (b & 0x80) throw new Error(`varint at offset ${this.pos} is longer than 10 bytes`);
    }
    if (pos > this.len) throw new Error(`varint at offset ${this.pos} is cut off by the end of the data`);
    this.pos = pos;
    this.lo = lo >>> 0;
    this.hi = hi >>> 0;
  }
}
