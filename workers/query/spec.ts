// What a query asks of every block and ingester it reaches, as plain data that crosses Durable
// Object RPC (matchers travel uncompiled and are compiled once per invocation), and the partial
// results that come back.

import type { ProfileIdent } from "./profile-id";
import type { MatchOp } from "./selector";

export interface MatcherSpec {
  name: string;
  op: MatchOp;
  value: string;
}

export interface QuerySpec {
  tenant: string;
  /** The `__profile_type__` to read, or null for label queries over every type. */
  profileType: string | null;
  matchers: MatcherSpec[];
  /** Inclusive unix ms bounds on profile timestamps. */
  startMs: number;
  endMs: number;
  /** Lower-case hex span ids / trace ids; samples must carry one of them (empty = no filter). */
  spans: string[];
  traces: string[];
  /** Whole profiles to keep (`profile_id_selector`); empty = no filter. */
  profileIds: ProfileIdent[];
}

export type Task =
  /** A call tree keyed by function name (flame graphs, tree bytes, diffs). */
  | { kind: "tree" }
  /** A merged profile with full symbols (pprof export). */
  | { kind: "profile" }
  /** Per-profile totals bucketed by time and grouped by labels (SelectSeries). */
  | { kind: "series"; stepMs: number; groupBy: string[]; exemplars: boolean }
  /** The label sets of the series that have profiles in range (label APIs). */
  | { kind: "labels" }
  /** The least and greatest profile total among the profiles a heatmap of this step counts (its pass 1). */
  | { kind: "range"; stepMs: number }
  | HeatmapTask;

/**
 * Profiles counted per group, time slot (as SelectSeries buckets) and Y bucket (SelectHeatmap's
 * pass 2): `buckets` equal-width buckets from `yMin` to `yMax`, values beyond them clamped.
 */
export interface HeatmapTask {
  kind: "heatmap";
  stepMs: number;
  groupBy: string[];
  yMin: number;
  yMax: number;
  buckets: number;
  /** Keep the greatest profile of each non-empty cell as its exemplar. */
  exemplars: boolean;
}

export type LabelPairs = [name: string, value: string][];

/** Lower bounds of a heatmap task's Y buckets: `buckets` equal widths from `yMin` to `yMax`. */
export function yBucketBounds(task: HeatmapTask): number[] {
  const width = (task.yMax - task.yMin) / task.buckets;
  return Array.from({ length: task.buckets }, (_, i) => task.yMin + i * width);
}

/** The profile with the greatest total among those a cell counts (spec §3.8 `EXEMPLAR_TYPE_INDIVIDUAL`). */
export interface Exemplar {
  profileId: string;
  timeMs: number;
  value: number;
  /** The profile's series labels that the group's labels do not restate (private `__` ones left out). */
  labels: LabelPairs;
}

/** One group of SelectSeries: bucket right edges (unix ms) with the sum and profile count in each. */
export interface SeriesGroup {
  labels: LabelPairs;
  times: number[];
  sums: number[];
  counts: number[];
  /** Per bucket, when the task asked for exemplars. */
  exemplars?: Exemplar[];
}

/** One group of SelectHeatmap: slot right edges (unix ms) with the profiles per Y bucket in each. */
export interface HeatmapGroup {
  labels: LabelPairs;
  times: number[];
  /** Row-major: the counts of slot i are `counts[i·buckets … (i+1)·buckets)`. */
  counts: number[];
  /** Laid out as `counts`, null where a count is 0; present when the task asked for exemplars. */
  exemplars?: (Exemplar | null)[];
}

/** The exemplar to keep of two: the greater value, then the earlier time, then the smaller id. */
export function betterExemplar(a: Exemplar | null | undefined, b: Exemplar | null | undefined): Exemplar | null {
  if (!a) return b ?? null;
  if (!b) return a;
  if (a.value !== b.value) return a.value > b.value ? a : b;
  if (a.timeMs !== b.timeMs) return a.timeMs < b.timeMs ? a : b;
  return a.profileId <= b.profileId ? a : b;
}

export interface SeriesEntry {
  profileType: string;
  labels: LabelPairs;
  /** Earliest and latest profile time in range. */
  minTimeMs: number;
  maxTimeMs: number;
}

/** What reading contributed, for AnalyzeQuery and the benchmark. */
export interface ReadStats {
  blocks: number;
  pushes: number;
  bytesRead: number;
  profiles: number;
  samples: number;
  /** Sub-invocations (ingesters and mergers) that answered. */
  invocations: number;
  /** The most memory one invocation held for the query (decoded sections and its partial), estimated. */
  peakBytes: number;
}

export type Partial =
  | { kind: "tree"; tree: import("./tree").FrameTreeColumns }
  /** An encoded one-dataset block (deflate level 0) holding the merged samples. */
  | { kind: "profile"; block: Uint8Array | null }
  | { kind: "series"; groups: SeriesGroup[] }
  | { kind: "labels"; series: SeriesEntry[] }
  /** Null when no profile was selected. */
  | { kind: "range"; range: { min: number; max: number } | null }
  | { kind: "heatmap"; groups: HeatmapGroup[] };

export interface PartialResult {
  partial: Partial;
  stats: ReadStats;
}

export function emptyStats(): ReadStats {
  return { blocks: 0, pushes: 0, bytesRead: 0, profiles: 0, samples: 0, invocations: 0, peakBytes: 0 };
}

export function addStats(into: ReadStats, s: ReadStats): void {
  into.blocks += s.blocks;
  into.pushes += s.pushes;
  into.bytesRead += s.bytesRead;
  into.profiles += s.profiles;
  into.samples += s.samples;
  into.invocations += s.invocations;
  into.peakBytes = Math.max(into.peakBytes, s.peakBytes);
}
