// Collapsed ("folded") stacks of the profiles in a BlockBuilder, in the exact format of the
// corpus goldens (testdata/MANIFEST.md "Golden collapsed files"): one line per distinct stack,
// `root;…;leaf <value>`, identical stacks summed, zero totals dropped, lines in byte order, each
// line ending in "\n". Inlined lines of a location are written caller first; a location without
// lines is written as its address in lower-case hex.

import type { BlockBuilder } from "../../workers/block/builder";

/** Which series to merge: gets the series' profile type id and its index in the builder. */
export type SeriesFilter = (profileType: string, series: number) => boolean;

/** Selects the series whose profile type has this sample type and unit, e.g. ("cpu", "nanoseconds"). */
export const bySampleType =
  (type: string, unit: string): SeriesFilter =>
  (profileType) => {
    const [, t, u] = profileType.split(":");
    return t === type && u === unit;
  };

export function collapsed(b: BlockBuilder, keep: SeriesFilter = () => true): string {
  const totals = new Map<string, number>();
  const frames = new Map<number, string>();
  for (let p = 0; p < b.profileCount; p++) {
    const series = b.profileSeries.get(p);
    if (!keep(b.strings[b.seriesProfileType.get(series)], series)) continue;
    const [start, end] = b.profileSamples(p);
    for (let i = start; i < end; i++) {
      const node = b.sampleNode.get(i);
      let stack = frames.get(node);
      if (stack === undefined) {
        stack = b
          .stackLocations(node)
          .flatMap((loc) => locationFrames(b, loc))
          .join(";");
        frames.set(node, stack);
      }
      totals.set(stack, (totals.get(stack) ?? 0) + b.sampleValue.get(i));
    }
  }
  const lines = [...totals].filter(([, v]) => v !== 0).map(([stack, v]) => `${stack} ${v}`);
  return lines.sort(compareBytes).map((l) => `${l}\n`).join("");
}

function locationFrames(b: BlockBuilder, loc: number): string[] {
  const [start, end] = b.locationLines(loc);
  if (start === end) return [b.locAddress.get(loc).toString(16)];
  const names: string[] = [];
  for (let k = end - 1; k >= start; k--) names.push(b.strings[b.fnName.get(b.lineFn.get(k))]);
  return names;
}

const encoder = new TextEncoder();

/** Byte order of the UTF-8 encodings: the goldens' line order. */
export function compareBytes(a: string, b: string): number {
  const x = encoder.encode(a);
  const y = encoder.encode(b);
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) if (x[i] !== y[i]) return x[i] - y[i];
  return x.length - y.length;
}
