// querier.v1.QuerierService over Connect JSON. Responses are protojson: int64 fields arrive as
// strings and fields holding their default value (0, "", []) are omitted, so every reader here
// converts and defaults explicitly.

import { callJson, callProto } from "./client";
import { encodeSelectMergeProfileRequest } from "./pprof-request";

const QUERIER = "/querier.v1.QuerierService";

/** A closed time range in unix ms. */
export interface TimeRange {
  start: number;
  end: number;
}

/** What every profile query selects: a profile type, a label selector and a range. */
export interface Selection extends TimeRange {
  profileTypeID: string;
  labelSelector: string;
}

interface FlameGraphJson {
  names?: string[];
  levels?: { values?: (string | number)[] }[];
  total?: string | number;
  maxSelf?: string | number;
}

interface FlameGraphDiffJson extends FlameGraphJson {
  leftTicks?: string | number;
  rightTicks?: string | number;
}

/** The flame graph module's input: the wire levels with numbers instead of int64 strings. */
export interface FlameGraph {
  names: string[];
  levels: number[][];
  total: number;
  maxSelf: number;
}

export interface FlameGraphDiff extends FlameGraph {
  leftTicks: number;
  rightTicks: number;
}

/** The greatest profile of a time series point (EXEMPLAR_TYPE_INDIVIDUAL). */
export interface Exemplar {
  profileId: string;
  timestamp: number;
  value: number;
  /** The profile's labels that its series' labels do not restate. */
  labels: { name: string; value: string }[];
}

export interface Series {
  labels: { name: string; value: string }[];
  points: { timestamp: number; value: number; exemplar?: Exemplar }[];
}

interface LabelJson {
  name?: string;
  value?: string;
}

const labelsOf = (labels: LabelJson[] | undefined) => (labels ?? []).map((l) => ({ name: l.name ?? "", value: l.value ?? "" }));

export async function labelNames(matcher: string, range: TimeRange, signal?: AbortSignal): Promise<string[]> {
  const body = await callJson<{ names?: string[] }>(`${QUERIER}/LabelNames`, { matchers: [matcher], ...range }, signal);
  // `__name__`, `__profile_type__` and friends are storage internals, not something to filter on
  return (body.names ?? []).filter((n) => !n.startsWith("__"));
}

export async function labelValues(name: string, matcher: string, range: TimeRange, signal?: AbortSignal): Promise<string[]> {
  const body = await callJson<{ names?: string[] }>(`${QUERIER}/LabelValues`, { name, matchers: [matcher], ...range }, signal);
  return body.names ?? [];
}

interface ExemplarJson {
  profileId?: string;
  timestamp?: string | number;
  value?: string | number;
  labels?: LabelJson[];
}

/** Time series; with `exemplars`, each point also names its greatest profile. */
export async function selectSeries(sel: Selection, stepSeconds: number, groupBy: string[], signal?: AbortSignal, exemplars = false): Promise<Series[]> {
  const body = await callJson<{
    series?: { labels?: LabelJson[]; points?: { value?: number; timestamp?: string | number; exemplars?: ExemplarJson[] }[] }[];
  }>(`${QUERIER}/SelectSeries`, { ...sel, step: stepSeconds, groupBy, ...(exemplars ? { exemplarType: "EXEMPLAR_TYPE_INDIVIDUAL" } : {}) }, signal);
  return (body.series ?? []).map((s) => ({
    labels: labelsOf(s.labels),
    points: (s.points ?? []).map((p) => {
      const e = p.exemplars?.[0];
      const point = { timestamp: Number(p.timestamp ?? 0), value: p.value ?? 0 };
      if (!e?.profileId) return point;
      return { ...point, exemplar: { profileId: e.profileId, timestamp: Number(e.timestamp ?? 0), value: Number(e.value ?? 0), labels: labelsOf(e.labels) } };
    }),
  }));
}

/** The merged flame graph of the selection, or of just the profiles `profileIds` names within it. */
export async function selectMergeStacktraces(sel: Selection, signal?: AbortSignal, profileIds: string[] = []): Promise<FlameGraph> {
  const body = await callJson<{ flamegraph?: FlameGraphJson }>(`${QUERIER}/SelectMergeStacktraces`, { ...sel, profileIdSelector: profileIds }, signal);
  return toFlameGraph(body.flamegraph ?? {});
}

export async function diff(left: Selection, right: Selection, signal?: AbortSignal): Promise<FlameGraphDiff> {
  const body = await callJson<{ flamegraph?: FlameGraphDiffJson }>(`${QUERIER}/Diff`, { left, right }, signal);
  const fg = body.flamegraph ?? {};
  return { ...toFlameGraph(fg), leftTicks: Number(fg.leftTicks ?? 0), rightTicks: Number(fg.rightTicks ?? 0) };
}

/** The merged profile as pprof bytes (uncompressed protobuf), with full symbols. */
export async function selectMergeProfile(sel: Selection, signal?: AbortSignal, profileIds: string[] = []): Promise<Uint8Array<ArrayBuffer>> {
  return callProto(`${QUERIER}/SelectMergeProfile`, encodeSelectMergeProfileRequest({ ...sel, profileIds }), signal);
}

function toFlameGraph(fg: FlameGraphJson): FlameGraph {
  return {
    names: fg.names ?? [],
    levels: (fg.levels ?? []).map((l) => (l.values ?? []).map(Number)),
    total: Number(fg.total ?? 0),
    maxSelf: Number(fg.maxSelf ?? 0),
  };
}
