// Helpers for the legacy Pyroscope OG render API (spec API.md §5.1–§5.3): the SelectSeries step,
// the flamebearer timeline and the flamebearer metadata. Pure functions, no I/O.

// CalcPointInterval's ladder as [upper bound of (end-start)/1500 in seconds, step in seconds].
// The reference never returns less than 15 s, so the finer rungs below 17.5 s are folded into the first.
const STEP_LADDER: readonly (readonly [number, number])[] = [
  [17.5, 15],
  [25, 20],
  [45, 30],
  [90, 60],
  [210, 120],
  [450, 300],
  [750, 600],
  [1050, 900],
  [1500, 1200],
  [2700, 1800],
  [5400, 3600],
  [9000, 7200],
  [16200, 10800],
  [32400, 21600],
  [86400, 43200],
  [172800, 86400],
  [604800, 86400],
  [1814400, 604800],
];
const MONTH_SEC = 30 * 86400;
const YEAR_SEC = 365 * 86400;
// The month rung is the only one bounded exclusively.
const MONTH_RUNG_LIMIT_SEC = 3628800;

/** The SelectSeries step (seconds) for a render over [startMs, endMs]: about 1500 points, never under 15 s. */
export function calcPointIntervalSec(startMs: number, endMs: number): number {
  const intervalSec = (endMs - startMs) / 1500 / 1000;
  for (const [limit, step] of STEP_LADDER) {
    if (intervalSec <= limit) return step;
  }
  return intervalSec < MONTH_RUNG_LIMIT_SEC ? MONTH_SEC : YEAR_SEC;
}

export interface Timeline {
  /** Seconds since the epoch. */
  startTime: number;
  samples: number[];
  /** Seconds. */
  durationDelta: number;
  watermarks: null;
}

/**
 * The dense timeline of one SelectSeries series. `stepSec` must be a positive whole number of seconds,
 * as calcPointIntervalSec returns.
 */
export function buildTimeline(
  points: readonly { timestamp: number; value: number }[],
  startMs: number,
  endMs: number,
  stepSec: number,
): Timeline {
  const stepMs = stepSec * 1000;
  // Snapping both ends down keeps every slot step-aligned, as the OG UI expects.
  const snappedStartMs = Math.floor(startMs / stepMs) * stepMs;
  const snappedEndMs = Math.floor(endMs / stepMs) * stepMs;
  const timeline: Timeline = {
    startTime: snappedStartMs / 1000,
    samples: [],
    durationDelta: stepSec,
    watermarks: null,
  };
  if (snappedStartMs >= snappedEndMs) return timeline;

  timeline.samples = new Array<number>((snappedEndMs - snappedStartMs) / stepMs).fill(0);
  for (const { timestamp, value } of points) {
    if (timestamp < snappedStartMs || timestamp >= snappedEndMs) continue;
    // The reference stores uint64(value): fractions are cut off.
    timeline.samples[Math.floor((timestamp - snappedStartMs) / stepMs)] = Math.trunc(value);
  }
  return timeline;
}

export interface FlamebearerMetadata {
  format: "single" | "double";
  spyName: string;
  sampleRate: number;
  units: string;
  name: string;
}

const OBJECT_SAMPLE_TYPES = new Set(["inuse_objects", "alloc_objects", "goroutine", "samples"]);
// The OG UI divides cpu values by sampleRate to show time: cpu is stored in nanoseconds.
const CPU_SAMPLE_RATE = 1_000_000_000;
const DEFAULT_SAMPLE_RATE = 100;

/** Metadata as ExportToFlamebearer derives it from the profile type id `name:sample_type:sample_unit:…`. */
export function flamebearerMetadata(profileTypeId: string, format: "single" | "double"): FlamebearerMetadata {
  const [, sampleType = "", sampleUnit = ""] = profileTypeId.split(":");
  const metadata: FlamebearerMetadata = {
    format,
    spyName: "",
    sampleRate: DEFAULT_SAMPLE_RATE,
    units: sampleUnit,
    name: sampleType,
  };
  if (sampleType === "cpu") {
    metadata.units = "samples";
    metadata.sampleRate = CPU_SAMPLE_RATE;
  } else if (OBJECT_SAMPLE_TYPES.has(sampleType)) {
    metadata.units = "objects";
  }
  return metadata;
}

/** The JSON body of /pyroscope/render and /pyroscope/render-diff (§5.1, §5.3). */
export interface FlamebearerProfile {
  version: 1;
  flamebearer: { names: string[]; levels: number[][]; numTicks: number; maxSelf: number };
  metadata: FlamebearerMetadata;
  timeline: Timeline | null;
  groups: Record<string, Timeline> | null;
  heatmap: null;
  leftTicks?: number;
  rightTicks?: number;
}
