// Request validation shared by every query method (spec API.md §3.0, §7.4): the time range with
// its lookback and length limits, and max_nodes. Failures are `invalid_argument` with
// Pyroscope's messages, which clients display as they are.

import { Code, ConnectError } from "@connectrpc/connect";
import type { Config } from "../config";

export interface TimeRange {
  startMs: number;
  endMs: number;
}

export interface RangeOptions {
  /** Range used when both ends are 0 (ProfileTypes, and label calls from clients that send none). */
  defaultSpanMs?: number;
}

const HOUR_MS = 3_600_000;
export const DEFAULT_PROFILE_TYPES_SPAN_MS = HOUR_MS;
/** Perses and other clients list labels without a range: a day of them is what a picker wants. */
export const DEFAULT_LABELS_SPAN_MS = 24 * HOUR_MS;

function invalid(message: string): ConnectError {
  return new ConnectError(message, Code.InvalidArgument);
}

/** Days/hours/minutes/seconds as Prometheus model.Duration prints them, e.g. "31d" or "1d12h". */
export function formatDuration(ms: number): string {
  let s = Math.round(ms / 1000);
  const parts: string[] = [];
  for (const [unit, size] of [["d", 86400], ["h", 3600], ["m", 60], ["s", 1]] as const) {
    if (s >= size) {
      parts.push(`${Math.floor(s / size)}${unit}`);
      s %= size;
    }
  }
  return parts.join("") || "0s";
}

/**
 * The range to read, or null when it lies entirely before the lookback limit (an empty answer,
 * not an error, as in Pyroscope).
 */
export function resolveRange(start: number, end: number, config: Config, nowMs: number, opts: RangeOptions = {}): TimeRange | null {
  if (start === 0 && end === 0 && opts.defaultSpanMs !== undefined) {
    start = nowMs - opts.defaultSpanMs;
    end = nowMs;
  }
  if (!Number.isFinite(start) || !Number.isFinite(end) || start === 0 || end === 0) throw invalid("missing time range in the query");
  if (start > end) throw invalid("query start time is after end time");
  const lookback = config.MAX_QUERY_LOOKBACK_SECONDS * 1000;
  if (lookback > 0) {
    if (end < nowMs - lookback) return null;
    start = Math.max(start, nowMs - lookback);
  }
  const maxLength = config.MAX_QUERY_LENGTH_SECONDS * 1000;
  if (maxLength > 0 && end - start > maxLength) {
    throw invalid(
      `the query time range exceeds the limit (max_query_length, actual: ${formatDuration(end - start)}, limit: ${formatDuration(maxLength)})`,
    );
  }
  return { startMs: start, endMs: end };
}

/** `max_nodes` of flame graph methods: unset or 0 → the default; negative or above the cap → error. */
export function resolveMaxNodes(requested: bigint | number | undefined, config: Config, unset = config.MAX_FLAMEGRAPH_NODES_DEFAULT): number {
  const max = config.MAX_FLAMEGRAPH_NODES_MAX;
  const n = requested === undefined ? 0 : Number(requested);
  if (n === 0) return unset;
  if (n < 0) throw invalid(`max flamegraph nodes limit must be set (max allowed ${max})`);
  if (n > max) throw invalid(`max flamegraph nodes limit ${n} is greater than allowed ${max}`);
  return n;
}

// The size of a query request, bounded before anything is parsed or read (issue 14): the work a
// query costs grows with its matchers, names and points, so each list is capped, and a refusal
// names the limit (0 turns one off).

function tooMany(what: string, actual: number, limit: number, name: keyof Config): ConnectError {
  return invalid(`too many ${what}: ${actual}, the limit is ${limit} (${name})`);
}

/** Most matchers a request may hold in all its selectors (the parser stops at the next one). */
export function maxMatchers(config: Config): number {
  return config.MAX_QUERY_MATCHERS > 0 ? config.MAX_QUERY_MATCHERS : Infinity;
}

/** The selectors of one request together, in characters: bounds parsing and regex compilation. */
export function checkSelectorLength(selectors: readonly string[], config: Config): void {
  const limit = config.MAX_QUERY_SELECTOR_LENGTH;
  if (limit <= 0) return;
  let length = 0;
  for (const s of selectors) length += s.length;
  if (length > limit) throw invalid(`the selector is too long: ${length} characters, the limit is ${limit} (MAX_QUERY_SELECTOR_LENGTH)`);
}

/** Label names a request lists (`group_by`, Series' `label_names`). */
export function checkLabelNames(field: string, names: readonly string[], config: Config): void {
  const limit = config.MAX_QUERY_LABEL_NAMES;
  if (limit > 0 && names.length > limit) throw tooMany(`label names in ${field}`, names.length, limit, "MAX_QUERY_LABEL_NAMES");
}

/** Ids a request lists (`profile_id_selector`, `span_selector`, `trace_id_selector`). */
export function checkIds(field: string, ids: readonly string[] | undefined, config: Config): void {
  const limit = config.MAX_QUERY_IDS;
  if (limit > 0 && ids !== undefined && ids.length > limit) throw tooMany(`ids in ${field}`, ids.length, limit, "MAX_QUERY_IDS");
}

/**
 * Points per series of SelectSeries (slots of SelectHeatmap), counted as Prometheus counts them:
 * the range over the step, so a range of exactly `limit` steps (limit + 1 points) still answers.
 */
export function checkPoints(range: TimeRange, stepMs: number, config: Config): void {
  const limit = config.MAX_QUERY_POINTS;
  const steps = (range.endMs - range.startMs) / stepMs;
  if (limit > 0 && steps > limit) {
    throw invalid(`too many points per series: ${Math.ceil(steps)} (range / step), the limit is ${limit} (MAX_QUERY_POINTS); use a larger step`);
  }
}
