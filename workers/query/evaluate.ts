// The per-block core of every query: select the series a query matches, keep the profiles in its
// time range, and fold their samples into a compact partial result. Pure: it sees decoded
// sections only, so flushed blocks (in a merger) and buffered pushes (in an ingester) go through
// the same code. Samples are summed per stack node in a typed array first, so the symbols of a
// stack are touched once per block however many profiles share it.

import { BlockBuilder, seriesKey } from "../block/builder";
import { encodeBlock } from "../block/encode";
import { formatProfileId, ProfileIdSet, seriesHash } from "./profile-id";
import { compileMatcher, matchesLabels, type Matcher } from "./selector";
import {
  emptyStats,
  type Exemplar,
  type HeatmapGroup,
  type HeatmapTask,
  type LabelPairs,
  type Partial,
  type QuerySpec,
  type ReadStats,
  type SeriesEntry,
  type SeriesGroup,
  type Task,
  yBucketBounds,
} from "./spec";
import { FrameTree } from "./tree";
import { type BlockView, type Depth, locationLines } from "./view";

export interface Accumulator {
  readonly depth: Depth;
  readonly stats: ReadStats;
  add(view: BlockView): void;
  result(): Partial;
  /** Estimated bytes the partial result holds so far. */
  memoryBytes(): number;
}

export function accumulatorFor(task: Task, spec: QuerySpec): Accumulator {
  const matchers = spec.matchers.map((m) => compileMatcher(m.name, m.op, m.value));
  switch (task.kind) {
    case "tree":
      return new TreeAccumulator(spec, matchers);
    case "profile":
      return new ProfileAccumulator(spec, matchers);
    case "series":
      return new SeriesAccumulator(spec, matchers, task.stepMs, task.groupBy, task.exemplars);
    case "labels":
      return new LabelsAccumulator(spec, matchers);
    case "range":
      return new RangeAccumulator(spec, matchers, task.stepMs);
    case "heatmap":
      return new HeatmapAccumulator(spec, matchers, task);
  }
}

function seriesLabels(view: BlockView, s: number): LabelPairs {
  const { seriesLabelStart, seriesLabels: pairs } = view.series;
  const out: LabelPairs = [];
  for (let k = seriesLabelStart[s]; k < seriesLabelStart[s + 1]; k += 2) out.push([view.strings[pairs[k]], view.strings[pairs[k + 1]]]);
  return out;
}

/** 1 for each series of the view that has the query's profile type and matches its matchers. */
function selectSeries(view: BlockView, spec: QuerySpec, matchers: readonly Matcher[]): Uint8Array | null {
  const { seriesProfileType, seriesLabelStart, seriesLabels: pairs } = view.series;
  const sel = new Uint8Array(seriesProfileType.length);
  let any = false;
  for (let s = 0; s < sel.length; s++) {
    if (spec.profileType !== null && view.strings[seriesProfileType[s]] !== spec.profileType) continue;
    const get = (name: string): string | undefined => {
      for (let k = seriesLabelStart[s]; k < seriesLabelStart[s + 1]; k += 2) {
        if (view.strings[pairs[k]] === name) return view.strings[pairs[k + 1]];
      }
      return undefined;
    };
    if (matchesLabels(matchers, get)) {
      sel[s] = 1;
      any = true;
    }
  }
  return any ? sel : null;
}

/** Per string of the view: 1 when it is one of the wanted span or trace ids; null = no filter. */
function allowedIds(view: BlockView, ids: readonly string[]): Uint8Array | null {
  if (ids.length === 0) return null;
  const wanted = new Set(ids.map((x) => x.toLowerCase()));
  const out = new Uint8Array(view.strings.length);
  for (let i = 1; i < out.length; i++) if (wanted.has(view.strings[i].toLowerCase())) out[i] = 1;
  return out;
}

/** Per series of a view, hashed on first use: the series half of its profiles' ids. */
function seriesHashes(view: BlockView, tenant: string): (series: number) => [hi: number, lo: number] {
  const cache = new Array<[number, number] | undefined>(view.series.seriesProfileType.length);
  return (s) => (cache[s] ??= seriesHash(tenant, seriesLabels(view, s), view.strings[view.series.seriesProfileType[s]]));
}

/** What an exemplar needs of a series: its hash and the labels its group does not restate. */
interface SeriesIdent {
  hi: number;
  lo: number;
  labels: LabelPairs;
}

function seriesIdents(view: BlockView, tenant: string, groupBy: readonly string[]): (series: number) => SeriesIdent {
  const hashOf = seriesHashes(view, tenant);
  const cache = new Array<SeriesIdent | undefined>(view.series.seriesProfileType.length);
  return (s) => {
    let ident = cache[s];
    if (!ident) {
      const [hi, lo] = hashOf(s);
      ident = cache[s] = { hi, lo, labels: seriesLabels(view, s).filter(([n]) => !n.startsWith("__") && !groupBy.includes(n)) };
    }
    return ident;
  };
}

/** A cell's greatest profile so far; its id is formatted once, when the result is built. */
interface Candidate {
  value: number;
  timeMs: number;
  ident: SeriesIdent;
}

function exemplarOf(c: Candidate): Exemplar {
  return { profileId: formatProfileId({ timeMs: c.timeMs, hi: c.ident.hi, lo: c.ident.lo }), timeMs: c.timeMs, value: c.value, labels: c.ident.labels };
}

/** `best`, or the profile (value, time, series) when it beats it by `betterExemplar`'s order. */
function keepBest(best: Candidate | null, value: number, timeMs: number, ident: SeriesIdent): Candidate {
  if (best) {
    if (value < best.value || (value === best.value && timeMs > best.timeMs)) return best;
    if (value === best.value && timeMs === best.timeMs) {
      const mine = formatProfileId({ timeMs, hi: ident.hi, lo: ident.lo });
      if (mine >= formatProfileId({ timeMs, hi: best.ident.hi, lo: best.ident.lo })) return best;
    }
  }
  return { value, timeMs, ident };
}

interface NodeValues {
  /** Σ sample values per stack node. */
  values: Float64Array;
  /** Earliest and latest time of the profiles that contributed. */
  minTime: number;
  maxTime: number;
}

/** Σ sample values per stack node over the matching profiles in range; null when none. */
function sumByNode(view: BlockView, spec: QuerySpec, matchers: readonly Matcher[], stats: ReadStats): NodeValues | null {
  const sel = selectSeries(view, spec, matchers);
  if (!sel) return null;
  const samples = view.samples!;
  const { profileSeries, profileTime, profileSampleStart } = view.profiles;
  const spans = allowedIds(view, spec.spans);
  const traces = allowedIds(view, spec.traces);
  const ids = spec.profileIds.length > 0 ? new ProfileIdSet(spec.profileIds) : null;
  const hashOf = ids ? seriesHashes(view, spec.tenant) : null;
  const values = new Float64Array(view.stacks!.nodeParent.length);
  let minTime = Infinity;
  let maxTime = -Infinity;
  let any = false;
  for (let p = 0; p < profileSeries.length; p++) {
    const t = profileTime[p];
    const s = profileSeries[p];
    if (sel[s] === 0 || t < spec.startMs || t > spec.endMs) continue;
    if (ids && !(ids.hasTime(t) && ids.has(t, ...hashOf!(s)))) continue;
    stats.profiles++;
    for (let i = profileSampleStart[p]; i < profileSampleStart[p + 1]; i++) {
      if (spans && spans[samples.sampleSpan[i]] === 0) continue;
      if (traces && traces[samples.sampleTrace[i]] === 0) continue;
      values[samples.sampleNode[i]] += samples.sampleValue[i];
      stats.samples++;
      any = true;
    }
    minTime = Math.min(minTime, t);
    maxTime = Math.max(maxTime, t);
  }
  return any ? { values, minTime, maxTime } : null;
}

/** 1 for every stack node on the path to a node with a value (parents precede children). */
function liveNodes(values: Float64Array, parent: Int32Array): Uint8Array {
  const live = new Uint8Array(values.length);
  for (let i = values.length - 1; i >= 1; i--) {
    if (values[i] !== 0) live[i] = 1;
    if (live[i] === 1) live[parent[i]] = 1;
  }
  return live;
}

function addressName(address: bigint): string {
  return address.toString(16);
}

class TreeAccumulator implements Accumulator {
  readonly depth = "stacks" as const;
  readonly stats = emptyStats();
  private readonly tree = new FrameTree();

  constructor(
    private readonly spec: QuerySpec,
    private readonly matchers: readonly Matcher[],
  ) {}

  add(view: BlockView): void {
    const sum = sumByNode(view, this.spec, this.matchers, this.stats);
    if (!sum) return;
    const { values } = sum;
    const { nodeParent, nodeLoc } = view.stacks!;
    const sym = view.symbols!;
    const live = liveNodes(values, nodeParent);
    const tree = this.tree;
    // View string index → tree name index, interned on first use.
    const names = new Int32Array(view.strings.length).fill(-1);
    const frame = new Int32Array(values.length);
    for (let i = 1; i < values.length; i++) {
      if (live[i] === 0) continue;
      let f = frame[nodeParent[i]];
      const loc = nodeLoc[i];
      const [start, end] = locationLines(sym, loc);
      if (start === end) {
        f = tree.child(f, tree.intern(addressName(sym.locAddress[loc])));
      } else {
        // Lines are stored innermost first; the tree runs from the root, so callers come first.
        for (let k = end - 1; k >= start; k--) {
          const s = sym.fnName[sym.lineFn[k]];
          if (names[s] === -1) names[s] = tree.intern(view.strings[s]);
          f = tree.child(f, names[s]);
        }
      }
      frame[i] = f;
      if (values[i] !== 0) tree.addSelf(f, values[i]);
    }
  }

  result(): Partial {
    return { kind: "tree", tree: this.tree.columns() };
  }

  memoryBytes(): number {
    // parent, name and self columns plus the child index (two slots per node).
    return this.tree.size * 24;
  }
}

class ProfileAccumulator implements Accumulator {
  readonly depth = "stacks" as const;
  readonly stats = emptyStats();
  private readonly builder = new BlockBuilder();
  /** Σ values per builder stack node. */
  private values = new Float64Array(1024);
  private minTime = Infinity;
  private maxTime = -Infinity;

  constructor(
    private readonly spec: QuerySpec,
    private readonly matchers: readonly Matcher[],
  ) {}

  add(view: BlockView): void {
    const sum = sumByNode(view, this.spec, this.matchers, this.stats);
    if (!sum) return;
    const { values } = sum;
    this.minTime = Math.min(this.minTime, sum.minTime);
    this.maxTime = Math.max(this.maxTime, sum.maxTime);
    const b = this.builder;
    const sym = view.symbols!;
    const { nodeParent, nodeLoc } = view.stacks!;
    const live = liveNodes(values, nodeParent);
    const strings = new Int32Array(view.strings.length).fill(-1);
    const str = (i: number): number => (strings[i] === -1 ? (strings[i] = b.string(view.strings[i])) : strings[i]);
    const fns = new Int32Array(sym.fnName.length).fill(-1);
    const fn = (i: number): number =>
      fns[i] === -1 ? (fns[i] = b.func(str(sym.fnName[i]), str(sym.fnSystemName[i]), str(sym.fnFile[i]), sym.fnStartLine[i])) : fns[i];
    const maps = new Int32Array(sym.mappingFile.length).fill(-1);
    const mapping = (m: number): number => {
      if (m === 0) return 0;
      if (maps[m] === -1) {
        maps[m] = b.mapping({
          memoryStart: sym.mappingStart[m],
          memoryLimit: sym.mappingLimit[m],
          fileOffset: sym.mappingOffset[m],
          filename: view.strings[sym.mappingFile[m]],
          buildId: view.strings[sym.mappingBuildId[m]],
          flags: sym.mappingFlags[m],
        });
      }
      return maps[m];
    };
    const locs = new Int32Array(sym.locMapping.length).fill(-1);
    let lineFns = new Int32Array(16);
    let lineNos = new Float64Array(16);
    const location = (l: number): number => {
      if (locs[l] !== -1) return locs[l];
      const [start, end] = locationLines(sym, l);
      const n = end - start;
      if (n > lineFns.length) {
        lineFns = new Int32Array(n * 2);
        lineNos = new Float64Array(n * 2);
      }
      for (let k = 0; k < n; k++) {
        lineFns[k] = fn(sym.lineFn[start + k]);
        lineNos[k] = sym.lineNo[start + k];
      }
      return (locs[l] = b.location(mapping(sym.locMapping[l]), sym.locAddress[l], lineFns, lineNos, n));
    };
    const node = new Int32Array(values.length);
    for (let i = 1; i < values.length; i++) {
      if (live[i] === 0) continue;
      node[i] = b.stackNode(node[nodeParent[i]], location(nodeLoc[i]));
      if (values[i] === 0) continue;
      if (node[i] >= this.values.length) {
        const grown = new Float64Array(Math.max(node[i] + 1, this.values.length * 2));
        grown.set(this.values);
        this.values = grown;
      }
      this.values[node[i]] += values[i];
    }
  }

  result(): Partial {
    const b = this.builder;
    if (this.spec.profileType === null || !Number.isFinite(this.minTime)) return { kind: "profile", block: null };
    b.beginProfile(b.series([], this.spec.profileType), this.maxTime, (this.maxTime - this.minTime) * 1e6);
    for (let i = 1; i < b.stackNodeCount; i++) if (this.values[i] !== 0) b.addSample(i, this.values[i]);
    b.endProfile();
    const block = encodeBlock(b, { tenant: this.spec.tenant, service: "", shard: 0, blockId: "partial", createdAtMs: 0 }, 0);
    return { kind: "profile", block };
  }

  memoryBytes(): number {
    const b = this.builder;
    // Rough per-row sizes of the builder's columns and indexes.
    return this.values.byteLength + b.stackNodeCount * 20 + b.locationCount * 40 + b.functionCount * 32 + b.strings.length * 48;
  }
}

/**
 * Profiles bucketed the SelectSeries way (spec §3.8): bucket right edges are aligned to the start,
 * start, start+step, … ≤ end, and bucket b holds the profiles with b-step < t ≤ b (the first one
 * also t = start-step), so reads start one step before the query's start. Calls `visit` with the
 * series, bucket, total (Σ sample values) and time of every matching profile.
 */
function forEachBucketed(
  view: BlockView,
  spec: QuerySpec,
  matchers: readonly Matcher[],
  stepMs: number,
  stats: ReadStats,
  visit: (series: number, bucket: number, total: number, timeMs: number) => void,
): void {
  const sel = selectSeries(view, spec, matchers);
  if (!sel) return;
  const samples = view.samples!;
  const { profileSeries, profileTime, profileSampleStart } = view.profiles;
  const { startMs, endMs } = spec;
  const lastBucket = Math.floor((endMs - startMs) / stepMs);
  for (let p = 0; p < profileSeries.length; p++) {
    const s = profileSeries[p];
    const t = profileTime[p];
    if (sel[s] === 0 || t < startMs - stepMs || t > endMs) continue;
    const k = Math.max(0, Math.ceil((t - startMs) / stepMs));
    if (k > lastBucket) continue;
    let total = 0;
    for (let i = profileSampleStart[p]; i < profileSampleStart[p + 1]; i++) total += samples.sampleValue[i];
    stats.profiles++;
    stats.samples += profileSampleStart[p + 1] - profileSampleStart[p];
    visit(s, startMs + k * stepMs, total, t);
  }
}

/** Series grouped by their `group_by` label values (absent labels left out), a `T` per group. */
class Groups<T> {
  readonly byKey = new Map<string, { labels: LabelPairs; value: T }>();

  constructor(
    private readonly groupBy: readonly string[],
    private readonly init: () => T,
  ) {}

  /** The group values of the series of `view`, each series' labels projected once. */
  of(view: BlockView): (series: number) => T {
    const cache = new Array<T | undefined>(view.series.seriesProfileType.length);
    return (s) => (cache[s] ??= this.get(seriesLabels(view, s)));
  }

  private get(all: LabelPairs): T {
    const labels: LabelPairs = [];
    for (const name of this.groupBy) {
      const pair = all.find(([n]) => n === name);
      if (pair) labels.push(pair);
    }
    const key = JSON.stringify(labels);
    let g = this.byKey.get(key);
    if (!g) this.byKey.set(key, (g = { labels, value: this.init() }));
    return g.value;
  }
}

interface SeriesCell {
  sum: number;
  count: number;
  best: Candidate | null;
}

class SeriesAccumulator implements Accumulator {
  readonly depth = "samples" as const;
  readonly stats = emptyStats();
  /** Per group: bucket right edge → its cell. */
  private readonly groups: Groups<Map<number, SeriesCell>>;

  constructor(
    private readonly spec: QuerySpec,
    private readonly matchers: readonly Matcher[],
    private readonly stepMs: number,
    private readonly groupBy: readonly string[],
    private readonly exemplars: boolean,
  ) {
    this.groups = new Groups(groupBy, () => new Map());
  }

  add(view: BlockView): void {
    const groupOf = this.groups.of(view);
    const identOf = this.exemplars ? seriesIdents(view, this.spec.tenant, this.groupBy) : null;
    forEachBucketed(view, this.spec, this.matchers, this.stepMs, this.stats, (s, bucket, total, t) => {
      const buckets = groupOf(s);
      let cell = buckets.get(bucket);
      if (!cell) buckets.set(bucket, (cell = { sum: 0, count: 0, best: null }));
      cell.sum += total;
      cell.count += 1;
      if (identOf) cell.best = keepBest(cell.best, total, t, identOf(s));
    });
  }

  result(): Partial {
    const groups: SeriesGroup[] = [];
    for (const { labels, value: buckets } of this.groups.byKey.values()) {
      const times = [...buckets.keys()].sort((a, b) => a - b);
      const cells = times.map((t) => buckets.get(t)!);
      const g: SeriesGroup = { labels, times, sums: cells.map((c) => c.sum), counts: cells.map((c) => c.count) };
      if (this.exemplars) g.exemplars = cells.map((c) => exemplarOf(c.best!));
      groups.push(g);
    }
    return { kind: "series", groups };
  }

  memoryBytes(): number {
    let cells = 0;
    for (const g of this.groups.byKey.values()) cells += g.value.size;
    return cells * (this.exemplars ? 96 : 64) + this.groups.byKey.size * 256;
  }
}

/** The least and greatest total of the profiles a heatmap counts: two numbers, whatever the range. */
class RangeAccumulator implements Accumulator {
  readonly depth = "samples" as const;
  readonly stats = emptyStats();
  private min = Infinity;
  private max = -Infinity;

  constructor(
    private readonly spec: QuerySpec,
    private readonly matchers: readonly Matcher[],
    private readonly stepMs: number,
  ) {}

  add(view: BlockView): void {
    forEachBucketed(view, this.spec, this.matchers, this.stepMs, this.stats, (_s, _bucket, total) => {
      this.min = Math.min(this.min, total);
      this.max = Math.max(this.max, total);
    });
  }

  result(): Partial {
    return { kind: "range", range: this.min <= this.max ? { min: this.min, max: this.max } : null };
  }

  memoryBytes(): number {
    return 16;
  }
}

/**
 * Profiles counted per group, slot and Y bucket: the partial grows with the non-empty slots, never
 * with the profiles in them.
 */
class HeatmapAccumulator implements Accumulator {
  readonly depth = "samples" as const;
  readonly stats = emptyStats();
  /** Per group: slot right edge → profiles per Y bucket, and the greatest of each when asked. */
  private readonly groups: Groups<Map<number, { counts: Int32Array; best: (Candidate | null)[] | null }>>;
  private readonly bounds: number[];

  constructor(
    private readonly spec: QuerySpec,
    private readonly matchers: readonly Matcher[],
    private readonly task: HeatmapTask,
  ) {
    this.groups = new Groups(task.groupBy, () => new Map());
    this.bounds = yBucketBounds(task);
  }

  add(view: BlockView): void {
    const groupOf = this.groups.of(view);
    const { buckets, exemplars } = this.task;
    const identOf = exemplars ? seriesIdents(view, this.spec.tenant, this.task.groupBy) : null;
    forEachBucketed(view, this.spec, this.matchers, this.task.stepMs, this.stats, (s, slot, total, t) => {
      const slots = groupOf(s);
      let cell = slots.get(slot);
      if (!cell) slots.set(slot, (cell = { counts: new Int32Array(buckets), best: exemplars ? new Array<Candidate | null>(buckets).fill(null) : null }));
      const y = yBucketOf(this.bounds, total);
      cell.counts[y]++;
      if (identOf) cell.best![y] = keepBest(cell.best![y], total, t, identOf(s));
    });
  }

  result(): Partial {
    const groups: HeatmapGroup[] = [];
    for (const { labels, value: slots } of this.groups.byKey.values()) {
      const times = [...slots.keys()].sort((a, b) => a - b);
      const cells = times.map((t) => slots.get(t)!);
      const g: HeatmapGroup = { labels, times, counts: cells.flatMap((c) => [...c.counts]) };
      if (this.task.exemplars) g.exemplars = cells.flatMap((c) => c.best!.map((b) => (b ? exemplarOf(b) : null)));
      groups.push(g);
    }
    return { kind: "heatmap", groups };
  }

  memoryBytes(): number {
    let cells = 0;
    for (const g of this.groups.byKey.values()) cells += g.value.size;
    const perCell = 48 + 4 * this.task.buckets + (this.task.exemplars ? 48 * this.task.buckets : 0);
    return cells * perCell + this.groups.byKey.size * 256;
  }
}

/**
 * The Y bucket of a value: the last whose lower bound is ≤ it, so the maximum lands in the last
 * bucket. Values outside the bounds (a profile pushed between a heatmap's two passes) are clamped
 * into the first or last bucket rather than dropped.
 */
function yBucketOf(bounds: readonly number[], value: number): number {
  let lo = 0;
  let hi = bounds.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (bounds[mid] <= value) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

class LabelsAccumulator implements Accumulator {
  readonly depth = "series" as const;
  readonly stats = emptyStats();
  private readonly series = new Map<string, SeriesEntry>();

  constructor(
    private readonly spec: QuerySpec,
    private readonly matchers: readonly Matcher[],
  ) {}

  add(view: BlockView): void {
    const sel = selectSeries(view, this.spec, this.matchers);
    if (!sel) return;
    const { profileSeries, profileTime } = view.profiles;
    const seen = new Array<SeriesEntry | undefined>(sel.length);
    for (let p = 0; p < profileSeries.length; p++) {
      const s = profileSeries[p];
      const t = profileTime[p];
      if (sel[s] === 0 || t < this.spec.startMs || t > this.spec.endMs) continue;
      this.stats.profiles++;
      let e = seen[s];
      if (!e) {
        const profileType = view.strings[view.series.seriesProfileType[s]];
        const labels = seriesLabels(view, s);
        const key = seriesKey(labels, profileType);
        e = this.series.get(key);
        if (!e) this.series.set(key, (e = { profileType, labels, minTimeMs: t, maxTimeMs: t }));
        seen[s] = e;
      }
      e.minTimeMs = Math.min(e.minTimeMs, t);
      e.maxTimeMs = Math.max(e.maxTimeMs, t);
    }
  }

  result(): Partial {
    return { kind: "labels", series: [...this.series.values()] };
  }

  memoryBytes(): number {
    let bytes = 0;
    for (const e of this.series.values()) for (const [n, v] of e.labels) bytes += n.length + v.length + 48;
    return bytes;
  }
}
