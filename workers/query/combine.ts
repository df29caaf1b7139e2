// Combines partial results of one task from blocks, mergers and ingesters. Every combination is
// an exact sum (trees and profiles add values per stack, series add per bucket), so the order in
// which partials arrive never changes the answer.

import { BlockBuilder, seriesKey } from "../block/builder";
import { decodeBlock } from "../block/decode";
import { mergeInto } from "../block/merge";
import type { Partial, SeriesEntry, SeriesGroup } from "./spec";
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

export function combineSeries(parts: readonly Partial[]): SeriesGroup[] {
  const groups = new Map<string, { labels: SeriesGroup["labels"]; cells: Map<number, [number, number]> }>();
  for (const p of parts) {
    if (p.kind !== "series") continue;
    for (const g of p.groups) {
      const key = JSON.stringify(g.labels);
      let acc = groups.get(key);
      if (!acc) groups.set(key, (acc = { labels: g.labels, cells: new Map() }));
      for (let i = 0; i < g.times.length; i++) {
        const cell = acc.cells.get(g.times[i]);
        if (cell) {
          cell[0] += g.sums[i];
          cell[1] += g.counts[i];
        } else {
          acc.cells.set(g.times[i], [g.sums[i], g.counts[i]]);
        }
      }
    }
  }
  return [...groups.values()].map(({ labels, cells }) => {
    const times = [...cells.keys()].sort((a, b) => a - b);
    return { labels, times, sums: times.map((t) => cells.get(t)![0]), counts: times.map((t) => cells.get(t)![1]) };
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
