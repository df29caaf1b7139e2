// The split of one pprof by its string sample labels (spec API.md §2.3): samples with the same
// label set form one group whose series labels are the series labels plus its sample labels
// (series labels win), after the default relabel rules. `trace_id` and `span_id` (and the legacy
// `profile_id`, read as span_id) never become series labels: they stay on each sample. Groups
// that end up with equal label sets are merged.

import type { Profile } from "pprof-format";
import { LabelsBuilder, type Labels } from "./labels";
import { tableIndex } from "./pprof-numeric";
import { applyDefaultRelabelRules } from "./relabel";

export interface SampleGroups {
  /** Per group: its series labels, sorted (not yet validated). */
  labels: Labels[];
  /** Group g holds samples order[start[g]] … order[start[g+1] - 1], in pprof order. */
  start: Int32Array;
  order: Int32Array;
  /** Per sample: string-table index of its span id / trace id, 0 = none. */
  span: Int32Array;
  trace: Int32Array;
}

const SPAN = 1;
const TRACE = 2;

/** Groups the samples with `keep[s] === 1`; the others belong to no group. */
export function groupSamples(p: Profile, strings: readonly string[], keep: Uint8Array, seriesLabels: Labels): SampleGroups {
  const role = new Uint8Array(strings.length);
  strings.forEach((s, i) => {
    if (s === "span_id" || s === "profile_id") role[i] = SPAN;
    else if (s === "trace_id") role[i] = TRACE;
  });

  const n = p.sample.length;
  const span = new Int32Array(n);
  const trace = new Int32Array(n);
  // Raw groups: samples with the same (key, value) index pairs. Their label sets are built once
  // per raw group, then raw groups with equal label sets are merged.
  const rawGroupOf = new Int32Array(n).fill(-1);
  const rawIndex = new Map<string, number>();
  const rawPairs: number[][] = [];
  let pairs: number[] = [];
  for (let s = 0; s < n; s++) {
    if (keep[s] === 0) continue;
    pairs.length = 0;
    for (const l of p.sample[s].label) {
      const key = tableIndex(l.key);
      const str = tableIndex(l.str);
      if (str <= 0 || strings[str] === "") continue; // numeric labels and empty values
      if (role[key] === SPAN) span[s] ||= str;
      else if (role[key] === TRACE) trace[s] ||= str;
      else pairs.push(key, str);
    }
    sortPairs(pairs);
    const signature = pairs.length === 0 ? "" : pairs.join(",");
    let raw = rawIndex.get(signature);
    if (raw === undefined) {
      raw = rawPairs.push(pairs) - 1;
      rawIndex.set(signature, raw);
      pairs = [];
    }
    rawGroupOf[s] = raw;
  }

  const labels: Labels[] = [];
  const groupIndex = new Map<string, number>();
  const groupOfRaw = rawPairs.map((raw) => {
    const b = new LabelsBuilder().reset(seriesLabels);
    for (let k = 0; k < raw.length; k += 2) {
      const name = strings[raw[k]];
      if (b.get(name) === "") b.set(name, strings[raw[k + 1]]);
    }
    applyDefaultRelabelRules(b);
    const set = b.labels();
    const key = set.map(([name, value]) => `${name}\u0000${value}`).join("\u0001");
    let g = groupIndex.get(key);
    if (g === undefined) {
      g = labels.push(set) - 1;
      groupIndex.set(key, g);
    }
    return g;
  });

  // Counting sort of the kept samples by group, stable so each group keeps pprof order.
  const start = new Int32Array(labels.length + 1);
  for (let s = 0; s < n; s++) if (rawGroupOf[s] >= 0) start[groupOfRaw[rawGroupOf[s]] + 1]++;
  for (let g = 0; g < labels.length; g++) start[g + 1] += start[g];
  const order = new Int32Array(start[labels.length]);
  const fill = start.slice(0, labels.length);
  for (let s = 0; s < n; s++) if (rawGroupOf[s] >= 0) order[fill[groupOfRaw[rawGroupOf[s]]]++] = s;

  return { labels, start, order, span, trace };
}

/** Sorts flattened (key, value) pairs by key then value, as Pyroscope sorts sample labels. */
function sortPairs(pairs: number[]): void {
  for (let i = 2; i < pairs.length; i += 2) {
    const k = pairs[i];
    const v = pairs[i + 1];
    let j = i - 2;
    while (j >= 0 && (pairs[j] > k || (pairs[j] === k && pairs[j + 1] > v))) {
      pairs[j + 2] = pairs[j];
      pairs[j + 3] = pairs[j + 1];
      j -= 2;
    }
    pairs[j + 2] = k;
    pairs[j + 3] = v;
  }
}
