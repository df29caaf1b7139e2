// Profile names and profile type ids: the /ingest `__name__` heuristic over pprof sample types
// (spec API.md §1.6.1, §1.5.6 sample_type_config) and the per-sample-type series labels of a
// stored profile (§2.4, §6.1).

import { DELTA, LabelsBuilder, METRIC_NAME, labelValue, type Labels } from "./labels";

/** One entry of the multipart `sample_type_config` JSON; only `display-name` has an effect. */
export interface SampleTypeConfigEntry {
  units?: string;
  "display-name"?: string;
  aggregation?: string;
  cumulative?: boolean;
  sampled?: boolean;
}
export type SampleTypeConfig = Record<string, SampleTypeConfigEntry>;

// Pyroscope's DefaultSampleTypeMapping, reduced to the display names (the only field used).
const DEFAULT_DISPLAY_NAMES: Readonly<Record<string, string>> = {
  samples: "cpu",
  goroutine: "goroutines",
  contentions: "mutex_count",
  delay: "mutex_duration",
};

/**
 * The `__name__` of an /ingest pprof from its sample type names (§1.6.1). Without an uploaded
 * config Pyroscope's default mapping supplies the display names; an uploaded config replaces it.
 */
export function metricNameFromSampleTypes(types: readonly string[], config: SampleTypeConfig | undefined): string {
  if (types.includes("wall")) return "wall";
  let st = "";
  for (const raw of types) {
    st = displayName(raw, config) || raw;
    if (st.includes("cpu")) return "process_cpu";
    if (st.includes("alloc_") || st.includes("inuse_") || st === "space" || st === "objects") return "memory";
    if (st.includes("mutex_")) return "mutex";
    if (st.includes("block_")) return "block";
    if (st.includes("goroutines")) return "goroutines";
  }
  return st;
}

// The config is client JSON: any entry may be of any shape.
function displayName(type: string, config: SampleTypeConfig | undefined): string {
  if (config === undefined) return Object.hasOwn(DEFAULT_DISPLAY_NAMES, type) ? DEFAULT_DISPLAY_NAMES[type] : "";
  const entry: unknown = Object.hasOwn(config, type) ? config[type] : undefined;
  const name = entry !== null && typeof entry === "object" ? (entry as SampleTypeConfigEntry)["display-name"] : undefined;
  return typeof name === "string" ? name : "";
}

export interface ValueTypeNames {
  type: string;
  unit: string;
}

/** `<name>:<type>:<unit>:<period type>:<period unit>`, empty period parts when there is none. */
function profileTypeId(name: string, sample: ValueTypeNames, period: ValueTypeNames | undefined): string {
  return `${name}:${sample.type}:${sample.unit}:${period?.type ?? ""}:${period?.unit ?? ""}`;
}

/**
 * The labels stored for one sample type of a split profile (§2.4): the series labels without
 * the consumed `__delta__`/`__order__`, plus `__profile_type__`, `__type__`, `__unit__` and,
 * when the pprof has a period type, `__period_type__`/`__period_unit__` (empty values are absent,
 * as everywhere in Pyroscope's label builder).
 *
 * These internal labels are kept in the stored series label set, as Pyroscope does, so that
 * queries and label APIs can select on them like on any other label; the profile type id is
 * also stored beside the series (BlockBuilder.series) for direct lookup. Pyroscope's private
 * `__service_name__` copy is not stored: it only orders its parquet rows.
 */
export function storedSeriesLabels(
  seriesLabels: Labels,
  sample: ValueTypeNames,
  period: ValueTypeNames | undefined,
): { labels: Labels; profileType: string } {
  const profileType = profileTypeId(labelValue(seriesLabels, METRIC_NAME), sample, period);
  const b = new LabelsBuilder().reset(seriesLabels).delete(DELTA).delete("__order__");
  b.set("__profile_type__", profileType).set("__type__", sample.type).set("__unit__", sample.unit);
  if (period !== undefined) b.set("__period_type__", period.type).set("__period_unit__", period.unit);
  return { labels: b.labels(), profileType };
}
