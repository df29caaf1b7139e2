// pprof ingestion: one decoded pprof → stored profiles in BlockBuilders (spec API.md §1.5.6,
// §1.6.1, §1.7, §2.2–§2.5, §6, §7.1, §7.2).
//
//   const decoded = decodePprof(bytes);              // bytes already decompressed
//   const stats = normalizePprof(decoded, input, (serviceName, labels) => builderFor(...));
//
// normalizePprof runs Pyroscope's pipeline for the /ingest path (`mode: "ingest"`: spy fix-ups,
// `__name__` heuristic, labels from `name`) or for Push (`mode: "push"`: the series labels as
// sent), then validates the profile (§7.2), splits it by sample-label set (§2.3), relabels
// (§2.5) and validates every resulting label set (§7.1). Only then does it write anything: if it
// throws (an IngestError with Pyroscope's reason and message) no builder has been touched.
//
// Each split profile is one sample type of one label group (§2.4). For each, `sink` is asked
// for the builder that must hold that series (the caller routes series to shards); the pprof's
// symbols are interned into every builder it touches, and the profile is written as
// beginProfile → addSample per sample (span/trace ids kept per sample) → endProfile. A sample
// type with no non-zero value in a group writes nothing and does not call `sink`. The stored
// series labels include `__profile_type__`, `__type__`, `__unit__`, `__period_*` (see
// storedSeriesLabels for why).
//
// Not done (yet): Pyroscope's Go-only stack repairs (§2.2 step 8; the spec does not describe
// them) and tenant relabel rules. The decoded profile is consumed: it is edited in place.

import type { BlockBuilder } from "../block/builder";
import type { Config } from "../config";
import { invalid } from "./errors";
import {
  ingestSeriesLabels,
  labelValue,
  pushSeriesLabels,
  SERVICE_NAME,
  SESSION_ID,
  validateSeriesLabels,
  withoutLabel,
  type Labels,
} from "./labels";
import { decodeProfile, type PprofProfile, type ValueTypeRef } from "./pprof-decode";
import { PprofInterner } from "./pprof-intern";
import { groupSamples, type SampleGroups } from "./pprof-split";
import { tabulate, type PprofTables } from "./pprof-tables";
import { validateProfile } from "./pprof-validate";
import { metricNameFromSampleTypes, storedSeriesLabels, type SampleTypeConfig, type ValueTypeNames } from "./profile-type";
import { applyIngestSpyFixes } from "./spy-fixes";
import { stringAt } from "./string-table";
import { applyVcsInfo } from "./vcs";

export type { SampleTypeConfig };

export interface DecodedPprof {
  readonly profile: PprofProfile;
  /** The decompressed pprof bytes, whose size validation limits. */
  readonly bytes: Uint8Array;
}

/** Decodes a decompressed pprof; undecodable bytes are refused as `malformed_profile`. */
export function decodePprof(bytes: Uint8Array): DecodedPprof {
  try {
    return { profile: decodeProfile(bytes), bytes };
  } catch (e) {
    throw invalid("malformed_profile", `failed to parse pprof: ${e instanceof Error ? e.message : String(e)}`);
  }
}

interface CommonInput {
  /** The current time, unix ms: the ingestion window and the time of profiles without one. */
  nowMs: number;
  config: Config;
}

export interface IngestInput extends CommonInput {
  mode: "ingest";
  /** The app name of `name` (becomes `service_name` unless `labels` has one). */
  appName: string;
  /** The `name` labels, without the app name; reserved `__*` keys are dropped here. */
  nameLabels: Labels;
  /** `spyName`, `unknown` when absent. */
  spyName: string;
  /** The multipart `sample_type_config` JSON object (client data: entries of any shape are tolerated). */
  sampleTypeConfig?: SampleTypeConfig;
  /** The request's `from`, unix ms (now when absent): replaces a missing or 1970 time_nanos. */
  fromMs: number;
}

export interface PushInput extends CommonInput {
  mode: "push";
  /** The RawProfileSeries labels as sent. */
  seriesLabels: Labels;
}

export type NormalizeInput = IngestInput | PushInput;

/** Returns the builder that stores series `seriesLabels` (sorted, with `__profile_type__` etc.). */
export type SeriesSink = (serviceName: string, seriesLabels: Labels) => BlockBuilder;

export interface SeriesStats {
  labels: Labels;
  profileType: string;
  /** Sample rows stored (after merging equal stacks). */
  samples: number;
  /** Σ values. */
  total: number;
}

export interface NormalizeStats {
  serviceName: string;
  /** The /ingest spyName; undefined for Push. */
  spyName: string | undefined;
  /** Profile time, unix ms. */
  timeMs: number;
  /** Profiles stored, one per (label group, sample type). */
  profiles: number;
  /** Sample rows stored over all profiles. */
  samples: number;
  series: SeriesStats[];
}

/** Everything validated and decided; writing it can no longer fail. */
interface Prepared {
  tables: PprofTables;
  groups: SampleGroups;
  /** One entry per (label group, sample type) with a non-zero value, in write order. */
  plan: { group: number; sampleType: number; labels: Labels; profileType: string }[];
  serviceName: string;
  spyName: string | undefined;
  timeMs: number;
  durationNs: number;
}

export function normalizePprof(decoded: DecodedPprof, input: NormalizeInput, sink: SeriesSink): NormalizeStats {
  return write(prepare(decoded, input), sink);
}

function prepare(decoded: DecodedPprof, input: NormalizeInput): Prepared {
  const p = decoded.profile;
  const strings = p.strings;
  const { config } = input;

  let seriesLabels: Labels;
  if (input.mode === "ingest") {
    applyIngestSpyFixes(p, input);
    const types = p.sampleTypes.map((st) => stringAt(strings, st.type));
    const metricName = metricNameFromSampleTypes(types, input.sampleTypeConfig);
    seriesLabels = ingestSeriesLabels({ appName: input.appName, labels: input.nameLabels, spyName: input.spyName, metricName });
  } else {
    seriesLabels = pushSeriesLabels(input.seriesLabels);
  }
  validateProfile(p, decoded.bytes.length, seriesLabels, config, input.nowMs);
  applyVcsInfo(p, seriesLabels);
  // max_sessions_per_series is 0: the SDK session id never reaches storage.
  seriesLabels = withoutLabel(seriesLabels, SESSION_ID);

  const tables = tabulate(p, config.MAX_PROFILE_STACKTRACE_DEPTH);
  const groups = groupSamples(p, tables.keep, seriesLabels);
  for (const labels of groups.labels) validateSeriesLabels(labels, config);

  const names = (vt: ValueTypeRef): ValueTypeNames => ({
    type: stringAt(strings, vt.type),
    unit: stringAt(strings, vt.unit),
  });
  const period = p.periodType ? names(p.periodType) : undefined;
  const T = tables.sampleTypes;
  const plan: Prepared["plan"] = [];
  groups.labels.forEach((labels, group) => {
    p.sampleTypes.forEach((vt, t) => {
      let nonZero = false;
      for (let k = groups.start[group]; k < groups.start[group + 1] && !nonZero; k++) {
        nonZero = tables.values[groups.order[k] * T + t] !== 0;
      }
      if (nonZero) plan.push({ group, sampleType: t, ...storedSeriesLabels(labels, names(vt), period) });
    });
  });

  return {
    tables,
    groups,
    plan,
    serviceName: labelValue(seriesLabels, SERVICE_NAME),
    spyName: input.mode === "ingest" ? input.spyName : undefined,
    timeMs: Number(p.timeNanos / 1_000_000n),
    durationNs: Number(p.durationNanos),
  };
}

function write(prep: Prepared, sink: SeriesSink): NormalizeStats {
  const { tables, groups, serviceName, timeMs, durationNs } = prep;
  const T = tables.sampleTypes;
  const stats: NormalizeStats = { serviceName, spyName: prep.spyName, timeMs, profiles: 0, samples: 0, series: [] };
  const interners = new Map<BlockBuilder, PprofInterner>();
  for (const { group, sampleType: t, labels, profileType } of prep.plan) {
    const builder = sink(serviceName, labels);
    let interner = interners.get(builder);
    if (interner === undefined) interners.set(builder, (interner = new PprofInterner(builder, tables)));
    const profile = builder.beginProfile(builder.series(labels, profileType), timeMs, durationNs);
    for (let k = groups.start[group]; k < groups.start[group + 1]; k++) {
      const s = groups.order[k];
      const value = tables.values[s * T + t];
      if (value === 0) continue;
      builder.addSample(interner.stack(s), value, interner.string(groups.span[s]), interner.string(groups.trace[s]));
    }
    if (!builder.endProfile()) continue;
    const [first, end] = builder.profileSamples(profile);
    stats.profiles++;
    stats.samples += end - first;
    stats.series.push({ labels, profileType, samples: end - first, total: builder.profileTotal(profile) });
  }
  return stats;
}
