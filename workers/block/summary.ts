// The per-dataset summary stored in the TOC, so a query planner can skip blocks and sections by
// time range and profile type without reading them.

import type { BlockBuilder } from "./builder";
import type { DatasetSummary, TypeSummary } from "./format";

export function summarize(b: BlockBuilder): DatasetSummary {
  const byType = new Map<number, TypeSummary>();
  let minTimeMs = Infinity;
  let maxTimeMs = -Infinity;
  const values = b.sampleValue.view();
  for (let p = 0; p < b.profileCount; p++) {
    const t = b.profileTime.get(p);
    if (t < minTimeMs) minTimeMs = t;
    if (t > maxTimeMs) maxTimeMs = t;
    const typeIdx = b.seriesProfileType.get(b.profileSeries.get(p));
    let ts = byType.get(typeIdx);
    if (!ts) {
      ts = { profileType: b.strings[typeIdx], profiles: 0, samples: 0, total: 0 };
      byType.set(typeIdx, ts);
    }
    const [start, end] = b.profileSamples(p);
    let total = 0;
    for (let i = start; i < end; i++) total += values[i];
    ts.profiles++;
    ts.samples += end - start;
    ts.total += total;
  }
  const types = [...byType.values()].sort((x, y) => (x.profileType < y.profileType ? -1 : x.profileType > y.profileType ? 1 : 0));
  const empty = b.profileCount === 0;
  return {
    minTimeMs: empty ? 0 : minTimeMs,
    maxTimeMs: empty ? 0 : maxTimeMs,
    series: b.seriesCount,
    profiles: b.profileCount,
    samples: b.sampleCount,
    types,
  };
}
