// SelectHeatmap (spec API.md §3.9) on real profiles spread over flushed blocks and an ingester's
// buffer: every profile is one point (its total), slots are SelectSeries buckets, and the 20 Y
// buckets span the least to the greatest total. Expected counts come from the uploaded pprofs
// (one profile per distinct sample-label set, `profile_id` set aside), never from the service.

import { env, exports } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import {
  HeatmapQueryType,
  SelectHeatmapRequestSchema,
  SelectHeatmapResponseSchema,
} from "../workers/gen/querier/v1/querier_pb";
import { ExemplarType } from "../workers/gen/types/v1/types_pb";
import { rpcJson, rpcProto, rpcProtoResponse } from "./setup/query";
import { type Point, pointsOf, upload } from "./setup/points";
import { flushAll } from "./setup/storage";

const SERVICE = "heatmap";
const SELECTOR = `{service_name="${SERVICE}"}`;
const CPU = "process_cpu:cpu:nanoseconds:cpu:nanoseconds";
/** cpu.pb.gz has no sample labels (one profile per upload); cpu-exemplars.pb.gz splits into three. */
const FILES = ["pprof/cpu.pb.gz", "pprof/cpu-exemplars.pb.gz"];
const BUCKETS = 20;
const STEP_MS = 10_000;
const GAP_MS = 4_000;

interface Query {
  start: number;
  end: number;
  stepMs: number;
  groupBy?: string[];
  limit?: number;
}

interface Slots {
  labels: [string, string][];
  slots: { timestamp: number; yMin: number[]; counts: number[] }[];
}

/**
 * The heatmap computed directly from the points: the slot of t is the first right edge
 * start + k·step ≥ t (the first slot also holds start-step ≤ t), slots past `end` are dropped,
 * and bucket y holds min + y·w ≤ total < min + (y+1)·w, the maximum in the last bucket.
 */
function expected(points: readonly Point[], q: Query): Slots[] {
  const lastSlot = q.start + Math.floor((q.end - q.start) / q.stepMs) * q.stepMs;
  const kept = points
    .map((p) => ({ ...p, slot: Math.max(q.start, q.start + Math.ceil((p.timeMs - q.start) / q.stepMs) * q.stepMs) }))
    .filter((p) => p.timeMs >= q.start - q.stepMs && p.slot <= lastSlot);
  if (kept.length === 0) return [];
  const min = Math.min(...kept.map((p) => p.total));
  const max = Math.max(...kept.map((p) => p.total));
  const width = max > min ? (max - min) / BUCKETS : 1;
  const yMin = Array.from({ length: BUCKETS }, (_, i) => min + i * width);
  const series = new Map<string, { labels: [string, string][]; slots: Map<number, number[]>; n: number }>();
  for (const p of kept) {
    const labels = (q.groupBy ?? []).filter((n) => p.labels[n] !== undefined).map((n): [string, string] => [n, p.labels[n]]);
    const key = JSON.stringify(labels);
    const s = series.get(key) ?? { labels, slots: new Map(), n: 0 };
    series.set(key, s);
    const counts = s.slots.get(p.slot) ?? new Array<number>(BUCKETS).fill(0);
    s.slots.set(p.slot, counts);
    counts[Math.min(BUCKETS - 1, Math.floor((p.total - min) / width))]++;
    s.n++;
  }
  const sorted = [...series.values()].sort((a, b) => b.n - a.n || compareLabels(a.labels, b.labels));
  return sorted.slice(0, q.limit || undefined).map((s) => ({
    labels: s.labels,
    slots: [...s.slots]
      .sort((a, b) => a[0] - b[0])
      .map(([timestamp, counts]) => ({ timestamp, yMin, counts })),
  }));
}

/** Label sets ordered pair by pair (name, then value, by code unit), a prefix first. */
function compareLabels(a: [string, string][], b: [string, string][]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    for (const k of [0, 1]) if (a[i][k] !== b[i][k]) return a[i][k] < b[i][k] ? -1 : 1;
  }
  return a.length - b.length;
}

function jsonRequest(q: Query): Record<string, unknown> {
  return { profileTypeID: CPU, labelSelector: SELECTOR, start: q.start, end: q.end, step: q.stepMs / 1000, groupBy: q.groupBy, limit: q.limit };
}

async function heatmapJson(q: Query): Promise<Slots[]> {
  const { status, json } = await rpcJson("SelectHeatmap", { ...jsonRequest(q), queryType: "HEATMAP_QUERY_TYPE_INDIVIDUAL" });
  expect(status, JSON.stringify(json)).toBe(200);
  return ((json.series ?? []) as { labels?: { name: string; value: string }[]; slots: { timestamp: string; yMin: number[]; counts: number[] }[] }[]).map(
    (s) => ({
      labels: (s.labels ?? []).map((l): [string, string] => [l.name, l.value]),
      slots: s.slots.map((slot) => ({ timestamp: Number(slot.timestamp), yMin: slot.yMin, counts: slot.counts })),
    }),
  );
}

async function heatmapProto(q: Query): Promise<Slots[]> {
  const res = await rpcProto(
    "SelectHeatmap",
    SelectHeatmapRequestSchema,
    {
      profileTypeID: CPU,
      labelSelector: SELECTOR,
      start: BigInt(q.start),
      end: BigInt(q.end),
      step: q.stepMs / 1000,
      groupBy: q.groupBy,
      limit: q.limit === undefined ? undefined : BigInt(q.limit),
      queryType: HeatmapQueryType.INDIVIDUAL,
      exemplarType: ExemplarType.INDIVIDUAL,
    },
    SelectHeatmapResponseSchema,
  );
  return res.series.map((s) => ({
    labels: s.labels.map((l): [string, string] => [l.name, l.value]),
    slots: s.slots.map((slot) => ({ timestamp: Number(slot.timestamp), yMin: slot.yMin, counts: slot.counts })),
  }));
}

describe("SelectHeatmap", () => {
  const t0 = Date.now() - 2 * 3_600_000;
  const points: Point[] = [];
  /** Times of the uploads of cpu.pb.gz, which are one profile each. */
  const singles: number[] = [];
  const all = (): Query => ({ start: t0 + GAP_MS, end: t0 + 14 * GAP_MS, stepMs: STEP_MS });

  beforeAll(async () => {
    // 14 uploads 4 s apart, three pods, values ×1..×3: 28 profiles, two flushed blocks and four
    // uploads still buffered in the ingester.
    for (let i = 0; i < 14; i++) {
      const timeMs = t0 + i * GAP_MS;
      const bytes = await upload(FILES[i % 2], timeMs, 1 + (i % 3));
      const pod = `p${i % 3}`;
      points.push(...pointsOf(bytes, timeMs, pod));
      if (i % 2 === 0) singles.push(timeMs);
      const q = new URLSearchParams({ name: `${SERVICE}{pod=${pod}}`, format: "pprof" });
      const res = await exports.default.fetch(`http://localhost/ingest?${q}`, { method: "POST", body: bytes });
      expect(res.status).toBe(200);
      if (i === 4 || i === 9) await flushAll();
    }
    const blocks = await env.DB.prepare("SELECT count(*) AS n FROM blocks WHERE service = ?").bind(SERVICE).first<{ n: number }>();
    expect(blocks?.n).toBe(2);
    expect(points).toHaveLength(7 + 7 * 3);
  });

  it("counts every profile in its slot and Y bucket, over JSON and binary protobuf alike", async () => {
    const want = expected(points, all());
    expect(want).toHaveLength(1);
    // Sanity of the expectation itself: every point is counted, the extremes in the outer buckets.
    const counts = want[0].slots.flatMap((s) => s.counts);
    expect(counts.reduce((a, c) => a + c, 0)).toBe(points.length);
    expect(want[0].slots.reduce((a, s) => a + s.counts[0], 0)).toBeGreaterThan(0);
    expect(want[0].slots.reduce((a, s) => a + s.counts[BUCKETS - 1], 0)).toBeGreaterThan(0);
    expect(await heatmapJson(all())).toEqual(want);
    expect(await heatmapProto(all())).toEqual(want);
  });

  it("reads both passes through the ingester and the blocks, reporting what they read", async () => {
    const res = await exports.default.fetch("http://localhost/querier.v1.QuerierService/SelectHeatmap", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(jsonRequest(all())),
    });
    expect(res.status).toBe(200);
    const stats = JSON.parse(res.headers.get("X-Query-Stats") ?? "{}") as { profiles: number; blocks: number; pushes: number };
    // Each profile is read once by the range pass and once by the counting pass.
    expect(stats.profiles).toBe(2 * points.length);
    expect(stats.blocks).toBe(2 * 2);
    expect(stats.pushes).toBe(2 * 4);
  });

  it("keeps slot edges exact: start-step is in the first slot, a slot past end is dropped", async () => {
    // start - step is the first upload's time; the last slot ends at t0 + 40 s, so the uploads at
    // 44 s (≤ end, but its slot is not) and 48 s are left out.
    const q = { start: t0 + STEP_MS, end: t0 + 47_000, stepMs: STEP_MS };
    const want = expected(points, q);
    expect(want[0].slots.map((s) => s.timestamp)).toEqual([t0 + 10_000, t0 + 20_000, t0 + 30_000, t0 + 40_000]);
    expect(want[0].slots[0].counts.reduce((a, c) => a + c, 0)).toBe(1 + 3 + 1);
    expect(await heatmapJson(q)).toEqual(want);
    expect(await heatmapProto({ ...q, stepMs: 7_000 })).toEqual(expected(points, { ...q, stepMs: 7_000 }));
  });

  it("gives equal totals buckets of width 1 starting at that total", async () => {
    const t = singles[3];
    const q = { start: t, end: t + 1_000, stepMs: 1_000 };
    const [only] = points.filter((p) => p.timeMs === t);
    expect(await heatmapJson(q)).toEqual([
      {
        labels: [],
        slots: [{ timestamp: t, yMin: Array.from({ length: BUCKETS }, (_, i) => only.total + i), counts: [1, ...new Array(BUCKETS - 1).fill(0)] }],
      },
    ]);
  });

  it("groups by labels, sorts by profile count and keeps the top `limit` series", async () => {
    const byFunction = { ...all(), groupBy: ["function"] };
    const want = expected(points, byFunction);
    // No function label (cpu.pb.gz and the rest of cpu-exemplars.pb.gz) first, then fast and slow
    // with equal counts, in label order.
    expect(want.map((s) => s.labels)).toEqual([[], [["function", "fast"]], [["function", "slow"]]]);
    expect(await heatmapJson(byFunction)).toEqual(want);
    expect(await heatmapProto(byFunction)).toEqual(want);

    const byPodAndFunction = { ...all(), groupBy: ["pod", "function"] };
    expect(expected(points, byPodAndFunction)).toHaveLength(9);
    expect(await heatmapJson(byPodAndFunction)).toEqual(expected(points, byPodAndFunction));
    const top = { ...byPodAndFunction, limit: 4 };
    expect(await heatmapProto(top)).toEqual(expected(points, top));
    expect(await heatmapJson(top)).toHaveLength(4);
  });

  it("answers a range without profiles with no series", async () => {
    expect(await heatmapJson({ start: t0 - 60_000, end: t0 - 30_000, stepMs: STEP_MS })).toEqual([]);
    const other = await rpcJson("SelectHeatmap", { ...jsonRequest(all()), labelSelector: '{service_name="no-such-service"}' });
    expect([other.status, other.json]).toEqual([200, {}]);
  });

  it.each<[string, (q: Query) => Record<string, unknown>, (q: Query) => string]>([
    ["step 0", () => ({ step: 0 }), () => "step must be >= 1ms"],
    ["step 0.5 ms", () => ({ step: 0.0005 }), () => "step must be >= 1ms"],
    ["limit -1", () => ({ limit: -1 }), () => "limit must be non-negative, got -1"],
    ["start = end", (q) => ({ end: q.start }), (q) => `start time must be before end time, got start=${q.start} end=${q.start}`],
    ["start after end", (q) => ({ start: q.end + 1 }), (q) => `start time must be before end time, got start=${q.end + 1} end=${q.end}`],
  ])("refuses %s as invalid_argument", async (_name, change, message) => {
    const q = all();
    const { status, json } = await rpcJson("SelectHeatmap", { ...jsonRequest(q), ...change(q) });
    expect([status, json]).toEqual([400, { code: "invalid_argument", message: message(q) }]);
  });

  it("refuses a negative limit over binary protobuf too, with a JSON error body", async () => {
    const q = all();
    const res = await rpcProtoResponse("SelectHeatmap", SelectHeatmapRequestSchema, {
      profileTypeID: CPU,
      labelSelector: SELECTOR,
      start: BigInt(q.start),
      end: BigInt(q.end),
      step: 10,
      limit: -2n,
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ code: "invalid_argument", message: "limit must be non-negative, got -2" });
  });

  it("answers span heatmaps and span exemplars with unimplemented (501)", async () => {
    const span = await rpcJson("SelectHeatmap", { ...jsonRequest(all()), queryType: "HEATMAP_QUERY_TYPE_SPAN" });
    expect(span.status).toBe(501);
    expect(span.json.code).toBe("unimplemented");
    expect(span.json.message).toMatch(/HEATMAP_QUERY_TYPE_SPAN is not supported/);
    const exemplars = await rpcProtoResponse("SelectHeatmap", SelectHeatmapRequestSchema, {
      profileTypeID: CPU,
      labelSelector: SELECTOR,
      start: BigInt(all().start),
      end: BigInt(all().end),
      step: 10,
      queryType: HeatmapQueryType.INDIVIDUAL,
      exemplarType: ExemplarType.SPAN,
    });
    expect(exemplars.status).toBe(501);
    expect(await exemplars.json()).toEqual({ code: "unimplemented", message: "exemplar type EXEMPLAR_TYPE_SPAN is not supported" });
  });
});

describe("SelectHeatmap Y buckets", () => {
  it("puts a total equal to a bucket's lower bound in that bucket, the maximum in the last", async () => {
    const service = "heatmap-edges";
    const t = Date.now() - 3_600_000;
    // cpu.pb.gz totals 470 ms: ×1, ×2, ×11, ×21 span 470…9870 ms, so buckets are 470 ms wide and
    // ×2 and ×11 fall exactly on the lower bounds of buckets 1 and 10.
    for (const [i, scale] of [1, 2, 11, 21].entries()) {
      const q = new URLSearchParams({ name: service, format: "pprof" });
      const body = await upload("pprof/cpu.pb.gz", t + i * 1_000, scale);
      const res = await exports.default.fetch(`http://localhost/ingest?${q}`, { method: "POST", body });
      expect(res.status).toBe(200);
    }
    const { status, json } = await rpcJson("SelectHeatmap", {
      profileTypeID: CPU,
      labelSelector: `{service_name="${service}"}`,
      start: t + 60_000,
      end: t + 120_000,
      step: 60,
    });
    expect(status).toBe(200);
    const counts = new Array<number>(BUCKETS).fill(0);
    for (const y of [0, 1, 10, 19]) counts[y] = 1;
    const yMin = Array.from({ length: BUCKETS }, (_, i) => 470_000_000 * (1 + i));
    expect(json.series).toEqual([{ slots: [{ timestamp: String(t + 60_000), yMin, counts }] }]);
  });
});
