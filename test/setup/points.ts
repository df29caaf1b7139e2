// Real corpus profiles re-timed and scaled, and the stored profiles ("points") each upload must
// become, computed from the uploaded pprof alone: the expected side of the series, heatmap and
// exemplar tests.

import { Profile } from "pprof-format";
import { plain, testdata } from "./testdata";

/** Index of cpu/nanoseconds in the Go CPU profiles (cpu.pb.gz, cpu-exemplars.pb.gz). */
export const CPU_INDEX = 1;

/** One stored profile: an upload's samples of one label set. */
export interface Point {
  timeMs: number;
  total: number;
  labels: Record<string, string>;
}

/** A corpus profile re-timed to `timeMs` with every value multiplied by `scale` (varied totals). */
export async function upload(file: string, timeMs: number, scale: number): Promise<Uint8Array> {
  const p = Profile.decode(plain(await testdata(file)));
  p.timeNanos = BigInt(timeMs) * 1_000_000n;
  for (const s of p.sample) s.value = s.value.map((v) => (typeof v === "bigint" ? v * BigInt(scale) : v * scale));
  return p.encode();
}

/** The profiles an upload becomes: its samples grouped by their string labels but `profile_id`. */
export function pointsOf(bytes: Uint8Array, timeMs: number, pod: string, valueIndex = CPU_INDEX): Point[] {
  const p = Profile.decode(bytes);
  const str = (i: number | bigint) => String(p.stringTable.strings[Number(i)]);
  const byLabels = new Map<string, Point>();
  for (const s of p.sample) {
    const labels: Record<string, string> = { pod };
    for (const l of s.label) if (Number(l.str) !== 0 && str(l.key) !== "profile_id") labels[str(l.key)] = str(l.str);
    const key = JSON.stringify(Object.entries(labels).sort());
    const point = byLabels.get(key) ?? { timeMs, total: 0, labels };
    point.total += Number(s.value[valueIndex]);
    byLabels.set(key, point);
  }
  return [...byLabels.values()];
}
