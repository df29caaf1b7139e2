// Decodes a pprof Profile (google/pprof profile.proto, as Pyroscope's decoder knows it) straight
// into flat typed arrays: no object per sample, location, line or function. Like Go's decoder, a
// known field with the wrong wire type, a truncated or overlong varint, or a length running past
// its message is an error; repeated scalars may come packed or unpacked; fields Pyroscope's proto
// lacks (Profile.doc_url, Line.column, …) are skipped.
//
// Two passes: the first decodes everything but the samples and counts what those hold; the second
// decodes the samples into arrays of exactly that size, resolving their location ids to location
// positions on the way (producers usually write samples before locations). Other references stay
// ids until pprof-tables.ts resolves them, after the spy fixes that may rewrite function ids.

import { room } from "./pprof-grow";
import { IdIndex } from "./pprof-ids";
import { PprofReader, WireType } from "./pprof-wire";
import { toHex } from "../util/hex";
import { isValidUtf8 } from "./utf8";
import type { MappingColumns } from "../block/builder";

export interface ValueTypeRef {
  /** String-table indices; -1 when the sent index is negative or huge. */
  type: number;
  unit: number;
}

/**
 * One decoded pprof. String-table indices are Int32 with -1 for unusable values; ids are exact
 * numbers (ids above 2^53 are negative stand-ins, see PprofReader.id); int64 values are doubles.
 * Per-entity arrays have exactly one entry per message; `*Start` arrays have one more, so entity
 * i owns [start[i], start[i+1]) of the flat arrays they index.
 */
export interface PprofProfile extends MappingColumns {
  strings: string[];
  /** Hex of the first string-table entry that is not valid UTF-8 (refused during validation). */
  invalidUtf8: string | undefined;
  sampleTypes: ValueTypeRef[];
  periodType: ValueTypeRef | undefined;
  timeNanos: bigint;
  durationNanos: bigint;

  /** Per sample its locations, leaf first as sent: positions in the location arrays, -1 = unknown id. */
  sampleLocationStart: Int32Array;
  sampleLocations: Int32Array;
  sampleValueStart: Int32Array;
  sampleValues: Float64Array;
  sampleLabelStart: Int32Array;
  labelKey: Int32Array;
  labelStr: Int32Array;
  labelNumUnit: Int32Array;

  mappingId: Float64Array;

  locationId: Float64Array;
  /** 0 = no mapping. */
  locationMappingId: Float64Array;
  locationAddress: BigUint64Array;
  /** Lines per location, innermost first as sent. */
  locationLineStart: Int32Array;
  lineFunctionId: Float64Array;
  lineNumber: Float64Array;

  functionId: Float64Array;
  functionName: Int32Array;
  functionSystemName: Int32Array;
  functionFile: Int32Array;
  functionStartLine: Float64Array;
}

/** Decodes a decompressed pprof; throws an Error describing the first wire-format problem. */
export function decodeProfile(bytes: Uint8Array): PprofProfile {
  const d = new ProfileDecoder(bytes);
  d.decodeAllButSamples();
  d.decodeSamples();
  return d.result();
}

// Go keeps a leading U+FEFF in a string; so does this decoder. Invalid bytes become U+FFFD here
// but are judged on the raw bytes.
const utf8 = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });

const LD = WireType.LengthDelimited;
const VARINT = WireType.Varint;

/** Entries of a packed varint field: each ends with the one byte below 0x80. */
function packedCount(bytes: Uint8Array, start: number, end: number): number {
  // Summing continuation bits has no branch to mispredict on mixed-length varints.
  let continued = 0;
  for (let i = start; i < end; i++) continued += bytes[i] >> 7;
  return end - start - continued;
}

class ProfileDecoder {
  private readonly r: PprofReader;
  private readonly end: number;

  private readonly strings: string[] = [];
  private invalidUtf8: string | undefined = undefined;
  private readonly sampleTypes: ValueTypeRef[] = [];
  private periodType: ValueTypeRef | undefined = undefined;
  private timeNanos = 0n;
  private durationNanos = 0n;

  // Sample entries: counted by the first pass, allocated and filled by the second.
  private samples = 0;
  /** Where each sample message starts and ends, so the second pass reads only those. */
  private sampleBounds = new Int32Array(0);
  private sampleLocationCount = 0;
  private valueCount = 0;
  private labelCount = 0;
  private sampleLocationStart = new Int32Array(0);
  private sampleLocations = new Int32Array(0);
  private sampleValueStart = new Int32Array(0);
  private sampleValues = new Float64Array(0);
  private sampleLabelStart = new Int32Array(0);
  private labelKey = new Int32Array(0);
  private labelStr = new Int32Array(0);
  private labelNumUnit = new Int32Array(0);

  // Everything else grows as the first pass meets it.
  private mappings = 0;
  private mappingId = new Float64Array(0);
  private mappingStart = new BigUint64Array(0);
  private mappingLimit = new BigUint64Array(0);
  private mappingOffset = new BigUint64Array(0);
  private mappingFile = new Int32Array(0);
  private mappingBuildId = new Int32Array(0);
  private mappingFlags = new Int32Array(0);

  private locations = 0;
  private locationId = new Float64Array(0);
  private locationMappingId = new Float64Array(0);
  private locationAddress = new BigUint64Array(0);
  private locationLineStart = new Int32Array(0);
  private lines = 0;
  private lineFunctionId = new Float64Array(0);
  private lineNumber = new Float64Array(0);

  private functions = 0;
  private functionId = new Float64Array(0);
  private functionName = new Int32Array(0);
  private functionSystemName = new Int32Array(0);
  private functionFile = new Int32Array(0);
  private functionStartLine = new Float64Array(0);

  constructor(private readonly bytes: Uint8Array) {
    this.r = new PprofReader(bytes);
    this.end = bytes.length;
  }

  decodeAllButSamples(): void {
    const r = this.r;
    const end = this.end;
    while (r.pos < end) {
      const field = r.field();
      switch (field) {
        case 1:
          this.sampleTypes.push(this.valueType(this.message(end, "Profile", 1), { type: 0, unit: 0 }));
          break;
        case 2:
          this.countSample(this.message(end, "Profile", 2));
          break;
        case 3:
          this.mapping(this.message(end, "Profile", 3));
          break;
        case 4:
          this.location(this.message(end, "Profile", 4));
          break;
        case 5:
          this.function(this.message(end, "Profile", 5));
          break;
        case 6:
          this.string(this.message(end, "Profile", 6));
          break;
        case 9:
          r.expect(VARINT, "Profile", 9);
          this.timeNanos = BigInt(r.int64());
          break;
        case 10:
          r.expect(VARINT, "Profile", 10);
          this.durationNanos = BigInt(r.int64());
          break;
        case 11:
          // A repeated singular message merges into the first, as in Go.
          this.periodType = this.valueType(this.message(end, "Profile", 11), this.periodType ?? { type: 0, unit: 0 });
          break;
        case 7: // drop_frames
        case 8: // keep_frames
        case 12: // period
        case 14: // default_sample_type
          r.expect(VARINT, "Profile", field);
          r.skipVarint();
          break;
        case 13: // comment
          this.unusedRepeatedVarint(end, "Profile", 13);
          break;
        default:
          r.skipField(field, end);
      }
    }
  }

  /** The second pass, over the samples only. */
  decodeSamples(): void {
    const n = this.samples;
    this.sampleLocationStart = new Int32Array(n + 1);
    this.sampleLocations = new Int32Array(this.sampleLocationCount);
    this.sampleValueStart = new Int32Array(n + 1);
    this.sampleValues = new Float64Array(this.valueCount);
    this.sampleLabelStart = new Int32Array(n + 1);
    this.labelKey = new Int32Array(this.labelCount);
    this.labelStr = new Int32Array(this.labelCount);
    this.labelNumUnit = new Int32Array(this.labelCount);
    // The counts become fill positions.
    this.samples = this.sampleLocationCount = this.valueCount = this.labelCount = 0;

    const locations = new IdIndex(this.locationId.subarray(0, this.locations));
    for (let s = 0; s < n; s++) {
      this.r.pos = this.sampleBounds[2 * s];
      this.sample(this.sampleBounds[2 * s + 1], locations);
    }
    this.sampleLocationStart[n] = this.sampleLocationCount;
    this.sampleValueStart[n] = this.valueCount;
    this.sampleLabelStart[n] = this.labelCount;
  }

  /** The end of a nested message (or string) field. */
  private message(limit: number, message: string, field: number): number {
    this.r.expect(LD, message, field);
    return this.r.delimited(limit);
  }

  private valueType(end: number, into: ValueTypeRef): ValueTypeRef {
    const r = this.r;
    while (r.pos < end) {
      const field = r.field();
      if (field === 1) {
        r.expect(VARINT, "ValueType", 1);
        into.type = r.index();
      } else if (field === 2) {
        r.expect(VARINT, "ValueType", 2);
        into.unit = r.index();
      } else r.skipField(field, end);
    }
    r.finish(end);
    return into;
  }

  /** First pass over a sample: counts its entries (the second pass checks their contents). */
  private countSample(end: number): void {
    const r = this.r;
    const s = this.samples++;
    if (2 * s + 2 > this.sampleBounds.length) this.sampleBounds = room(this.sampleBounds, 2 * s + 2);
    this.sampleBounds[2 * s] = r.pos;
    this.sampleBounds[2 * s + 1] = end;
    while (r.pos < end) {
      const field = r.field();
      const wt = r.wireType;
      if (field === 1 || field === 2) {
        let n = 1;
        if (wt === LD) {
          const stop = r.delimited(end);
          n = packedCount(this.bytes, r.pos, stop);
          r.pos = stop;
        } else {
          r.expect(VARINT, "Sample", field);
          r.skipVarint();
        }
        if (field === 1) this.sampleLocationCount += n;
        else this.valueCount += n;
      } else if (field === 3) {
        r.pos = this.message(end, "Sample", 3);
        this.labelCount++;
      } else r.skipField(field, end);
    }
    r.finish(end);
  }

  /** Second pass over a sample, into room the first pass counted. */
  private sample(end: number, locations: IdIndex): void {
    const r = this.r;
    const s = this.samples++;
    this.sampleLocationStart[s] = this.sampleLocationCount;
    this.sampleValueStart[s] = this.valueCount;
    this.sampleLabelStart[s] = this.labelCount;
    const positions = this.sampleLocations;
    const values = this.sampleValues;
    while (r.pos < end) {
      const field = r.field();
      const wt = r.wireType;
      // The first pass checked the wire types of these fields.
      if (field === 1) {
        let n = this.sampleLocationCount;
        if (wt === LD) {
          const stop = r.delimited(end);
          while (r.pos < stop) positions[n++] = locations.get(r.id());
          r.finish(stop);
        } else positions[n++] = locations.get(r.id());
        this.sampleLocationCount = n;
      } else if (field === 2) {
        let n = this.valueCount;
        if (wt === LD) {
          const stop = r.delimited(end);
          while (r.pos < stop) values[n++] = r.int64Number();
          r.finish(stop);
        } else values[n++] = r.int64Number();
        this.valueCount = n;
      } else if (field === 3) this.label(r.delimited(end), this.labelCount++);
      else r.skipField(field, end);
    }
    r.finish(end);
  }

  private unusedRepeatedVarint(limit: number, message: string, field: number): void {
    const r = this.r;
    if (r.wireType !== LD) {
      r.expect(VARINT, message, field);
      r.skipVarint();
      return;
    }
    const end = r.delimited(limit);
    while (r.pos < end) r.skipVarint();
    r.finish(end);
  }

  private label(end: number, i: number): void {
    const r = this.r;
    while (r.pos < end) {
      const field = r.field();
      if (field >= 1 && field <= 4) {
        r.expect(VARINT, "Label", field);
        if (field === 1) this.labelKey[i] = r.index();
        else if (field === 2) this.labelStr[i] = r.index();
        else if (field === 4) this.labelNumUnit[i] = r.index();
        else r.skipVarint(); // num
      } else r.skipField(field, end);
    }
    r.finish(end);
  }

  private mapping(end: number): void {
    const r = this.r;
    const i = this.mappings++;
    if (i + 1 > this.mappingId.length) this.growMappings(i + 1);
    while (r.pos < end) {
      const field = r.field();
      if (field < 1 || field > 10) {
        r.skipField(field, end);
        continue;
      }
      r.expect(VARINT, "Mapping", field);
      if (field === 1) this.mappingId[i] = r.id();
      else if (field === 2) this.mappingStart[i] = r.uint64Big();
      else if (field === 3) this.mappingLimit[i] = r.uint64Big();
      else if (field === 4) this.mappingOffset[i] = r.uint64Big();
      else if (field === 5) this.mappingFile[i] = r.index();
      else if (field === 6) this.mappingBuildId[i] = r.index();
      else {
        // has_functions (7) … has_inline_frames (10)
        const bit = 1 << (field - 7);
        this.mappingFlags[i] = r.bool() ? this.mappingFlags[i] | bit : this.mappingFlags[i] & ~bit;
      }
    }
    r.finish(end);
  }

  private location(end: number): void {
    const r = this.r;
    const i = this.locations++;
    // One more line start than locations: the final end offset.
    if (i + 2 > this.locationId.length) this.growLocations(i + 2);
    this.locationLineStart[i] = this.lines;
    while (r.pos < end) {
      const field = r.field();
      switch (field) {
        case 1:
          r.expect(VARINT, "Location", 1);
          this.locationId[i] = r.id();
          break;
        case 2:
          r.expect(VARINT, "Location", 2);
          this.locationMappingId[i] = r.id();
          break;
        case 3:
          r.expect(VARINT, "Location", 3);
          this.locationAddress[i] = r.uint64Big();
          break;
        case 4:
          this.line(this.message(end, "Location", 4));
          break;
        case 5: // is_folded
          r.expect(VARINT, "Location", 5);
          r.skipVarint();
          break;
        default:
          r.skipField(field, end);
      }
    }
    r.finish(end);
  }

  private line(end: number): void {
    const r = this.r;
    const i = this.lines++;
    if (i + 1 > this.lineFunctionId.length) this.growLines(i + 1);
    while (r.pos < end) {
      const field = r.field();
      if (field === 1) {
        r.expect(VARINT, "Line", 1);
        this.lineFunctionId[i] = r.id();
      } else if (field === 2) {
        r.expect(VARINT, "Line", 2);
        this.lineNumber[i] = r.int64Number();
      } else r.skipField(field, end);
    }
    r.finish(end);
  }

  private function(end: number): void {
    const r = this.r;
    const i = this.functions++;
    if (i + 1 > this.functionId.length) this.growFunctions(i + 1);
    while (r.pos < end) {
      const field = r.field();
      if (field < 1 || field > 5) {
        r.skipField(field, end);
        continue;
      }
      r.expect(VARINT, "Function", field);
      if (field === 1) this.functionId[i] = r.id();
      else if (field === 2) this.functionName[i] = r.index();
      else if (field === 3) this.functionSystemName[i] = r.index();
      else if (field === 4) this.functionFile[i] = r.index();
      else this.functionStartLine[i] = r.int64Number();
    }
    r.finish(end);
  }

  private string(end: number): void {
    const start = this.r.pos;
    const raw = this.bytes.subarray(start, end);
    const s = utf8.decode(raw);
    this.strings.push(s);
    // Invalid bytes always decode to U+FFFD, so only such strings need their bytes judged.
    if (this.invalidUtf8 === undefined && s.includes("\uFFFD") && !isValidUtf8(this.bytes, start, end)) {
      this.invalidUtf8 = toHex(raw);
    }
    this.r.pos = end;
  }

  // Each entity's arrays grow together, so one length check per message covers them all.

  private growMappings(n: number): void {
    this.mappingId = room(this.mappingId, n);
    this.mappingStart = room(this.mappingStart, n);
    this.mappingLimit = room(this.mappingLimit, n);
    this.mappingOffset = room(this.mappingOffset, n);
    this.mappingFile = room(this.mappingFile, n);
    this.mappingBuildId = room(this.mappingBuildId, n);
    this.mappingFlags = room(this.mappingFlags, n);
  }

  private growLocations(n: number): void {
    this.locationId = room(this.locationId, n);
    this.locationMappingId = room(this.locationMappingId, n);
    this.locationAddress = room(this.locationAddress, n);
    this.locationLineStart = room(this.locationLineStart, n);
  }

  private growLines(n: number): void {
    this.lineFunctionId = room(this.lineFunctionId, n);
    this.lineNumber = room(this.lineNumber, n);
  }

  private growFunctions(n: number): void {
    this.functionId = room(this.functionId, n);
    this.functionName = room(this.functionName, n);
    this.functionSystemName = room(this.functionSystemName, n);
    this.functionFile = room(this.functionFile, n);
    this.functionStartLine = room(this.functionStartLine, n);
  }

  result(): PprofProfile {
    const nl = this.locations;
    this.growLocations(nl + 1);
    this.locationLineStart[nl] = this.lines;
    const nm = this.mappings;
    const nf = this.functions;
    return {
      strings: this.strings,
      invalidUtf8: this.invalidUtf8,
      sampleTypes: this.sampleTypes,
      periodType: this.periodType,
      timeNanos: this.timeNanos,
      durationNanos: this.durationNanos,
      sampleLocationStart: this.sampleLocationStart,
      sampleLocations: this.sampleLocations,
      sampleValueStart: this.sampleValueStart,
      sampleValues: this.sampleValues,
      sampleLabelStart: this.sampleLabelStart,
      labelKey: this.labelKey,
      labelStr: this.labelStr,
      labelNumUnit: this.labelNumUnit,
      mappingId: this.mappingId.subarray(0, nm),
      mappingStart: this.mappingStart.subarray(0, nm),
      mappingLimit: this.mappingLimit.subarray(0, nm),
      mappingOffset: this.mappingOffset.subarray(0, nm),
      mappingFile: this.mappingFile.subarray(0, nm),
      mappingBuildId: this.mappingBuildId.subarray(0, nm),
      mappingFlags: this.mappingFlags.subarray(0, nm),
      locationId: this.locationId.subarray(0, nl),
      locationMappingId: this.locationMappingId.subarray(0, nl),
      locationAddress: this.locationAddress.subarray(0, nl),
      locationLineStart: this.locationLineStart.subarray(0, nl + 1),
      lineFunctionId: this.lineFunctionId.subarray(0, this.lines),
      lineNumber: this.lineNumber.subarray(0, this.lines),
      functionId: this.functionId.subarray(0, nf),
      functionName: this.functionName.subarray(0, nf),
      functionSystemName: this.functionSystemName.subarray(0, nf),
      functionFile: this.functionFile.subarray(0, nf),
      functionStartLine: this.functionStartLine.subarray(0, nf),
    };
  }
}
