// Pyroscope's ValidateProfile (spec API.md §7.2) over a decoded pprof: refusals with Pyroscope's
// reasons and messages, checked in Pyroscope's order so that a profile with several problems is
// refused for the same one. Also applies what validation repairs instead of refusing: time 0 →
// now and over-long strings truncated (over-deep stacks are cut by tabulate). Edits the profile
// in place.

import type { Config } from "../config";
import { invalid } from "./errors";
import { formatLabels, type Labels } from "./labels";
import type { PprofProfile } from "./pprof-decode";
import { stringAt, utf8Tail } from "./string-table";

export type ProfileLimits = Pick<
  Config,
  | "MAX_PROFILE_SIZE_BYTES"
  | "MAX_PROFILE_STACKTRACE_SAMPLES"
  | "MAX_PROFILE_STACKTRACE_SAMPLE_LABELS"
  | "MAX_PROFILE_SYMBOL_VALUE_LENGTH"
  | "RETENTION_SECONDS"
  | "REJECT_NEWER_THAN_SECONDS"
>;

/**
 * @param encodedSize the size of the decompressed pprof
 * @param seriesLabels the sorted series labels, shown in refusal messages
 */
export function validateProfile(
  p: PprofProfile,
  encodedSize: number,
  seriesLabels: Labels,
  limits: ProfileLimits,
  nowMs: number,
): void {
  const shown = () => formatLabels(seriesLabels);
  const types = p.sampleTypes.length;
  if (types === 0) throw invalid("malformed_profile", "empty profile");

  if (p.timeNanos > 0n) checkIngestionWindow(Number(p.timeNanos / 1_000_000n), nowMs, limits, shown);
  else p.timeNanos = BigInt(Math.trunc(nowMs)) * 1_000_000n;

  const maxSize = limits.MAX_PROFILE_SIZE_BYTES;
  if (maxSize !== 0 && encodedSize > maxSize) {
    throw invalid(
      "profile_size_limit",
      `the profile with labels '${shown()}' exceeds the size limit (max_profile_size_byte, actual: ${encodedSize}, limit: ${maxSize})`,
    );
  }
  const samples = p.sampleValueStart.length - 1;
  const maxSamples = limits.MAX_PROFILE_STACKTRACE_SAMPLES;
  if (maxSamples !== 0 && samples > maxSamples) {
    throw invalid(
      "samples_limit",
      `the profile with labels '${shown()}' exceeds the samples count limit (max_profile_stacktrace_samples, actual: ${samples}, limit: ${maxSamples})`,
    );
  }
  const maxLabels = limits.MAX_PROFILE_STACKTRACE_SAMPLE_LABELS;
  const valueStart = p.sampleValueStart;
  const labelStart = p.sampleLabelStart;
  for (let s = 0; s < samples; s++) {
    if (valueStart[s + 1] - valueStart[s] !== types) throw invalid("malformed_profile", "sample value length mismatch");
    const labels = labelStart[s + 1] - labelStart[s];
    if (maxLabels !== 0 && labels > maxLabels) {
      throw invalid(
        "sample_labels_limit",
        `the profile with labels '${shown()}' exceeds the sample labels limit (max_profile_stacktrace_sample_labels, actual: ${labels}, limit: ${maxLabels})`,
      );
    }
  }

  // Strings were judged valid UTF-8 or not when decoded, before this truncation: a refused string
  // stays refused however long it is (Pyroscope checks after truncating, which only differs for
  // garbage in the part cut away).
  const strings = p.strings;
  const maxSymbol = limits.MAX_PROFILE_SYMBOL_VALUE_LENGTH;
  if (maxSymbol > 0) for (let i = 0; i < strings.length; i++) strings[i] = utf8Tail(strings[i], maxSymbol);

  if (p.locationId.includes(0)) throw invalid("malformed_profile", "location id is 0");
  if (p.functionId.includes(0)) throw invalid("malformed_profile", "function id is 0");
  checkStringReferences(p);
  for (const st of p.sampleTypes) {
    if (stringAt(strings, st.type).includes("-")) throw invalid("malformed_profile", "sample type contains -");
  }
  if (p.invalidUtf8 !== undefined) throw invalid("malformed_profile", `invalid utf8 string hex: ${p.invalidUtf8}`);
}

function checkIngestionWindow(timeMs: number, nowMs: number, limits: ProfileLimits, shown: () => string): void {
  const from = limits.RETENTION_SECONDS !== 0 ? nowMs - limits.RETENTION_SECONDS * 1000 : 0;
  const to = limits.REJECT_NEWER_THAN_SECONDS !== 0 ? nowMs + limits.REJECT_NEWER_THAN_SECONDS * 1000 : 0;
  if ((from === 0 || timeMs > from) && (to === 0 || timeMs < to)) return;
  const window =
    to === 0
      ? `the ingestion window starts at ${goTime(from)}`
      : from === 0
        ? `the ingestion window ends at ${goTime(to)}`
        : `the ingestion window starts at ${goTime(from)} and ends at ${goTime(to)}`;
  throw invalid(
    "not_in_ingestion_window",
    `profile with labels '${shown()}' is outside of ingestion window (profile timestamp: ${goTime(timeMs)}, ${window})`,
  );
}

/** Go's time.Time.String() of a UTC instant, as Pyroscope prints it: `2023-02-17 13:13:14.5 +0000 UTC`. */
function goTime(ms: number): string {
  const d = new Date(ms);
  const p2 = (n: number) => String(n).padStart(2, "0");
  let s =
    `${d.getUTCFullYear()}-${p2(d.getUTCMonth() + 1)}-${p2(d.getUTCDate())} ` +
    `${p2(d.getUTCHours())}:${p2(d.getUTCMinutes())}:${p2(d.getUTCSeconds())}`;
  const millis = d.getUTCMilliseconds();
  if (millis !== 0) s += `.${String(millis).padStart(3, "0").replace(/0+$/, "")}`;
  return `${s} +0000 UTC`;
}

function checkStringReferences(p: PprofProfile): void {
  const strings = p.strings;
  if (strings.length === 0 || strings[0] !== "") throw invalid("malformed_profile", "string 0 should be empty string");
  const n = strings.length;
  // Indices are -1 when they were negative or huge on the wire.
  const check = (i: number, what: string) => {
    if (i < 0 || i >= n) throw invalid("malformed_profile", `${what} string index out of range`);
  };
  for (const st of p.periodType ? [...p.sampleTypes, p.periodType] : p.sampleTypes) {
    check(st.type, "sample type type");
    check(st.unit, "sample type unit");
  }
  for (let f = 0; f < p.functionName.length; f++) {
    check(p.functionName[f], "function name");
    check(p.functionSystemName[f], "function system name");
    check(p.functionFile[f], "function file name");
  }
  for (let m = 0; m < p.mappingFile.length; m++) {
    check(p.mappingFile[m], "mapping file name");
    check(p.mappingBuildId[m], "mapping build id");
  }
  for (let l = 0; l < p.labelKey.length; l++) {
    check(p.labelKey[l], "sample label");
    check(p.labelStr[l], "sample label");
    check(p.labelNumUnit[l], "sample label");
  }
}
