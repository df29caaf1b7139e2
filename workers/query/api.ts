// The query operations behind both the querier.v1 Connect service and the legacy HTTP API:
// validate, build the query spec, execute it over ingesters and blocks, and combine the partial
// results. Transport-free: requests and results are plain values, errors are ConnectErrors.

import { Code, ConnectError } from "@connectrpc/connect";
import type { BlockBuilder } from "../block/builder";
import type { Config } from "../config";
import type { Env } from "../env";
import { combineHeatmaps, combineLabels, combineProfiles, combineRange, combineSeries, combineTrees } from "./combine";
import { execute, planBlocks, type QueryOutcome } from "./execute";
import {
  checkIds,
  checkLabelNames,
  checkPoints,
  checkSelectorLength,
  DEFAULT_LABELS_SPAN_MS,
  DEFAULT_PROFILE_TYPES_SPAN_MS,
  maxMatchers,
  resolveRange,
  type TimeRange,
} from "./limits";
import { parseProfileId, type ProfileIdent } from "./profile-id";
import {
  type Matcher,
  type ProfileTypeParts,
  parseMatchers,
  parseProfileTypeId,
  parseSelector,
  SelectorError,
} from "./selector";
import {
  addStats,
  emptyStats,
  type Exemplar,
  type HeatmapTask,
  type LabelPairs,
  type QuerySpec,
  type ReadStats,
  type SeriesEntry,
  type Task,
  yBucketBounds,
} from "./spec";
import { FrameTree } from "./tree";

export interface QueryContext {
  env: Env;
  config: Config;
  /** The tenants to read: several (`X-Scope-OrgID: a|b`) are merged as one. */
  tenants: string[];
  nowMs: number;
}

/** The selection common to the merge and series methods, as a request carries it. */
export interface Selection {
  profileTypeId: string;
  labelSelector: string;
  start: number;
  end: number;
  spans?: readonly string[];
  traces?: readonly string[];
  /** `profile_id_selector`: ids from exemplars. */
  profileIds?: readonly string[];
}

function invalid(message: string): ConnectError {
  return new ConnectError(message, Code.InvalidArgument);
}

/** Runs `parse`, turning selector errors into invalid_argument. */
function parsed<T>(parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    if (err instanceof SelectorError) throw invalid(err.message);
    throw err;
  }
}

function specOf(
  ctx: QueryContext,
  profileType: string | null,
  matchers: readonly Matcher[],
  range: TimeRange,
  sel?: Selection,
  profileIds: ProfileIdent[] = [],
): QuerySpec {
  return {
    tenant: ctx.tenants[0],
    profileType,
    matchers: matchers.map((m) => ({ name: m.name, op: m.op, value: m.value })),
    startMs: range.startMs,
    endMs: range.endMs,
    spans: [...(sel?.spans ?? [])],
    traces: [...(sel?.traces ?? [])],
    profileIds,
  };
}

/**
 * The profiles a `profile_id_selector` names and the range of their times, so the plan reads only
 * the blocks that can hold them; null when none can be read (ids this server did not issue, or
 * times past the lookback).
 */
function selectedProfiles(ctx: QueryContext, ids: readonly string[]): { ids: ProfileIdent[]; range: TimeRange } | null {
  const picked: ProfileIdent[] = [];
  let first = Infinity;
  let last = -Infinity;
  for (const id of ids) {
    let p: ProfileIdent | null;
    try {
      p = parseProfileId(id);
    } catch (err) {
      throw invalid(`profile_id_selector: ${(err as Error).message}; pass the ids of exemplars returned by SelectSeries`);
    }
    if (!p || p.timeMs <= 0) continue;
    picked.push(p);
    first = Math.min(first, p.timeMs);
    last = Math.max(last, p.timeMs);
  }
  const range = picked.length > 0 ? resolveRange(first, last, ctx.config, ctx.nowMs) : null;
  return range ? { ids: picked, range } : null;
}

/**
 * Validates a selection; null when nothing can match (a range entirely outside the lookback).
 * `range` is the request's own range as resolved, null when it lies outside the lookback.
 */
export function selectionSpec(ctx: QueryContext, sel: Selection): { spec: QuerySpec; type: ProfileTypeParts; range: TimeRange | null } | null {
  const type = parsed(() => parseProfileTypeId(sel.profileTypeId));
  checkSelectorLength([sel.labelSelector], ctx.config);
  checkIds("profile_id_selector", sel.profileIds, ctx.config);
  checkIds("span_selector", sel.spans, ctx.config);
  checkIds("trace_id_selector", sel.traces, ctx.config);
  const matchers = parsed(() => parseSelector(sel.labelSelector, maxMatchers(ctx.config)));
  if ((sel.spans?.length ?? 0) > 0 && (sel.traces?.length ?? 0) > 0) {
    throw invalid("span_selector and trace_id_selector cannot be combined");
  }
  const range = resolveRange(sel.start, sel.end, ctx.config, ctx.nowMs);
  if ((sel.profileIds?.length ?? 0) === 0) return range ? { spec: specOf(ctx, type.id, matchers, range, sel), type, range } : null;
  // Ids carry their profiles' times, which the request's range need not hold: SelectSeries reads
  // one step before its start, so the first point's exemplar may lie before the panel's range.
  const picked = selectedProfiles(ctx, sel.profileIds!);
  return picked ? { spec: specOf(ctx, type.id, matchers, picked.range, sel, picked.ids), type, range } : null;
}

/** Runs a task for every tenant of the context; partials of several tenants combine like any others. */
async function run(ctx: QueryContext, spec: QuerySpec, task: Task): Promise<QueryOutcome> {
  const outs = await Promise.all(ctx.tenants.map((tenant) => execute(ctx.env, ctx.config, { ...spec, tenant }, task)));
  if (outs.length === 1) return outs[0];
  const stats = emptyStats();
  for (const o of outs) addStats(stats, o.stats);
  return {
    partials: outs.flatMap((o) => o.partials),
    stats,
    blocks: outs.flatMap((o) => o.blocks),
    ingesters: outs.reduce((n, o) => n + o.ingesters, 0),
  };
}

export async function mergeTree(ctx: QueryContext, sel: Selection): Promise<{ tree: FrameTree; stats: ReadStats }> {
  const q = selectionSpec(ctx, sel);
  if (!q) return { tree: new FrameTree(), stats: emptyStats() };
  const out = await run(ctx, q.spec, { kind: "tree" });
  return { tree: combineTrees(out.partials), stats: out.stats };
}

export async function mergeProfile(ctx: QueryContext, sel: Selection): Promise<{ profile: BlockBuilder | null; type: ProfileTypeParts; range: TimeRange | null }> {
  const q = selectionSpec(ctx, sel);
  const type = parsed(() => parseProfileTypeId(sel.profileTypeId));
  if (!q) return { profile: null, type, range: null };
  const out = await run(ctx, q.spec, { kind: "profile" });
  return { profile: combineProfiles(out.partials), type, range: q.range };
}

/** The bucketing common to SelectSeries and SelectHeatmap. */
export interface BucketedQuery extends Selection {
  /** Seconds, as the request carries it. */
  step: number;
  groupBy: readonly string[];
  limit: number;
  /** EXEMPLAR_TYPE_INDIVIDUAL: the greatest profile of every point or cell. */
  exemplars: boolean;
}

export interface SeriesQuery extends BucketedQuery {
  average: boolean;
}

export interface SeriesResult {
  labels: LabelPairs;
  points: { timestamp: number; value: number; exemplar?: Exemplar }[];
}

/** A request's step in seconds as whole milliseconds (spec §3.8); refused below 1 ms. */
function stepMsOf(step: number): number {
  if (!(step >= 0.001)) throw invalid("step must be >= 1ms");
  if (!Number.isFinite(step)) throw invalid("step must be a finite number of seconds");
  return Math.trunc(step * 1000);
}

export async function selectSeries(ctx: QueryContext, q: SeriesQuery): Promise<{ series: SeriesResult[]; stats: ReadStats }> {
  const stepMs = stepMsOf(q.step);
  checkLabelNames("group_by", q.groupBy, ctx.config);
  const s = selectionSpec(ctx, q);
  if (!s) return { series: [], stats: emptyStats() };
  checkPoints(s.range ?? s.spec, stepMs, ctx.config);
  const out = await run(ctx, s.spec, { kind: "series", stepMs, groupBy: [...q.groupBy], exemplars: q.exemplars });
  const series = combineSeries(out.partials).map((g) => {
    const points = g.times.map((t, i) => ({
      timestamp: t,
      value: q.average ? g.sums[i] / g.counts[i] : g.sums[i],
      ...(g.exemplars ? { exemplar: g.exemplars[i] } : {}),
    }));
    return { labels: g.labels, points, sum: points.reduce((a, p) => a + p.value, 0) };
  });
  series.sort((a, b) => b.sum - a.sum || compareLabels(a.labels, b.labels));
  const kept = q.limit > 0 ? series.slice(0, q.limit) : series;
  return { series: kept.map(({ labels, points }) => ({ labels, points })), stats: out.stats };
}

/** Y buckets of a heatmap (Pyroscope's `DefaultYAxisBuckets`). */
export const HEATMAP_BUCKETS = 20;

export type HeatmapQuery = BucketedQuery;

export interface HeatmapResult {
  labels: LabelPairs;
  /** Non-empty slots by time: the profiles per Y bucket, and the greatest of each non-empty one when asked. */
  slots: { timestamp: number; counts: number[]; exemplars?: Exemplar[] }[];
}

/**
 * SelectHeatmap, one point per profile (its total): slots as SelectSeries buckets, `group_by` and
 * `limit` as SelectSeries, and HEATMAP_BUCKETS equal Y buckets from the least to the greatest
 * total of all series, whose lower bounds are `yMin`.
 */
export async function selectHeatmap(ctx: QueryContext, q: HeatmapQuery): Promise<{ yMin: number[]; series: HeatmapResult[]; stats: ReadStats }> {
  const stepMs = stepMsOf(q.step);
  if (q.limit < 0) throw invalid(`limit must be non-negative, got ${q.limit}`);
  if (q.start >= q.end) throw invalid(`start time must be before end time, got start=${q.start} end=${q.end}`);
  checkLabelNames("group_by", q.groupBy, ctx.config);
  const s = selectionSpec(ctx, q);
  if (!s) return { yMin: [], series: [], stats: emptyStats() };
  checkPoints(s.range ?? s.spec, stepMs, ctx.config);
  // Two passes over the same selection, so that no invocation holds a value per profile: the first
  // finds the Y axis (least and greatest total), the second counts profiles per slot and Y bucket.
  // The mergers' caches keep the blocks the first pass decoded.
  const first = await run(ctx, s.spec, { kind: "range", stepMs });
  const range = combineRange(first.partials);
  if (!range) return { yMin: [], series: [], stats: first.stats };
  // Equal totals get buckets of width 1 from that total, all of them in the first. (Pyroscope
  // widens the range to 1 and truncates the bounds to integers: 20 equal bounds, which no axis
  // can draw.)
  const yMax = range.max > range.min ? range.max : range.min + HEATMAP_BUCKETS;
  const task: HeatmapTask = {
    kind: "heatmap",
    stepMs,
    groupBy: [...q.groupBy],
    yMin: range.min,
    yMax,
    buckets: HEATMAP_BUCKETS,
    exemplars: q.exemplars,
  };
  const second = await run(ctx, s.spec, task);
  const series = combineHeatmaps(second.partials, HEATMAP_BUCKETS).map((g) => ({
    labels: g.labels,
    slots: g.times.map((timestamp, i) => {
      const cells = [i * HEATMAP_BUCKETS, (i + 1) * HEATMAP_BUCKETS] as const;
      const exemplars = g.exemplars?.slice(...cells).filter((e) => e !== null);
      return { timestamp, counts: g.counts.slice(...cells), ...(exemplars ? { exemplars } : {}) };
    }),
    profiles: g.counts.reduce((a, c) => a + c, 0),
  }));
  series.sort((a, b) => b.profiles - a.profiles || compareLabels(a.labels, b.labels));
  const kept = q.limit > 0 ? series.slice(0, q.limit) : series;
  const stats = emptyStats();
  addStats(stats, first.stats);
  addStats(stats, second.stats);
  return { yMin: yBucketBounds(task), series: kept.map(({ labels, slots }) => ({ labels, slots })), stats };
}

function compareLabels(a: LabelPairs, b: LabelPairs): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const c = compareStrings(a[i][0], b[i][0]) || compareStrings(a[i][1], b[i][1]);
    if (c !== 0) return c;
  }
  return a.length - b.length;
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Series with profiles in range matching ANDed selectors (label APIs). */
async function labelSeries(ctx: QueryContext, selectors: readonly string[], start: number, end: number, defaultSpanMs: number): Promise<SeriesEntry[]> {
  checkSelectorLength(selectors, ctx.config);
  const matchers = parsed(() => parseMatchers(selectors, maxMatchers(ctx.config)));
  const range = resolveRange(start, end, ctx.config, ctx.nowMs, { defaultSpanMs });
  if (!range) return [];
  const out = await run(ctx, specOf(ctx, null, matchers, range), { kind: "labels" });
  return combineLabels(out.partials);
}

export async function profileTypes(ctx: QueryContext, start: number, end: number): Promise<ProfileTypeParts[]> {
  const series = await labelSeries(ctx, [], start, end, DEFAULT_PROFILE_TYPES_SPAN_MS);
  const ids = [...new Set(series.map((s) => s.profileType))].sort(compareStrings);
  return ids.map((id) => parseProfileTypeId(id));
}

const LEGACY_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export async function labelNames(ctx: QueryContext, selectors: readonly string[], start: number, end: number, utf8Names: boolean): Promise<string[]> {
  const series = await labelSeries(ctx, selectors, start, end, DEFAULT_LABELS_SPAN_MS);
  const names = new Set<string>();
  for (const s of series) for (const [n] of s.labels) names.add(n);
  return [...names].filter((n) => utf8Names || LEGACY_NAME.test(n)).sort(compareStrings);
}

export async function labelValues(ctx: QueryContext, name: string, selectors: readonly string[], start: number, end: number): Promise<string[]> {
  if (!name) throw invalid("name is required");
  const series = await labelSeries(ctx, selectors, start, end, DEFAULT_LABELS_SPAN_MS);
  const values = new Set<string>();
  for (const s of series) {
    const v = s.labels.find(([n]) => n === name)?.[1];
    if (v !== undefined && v !== "") values.add(v);
  }
  return [...values].sort(compareStrings);
}

/** Unique label sets of matching series, projected onto `names` when given, sorted. */
export async function seriesLabels(
  ctx: QueryContext,
  selectors: readonly string[],
  names: readonly string[],
  start: number,
  end: number,
  utf8Names: boolean,
): Promise<LabelPairs[]> {
  checkLabelNames("label_names", names, ctx.config);
  const series = await labelSeries(ctx, selectors, start, end, DEFAULT_LABELS_SPAN_MS);
  const wanted = names.length > 0 ? new Set(names) : null;
  const sets = new Map<string, LabelPairs>();
  for (const s of series) {
    const labels = s.labels.filter(([n]) => (wanted === null || wanted.has(n)) && (utf8Names || LEGACY_NAME.test(n)));
    if (labels.length === 0) continue;
    sets.set(JSON.stringify(labels), labels);
  }
  return [...sets.values()].sort(compareLabels);
}

/** Oldest and newest profile time of the tenant, from flushed and buffered data alike. */
export async function profileStats(ctx: QueryContext): Promise<{ oldest: number; newest: number } | null> {
  const spec = specOf(ctx, null, [], { startMs: 0, endMs: Number.MAX_SAFE_INTEGER });
  const series = combineLabels((await run(ctx, spec, { kind: "labels" })).partials);
  if (series.length === 0) return null;
  let oldest = Infinity;
  let newest = -Infinity;
  for (const s of series) {
    oldest = Math.min(oldest, s.minTimeMs);
    newest = Math.max(newest, s.maxTimeMs);
  }
  return { oldest, newest };
}

export interface QueryAnalysis {
  blocks: number;
  blockBytes: number;
  series: number;
  profiles: number;
  samples: number;
  ingesters: number;
}

/** What a query would read, from the plan alone (no block is read). */
export async function analyze(ctx: QueryContext, query: string, start: number, end: number): Promise<QueryAnalysis> {
  checkSelectorLength([query], ctx.config);
  const matchers = parsed(() => parseSelector(query, maxMatchers(ctx.config)));
  const name = matchers.find((m) => m.name === "__name__" && m.op === "=");
  const rest = matchers.filter((m) => m !== name);
  const type = name ? parsed(() => parseProfileTypeId(name.value)).id : null;
  const range = resolveRange(start, end, ctx.config, ctx.nowMs);
  const empty = { blocks: 0, blockBytes: 0, series: 0, profiles: 0, samples: 0, ingesters: 0 };
  if (!range) return empty;
  const spec = specOf(ctx, type, rest, range);
  const labels = await run(ctx, spec, { kind: "labels" });
  const series = combineLabels(labels.partials);
  const blocks = (await Promise.all(ctx.tenants.map((tenant) => planBlocks(ctx.env, { ...spec, tenant })))).flat();
  return {
    blocks: blocks.length,
    blockBytes: blocks.reduce((a, b) => a + b.sizeBytes, 0),
    series: series.length,
    profiles: blocks.reduce((a, b) => a + b.profiles, 0) + labels.stats.profiles,
    samples: blocks.reduce((a, b) => a + b.samples, 0),
    ingesters: labels.ingesters,
  };
}
