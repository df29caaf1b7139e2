// Picking a profile from the time series: each point carries its bucket's greatest profile (an
// exemplar), so a click on the chart names one stored profile, which the flame graph then shows.

import type { Exemplar, Series } from "../api/querier";

/** The greatest exemplar among the points of every series at `timestampMs`. */
export function greatestExemplarAt(series: readonly Series[], timestampMs: number): Exemplar | undefined {
  let best: Exemplar | undefined;
  for (const s of series) {
    for (const p of s.points) {
      if (p.timestamp === timestampMs && p.exemplar && (!best || p.exemplar.value > best.value)) best = p.exemplar;
    }
  }
  return best;
}

export function exemplarById(series: readonly Series[], profileId: string): Exemplar | undefined {
  for (const s of series) for (const p of s.points) if (p.exemplar?.profileId === profileId) return p.exemplar;
  return undefined;
}
