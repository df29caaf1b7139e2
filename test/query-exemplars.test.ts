// Exemplars (spec API.md §3.8: EXEMPLAR_TYPE_INDIVIDUAL) and the drill-down Grafana builds from
// them (`profile_id_selector`, §3.5, §3.7), on real profiles spread over flushed blocks and an
// ingester's buffer. Expected values come from the uploaded pprofs, never from the service: each
// point's exemplar is the greatest profile of its bucket, and selecting an exemplar's id gives back
// exactly that profile's total.

import { exports } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { ProfileSchema } from "../workers/gen/google/v1/profile_pb";
import {
  HeatmapQueryType,
  SelectHeatmapRequestSchema,
  SelectHeatmapResponseSchema,
  SelectMergeProfileRequestSchema,
  SelectMergeStacktracesRequestSchema,
  SelectMergeStacktracesResponseSchema,
  SelectSeriesRequestSchema,
  SelectSeriesResponseSchema,
} from "../workers/gen/querier/v1/querier_pb";
import { ExemplarType, type Exemplar } from "../workers/gen/types/v1/types_pb";
import { formatProfileId, parseProfileId } from "../workers/query/profile-id";
import { type Point, pointsOf, upload } from "./setup/points";
import { rpcJson, rpcProto } from "./setup/query";
import { flushAll } from "./setup/storage";

const SERVICE = "exemplars";
const SELECTOR = `{service_name="${SERVICE}"}`;
const CPU = "process_cpu:cpu:nanoseconds:cpu:nanoseconds";
/** cpu.pb.gz is one profile per upload; cpu-exemplars.pb.gz splits into three by its `function` label. */
const FILES = ["pprof/cpu.pb.gz", "pprof/cpu-exemplars.pb.gz"];
const STEP_MS = 10_000;
const GAP_MS = 3_000;
const OTHER_TENANT = "exemplars-other";

describe("profile ids", () => {
  const cases = [
    { timeMs: 0, hi: 0, lo: 0 },
    { timeMs: 1_700_000_000_123, hi: 0xffffffff, lo: 0xffffffff },
    { timeMs: 2 ** 48 - 1, hi: 0x80000001, lo: 0x12345678 },
  ];

  it("round-trip through a UUIDv8 string whose first 48 bits are the time", () => {
    for (const c of cases) {
      const id = formatProfileId(c);
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(parseInt(id.replaceAll("-", "").slice(0, 12), 16)).toBe(c.timeMs);
      expect(parseProfileId(id)).toEqual(c);
      expect(parseProfileId(id.toUpperCase().replaceAll("-", ""))).toEqual(c);
    }
    expect(formatProfileId(cases[0]) < formatProfileId(cases[1])).toBe(true);
  });

  it("name nothing for a UUID this server did not issue, and refuse a string that is not one", () => {
    expect(parseProfileId("0f8fad5b-d9cb-469f-a165-70867728950e")).toBeNull();
    expect(() => parseProfileId("not-a-uuid")).toThrow(/not a UUID/);
    expect(() => parseProfileId(`${formatProfileId(cases[1])}0`)).toThrow(/not a UUID/);
  });
});

/** The SelectSeries bucket of t: the first right edge start + k·step ≥ t (§3.8). */
const bucketOf = (t: number, start: number) => Math.max(start, start + Math.ceil((t - start) / STEP_MS) * STEP_MS);

const labelMap = (labels: readonly { name: string; value: string }[]) => Object.fromEntries(labels.map((l) => [l.name, l.value]));

describe("exemplars and profile_id_selector", () => {
  const t0 = Date.now() - 2 * 3_600_000;
  /** Past the last upload's bucket, so that every bucket holding an upload is in range. */
  const end = t0 + 5 * STEP_MS;
  const points: Point[] = [];
  const range = () => ({ start: BigInt(t0), end: BigInt(end) });
  const selection = () => ({ profileTypeID: CPU, labelSelector: SELECTOR, ...range() });

  async function ingest(bytes: Uint8Array, pod: string, headers: Record<string, string> = {}): Promise<void> {
    const q = new URLSearchParams({ name: `${SERVICE}{pod=${pod}}`, format: "pprof" });
    const res = await exports.default.fetch(`http://localhost/ingest?${q}`, { method: "POST", body: bytes, headers });
    expect(res.status, await res.clone().text()).toBe(200);
  }

  async function seriesExemplars(groupBy: string[] = [], exemplarType = ExemplarType.INDIVIDUAL) {
    const res = await rpcProto(
      "SelectSeries",
      SelectSeriesRequestSchema,
      { ...selection(), step: STEP_MS / 1000, groupBy, exemplarType },
      SelectSeriesResponseSchema,
    );
    return res.series;
  }

  /** The total of the profiles the ids select, from a flame graph (Grafana's drill-down call). */
  async function drillDown(ids: string[], headers?: Record<string, string>): Promise<number> {
    const { status, json } = await rpcJson("SelectMergeStacktraces", { ...selection(), start: t0, end: end, profileIdSelector: ids }, headers);
    expect(status, JSON.stringify(json)).toBe(200);
    return Number(json.flamegraph?.total ?? 0);
  }

  beforeAll(async () => {
    // 12 uploads 3 s apart over three pods, values ×1..×4: 24 profiles, the first 8 uploads
    // flushed to a block and the last 4 still buffered in the ingester.
    for (let i = 0; i < 12; i++) {
      const timeMs = t0 + (i + 1) * GAP_MS - 1_000;
      const bytes = await upload(FILES[i % 2], timeMs, 1 + (i % 4));
      const pod = `p${i % 3}`;
      points.push(...pointsOf(bytes, timeMs, pod));
      await ingest(bytes, pod);
      if (i === 7) await flushAll();
    }
    expect(points).toHaveLength(6 + 6 * 3);
  });

  it("give every point the greatest profile of its bucket, with the labels the series does not restate", async () => {
    const series = await seriesExemplars();
    expect(series).toHaveLength(1);
    const start = Number(range().start);
    const points_ = series[0].points;
    expect(points_.length).toBeGreaterThan(3);
    for (const p of points_) {
      const inBucket = points.filter((x) => bucketOf(x.timeMs, start) === Number(p.timestamp));
      const best = inBucket.reduce((a, b) => (b.total > a.total ? b : a));
      expect(inBucket.filter((x) => x.total === best.total), "a unique greatest profile per bucket").toHaveLength(1);
      expect(p.exemplars).toHaveLength(1);
      const e = p.exemplars[0];
      expect([Number(e.value), Number(e.timestamp)]).toEqual([best.total, best.timeMs]);
      // /ingest without spyName labels the series pyroscope_spy=unknown (spec §1).
      expect(labelMap(e.labels)).toEqual({ service_name: SERVICE, pyroscope_spy: "unknown", ...best.labels });
      expect(parseProfileId(e.profileId)?.timeMs).toBe(best.timeMs);
    }
  });

  it("leave the group's labels out of the exemplar's, and give none unless asked", async () => {
    const byPod = await seriesExemplars(["pod"]);
    expect(byPod).toHaveLength(3);
    for (const s of byPod) {
      for (const p of s.points) {
        const e = p.exemplars[0];
        expect(labelMap(e.labels).pod).toBeUndefined();
        const pod = labelMap(s.labels).pod;
        const mine = points.filter((x) => x.labels.pod === pod && bucketOf(x.timeMs, Number(range().start)) === Number(p.timestamp));
        expect(Number(e.value)).toBe(Math.max(...mine.map((x) => x.total)));
      }
    }
    for (const type of [ExemplarType.NONE, ExemplarType.UNSPECIFIED]) {
      const series = await seriesExemplars([], type);
      expect(series[0].points.every((p) => p.exemplars.length === 0)).toBe(true);
    }
  });

  it("drill down to exactly the exemplar's profile, flushed or still buffered", async () => {
    const series = await seriesExemplars();
    const exemplars = series[0].points.map((p) => p.exemplars[0]);
    const lastFlushed = t0 + 8 * GAP_MS - 1_000;
    expect(exemplars.some((e) => Number(e.timestamp) <= lastFlushed)).toBe(true);
    expect(exemplars.some((e) => Number(e.timestamp) > lastFlushed)).toBe(true);
    for (const e of exemplars) expect(await drillDown([e.profileId])).toBe(Number(e.value));

    // Two ids: the merged pprof (SelectMergeProfile, the "download pprof" path) holds both, nothing else.
    const [a, b] = exemplars;
    const profile = await rpcProto(
      "SelectMergeProfile",
      SelectMergeProfileRequestSchema,
      { ...selection(), profileIdSelector: [a.profileId, b.profileId] },
      ProfileSchema,
    );
    expect(profile.sampleType).toHaveLength(1);
    expect(profile.sample.reduce((n, s) => n + Number(s.value[0]), 0)).toBe(Number(a.value) + Number(b.value));

    // Binary protobuf, as Grafana sends it.
    const fg = await rpcProto(
      "SelectMergeStacktraces",
      SelectMergeStacktracesRequestSchema,
      { ...selection(), profileIdSelector: [b.profileId] },
      SelectMergeStacktracesResponseSchema,
    );
    expect(Number(fg.flamegraph?.total)).toBe(Number(b.value));
  });

  it("tell apart the profiles one upload splits into (same time, different series)", async () => {
    const byFunction = await rpcProto(
      "SelectSeries",
      SelectSeriesRequestSchema,
      { ...selection(), step: STEP_MS / 1000, groupBy: ["function", "pod"], exemplarType: ExemplarType.INDIVIDUAL },
      SelectSeriesResponseSchema,
    );
    const siblings = new Map<number, Exemplar[]>();
    for (const s of byFunction.series) {
      for (const p of s.points) {
        const e = p.exemplars[0];
        siblings.set(Number(e.timestamp), [...(siblings.get(Number(e.timestamp)) ?? []), e]);
      }
    }
    const split = [...siblings.values()].filter((es) => es.length === 3);
    expect(split.length).toBeGreaterThan(0);
    for (const es of split) {
      expect(new Set(es.map((e) => e.profileId)).size).toBe(3);
      for (const e of es) expect(await drillDown([e.profileId])).toBe(Number(e.value));
    }
  });

  it("give the same ids and values once the buffered profiles are flushed", async () => {
    const before = (await seriesExemplars())[0].points.map((p) => p.exemplars[0]);
    await flushAll();
    const after = (await seriesExemplars())[0].points.map((p) => p.exemplars[0]);
    expect(after).toEqual(before);
  });

  it("open the first point's exemplar, which SelectSeries reads from before the range's start", async () => {
    // The first bucket holds start-step ≤ t ≤ start (§3.8): with start 1 s after the first upload,
    // that upload is the first point's only profile, and lies outside [start, end].
    const start = t0 + GAP_MS;
    const first = points.filter((x) => x.timeMs < start);
    expect(first.length).toBeGreaterThan(0);
    const { json } = await rpcJson("SelectSeries", { ...selection(), start, end, step: STEP_MS / 1000, exemplarType: "EXEMPLAR_TYPE_INDIVIDUAL" });
    const e = json.series[0].points[0].exemplars[0];
    expect([Number(json.series[0].points[0].timestamp), Number(e.timestamp), Number(e.value)]).toEqual([start, first[0].timeMs, Math.max(...first.map((x) => x.total))]);
    const drilled = await rpcJson("SelectMergeStacktraces", { ...selection(), start, end, profileIdSelector: [e.profileId] });
    expect(Number(drilled.json.flamegraph?.total)).toBe(Number(e.value));
  });

  it("keep one heatmap exemplar per non-empty cell, the greatest of the slot among them", async () => {
    const res = await rpcProto(
      "SelectHeatmap",
      SelectHeatmapRequestSchema,
      { ...selection(), step: STEP_MS / 1000, queryType: HeatmapQueryType.INDIVIDUAL, exemplarType: ExemplarType.INDIVIDUAL },
      SelectHeatmapResponseSchema,
    );
    expect(res.series).toHaveLength(1);
    const start = Number(range().start);
    for (const slot of res.series[0].slots) {
      const inSlot = points.filter((x) => bucketOf(x.timeMs, start) === Number(slot.timestamp));
      expect(slot.exemplars).toHaveLength(slot.counts.filter((c) => c > 0).length);
      for (const e of slot.exemplars) {
        expect(inSlot.some((x) => x.total === Number(e.value) && x.timeMs === Number(e.timestamp))).toBe(true);
      }
      expect(Math.max(...slot.exemplars.map((e) => Number(e.value)))).toBe(Math.max(...inSlot.map((x) => x.total)));
    }
  });

  it("name nothing across tenants or from elsewhere, and refuse a malformed id", async () => {
    const [e] = (await seriesExemplars())[0].points[0].exemplars;
    // The same upload in another tenant: same service, series and time, a different id.
    const twin = points.find((x) => x.timeMs === Number(e.timestamp) && x.total === Number(e.value))!;
    const i = Math.round((twin.timeMs - t0 + 1_000) / GAP_MS) - 1;
    const headers = { "X-Scope-OrgID": OTHER_TENANT };
    await ingest(await upload(FILES[i % 2], twin.timeMs, 1 + (i % 4)), twin.labels.pod, headers);
    expect(await drillDown([e.profileId], headers)).toBe(0);
    const { json } = await rpcJson(
      "SelectSeries",
      { ...selection(), start: t0, end: end, step: STEP_MS / 1000, exemplarType: "EXEMPLAR_TYPE_INDIVIDUAL" },
      headers,
    );
    const theirs = json.series[0].points.find((p: { timestamp: string }) => Number(p.timestamp) === bucketOf(twin.timeMs, t0)).exemplars[0];
    expect(Number(theirs.value)).toBe(twin.total);
    expect(theirs.profileId).not.toBe(e.profileId);
    expect(await drillDown([theirs.profileId], headers)).toBe(twin.total);

    expect(await drillDown(["0f8fad5b-d9cb-469f-a165-70867728950e"])).toBe(0);

    const bad = await rpcJson("SelectMergeStacktraces", { ...selection(), start: t0, end: end, profileIdSelector: ["abc"] });
    expect(bad.status).toBe(400);
    expect(bad.json.code).toBe("invalid_argument");
    expect(bad.json.message).toMatch(/profile_id_selector: "abc" is not a UUID/);
  });
});
