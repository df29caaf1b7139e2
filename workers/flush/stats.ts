// Accumulates, over the pushes of one flush, the catalog rows that describe them: the block and
// its profile types, the series, label usage per hour and the service catalog entry. Pure, so the
// ingester's flush stays a thin shell and the numbers are unit-testable.

import type { BlockBuilder, Labels } from "../block/builder";
import { seriesKey } from "../block/builder";

/** What the edge Worker knows about a push that the profiles themselves do not say. */
export interface PushMeta {
  receivedAtMs: number;
  /** Uncompressed bytes of the profile payload and its labels (Pyroscope's ingested-bytes measure). */
  bytes: number;
  spyName: string;
  /** The client, e.g. `pyroscope-go/1.2.0` or the User-Agent; "" when unknown. */
  sdk: string;
}

export interface TypeRow {
  profileType: string;
  minTime: number;
  maxTime: number;
  profiles: number;
  samples: number;
  total: number;
}
export interface SeriesRow {
  profileType: string;
  labels: Labels;
  firstSeen: number;
  lastSeen: number;
}
export interface LabelStatRow {
  name: string;
  value: string;
  hour: number;
  profiles: number;
  samples: number;
  bytes: number;
}
/** The service catalog entry; its first and last seen are the flush's minTime and maxTime. */
export interface ServiceRow {
  profileTypes: string[];
  spyNames: string[];
  sdkVersions: string[];
  profiles: number;
  ingestedBytes: number;
}

/** Labels that only restate `__profile_type__`; counting them would multiply rows for nothing. */
const REDUNDANT = new Set(["__type__", "__unit__", "__period_type__", "__period_unit__"]);
const HOUR_MS = 3_600_000;


export class FlushStats {
  readonly types = new Map<string, TypeRow>();
  /** By series key (builder `seriesKey`); the catalog fingerprints the keys when it commits. */
  readonly series = new Map<string, SeriesRow>();
  readonly labels = new Map<string, LabelStatRow>();
  readonly service: ServiceRow = {
    profileTypes: [],
    spyNames: [],
    sdkVersions: [],
    profiles: 0,
    ingestedBytes: 0,
  };
  minTime = Infinity;
  maxTime = -Infinity;
  profiles = 0;
  samples = 0;

  /** Adds one buffered push; its bytes are shared among its profiles by sample count. */
  addPush(b: BlockBuilder, meta: PushMeta): void {
    const seriesLabels: Labels[] = [];
    const seriesType: string[] = [];
    const seriesKeys: string[] = [];
    for (let s = 0; s < b.seriesCount; s++) {
      const labels = b.seriesLabelsOf(s);
      const type = b.strings[b.seriesProfileType.get(s)];
      seriesLabels.push(labels);
      seriesType.push(type);
      seriesKeys.push(seriesKey(labels, type));
    }
    const totalSamples = b.sampleCount;
    for (let p = 0; p < b.profileCount; p++) {
      const s = b.profileSeries.get(p);
      const t = b.profileTime.get(p);
      const [start, end] = b.profileSamples(p);
      const n = end - start;
      const bytes = totalSamples > 0 ? Math.round((meta.bytes * n) / totalSamples) : 0;
      this.profiles++;
      this.samples += n;
      this.minTime = Math.min(this.minTime, t);
      this.maxTime = Math.max(this.maxTime, t);

      const type = seriesType[s];
      const tr = this.types.get(type) ?? { profileType: type, minTime: t, maxTime: t, profiles: 0, samples: 0, total: 0 };
      tr.minTime = Math.min(tr.minTime, t);
      tr.maxTime = Math.max(tr.maxTime, t);
      tr.profiles++;
      tr.samples += n;
      tr.total += b.profileTotal(p);
      this.types.set(type, tr);

      const key = seriesKeys[s];
      const sr = this.series.get(key);
      if (sr) {
        sr.firstSeen = Math.min(sr.firstSeen, t);
        sr.lastSeen = Math.max(sr.lastSeen, t);
      } else {
        this.series.set(key, { profileType: type, labels: seriesLabels[s], firstSeen: t, lastSeen: t });
      }

      const hour = Math.floor(t / HOUR_MS) * HOUR_MS;
      for (const [name, value] of seriesLabels[s]) {
        if (REDUNDANT.has(name)) continue;
        const key = `${hour}\u0000${name}\u0001${value}`;
        const lr = this.labels.get(key) ?? { name, value, hour, profiles: 0, samples: 0, bytes: 0 };
        lr.profiles++;
        lr.samples += n;
        lr.bytes += bytes;
        this.labels.set(key, lr);
      }
    }
    const svc = this.service;
    svc.profiles += b.profileCount;
    svc.ingestedBytes += meta.bytes;
    addToSet(svc.spyNames, meta.spyName);
    addToSet(svc.sdkVersions, meta.sdk);
    for (const type of seriesType) addToSet(svc.profileTypes, type);
  }
}

function addToSet(list: string[], v: string): void {
  if (v && !list.includes(v)) {
    list.push(v);
    list.sort();
  }
}
