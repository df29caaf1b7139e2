// The legacy "put" of the text, tree, trie, lines and speedscope formats (spec API.md §1.6.3):
// the app name's last dot-separated part picks the profile type, cpu and wall values become
// nanoseconds at the request's sampleRate, and the series labels are formed from `name`. The
// result is an AssembledProfile for normalizePprof in push mode, like every non-pprof format.

import { PprofAssembler, type AssembledProfile, type ValueTypeName } from "./assemble";
import { badRequest } from "./errors";
import { formatLabels, METRIC_NAME, pushSeriesLabels, SERVICE_NAME, type Labels } from "./labels";
import type { StackTree } from "./stack-tree";

/** What a legacy upload's query string says about the profile. */
export interface LegacyMeta {
  /** The app name of `name`, suffix included (`my.app.cpu`). */
  appName: string;
  /** The `name` labels without the app name, reserved `__*` keys already dropped (parseName). */
  nameLabels: Labels;
  spyName: string;
  /** Hz, from parseSampleRate. */
  sampleRate: number;
  /** The request's `from` and `until`, unix ms. */
  fromMs: number;
  untilMs: number;
}

export const DEFAULT_SAMPLE_RATE = 100;

/** `sampleRate`: absent, non-integer or negative → 100 (Pyroscope logs and uses its default); 0 stays 0. */
export function parseSampleRate(param: string | null): number {
  if (param === null || !/^[+-]?\d+$/.test(param)) return DEFAULT_SAMPLE_RATE;
  const rate = Number(param);
  return rate < 0 ? DEFAULT_SAMPLE_RATE : rate;
}

interface LegacyType {
  metricName: string;
  sampleType: ValueTypeName;
  /** cpu and wall: values are sample counts, stored as nanoseconds when the rate is known. */
  timed?: "cpu" | "wall";
}

const CPU: LegacyType = { metricName: "process_cpu", sampleType: ["samples", "count"], timed: "cpu" };
const WALL: LegacyType = { metricName: "wall", sampleType: ["samples", "count"], timed: "wall" };
const memory = (type: string, unit: string): LegacyType => ({ metricName: "memory", sampleType: [type, unit] });

// Pyroscope's convertMetadata table. `lock_*` map to block, not mutex, as Pyroscope does.
const TYPES: ReadonlyMap<string, LegacyType> = new Map([
  ["cpu", CPU],
  ["itimer", CPU],
  ["wall", WALL],
  ["seconds", WALL],
  ["nanoseconds", WALL],
  ["microseconds", WALL],
  ["milliseconds", WALL],
  ["inuse_objects", memory("inuse_objects", "count")],
  ["alloc_objects", memory("alloc_objects", "count")],
  ["inuse_space", memory("inuse_space", "bytes")],
  ["alloc_space", memory("alloc_space", "bytes")],
  ["goroutines", { metricName: "goroutine", sampleType: ["goroutines", "count"] }],
  ["mutex_count", { metricName: "mutex", sampleType: ["contentions", "count"] }],
  ["mutex_duration", { metricName: "mutex", sampleType: ["delay", "nanoseconds"] }],
  ["block_count", { metricName: "block", sampleType: ["contentions", "count"] }],
  ["block_duration", { metricName: "block", sampleType: ["delay", "nanoseconds"] }],
  ["lock_count", { metricName: "block", sampleType: ["contentions", "count"] }],
  ["lock_duration", { metricName: "block", sampleType: ["delay", "nanoseconds"] }],
  ["alloc_in_new_tlab_objects", memory("alloc_in_new_tlab_objects", "count")],
  ["alloc_outside_tlab_objects", memory("alloc_outside_tlab_objects", "count")],
  ["alloc_in_new_tlab_bytes", memory("alloc_in_new_tlab_bytes", "bytes")],
  ["alloc_outside_tlab_bytes", memory("alloc_outside_tlab_bytes", "bytes")],
  ["live", memory("live", "count")],
  ["exceptions", { metricName: "exceptions", sampleType: ["samples", "count"] }],
  ["bytes", memory("samples", "bytes")],
]);

/**
 * One legacy put: `stacks` (values > 0 kept) as a profile with its series labels; none when the
 * labels carry a `profile_id` (Pyroscope treats such an upload as a silent no-op).
 * `extraLabels` (speedscope's `profile_name`) override `name` labels of the same name.
 * Throws `bad_request` (400) `unknown profile type: <suffix>` for a suffix outside the table, and
 * for the push-step limits the stacks are held to before they are written out (StackTree).
 */
export function legacyProfile(stacks: StackTree, meta: LegacyMeta, extraLabels: Labels = []): AssembledProfile[] {
  const given = [...meta.nameLabels.filter(([n]) => !extraLabels.some(([x]) => x === n)), ...extraLabels];
  if (given.some(([n, v]) => n === "profile_id" && v !== "")) return [];

  const dot = meta.appName.lastIndexOf(".");
  const suffix = dot < 0 ? "cpu" : meta.appName.slice(dot + 1);
  const app = dot < 0 ? meta.appName : meta.appName.slice(0, dot);
  const type = TYPES.get(suffix);
  if (type === undefined) throw badRequest("unknown_profile_type", `unknown profile type: ${suffix}`);

  let sampleType = type.sampleType;
  let periodType: ValueTypeName | undefined;
  let scale = 1;
  if (type.timed !== undefined && meta.sampleRate !== 0) {
    // Pyroscope's integer period; a rate above 1 GHz gives 0, and so nothing to store.
    scale = Math.trunc(1e9 / meta.sampleRate);
    sampleType = [type.timed, "nanoseconds"];
    periodType = ["cpu", "nanoseconds"];
  }

  const assembler = new PprofAssembler({
    sampleTypes: [sampleType],
    periodType,
    timeNanos: BigInt(Math.trunc(meta.fromMs)) * 1_000_000n,
    durationNanos: BigInt(Math.max(0, Math.trunc(meta.untilMs - meta.fromMs))) * 1_000_000n,
  });
  const labels = seriesLabels(type.metricName, app, meta.spyName, given);
  // Frame positions by name id, made on first use.
  const frameOf = new Int32Array(stacks.names.length).fill(-1);
  const value = [0];
  stacks.forEachStack(
    (v) => v * scale > 0,
    (actual, limit) =>
      badRequest(
        "samples_limit",
        `the profile with labels '${formatLabels(pushSeriesLabels(labels))}' exceeds the samples count limit (max_profile_stacktrace_samples, actual: ${actual}, limit: ${limit})`,
      ),
    (leafFirst, v) => {
      // The frames are a scratch array: rewritten in place from name ids to frame positions.
      for (let i = 0; i < leafFirst.length; i++) {
        const name = leafFirst[i];
        if (frameOf[name] < 0) frameOf[name] = assembler.frame(stacks.names[name]);
        leafFirst[i] = frameOf[name];
      }
      value[0] = v * scale;
      assembler.sample(leafFirst, value);
    },
  );
  return [{ labels, profile: assembler.finish() }];
}

/** §1.6.3: `service_name` is the app unless `name` gave one, in which case the app is `app_name`. */
function seriesLabels(metricName: string, app: string, spyName: string, given: Labels): Labels {
  const labels: Labels = [[METRIC_NAME, metricName], ["pyroscope_spy", spyName], ...given];
  if (!given.some(([n]) => n === SERVICE_NAME)) labels.push([SERVICE_NAME, app]);
  else if (!given.some(([n]) => n === "app_name")) labels.push(["app_name", app]);
  return labels;
}
