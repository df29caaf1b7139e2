// The package's TypeScript sources, not its CommonJS dist: inside workerd a CommonJS `require("zod")` gets
// zod's ESM default export (the namespace, which has no `z`), so dist/ fails to load.
import { FlamebearerProfileSchema, GroupsSchema } from "@pyroscope/models/src/index";
import { describe, expect, it } from "vitest";
import {
  buildTimeline,
  calcPointIntervalSec,
  type FlamebearerProfile,
  flamebearerMetadata,
} from "../workers/render/legacy";

const SEC = 1000;
const HOUR = 3600 * SEC;
const DAY = 24 * HOUR;
// Hour-aligned, so that it is also a multiple of every step used below.
const T0 = 1_699_999_200_000;

describe("calcPointIntervalSec", () => {
  it.each([
    ["1h", HOUR, 15],
    ["24h", DAY, 60],
    ["7d", 7 * DAY, 300],
    ["empty range", 0, 15],
    ["below the 15 s floor", 5 * 60 * SEC, 15],
    // Rung boundaries are inclusive: (end-start)/1500 = 17.5 s is still 15 s.
    ["17.5 s per point", 1500 * 17.5 * SEC, 15],
    ["just over 17.5 s per point", 1500 * 17.5 * SEC + 1, 20],
    ["30d", 30 * DAY, 1800],
    ["the 12h rung", 1500 * 86400 * SEC, 43200],
    ["the 24h rung reaches up to a week per point", 1500 * 604800 * SEC, 86400],
    ["the 1w rung", 1500 * 1814400 * SEC, 604800],
    // The month rung alone is exclusive.
    ["just under 3628800 s per point", 1500 * 3628800 * SEC - 1, 30 * 86400],
    ["3628800 s per point", 1500 * 3628800 * SEC, 365 * 86400],
  ])("%s", (_, rangeMs, stepSec) => {
    expect(calcPointIntervalSec(T0, T0 + rangeMs)).toBe(stepSec);
  });
});

describe("buildTimeline", () => {
  // 1_699_999_995 and 1_700_000_055 are the multiples of 15 s at or below start and end.
  const startMs = 1_700_000_007_000;
  const endMs = 1_700_000_062_000;

  it("snaps both ends down to the step and fills slots by timestamp", () => {
    const points = [
      { timestamp: 1_699_999_990_000, value: 99 }, // before the snapped start
      { timestamp: 1_700_000_007_000, value: 5 }, // SelectSeries' first bucket ends at `start`
      { timestamp: 1_700_000_037_000, value: 7.9 }, // slot 1 has no point
      { timestamp: 1_700_000_052_000, value: 3 },
      { timestamp: 1_700_000_055_000, value: 99 }, // the snapped end is exclusive
    ];
    expect(buildTimeline(points, startMs, endMs, 15)).toEqual({
      startTime: 1_699_999_995,
      samples: [5, 0, 7, 3],
      durationDelta: 15,
      watermarks: null,
    });
  });

  it("places a point by the slot that contains it, not by its rank", () => {
    const timeline = buildTimeline([{ timestamp: T0 + 10 * 60 * SEC + 1, value: 1 }], T0, T0 + HOUR, 60);
    expect(timeline.startTime).toBe(T0 / SEC);
    expect(timeline.samples).toHaveLength(60);
    expect(timeline.samples.indexOf(1)).toBe(10);
  });

  it("has no slots when start is not before end", () => {
    expect(buildTimeline([{ timestamp: endMs, value: 1 }], endMs, endMs, 15)).toEqual({
      startTime: 1_700_000_055,
      samples: [],
      durationDelta: 15,
      watermarks: null,
    });
    expect(buildTimeline([], endMs, startMs, 15).samples).toEqual([]);
    // Both ends within one step snap to the same instant.
    expect(buildTimeline([], T0 + SEC, T0 + 14 * SEC, 15).samples).toEqual([]);
  });
});

describe("flamebearerMetadata", () => {
  it.each([
    ["process_cpu:cpu:nanoseconds:cpu:nanoseconds", "cpu", "samples", 1_000_000_000],
    ["process_cpu:samples:count:cpu:nanoseconds", "samples", "objects", 100],
    ["memory:inuse_objects:count:space:bytes", "inuse_objects", "objects", 100],
    ["memory:alloc_space:bytes:space:bytes", "alloc_space", "bytes", 100],
    ["wall:wall:nanoseconds:wall:nanoseconds", "wall", "nanoseconds", 100],
    ["goroutine:goroutine:count:goroutine:count", "goroutine", "objects", 100],
  ])("%s", (id, name, units, sampleRate) => {
    expect(flamebearerMetadata(id, "single")).toEqual({ format: "single", spyName: "", sampleRate, units, name });
  });

  it("passes the format through", () => {
    expect(flamebearerMetadata("memory:alloc_space:bytes:space:bytes", "double").format).toBe("double");
  });
});

describe("FlamebearerProfile against the OG UI's schema (@pyroscope/models)", () => {
  const graph = { names: ["total", "a", "b"], levels: [[0, 3, 0, 0], [0, 3, 1, 1], [1, 2, 2, 2]], total: 3, maxSelf: 2 };
  const timeline = buildTimeline([{ timestamp: T0, value: 3 }], T0, T0 + HOUR, calcPointIntervalSec(T0, T0 + HOUR));
  const profile: FlamebearerProfile = {
    version: 1,
    flamebearer: { names: graph.names, levels: graph.levels, numTicks: graph.total, maxSelf: graph.maxSelf },
    metadata: flamebearerMetadata("process_cpu:cpu:nanoseconds:cpu:nanoseconds", "single"),
    timeline,
    groups: { "*": timeline },
    heatmap: null,
  };

  it("parses, keeping the flame graph and metadata", () => {
    // Round-trip through JSON: the UI sees the wire form, not the object.
    const parsed = FlamebearerProfileSchema.parse(JSON.parse(JSON.stringify(profile)));
    expect(parsed.flamebearer).toEqual(profile.flamebearer);
    // The schema maps an empty spyName to "unknown" itself.
    expect(parsed.metadata).toEqual({ ...profile.metadata, spyName: "unknown" });
    expect(GroupsSchema.parse(profile.groups)).toEqual({
      "*": { startTime: timeline.startTime, samples: timeline.samples, durationDelta: 15 },
    });
  });

  it("rejects a malformed profile, so the check above has teeth", () => {
    const broken = {
      ...profile,
      flamebearer: { ...profile.flamebearer, levels: [["0"]] },
      metadata: { ...profile.metadata, format: "triple" },
    };
    expect(FlamebearerProfileSchema.safeParse(broken).success).toBe(false);
  });
});
