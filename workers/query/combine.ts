// Combines partial results of one task from blocks, mergers and ingesters. Every combination is
// an exact sum or extremum (trees and profiles add values per stack, series and heatmaps add per
// bucket, ranges keep the least and greatest), so the order in which partials arrive never changes
// the answer.

import { BlockBuilder, seriesKey } from "../block/builder";
import { decodeBlock } from "../block/decode";
import { mergeInto } from "../block/merge";
import { betterExemplar, type Exemplar, type HeatmapGroup, type LabelPairs, type Partial, type SeriesEntry, type SeriesGroup } from "./spec";
import { FrameTree } from "./tree";

export function combineTrees(parts: readonly Partial[]): FrameTree {
  const tree = new FrameTree();
  for (const p of parts) if (p.kind === "tree") tree.mergeFrom(FrameTree.fromColumns(p.tree));
  return tree;
}

/** Merged profile with full symbols; null when no partial holds samples. */
export function combineProfiles(parts: readonly Partial[]): BlockBuilder | null {
  let out: BlockBuilder | null = null;
  for (const p of parts) {
    if (p.kind !== "profile" || !p.block) continue;
    out ??= new BlockBuilder();
    mergeInto(out, decodeBlock(p.block, undefined, false));
  }
  return out;
}

/**
 * Cells of partial groups merged by label set and time: `fold` adds cell `i` of a partial group
 * into the kept cell (created by `init`). Groups come back with their times sorted.
 */
function mergeGroups<G extends { labels: LabelPairs; times: number[] }, C>(
  groups: Iterable<G>,
  init: () => C,
  fold: (into: C, from: G, i: number) => void,
): { labels: LabelPairs; times: number[]; cells: C[] }[] {
  const byKey = new Map<string, { labels: LabelPairs; cells: Map<number, C> }>();
  for (const g of groups) {
    const key = JSON.stringify(g.labels);
    let acc = byKey.get(key);
    if (!acc) byKey.set(key, (acc = { labels: g.labels, cells: new Map() }));
    for (let i = 0; i < g.times.length; i++) {
      let cell = acc.cells.get(g.times[i]);
      if (cell === undefined) acc.cells.set(g.times[i], (cell = init()));
      fold(cell, g, i);
    }
  }
  return [...byKey.values()].map(({ labels, cells }) => {
    const times = [...cells.keys()].sort((a, b) => a - b);
    return { labels, times, cells: times.map((t) => cells.get(t)!) };
  });
}

/** Series groups with equal (labels, bucket) cells added up; exemplars keep the greatest profile. */
export function combineSeries(parts: readonly Partial[]): SeriesGroup[] {
  const groups = parts.flatMap((p) => (p.kind === "series" ? p.groups : []));
  const exemplars = groups.some((g) => g.exemplars);
  const merged = mergeGroups(
    groups,
    () => ({ sum: 0, count: 0, best: null as Exemplar | null }),
    (cell, g, i) => {
      cell.sum += g.sums[i];
      cell.count += g.counts[i];
      cell.best = betterExemplar(cell.best, g.exemplars?.[i]);
    },
  );
  return merged.map(({ labels, times, cells }) => {
    const g: SeriesGroup = { labels, times, sums: cells.map((c) => c.sum), counts: cells.map((c) => c.count) };
    if (exemplars) g.exemplars = cells.map((c) => c.best!);
    return g;
  });
}

/** The least and greatest profile total over all partials; null when none selected a profile. */
export function combineRange(parts: readonly Partial[]): { min: number; max: number } | null {
  let out: { min: number; max: number } | null = null;
  for (const p of parts) {
    if (p.kind !== "range" || !p.range) continue;
    out = out ? { min: Math.min(out.min, p.range.min), max: Math.max(out.max, p.range.max) } : p.range;
  }
  return out;
}

/** Heatmap groups with the counts of equal (labels, slot, Y bucket) cells added up. */
export function combineHeatmaps(parts: readonly Partial[], buckets: number): HeatmapGroup[] {
  const groups = parts.flatMap((p) => (p.kind === "heatmap" ? p.groups : []));
  const exemplars = groups.some((g) => g.exemplars);
  const merged = mergeGroups(
    groups,
    () => ({ counts: new Array<number>(buckets).fill(0), best: new Array<Exemplar | null>(buckets).fill(null) }),
    (cell, g, i) => {
      for (let y = 0; y < buckets; y++) {
        cell.counts[y] += g.counts[i * buckets + y];
        cell.best[y] = betterExemplar(cell.best[y], g.exemplars?.[i * buckets + y]);
      }
    },
  );
  return merged.map(({ labels, times, cells }) => {
    const g: HeatmapGroup = { labels, times, counts: cells.flatMap((c) => c.counts) };
    if (exemplars) g.exemplars = cells.flatMap((c) => c.best);
    return g;
  });
}

export function combineLabels(parts: readonly Partial[]): SeriesEntry[] {
  const out = new Map<string, SeriesEntry>();
  for (const p of parts) {
    if (p.kind !== "labels") continue;
    for (const e of p.series) {
      const key = seriesKey(e.labels, e.profileType);
      const have = out.get(key);
      if (!have) out.set(key, { ...e });
      else {
        have.minTimeMs = Math.min(have.minTimeMs, e.minTimeMs);
        have.maxTimeMs = Math.max(have.maxTimeMs, e.maxTimeMs);
      }
    }
  }
  return [...out.values()];
}
