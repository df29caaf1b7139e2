// Builds the pprof pipeline's tables (PprofProfile) for one OTLP profile, or one service group of
// it, from samples that reference the request's shared dictionary (spec OTLP.md §4.8, §4.9).
// Unlike assemble.ts's name-only frames, OTLP frames are native addresses in mappings, sometimes
// with lines: mappings, locations, functions and strings are copied from the dictionary on first
// use, so the profile holds only what its samples reference.
//
// Every index is bounds-checked as Pyroscope's converter does, with its error wording (§4.12);
// index 0 is an ordinary entry, the dictionaries need not start with a zero element (§2.5).

import { F64Column, I32Column, U64Column } from "../block/columns";
import type { Location, ProfilesDictionary, Sample } from "../gen/opentelemetry/proto/profiles/v1development/profiles_pb";
import { invalid, type IngestError } from "./errors";
import { attributeString, SERVICE_NAME_ATTRIBUTE } from "./otlp-labels";
import type { PprofProfile, ValueTypeRef } from "./pprof-decode";
import { toHex } from "../util/hex";
import { utf8Length } from "./string-table";

/** A refusal of the whole request: `reason` in Pyroscope's words (§4.12). */
export function conversionError(reason: string): IngestError {
  return invalid("malformed_profile", `failed to convert otel profile: ${reason}`);
}

// pprof mapping flags as the block format stores them (block/README.md); has_inline_frames is
// never set by Pyroscope's converter (§4.9 step 3).
const HAS_FUNCTIONS = 1;
const HAS_FILENAMES = 2;
const HAS_LINE_NUMBERS = 4;
const FLAG_COMBINATIONS = 8;

const BUILD_ID_ATTRIBUTE = "process.executable.build_id.gnu";
/** Pyroscope's duration for a profile without one (§4.6). */
const DEFAULT_DURATION_NANOS = 10_000_000_000n;

// Bytes of the pprof encoding per entry, rounded up: the size limit is checked against this
// estimate while samples are added, which also bounds the memory a small request that
// references deep stacks many times can make the conversion use.
const SAMPLE_BYTES = 4;
const LOCATION_REF_BYTES = 2;
const VALUE_BYTES = 8;
const LABEL_BYTES = 8;
const LOCATION_BYTES = 16;
const LINE_BYTES = 6;
const FUNCTION_BYTES = 12;
const MAPPING_BYTES = 40;
const STRING_BYTES = 2;

export interface BuilderShape {
  sampleType: readonly [type: string, unit: string];
  periodType: readonly [type: string, unit: string] | undefined;
  timeNanos: bigint;
  durationNanos: bigint;
}

export class OtlpPprofBuilder {
  /** Estimated size of the profile's pprof encoding, in bytes. */
  size = 0;

  private readonly strings: string[] = [""];
  private readonly stringIds = new Map<string, number>([["", 0]]);
  private readonly sampleTypes: ValueTypeRef[];
  private readonly periodType: ValueTypeRef | undefined;

  // Per dictionary entry: its position here + 1, 0 = not copied yet. Mappings are keyed by
  // (dictionary mapping, flags), since the flags are decided per sample (§4.9 step 3).
  private readonly stringPos: Int32Array;
  private readonly locationPos: Int32Array;
  private readonly functionPos: Int32Array;
  private readonly mappingPos: Int32Array;
  // The flags of each dictionary mapping within the current sample: valid where stamp matches.
  private readonly mappingStamp: Int32Array;
  private readonly mappingFlagsInSample: Int32Array;
  private stamp = 0;

  private readonly sampleLocationStart = new I32Column();
  private readonly sampleLocations = new I32Column();
  private readonly sampleValueStart = new I32Column();
  private readonly sampleValues = new F64Column();
  private readonly sampleLabelStart = new I32Column();
  private readonly labelKey = new I32Column();
  private readonly labelStr = new I32Column();

  private readonly mappingStart = new U64Column();
  private readonly mappingLimit = new U64Column();
  private readonly mappingOffset = new U64Column();
  private readonly mappingFile = new I32Column();
  private readonly mappingBuildId = new I32Column();
  private readonly mappingFlags = new I32Column();

  private readonly locationMappingId = new F64Column();
  private readonly locationAddress = new U64Column();
  private readonly locationLineStart = new I32Column();
  private readonly lineFunctionId = new F64Column();
  private readonly lineNumber = new F64Column();

  private readonly functionName = new I32Column();
  private readonly functionSystemName = new I32Column();
  private readonly functionFile = new I32Column();
  private readonly functionStartLine = new F64Column();

  constructor(
    private readonly dict: ProfilesDictionary,
    private readonly shape: BuilderShape,
  ) {
    this.stringPos = new Int32Array(dict.stringTable.length);
    this.locationPos = new Int32Array(dict.locationTable.length);
    this.functionPos = new Int32Array(dict.functionTable.length);
    this.mappingPos = new Int32Array(dict.mappingTable.length * FLAG_COMBINATIONS);
    this.mappingStamp = new Int32Array(dict.mappingTable.length);
    this.mappingFlagsInSample = new Int32Array(dict.mappingTable.length);
    const ref = ([type, unit]: readonly [string, string]): ValueTypeRef => ({ type: this.string(type), unit: this.string(unit) });
    this.sampleTypes = [ref(shape.sampleType)];
    this.periodType = shape.periodType && ref(shape.periodType);
    this.sampleLocationStart.push(0);
    this.sampleValueStart.push(0);
    this.sampleLabelStart.push(0);
    this.locationLineStart.push(0);
  }

  /** Adds sample `s` with its converted `values`: labels first, then the stack (§4.7 step 4). */
  sample(s: Sample, values: readonly number[]): void {
    for (const v of values) this.sampleValues.push(v);
    this.sampleValueStart.push(this.sampleValues.length);
    this.labels(s);
    this.stack(s.stackIndex);
    this.size += SAMPLE_BYTES + VALUE_BYTES * values.length;
  }

  finish(): PprofProfile {
    const ids = (n: number) => Float64Array.from({ length: n }, (_, i) => i + 1);
    const labels = this.labelKey.length;
    return {
      strings: this.strings,
      // Strings were decoded by the protobuf decoder, which replaces invalid UTF-8.
      invalidUtf8: undefined,
      sampleTypes: this.sampleTypes,
      periodType: this.periodType,
      timeNanos: this.shape.timeNanos,
      durationNanos: this.shape.durationNanos === 0n ? DEFAULT_DURATION_NANOS : this.shape.durationNanos,
      sampleLocationStart: this.sampleLocationStart.view(),
      sampleLocations: this.sampleLocations.view(),
      sampleValueStart: this.sampleValueStart.view(),
      sampleValues: this.sampleValues.view(),
      sampleLabelStart: this.sampleLabelStart.view(),
      labelKey: this.labelKey.view(),
      labelStr: this.labelStr.view(),
      labelNumUnit: new Int32Array(labels),
      mappingId: ids(this.mappingFile.length),
      mappingStart: this.mappingStart.view(),
      mappingLimit: this.mappingLimit.view(),
      mappingOffset: this.mappingOffset.view(),
      mappingFile: this.mappingFile.view(),
      mappingBuildId: this.mappingBuildId.view(),
      mappingFlags: this.mappingFlags.view(),
      locationId: ids(this.locationAddress.length),
      locationMappingId: this.locationMappingId.view(),
      locationAddress: this.locationAddress.view(),
      locationLineStart: this.locationLineStart.view(),
      lineFunctionId: this.lineFunctionId.view(),
      lineNumber: this.lineNumber.view(),
      functionId: ids(this.functionName.length),
      functionName: this.functionName.view(),
      functionSystemName: this.functionSystemName.view(),
      functionFile: this.functionFile.view(),
      functionStartLine: this.functionStartLine.view(),
    };
  }

  /** Sample attributes and the link as pprof string labels (§4.8). */
  private labels(s: Sample): void {
    const { attributeTable, stringTable, linkTable } = this.dict;
    const indices = s.attributeIndices;
    for (let i = 0; i < indices.length; i++) {
      const idx = indices[i];
      if (idx < 0 || idx >= attributeTable.length) {
        throw conversionError(`could not access attribute at index ${i}: index ${idx} out of bounds`);
      }
      const attr = attributeTable[idx];
      // The per-sample service name chose this profile's series; it is no sample label (§4.4).
      if (stringTable[attr.keyStrindex] === SERVICE_NAME_ATTRIBUTE) continue;
      const value = attributeString(attr.value);
      if (value === "") continue;
      this.label(this.dictString(attr.keyStrindex, "could not access attribute key"), this.string(value));
    }
    if (s.linkIndex !== 0) {
      const n = s.linkIndex;
      if (n < 0 || n >= linkTable.length) throw conversionError(`could not access link at index ${n}: index ${n} out of bounds`);
      const link = linkTable[n];
      this.label(this.string("span_id"), this.string(toHex(link.spanId)));
      if (link.traceId.length === 16) this.label(this.string("trace_id"), this.string(toHex(link.traceId)));
    }
    this.sampleLabelStart.push(this.labelKey.length);
  }

  private label(key: number, str: number): void {
    this.labelKey.push(key);
    this.labelStr.push(str);
    this.size += LABEL_BYTES;
  }

  /**
   * The stack's locations, leaf first. A first pass decides each mapping's flags over this
   * sample's locations; the second copies locations not seen before, with the mapping of
   * those flags (a location keeps the mapping of the sample that first used it, §4.9 step 4).
   */
  private stack(stackIndex: number): void {
    const { stackTable, locationTable, mappingTable } = this.dict;
    if (stackIndex < 0 || stackIndex >= stackTable.length) throw conversionError(`invalid stack index: ${stackIndex}`);
    const locations = stackTable[stackIndex].locationIndices;
    const stamp = ++this.stamp;
    for (const idx of locations) {
      if (idx < 0 || idx >= locationTable.length) {
        throw conversionError(`could not access location at index ${idx}: index ${idx} out of bounds`);
      }
      const loc = locationTable[idx];
      const m = loc.mappingIndex;
      if (m < 0 || m >= mappingTable.length) throw conversionError(`could not access mapping at index ${m}: index ${m} out of bounds`);
      if (this.mappingStamp[m] !== stamp) {
        this.mappingStamp[m] = stamp;
        this.mappingFlagsInSample[m] = HAS_FUNCTIONS | HAS_FILENAMES | HAS_LINE_NUMBERS;
      }
      this.mappingFlagsInSample[m] = this.flagsWith(this.mappingFlagsInSample[m], loc);
    }
    for (const idx of locations) this.sampleLocations.push(this.location(idx));
    this.sampleLocationStart.push(this.sampleLocations.length);
    this.size += LOCATION_REF_BYTES * locations.length;
  }

  /** `flags` restricted by one more location of the mapping (§4.9 step 3). */
  private flagsWith(flags: number, loc: Location): number {
    if (loc.lines.length === 0) return 0;
    const functions = this.dict.functionTable;
    for (const line of loc.lines) {
      const fi = line.functionIndex;
      if (fi <= 0) flags &= ~HAS_FUNCTIONS;
      else if (fi < functions.length && functions[fi].filenameStrindex <= 0) flags &= ~HAS_FILENAMES;
      if (line.line <= 0n) flags &= ~HAS_LINE_NUMBERS;
    }
    return flags;
  }

  /** The position of dictionary location `idx` (in range), copied on first use. */
  private location(idx: number): number {
    const known = this.locationPos[idx];
    if (known !== 0) return known - 1;
    const loc = this.dict.locationTable[idx];
    const mappingId = this.mapping(loc.mappingIndex, this.mappingFlagsInSample[loc.mappingIndex]);
    for (let i = 0; i < loc.lines.length; i++) {
      const line = loc.lines[i];
      this.lineFunctionId.push(this.function(line.functionIndex, i) + 1);
      this.lineNumber.push(Number(line.line));
    }
    const pos = this.locationAddress.push(loc.address);
    this.locationMappingId.push(mappingId);
    this.locationLineStart.push(this.lineFunctionId.length);
    this.locationPos[idx] = pos + 1;
    this.size += LOCATION_BYTES + LINE_BYTES * loc.lines.length;
    return pos;
  }

  /** The pprof id of dictionary mapping `m` (in range) with `flags`, copied on first use. */
  private mapping(m: number, flags: number): number {
    const key = m * FLAG_COMBINATIONS + flags;
    const known = this.mappingPos[key];
    if (known !== 0) return known;
    const mapping = this.dict.mappingTable[m];
    this.mappingFile.push(this.dictString(mapping.filenameStrindex, "could not access mapping file name string"));
    this.mappingBuildId.push(this.string(this.buildId(mapping.attributeIndices)));
    this.mappingStart.push(mapping.memoryStart);
    this.mappingLimit.push(mapping.memoryLimit);
    this.mappingOffset.push(mapping.fileOffset);
    this.mappingFlags.push(flags);
    this.size += MAPPING_BYTES;
    return (this.mappingPos[key] = this.mappingFile.length);
  }

  /** The GNU build id among a mapping's attributes; other build id kinds are not pprof's. */
  private buildId(indices: readonly number[]): string {
    const { attributeTable, stringTable } = this.dict;
    for (const idx of indices) {
      // Unresolvable attributes are skipped, as Pyroscope ignores lookup errors here.
      const attr = attributeTable[idx];
      if (attr !== undefined && stringTable[attr.keyStrindex] === BUILD_ID_ATTRIBUTE) return attributeString(attr.value);
    }
    return "";
  }

  /** The position of dictionary function `fi` of line `line`, copied on first use. */
  private function(fi: number, line: number): number {
    const functions = this.dict.functionTable;
    const where = `could not process line at index ${line}`;
    if (fi < 0 || fi >= functions.length) throw conversionError(`${where}: could not access function: index ${fi} out of bounds`);
    const known = this.functionPos[fi];
    if (known !== 0) return known - 1;
    const fn = functions[fi];
    const name = this.dictString(fn.nameStrindex, `${where}: could not access function name string`);
    const systemName = this.dictString(fn.systemNameStrindex, `${where}: could not access function system name string`);
    const file = this.dictString(fn.filenameStrindex, `${where}: could not access function file name string`);
    const pos = this.functionName.push(name);
    this.functionSystemName.push(systemName);
    this.functionFile.push(file);
    this.functionStartLine.push(Number(fn.startLine));
    this.functionPos[fi] = pos + 1;
    this.size += FUNCTION_BYTES;
    return pos;
  }

  /** The index here of dictionary string `i`; `what` names it in the out-of-range refusal. */
  private dictString(i: number, what: string): number {
    const table = this.dict.stringTable;
    if (i < 0 || i >= table.length) throw conversionError(`${what}: index ${i} out of bounds`);
    const known = this.stringPos[i];
    if (known !== 0) return known - 1;
    const pos = this.string(table[i]);
    this.stringPos[i] = pos + 1;
    return pos;
  }

  private string(s: string): number {
    let id = this.stringIds.get(s);
    if (id === undefined) {
      id = this.strings.push(s) - 1;
      this.stringIds.set(s, id);
      this.size += STRING_BYTES + utf8Length(s);
    }
    return id;
  }
}
