// A validated pprof as the tables the writer reads, with Pyroscope's normalisation (spec API.md
// §2.2 step 8) folded in: references resolved from ids to positions, unusable locations (unknown
// mapping or function, or neither address nor lines) and the samples using them marked dropped,
// as are samples with no positive value, and stacks cut to the depth limit. Arrays that need no
// resolving are the decoded profile's own, edited in place.

import type { PprofProfile } from "./pprof-decode";
import { IdIndex } from "./pprof-ids";
import type { MappingColumns } from "../block/builder";

const HAS_FUNCTIONS = 1;

/** Mappings (MappingColumns) are by position in the pprof. */
export interface PprofTables extends MappingColumns {
  strings: readonly string[];
  sampleTypes: number;

  // Functions, by position; names are string-table indices.
  functionName: Int32Array;
  functionSystemName: Int32Array;
  functionFile: Int32Array;
  functionStartLine: Float64Array;

  // Locations, by position: mapping position or -1, lines [lineStart[i], lineStart[i+1]) innermost first.
  locationMapping: Int32Array;
  locationAddress: BigUint64Array;
  locationLineStart: Int32Array;
  lineFunction: Int32Array;
  lineNumber: Float64Array;
  maxLinesPerLocation: number;

  // Samples: location positions leaf first, as in the pprof; the stack of sample s, cut to the depth
  // limit, is sampleLocations[sampleStackStart[s], sampleLocationStart[s+1]). Values row-major.
  sampleLocationStart: Int32Array;
  sampleStackStart: Int32Array;
  sampleLocations: Int32Array;
  maxStackDepth: number;
  values: Float64Array;
  /** 1 when the sample survives normalisation. */
  keep: Uint8Array;
}

/**
 * @param p a validated profile (every sample has one value per sample type)
 * @param maxDepth the stack depth limit, 0 = none: deeper stacks keep their root-most frames
 */
export function tabulate(p: PprofProfile, maxDepth: number): PprofTables {
  const nm = p.mappingId.length;
  const mappings = new IdIndex(p.mappingId);
  for (let i = 0; i < nm; i++) {
    // A symbolized binary's frames are identified by their lines; without ranges and addresses
    // equal frames from different builds share one location (Pyroscope's clearAddresses).
    if ((p.mappingFlags[i] & HAS_FUNCTIONS) === 0) continue;
    p.mappingStart[i] = 0n;
    p.mappingLimit[i] = 0n;
    p.mappingOffset[i] = 0n;
  }

  const functions = new IdIndex(p.functionId);
  const nl = p.locationId.length;
  const lineStart = p.locationLineStart;
  const locationMapping = new Int32Array(nl);
  const lineFunction = new Int32Array(p.lineFunctionId.length);
  const usable = new Uint8Array(nl);
  let maxLinesPerLocation = 0;
  for (let i = 0; i < nl; i++) {
    const lines = lineStart[i + 1] - lineStart[i];
    maxLinesPerLocation = Math.max(maxLinesPerLocation, lines);
    const mappingId = p.locationMappingId[i];
    const mapping = mappingId === 0 ? -1 : mappings.get(mappingId);
    let ok = (mappingId === 0 || mapping >= 0) && (lines > 0 || p.locationAddress[i] !== 0n);
    for (let k = lineStart[i]; k < lineStart[i + 1]; k++) {
      const fn = functions.get(p.lineFunctionId[k]);
      if (fn < 0) ok = false;
      lineFunction[k] = fn < 0 ? 0 : fn;
    }
    locationMapping[i] = mapping;
    if (mapping >= 0 && (p.mappingFlags[mapping] & HAS_FUNCTIONS) !== 0 && lines > 0) p.locationAddress[i] = 0n;
    usable[i] = ok ? 1 : 0;
  }

  const ns = p.sampleLocationStart.length - 1;
  const types = p.sampleTypes.length;
  const { sampleLocationStart, sampleLocations, sampleValues: values } = p;
  const sampleStackStart = new Int32Array(ns);
  const keep = new Uint8Array(ns);
  // Usually every location is usable and known, and no sample needs its frames checked.
  const checkFrames = usable.includes(0) || sampleLocations.includes(-1);
  let maxStackDepth = 0;
  for (let s = 0; s < ns; s++) {
    const end = sampleLocationStart[s + 1];
    // location_id[0] is the leaf: a cut keeps the root side.
    const from = maxDepth > 0 ? Math.max(sampleLocationStart[s], end - maxDepth) : sampleLocationStart[s];
    sampleStackStart[s] = from;
    maxStackDepth = Math.max(maxStackDepth, end - from);
    let ok = false;
    for (let t = s * types; t < (s + 1) * types; t++) if (values[t] > 0) ok = true;
    for (let k = from; k < end && ok && checkFrames; k++) {
      const loc = sampleLocations[k];
      if (loc < 0 || usable[loc] === 0) ok = false;
    }
    keep[s] = ok ? 1 : 0;
  }

  return {
    strings: p.strings,
    sampleTypes: types,
    mappingStart: p.mappingStart,
    mappingLimit: p.mappingLimit,
    mappingOffset: p.mappingOffset,
    mappingFile: p.mappingFile,
    mappingBuildId: p.mappingBuildId,
    mappingFlags: p.mappingFlags,
    functionName: p.functionName,
    functionSystemName: p.functionSystemName,
    functionFile: p.functionFile,
    functionStartLine: p.functionStartLine,
    locationMapping,
    locationAddress: p.locationAddress,
    locationLineStart: lineStart,
    lineFunction,
    lineNumber: p.lineNumber,
    maxLinesPerLocation,
    sampleLocationStart,
    sampleStackStart,
    sampleLocations,
    maxStackDepth,
    values,
    keep,
  };
}
