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
