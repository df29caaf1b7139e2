// The split of one pprof by its string sample labels (spec API.md §2.3): samples with the same
// label set form one group whose series labels are the series labels plus its sample labels
// (series labels win), after the default relabel rules. `trace_id` and `span_id` (and the legacy
// `profile_id`, read as span_id) never become series labels: they stay on each sample. Groups
// that end up with equal label sets are merged.

import { LabelsBuilder, type Labels } from "./labels";
import type { PprofProfile } from "./pprof-decode";
import { room } from "./pprof-grow";
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
export function groupSamples(p: PprofProfile, keep: Uint8Array, seriesLabels: Labels): SampleGroups {
  const strings = p.strings;
  const role = new Uint8Array(strings.length);
  strings.forEach((s, i) => {
    if (s === "span_id" || s === "profile_id") role[i] = SPAN;
    else if (s === "trace_id") role[i] = TRACE;
  });

  const n = keep.length;
  const span = new Int32Array(n);
  const trace = new Int32Array(n);
  // Raw groups: samples with the same (key, value) index pairs. Their label sets are built once
  // per raw group, then raw groups with equal label sets are merged.
  const rawGroupOf = new Int32Array(n).fill(-1);
  const raw = new PairLists();
  const { sampleLabelStart, labelKey, labelStr } = p;
  let pairs = new Int32Array(16);
  for (let s = 0; s < n; s++) {
    if (keep[s] === 0) continue;
    const count = sampleLabelStart[s + 1] - sampleLabelStart[s];
    if (2 * count > pairs.length) pairs = room(pairs, 2 * count);
    let np = 0;
    for (let l = sampleLabelStart[s]; l < sampleLabelStart[s + 1]; l++) {
      const key = labelKey[l];
      const str = labelStr[l];
      if (str <= 0 || strings[str] === "") continue; // numeric labels and empty values
      if (role[key] === SPAN) span[s] ||= str;
      else if (role[key] === TRACE) trace[s] ||= str;
      else {
        pairs[np++] = key;
        pairs[np++] = str;
      }
    }
    sortPairs(pairs, np);
    rawGroupOf[s] = raw.intern(pairs, np);
  }

  const labels: Labels[] = [];
  const groupIndex = new Map<string, number>();
  const groupOfRaw = new Int32Array(raw.count);
  for (let r = 0; r < raw.count; r++) {
    const b = new LabelsBuilder().reset(seriesLabels);
    for (let k = raw.start(r); k < raw.start(r + 1); k += 2) {
      const name = strings[raw.pairs[k]];
      if (b.get(name) === "") b.set(name, strings[raw.pairs[k + 1]]);
    }
    applyDefaultRelabelRules(b);
    const set = b.labels();
    const key = set.map(([name, value]) => `${name}\u0000${value}`).join("\u0001");
    let g = groupIndex.get(key);
    if (g === undefined) {
      g = labels.push(set) - 1;
      groupIndex.set(key, g);
    }
    groupOfRaw[r] = g;
  }

  // Counting sort of the kept samples by group, stable so each group keeps pprof order.
  const start = new Int32Array(labels.length + 1);
  for (let s = 0; s < n; s++) if (rawGroupOf[s] >= 0) start[groupOfRaw[rawGroupOf[s]] + 1]++;
  for (let g = 0; g < labels.length; g++) start[g + 1] += start[g];
  const order = new Int32Array(start[labels.length]);
  const fill = start.slice(0, labels.length);
  for (let s = 0; s < n; s++) if (rawGroupOf[s] >= 0) order[fill[groupOfRaw[rawGroupOf[s]]]++] = s;

  return { labels, start, order, span, trace };
}

/**
 * Distinct lists of (key, value) pairs, each stored once in one flat array and found again by
 * hash, so that telling a sample's labels apart allocates nothing per sample.
 */
class PairLists {
  /** Every list's pairs, back to back. */
  pairs = new Int32Array(64);
  count = 0;
  private starts = new Int32Array(16);
  /** Per list: the next list with the same hash, -1 = none. */
  private sameHash = new Int32Array(16);
  private readonly byHash = new Map<number, number>();

  /** Where list `i` starts in `pairs`; start(count) is the end of the last. */
  start(i: number): number {
    return this.starts[i];
  }

  /** The index of the list pairs[0, n), added when new. */
  intern(pairs: Int32Array, n: number): number {
    let hash = n;
    for (let k = 0; k < n; k++) hash = Math.imul(hash ^ pairs[k], 0x9e3779b1);
    const first = this.byHash.get(hash) ?? -1;
    for (let i = first; i >= 0; i = this.sameHash[i]) if (this.equals(i, pairs, n)) return i;

    const i = this.count++;
    const at = this.starts[i];
    this.pairs = room(this.pairs, at + n);
    this.pairs.set(pairs.subarray(0, n), at);
    this.starts = room(this.starts, i + 2);
    this.starts[i + 1] = at + n;
    this.sameHash = room(this.sameHash, i + 1);
    this.sameHash[i] = first;
    this.byHash.set(hash, i);
    return i;
  }

  private equals(i: number, pairs: Int32Array, n: number): boolean {
    const at = this.starts[i];
    if (this.starts[i + 1] - at !== n) return false;
    for (let k = 0; k < n; k++) if (this.pairs[at + k] !== pairs[k]) return false;
    return true;
  }
}

/** Sorts flattened (key, value) pairs by key then value, as Pyroscope sorts sample labels. */
function sortPairs(pairs: Int32Array, n: number): void {
  for (let i = 2; i < n; i += 2) {
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
