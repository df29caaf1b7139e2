// Pyroscope's ValidateProfile (spec API.md §7.2) over a decoded pprof: refusals with Pyroscope's
// reasons and messages, checked in Pyroscope's order so that a profile with several problems is
// refused for the same one. Also applies what validation repairs instead of refusing: time 0 →
// now, over-deep stacks and over-long strings truncated. Edits the profile in place.

import type { Profile } from "pprof-format";
import type { Config } from "../config";
import { invalid } from "./errors";
import { formatLabels, type Labels } from "./labels";
import { int64Big, isZero, tableIndex, type Numeric } from "./pprof-numeric";
import { rawStringTable, stringAt, toHex, utf8Tail } from "./string-table";
import { isValidUtf8 } from "./utf8";

export type ProfileLimits = Pick<
  Config,
  | "MAX_PROFILE_SIZE_BYTES"
  | "MAX_PROFILE_STACKTRACE_SAMPLES"
  | "MAX_PROFILE_STACKTRACE_SAMPLE_LABELS"
  | "MAX_PROFILE_STACKTRACE_DEPTH"
  | "MAX_PROFILE_SYMBOL_VALUE_LENGTH"
  | "RETENTION_SECONDS"
  | "REJECT_NEWER_THAN_SECONDS"
>;

/**
 * @param encoded the decompressed pprof bytes (its size is checked; its raw strings are read
 *   to tell invalid UTF-8 from a genuine U+FFFD)
 * @param seriesLabels the sorted series labels, shown in refusal messages
 */
export function validateProfile(
  p: Profile,
  encoded: Uint8Array,
  seriesLabels: Labels,
  limits: ProfileLimits,
  nowMs: number,
): void {
  const shown = () => formatLabels(seriesLabels);
  if (p.sampleType.length === 0) throw invalid("malformed_profile", "empty profile");

  const timeNs = int64Big(p.timeNanos);
  if (timeNs > 0n) checkIngestionWindow(Number(timeNs / 1_000_000n), nowMs, limits, shown);
  else p.timeNanos = BigInt(Math.trunc(nowMs)) * 1_000_000n;

  const maxSize = limits.MAX_PROFILE_SIZE_BYTES;
  if (maxSize !== 0 && encoded.length > maxSize) {
    throw invalid(
      "profile_size_limit",
      `the profile with labels '${shown()}' exceeds the size limit (max_profile_size_byte, actual: ${encoded.length}, limit: ${maxSize})`,
    );
  }
  const maxSamples = limits.MAX_PROFILE_STACKTRACE_SAMPLES;
  if (maxSamples !== 0 && p.sample.length > maxSamples) {
    throw invalid(
      "samples_limit",
      `the profile with labels '${shown()}' exceeds the samples count limit (max_profile_stacktrace_samples, actual: ${p.sample.length}, limit: ${maxSamples})`,
    );
  }
  const maxDepth = limits.MAX_PROFILE_STACKTRACE_DEPTH;
  const maxLabels = limits.MAX_PROFILE_STACKTRACE_SAMPLE_LABELS;
  for (const s of p.sample) {
    if (s.value.length !== p.sampleType.length) throw invalid("malformed_profile", "sample value length mismatch");
    // location_id[0] is the leaf: keep the root side.
    if (maxDepth !== 0 && s.locationId.length > maxDepth) s.locationId = s.locationId.slice(s.locationId.length - maxDepth);
    if (maxLabels !== 0 && s.label.length > maxLabels) {
      throw invalid(
        "sample_labels_limit",
        `the profile with labels '${shown()}' exceeds the sample labels limit (max_profile_stacktrace_sample_labels, actual: ${s.label.length}, limit: ${maxLabels})`,
      );
    }
  }

  // Judged before truncation: a refused string stays refused however long it is (Pyroscope
  // checks after truncating, which only differs for garbage in the part cut away).
  const badUtf8 = firstInvalidUtf8(p.stringTable.strings, encoded);
  const strings = p.stringTable.strings;
  const maxSymbol = limits.MAX_PROFILE_SYMBOL_VALUE_LENGTH;
  if (maxSymbol > 0) for (let i = 0; i < strings.length; i++) strings[i] = utf8Tail(strings[i], maxSymbol);

  if (p.location.some((l) => isZero(l.id))) throw invalid("malformed_profile", "location id is 0");
  if (p.function.some((f) => isZero(f.id))) throw invalid("malformed_profile", "function id is 0");
  checkStringReferences(p);
  for (const st of p.sampleType) {
    if (stringAt(strings, st.type).includes("-")) throw invalid("malformed_profile", "sample type contains -");
  }
  if (badUtf8 !== undefined) throw invalid("malformed_profile", `invalid utf8 string hex: ${badUtf8}`);
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

/** Hex of the first string-table entry that is not valid UTF-8, if any. */
function firstInvalidUtf8(strings: readonly string[], encoded: Uint8Array): string | undefined {
  // Invalid bytes always decode to U+FFFD, so only such strings need their raw bytes read.
  if (!strings.some((s) => s.includes("\uFFFD"))) return undefined;
  let raw: Uint8Array[];
  try {
    raw = rawStringTable(encoded);
  } catch {
    throw invalid("malformed_profile", "failed to read the pprof string table");
  }
  for (const bytes of raw) if (!isValidUtf8(bytes)) return toHex(bytes);
  return undefined;
}

function checkStringReferences(p: Profile): void {
  const strings = p.stringTable.strings;
  if (strings.length === 0 || strings[0] !== "") throw invalid("malformed_profile", "string 0 should be empty string");
  const check = (index: Numeric, what: string) => {
    const i = tableIndex(index);
    if (i < 0 || i >= strings.length) throw invalid("malformed_profile", `${what} string index out of range`);
  };
  for (const st of p.periodType ? [...p.sampleType, p.periodType] : p.sampleType) {
    check(st.type, "sample type type");
    check(st.unit, "sample type unit");
  }
  for (const f of p.function) {
    check(f.name, "function name");
    check(f.systemName, "function system name");
    check(f.filename, "function file name");
  }
  for (const m of p.mapping) {
    check(m.filename, "mapping file name");
    check(m.buildId, "mapping build id");
  }
  for (const s of p.sample) {
    for (const l of s.label) {
      check(l.key, "sample label");
      check(l.str, "sample label");
      check(l.numUnit, "sample label");
    }
  }
}
