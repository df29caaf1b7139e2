// The /ingest pprof path's client work-arounds, keyed by `spyName` (spec API.md §1.5.6, §1.7).
// They run before validation, in Pyroscope's order, and edit the decoded profile in place. Push
// applies none of them, which is why a broken .NET profile is accepted on one path only.

import type { PprofProfile } from "./pprof-decode";
import type { SampleTypeConfig } from "./profile-type";
import { stringAt } from "./string-table";

export interface SpyFixInput {
  spyName: string;
  /** The uploaded `sample_type_config`, if any. */
  sampleTypeConfig?: SampleTypeConfig;
  /** The request's `from`, unix ms. */
  fromMs: number;
}

// 1971-01-01T00:00:00Z: old pyspy/rbspy/pyroscope-rs sent microseconds, which land in 1970.
const END_OF_1970_NS = 31_536_000n * 1_000_000_000n;

export function applyIngestSpyFixes(p: PprofProfile, input: SpyFixInput): void {
  fixTime(p, input.fromMs);
  const spy = input.spyName;
  if (spy === "pyspy" || spy === "rbspy" || spy === "scripting") qualifyScriptingFunctionNames(p, spy);
  if (isDotnetSpy(spy, input.sampleTypeConfig)) {
    repairDotnetFunctionIds(p);
    replaceDashesInSampleTypes(p);
  }
}

/** time_nanos 0 or in 1970 becomes the request's `from`. */
function fixTime(p: PprofProfile, fromMs: number): void {
  if (p.timeNanos >= 0n && p.timeNanos < END_OF_1970_NS) p.timeNanos = BigInt(Math.trunc(fromMs)) * 1_000_000n;
}

/**
 * Scripting-language profilers name functions without their file, so equal names from different
 * files would merge: names become "<filename> <name>". py-spy already qualifies absolute paths.
 */
function qualifyScriptingFunctionNames(p: PprofProfile, spy: string): void {
  const strings = p.strings;
  const added = new Map<string, number>();
  for (let f = 0; f < p.functionName.length; f++) {
    const file = stringAt(strings, p.functionFile[f]);
    if (spy === "pyspy" && file.startsWith("/")) continue;
    const name = `${file} ${stringAt(strings, p.functionName[f])}`;
    let at = added.get(name);
    if (at === undefined) {
      at = strings.push(name) - 1;
      added.set(name, at);
    }
    p.functionName[f] = at;
  }
}

/** Old .NET profilers also send an app config whose keys are dashed (`inuse-space`). */
function isDotnetSpy(spy: string, config: SampleTypeConfig | undefined): boolean {
  return spy === "dotnetspy" || (spy === "unknown" && config !== undefined && Object.hasOwn(config, "inuse-space"));
}

/** A broken .NET profiler wrote every function id as 0, one function per location, in order. */
function repairDotnetFunctionIds(p: PprofProfile): void {
  if (!p.functionId.every((id) => id === 0) || p.functionId.length !== p.locationId.length) return;
  p.functionId.set(p.locationId);
}

/** Sample type names may not contain `-` (§7.2); old .NET profilers used it. */
function replaceDashesInSampleTypes(p: PprofProfile): void {
  const strings = p.strings;
  for (const st of p.sampleTypes) {
    const i = st.type;
    if (i >= 0 && i < strings.length) strings[i] = strings[i].replaceAll("-", "_");
  }
}
