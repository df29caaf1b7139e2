// The call sequence of Grafana's Pyroscope datasource (spec API.md §9.2), in binary protobuf with
// the headers its connect-go client sends: the health check, the editor's resource calls
// (ProfileTypes, LabelNames, LabelValues), the panel queries (SelectSeries, SelectMergeStacktraces,
// SelectMergeSpanProfile) and the calls other Grafana apps make on the same data (SelectMergeProfile,
// Diff, GetProfileStats). Expectations come from the corpus: MANIFEST totals, goldens, and sums
// computed here from the decoded pprof and the SDK recordings, never from the service.

import { toBinary } from "@bufbuild/protobuf";
import { Profile } from "pprof-format";
import { beforeAll, describe, expect, it } from "vitest";
import { ProfileSchema } from "../workers/gen/google/v1/profile_pb";
import {
  DiffResponseSchema,
  DiffRequestSchema,
  ProfileTypesRequestSchema,
  ProfileTypesResponseSchema,
  SelectMergeProfileRequestSchema,
  SelectMergeSpanProfileRequestSchema,
  SelectMergeSpanProfileResponseSchema,
  SelectMergeStacktracesRequestSchema,
  SelectMergeStacktracesResponseSchema,
  SelectSeriesRequestSchema,
  SelectSeriesResponseSchema,
  type FlameGraph,
  type FlameGraphDiff,
} from "../workers/gen/querier/v1/querier_pb";
import {
  ExemplarType,
  GetProfileStatsRequestSchema,
  GetProfileStatsResponseSchema,
  LabelNamesRequestSchema,
  LabelNamesResponseSchema,
  LabelValuesRequestSchema,
  LabelValuesResponseSchema,
  type Series,
} from "../workers/gen/types/v1/types_pb";
import { decodeFlameGraph, diffCollapsed, flameGraphCollapsed } from "./setup/flamegraph";
import {
  captureTimeMs,
  collapsePprof,
  ingestProfile,
  protoLevels,
  replaySdkNodejs,
  rpcProto,
  sampleLabel,
  type SdkCapture,
} from "./setup/query";
import { flushAll } from "./setup/storage";
import { plain, testdata, testdataText } from "./setup/testdata";
import { cpuExemplarsSplit, pprofTotal } from "./setup/manifest";

const HOUR_MS = 3_600_000;
const EXEMPLARS = "grafana/cpu-exemplars";
const SDK_SERVICE = "sdk-capture-app";
// MANIFEST.md: cpu-exemplars.pb.gz has the two query types of cpu.pb.gz (value index 0 and 1).
const CPU = "process_cpu:cpu:nanoseconds:cpu:nanoseconds";
const SAMPLES = "process_cpu:samples:count:cpu:nanoseconds";
const CPU_INDEX = 1;
// MANIFEST.md: cpu-exemplars.pb.gz's totals and their split by the label `function`.
const CPU_TOTAL = await pprofTotal("cpu-exemplars.pb.gz", "cpu/nanoseconds");
const SAMPLES_TOTAL = await pprofTotal("cpu-exemplars.pb.gz", "samples/count");
const { slow: SLOW, fast: FAST, none: NO_FUNCTION } = await cpuExemplarsSplit();
const WALL = "wall:wall:nanoseconds:wall:nanoseconds";

interface Range {
  start: bigint;
  end: bigint;
}

/** A FlameGraph or FlameGraphDiff message as the readers of test/setup/flamegraph.ts take it. */
const levelsOf = (fg: FlameGraph | FlameGraphDiff) => ({ names: fg.names, levels: protoLevels(fg.levels) });

/** The bucket SelectSeries puts a profile at `t` in: right edges start + k·step, (b-step, b] (§3.8). */
const bucketOf = (t: number, start: number, stepMs: number) => start + Math.ceil((t - start) / stepMs) * stepMs;

const sumPoints = (s: Series) => s.points.reduce((a, p) => a + p.value, 0);
const labelsOf = (s: Series) => s.labels.map((l) => [l.name, l.value]);

/**
 * Profile type ids the recordings must produce: `__name__` is `wall` when a sample type is named
 * wall, else `memory` for the inuse_ heap types (MANIFEST.md headline rule), then each sample type
 * with the period type.
 */
function sdkProfileTypes(captures: SdkCapture[]): string[] {
  const ids = new Set<string>();
  for (const { pprof } of captures) {
    const name = pprof.sampleType.some((t) => t.type === "wall") ? "wall" : "memory";
    for (const t of pprof.sampleType) ids.add([name, t.type, t.unit, pprof.periodType.type, pprof.periodType.unit].join(":"));
  }
  return [...ids].sort();
}

describe("Grafana datasource calls over binary protobuf", () => {
  let exemplars: Profile;
  let exemplarsTimeMs: number;
  let exemplarsRange: Range;
  let captures: SdkCapture[];
  let sdkRange: Range;
  const exemplarsSelection = () => ({ profileTypeID: CPU, labelSelector: `{service_name="${EXEMPLARS}"}`, ...exemplarsRange });

  beforeAll(async () => {
    const bytes = await testdata("pprof/cpu-exemplars.pb.gz");
    exemplars = Profile.decode(plain(bytes));
    exemplarsTimeMs = Number(BigInt(exemplars.timeNanos) / 1_000_000n);
    exemplarsRange = { start: BigInt(exemplarsTimeMs - HOUR_MS), end: BigInt(exemplarsTimeMs + HOUR_MS) };
    await ingestProfile(bytes, { name: EXEMPLARS });
    // The 2022 profile is read from its R2 block, the SDK recordings from the ingesters' buffers:
    // both sources answer the same calls.
    await flushAll();
    captures = await replaySdkNodejs();
    const times = captures.map(captureTimeMs);
    sdkRange = { start: BigInt(Math.min(...times) - 60_000), end: BigInt(Math.max(...times) + 60_000) };
  });

  it("passes the health check: ProfileTypes over 1970 is 200 with no types", async () => {
    const res = await rpcProto("ProfileTypes", ProfileTypesRequestSchema, { start: 1000n, end: 4000n }, ProfileTypesResponseSchema);
    expect(res.profileTypes).toEqual([]);
  });

  it("lists the ingested profile type ids, sorted, with their parts", async () => {
    const around = await rpcProto("ProfileTypes", ProfileTypesRequestSchema, exemplarsRange, ProfileTypesResponseSchema);
    expect(around.profileTypes.map((t) => t.ID)).toEqual([CPU, SAMPLES]);
    for (const t of around.profileTypes) {
      expect([t.name, t.sampleType, t.sampleUnit, t.periodType, t.periodUnit].join(":")).toBe(t.ID);
    }
    const sdk = await rpcProto("ProfileTypes", ProfileTypesRequestSchema, sdkRange, ProfileTypesResponseSchema);
    const want = sdkProfileTypes(captures);
    expect(want).toContain(WALL);
    expect(sdk.profileTypes.map((t) => t.ID)).toEqual(want);
  });

  it("lists label names, private ones included, sorted and unique", async () => {
    const names = async (matchers: string[], range: Range) =>
      (await rpcProto("LabelNames", LabelNamesRequestSchema, { matchers, ...range }, LabelNamesResponseSchema)).names;
    const all = await names(["{}"], exemplarsRange);
    expect(all).toEqual([...new Set(all)].sort());
    expect(all).toEqual(expect.arrayContaining(["__name__", "__profile_type__", "service_name", "foo", "function"]));
    // profile_id is a per-sample span id, never a series label (MANIFEST.md).
    expect(all).not.toContain("profile_id");
    expect(await names([`{service_name="${EXEMPLARS}"}`], exemplarsRange)).toEqual(all);
    expect(await names(['{service_name="no-such-service"}'], exemplarsRange)).toEqual([]);

    const sdk = await names([`{service_name="${SDK_SERVICE}"}`], sdkRange);
    expect(sdk).toEqual([...new Set(sdk)].sort());
    expect(sdk).toEqual(expect.arrayContaining(["__name__", "service_name", "env", "region", "endpoint"]));
    // Grafana does not send the allow-utf8-labelnames capability, so dotted names are left out (§3.2).
    expect(sdk).not.toContain("otel.scope.name");
  });

  it("lists the values of service_name and of user labels, sorted", async () => {
    const values = async (name: string, matchers: string[], range: Range) =>
      (await rpcProto("LabelValues", LabelValuesRequestSchema, { name, matchers, ...range }, LabelValuesResponseSchema)).names;
    expect(await values("service_name", ["{}"], exemplarsRange)).toEqual([EXEMPLARS]);
    expect(await values("service_name", ["{}"], sdkRange)).toEqual([SDK_SERVICE]);
    // The samples without a `function` label contribute no empty value.
    expect(await values("function", [`{service_name="${EXEMPLARS}"}`], exemplarsRange)).toEqual(["fast", "slow"]);
    expect(await values("endpoint", [`{service_name="${SDK_SERVICE}"}`], sdkRange)).toEqual(["/fib", "/hash"]);
    expect(await values("env", [`{service_name="${SDK_SERVICE}"}`], sdkRange)).toEqual(["test"]);
  });

  it("merges the stacks into the golden flame graph (SelectMergeStacktraces)", async () => {
    for (const [profileTypeID, golden, total] of [
      [CPU, "expected/cpu-exemplars.pb.gz.cpu.nanoseconds.collapsed", CPU_TOTAL],
      [SAMPLES, "expected/cpu-exemplars.pb.gz.samples.count.collapsed", SAMPLES_TOTAL],
    ] as const) {
      const res = await rpcProto(
        "SelectMergeStacktraces",
        SelectMergeStacktracesRequestSchema,
        { ...exemplarsSelection(), profileTypeID },
        SelectMergeStacktracesResponseSchema,
      );
      const fg = res.flamegraph!;
      expect(fg.total).toBe(BigInt(total));
      expect(flameGraphCollapsed(levelsOf(fg))).toBe(await testdataText(golden));
      const nodes = decodeFlameGraph(levelsOf(fg));
      expect(fg.maxSelf).toBe(BigInt(Math.max(...nodes.map((n) => n.self[0]))));
    }
  });

  it("draws one label-less series whose points sum to the total (SelectSeries, no groupBy)", async () => {
    const step = 7.5; // float seconds, as Grafana sends the panel interval
    const res = await rpcProto(
      "SelectSeries",
      SelectSeriesRequestSchema,
      { ...exemplarsSelection(), step, exemplarType: ExemplarType.NONE },
      SelectSeriesResponseSchema,
    );
    expect(res.series).toHaveLength(1);
    expect(res.series[0].labels).toEqual([]);
    const start = Number(exemplarsRange.start);
    expect(res.series[0].points.map((p) => [Number(p.timestamp), p.value])).toEqual([
      [bucketOf(exemplarsTimeMs, start, step * 1000), CPU_TOTAL],
    ]);
  });

  it("buckets many profiles by time, right edges aligned to start (SelectSeries over the SDK data)", async () => {
    const step = 7.5;
    const stepMs = step * 1000;
    const start = Number(sdkRange.start);
    const want = new Map<number, number>();
    for (const c of captures) {
      const v = c.pprof.valueTotals["wall/nanoseconds"];
      if (v === undefined) continue;
      const b = bucketOf(captureTimeMs(c), start, stepMs);
      want.set(b, (want.get(b) ?? 0) + Number(v));
    }
    expect(want.size).toBeGreaterThan(3);
    const res = await rpcProto(
      "SelectSeries",
      SelectSeriesRequestSchema,
      { profileTypeID: WALL, labelSelector: `{service_name="${SDK_SERVICE}"}`, ...sdkRange, step, exemplarType: ExemplarType.NONE },
      SelectSeriesResponseSchema,
    );
    expect(res.series).toHaveLength(1);
    expect(res.series[0].points.map((p) => [Number(p.timestamp), p.value])).toEqual([...want].sort((a, b) => a[0] - b[0]));
  });

  it("splits the series by a label, largest first, and keeps the largest with limit 1", async () => {
    const query = { ...exemplarsSelection(), step: 15, groupBy: ["function"], exemplarType: ExemplarType.NONE };
    const res = await rpcProto("SelectSeries", SelectSeriesRequestSchema, query, SelectSeriesResponseSchema);
    // The samples without `function` form a group with no labels at all.
    expect(res.series.map((s) => [labelsOf(s), sumPoints(s)])).toEqual([
      [[["function", "slow"]], SLOW],
      [[["function", "fast"]], FAST],
      [[], NO_FUNCTION],
    ]);
    const top = await rpcProto("SelectSeries", SelectSeriesRequestSchema, { ...query, limit: 1n }, SelectSeriesResponseSchema);
    expect(top.series.map((s) => [labelsOf(s), sumPoints(s)])).toEqual([[[["function", "slow"]], SLOW]]);
  });

  it("keeps only the samples of the selected spans (SelectMergeSpanProfile)", async () => {
    // The span ids are the profile_id sample labels; the two heaviest spans, computed from the pprof.
    const bySpan = new Map<string, number>();
    for (const s of exemplars.sample) {
      const span = sampleLabel(exemplars, s, "profile_id");
      if (span !== undefined) bySpan.set(span, (bySpan.get(span) ?? 0) + Number(s.value[CPU_INDEX]));
    }
    // The stacks of those samples, collapsed from the pprof with only them left in.
    const spanStacks = (spans: string[]) => {
      const only = Profile.decode(exemplars.encode());
      only.sample = only.sample.filter((s) => spans.includes(sampleLabel(only, s, "profile_id") ?? ""));
      return collapsePprof(only.encode(), CPU_INDEX);
    };
    const [[first, firstTotal], [second, secondTotal]] = [...bySpan].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
    expect(firstTotal).toBeLessThan(CPU_TOTAL);

    for (const spans of [[first], [first, second]]) {
      const res = await rpcProto(
        "SelectMergeSpanProfile",
        SelectMergeSpanProfileRequestSchema,
        { ...exemplarsSelection(), spanSelector: spans },
        SelectMergeSpanProfileResponseSchema,
      );
      const fg = res.flamegraph!;
      expect(fg.total).toBe(BigInt(spans.length === 1 ? firstTotal : firstTotal + secondTotal));
      expect(flameGraphCollapsed(levelsOf(fg))).toBe(spanStacks(spans));
    }
  });

  it("exports the merged pprof with the same stacks and total (SelectMergeProfile)", async () => {
    const res = await rpcProto("SelectMergeProfile", SelectMergeProfileRequestSchema, exemplarsSelection(), ProfileSchema);
    const bytes = toBinary(ProfileSchema, res);
    const p = Profile.decode(bytes);
    const str = (i: number | bigint) => p.stringTable.strings[Number(i)];
    expect(p.sampleType.map((t) => `${str(t.type)}/${str(t.unit)}`)).toEqual(["cpu/nanoseconds"]);
    expect(p.sample.reduce((a, s) => a + Number(s.value[0]), 0)).toBe(CPU_TOTAL);
    expect(collapsePprof(bytes, 0)).toBe(await testdataText("expected/cpu-exemplars.pb.gz.cpu.nanoseconds.collapsed"));
  });

  it("diffs a selection with itself: equal sides, each the total (Diff)", async () => {
    const side = exemplarsSelection();
    const res = await rpcProto("Diff", DiffRequestSchema, { left: side, right: side }, DiffResponseSchema);
    const fg = res.flamegraph!;
    expect([fg.leftTicks, fg.rightTicks]).toEqual([BigInt(CPU_TOTAL), BigInt(CPU_TOTAL)]);
    // FlameGraphDiff.total is leftTicks + rightTicks (§3.15.2).
    expect(fg.total).toBe(BigInt(2 * CPU_TOTAL));
    const golden = await testdataText("expected/cpu-exemplars.pb.gz.cpu.nanoseconds.collapsed");
    expect(diffCollapsed(levelsOf(fg))).toEqual({ left: golden, right: golden });
  });

  it("reports the oldest and newest profile times (GetProfileStats)", async () => {
    const res = await rpcProto("GetProfileStats", GetProfileStatsRequestSchema, {}, GetProfileStatsResponseSchema);
    expect(res.dataIngested).toBe(true);
    expect(res.oldestProfileTime).toBe(BigInt(exemplarsTimeMs));
    expect(res.newestProfileTime).toBe(BigInt(Math.max(...captures.map(captureTimeMs))));
  });
});
