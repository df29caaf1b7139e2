// A validated pprof as flat typed tables, with Pyroscope's normalisation (spec API.md §2.2 step 8)
// folded in: references resolved from ids to indices, unusable locations (unknown mapping or
// function, or neither address nor lines) and the samples using them marked dropped, as are
// samples with no positive value. Numbers are converted once here so that the writer's per-sample
// loops read plain typed arrays.

import type { Profile } from "pprof-format";
import { idKey, int64, isZero, tableIndex, uint64 } from "./pprof-numeric";

const HAS_FUNCTIONS = 1;

export interface PprofTables {
  strings: readonly string[];
  sampleTypes: number;

  // Mappings, by position in the pprof.
  mappingStart: bigint[];
  mappingLimit: bigint[];
  mappingOffset: bigint[];
  mappingFile: Int32Array;
  mappingBuildId: Int32Array;
  /** BlockBuilder's mapping flags: bit 0 has_functions, 1 filenames, 2 line numbers, 3 inline frames. */
  mappingFlags: Int32Array;

  // Functions, by position; names are string-table indices.
  functionName: Int32Array;
  functionSystemName: Int32Array;
  functionFile: Int32Array;
  functionStartLine: Float64Array;

  // Locations, by position: mapping position or -1, lines [lineStart[i], lineStart[i+1]) innermost first.
  locationMapping: Int32Array;
  locationAddress: bigint[];
  locationLineStart: Int32Array;
  lineFunction: Int32Array;
  lineNumber: Float64Array;
  maxLinesPerLocation: number;

  // Samples: locations root first [sampleLocationStart[s], sampleLocationStart[s+1]), values row-major.
  sampleLocationStart: Int32Array;
  sampleLocations: Int32Array;
  values: Float64Array;
  /** 1 when the sample survives normalisation. */
  keep: Uint8Array;
}

export function tabulate(p: Profile): PprofTables {
  const strings = p.stringTable.strings;

  const mappingById = new Map<number | bigint, number>();
  const nm = p.mapping.length;
  const mappingStart: bigint[] = [];
  const mappingLimit: bigint[] = [];
  const mappingOffset: bigint[] = [];
  const mappingFile = new Int32Array(nm);
  const mappingBuildId = new Int32Array(nm);
  const mappingFlags = new Int32Array(nm);
  p.mapping.forEach((m, i) => {
    mappingById.set(idKey(m.id), i);
    const flags = (m.hasFunctions ? 1 : 0) | (m.hasFilenames ? 2 : 0) | (m.hasLineNumbers ? 4 : 0) | (m.hasInlineFrames ? 8 : 0);
    // A symbolized binary's frames are identified by their lines; without ranges and addresses
    // equal frames from different builds share one location (Pyroscope's clearAddresses).
    const symbolized = (flags & HAS_FUNCTIONS) !== 0;
    mappingStart.push(symbolized ? 0n : uint64(m.memoryStart));
    mappingLimit.push(symbolized ? 0n : uint64(m.memoryLimit));
    mappingOffset.push(symbolized ? 0n : uint64(m.fileOffset));
    mappingFile[i] = tableIndex(m.filename);
    mappingBuildId[i] = tableIndex(m.buildId);
    mappingFlags[i] = flags;
  });

  const functionById = new Map<number | bigint, number>();
  const nf = p.function.length;
  const functionName = new Int32Array(nf);
  const functionSystemName = new Int32Array(nf);
  const functionFile = new Int32Array(nf);
  const functionStartLine = new Float64Array(nf);
  p.function.forEach((f, i) => {
    functionById.set(idKey(f.id), i);
    functionName[i] = tableIndex(f.name);
    functionSystemName[i] = tableIndex(f.systemName);
    functionFile[i] = tableIndex(f.filename);
    functionStartLine[i] = int64(f.startLine);
  });

  const locationById = new Map<number | bigint, number>();
  const nl = p.location.length;
  const locationMapping = new Int32Array(nl);
  const locationAddress: bigint[] = [];
  const locationLineStart = new Int32Array(nl + 1);
  const usable = new Uint8Array(nl);
  let lineCount = 0;
  let maxLinesPerLocation = 0;
  for (const l of p.location) {
    lineCount += l.line.length;
    maxLinesPerLocation = Math.max(maxLinesPerLocation, l.line.length);
  }
  const lineFunction = new Int32Array(lineCount);
  const lineNumber = new Float64Array(lineCount);
  let w = 0;
  p.location.forEach((l, i) => {
    locationById.set(idKey(l.id), i);
    locationLineStart[i] = w;
    const mapping = isZero(l.mappingId) ? -1 : (mappingById.get(idKey(l.mappingId)) ?? -2);
    let ok = mapping !== -2 && (l.line.length > 0 || !isZero(l.address));
    for (const line of l.line) {
      const fn = functionById.get(idKey(line.functionId));
      if (fn === undefined) ok = false;
      lineFunction[w] = fn ?? 0;
      lineNumber[w] = int64(line.line);
      w++;
    }
    locationMapping[i] = mapping < 0 ? -1 : mapping;
    const symbolized = mapping >= 0 && (mappingFlags[mapping] & HAS_FUNCTIONS) !== 0 && l.line.length > 0;
    locationAddress.push(symbolized ? 0n : uint64(l.address));
    usable[i] = ok ? 1 : 0;
  });
  locationLineStart[nl] = w;

  const ns = p.sample.length;
  const types = p.sampleType.length;
  let depthTotal = 0;
  for (const s of p.sample) depthTotal += s.locationId.length;
  const sampleLocationStart = new Int32Array(ns + 1);
  const sampleLocations = new Int32Array(depthTotal);
  const values = new Float64Array(ns * types);
  const keep = new Uint8Array(ns);
  let at = 0;
  p.sample.forEach((s, i) => {
    sampleLocationStart[i] = at;
    let ok = false;
    for (let t = 0; t < types; t++) {
      const v = int64(s.value[t]);
      values[i * types + t] = v;
      if (v > 0) ok = true;
    }
    for (let k = s.locationId.length - 1; k >= 0; k--) {
      const loc = locationById.get(idKey(s.locationId[k]));
      if (loc === undefined || usable[loc] === 0) ok = false;
      sampleLocations[at++] = loc ?? 0;
    }
    keep[i] = ok ? 1 : 0;
  });
  sampleLocationStart[ns] = at;

  return {
    strings,
    sampleTypes: types,
    mappingStart,
    mappingLimit,
    mappingOffset,
    mappingFile,
    mappingBuildId,
    mappingFlags,
    functionName,
    functionSystemName,
    functionFile,
    functionStartLine,
    locationMapping,
    locationAddress,
    locationLineStart,
    lineFunction,
    lineNumber,
    maxLinesPerLocation,
    sampleLocationStart,
    sampleLocations,
    values,
    keep,
  };
}
