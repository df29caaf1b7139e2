// Exactness of the query path on real profiles: a merge of many profiles spread over blocks and
// ingesters equals the sum computed directly from the inputs; time ranges are inclusive at both
// edges and selectors exact; an acknowledged push is visible to every query method before any
// flush; a flush caught half-way never hides nor double-counts a profile.

import { env, exports } from "cloudflare:workers";
import { Profile } from "pprof-format";
import { beforeAll, describe, expect, it } from "vitest";
import { ingesterName } from "../workers/route/shard";
import { flameGraphCollapsed, formatCollapsed } from "./setup/flamegraph";
import { getJson, pprofStacks, rpcJson } from "./setup/query";
import { commitWithoutDrop, flushAll } from "./setup/storage";
import { plain, testdata } from "./setup/testdata";

const CPU = "process_cpu:cpu:nanoseconds:cpu:nanoseconds";
/** Index of cpu/nanoseconds in the Go CPU profiles used here (samples/count is 0). */
const CPU_INDEX = 1;
const FILES = ["pprof/cpu.pb.gz", "pprof/cpu-exemplars.pb.gz"];
const STEP_MS = 10_000;

interface Input {
  bytes: Uint8Array;
  timeMs: number;
  pod: string;
}

/** A corpus profile re-timed to `timeMs` (what an SDK sending it then would upload). */
async function retimed(file: string, timeMs: number): Promise<Uint8Array> {
  const p = Profile.decode(plain(await testdata(file)));
  p.timeNanos = BigInt(timeMs) * 1_000_000n;
  return p.encode();
}

async function ingest(service: string, input: Input): Promise<void> {
  const q = new URLSearchParams({ name: `${service}{pod=${input.pod}}`, format: "pprof" });
  const res = await exports.default.fetch(`http://localhost/ingest?${q}`, { method: "POST", body: input.bytes });
  expect(res.status).toBe(200);
}

function expectedStacks(inputs: Input[]): string {
  const sums = new Map<string, number>();
  for (const i of inputs) pprofStacks(i.bytes, CPU_INDEX, sums);
  return formatCollapsed(sums);
}

function totalOf(bytes: Uint8Array): number {
  let t = 0;
  for (const v of pprofStacks(bytes, CPU_INDEX).values()) t += v;
  return t;
}

async function flamegraph(selector: string, start: number, end: number): Promise<string> {
  const { status, json } = await rpcJson("SelectMergeStacktraces", { profileTypeID: CPU, labelSelector: selector, start, end, maxNodes: 1048576 });
  expect(status).toBe(200);
  const levels = (json.flamegraph.levels as { values?: string[] }[]).map((l) => (l.values ?? []).map(Number));
  return flameGraphCollapsed({ names: json.flamegraph.names, levels });
}

describe("merging many profiles", () => {
  const service = "merge-sum";
  const t0 = Date.now() - 3_600_000;
  const inputs: Input[] = [];
  const sel = `{service_name="${service}"}`;

  beforeAll(async () => {
    for (let i = 0; i < 12; i++) {
      const timeMs = t0 + i * STEP_MS;
      inputs.push({ bytes: await retimed(FILES[i % 2], timeMs), timeMs, pod: `p${i % 3}` });
    }
    // Two flushed blocks and four profiles still buffered in the ingester.
    for (let i = 0; i < 12; i++) {
      await ingest(service, inputs[i]);
      if (i === 3 || i === 7) await flushAll();
    }
    const blocks = await env.DB.prepare("SELECT count(*) AS n FROM blocks WHERE service = ?").bind(service).first<{ n: number }>();
    expect(blocks?.n).toBe(2);
  });

  it("equals the sum of its inputs, across blocks and the ingester", async () => {
    expect(await flamegraph(sel, t0, t0 + 11 * STEP_MS)).toBe(expectedStacks(inputs));
  });

  it("counts a profile exactly at both edges of the range", async () => {
    expect(await flamegraph(sel, t0 + STEP_MS, t0 + 3 * STEP_MS)).toBe(expectedStacks(inputs.slice(1, 4)));
    expect(await flamegraph(sel, t0 + 5 * STEP_MS, t0 + 5 * STEP_MS)).toBe(expectedStacks([inputs[5]]));
    expect(await flamegraph(sel, t0 + STEP_MS + 1, t0 + 2 * STEP_MS - 1)).toBe("");
  });

  it("applies selectors exactly, regexes anchored", async () => {
    const pods = (keep: (pod: string) => boolean) => expectedStacks(inputs.filter((i) => keep(i.pod)));
    const end = t0 + 11 * STEP_MS;
    expect(await flamegraph(`{service_name="${service}", pod="p1"}`, t0, end)).toBe(pods((p) => p === "p1"));
    expect(await flamegraph(`{service_name="${service}", pod=~"p[12]"}`, t0, end)).toBe(pods((p) => p !== "p0"));
    expect(await flamegraph(`{service_name="${service}", pod!~"p1|p2"}`, t0, end)).toBe(pods((p) => p === "p0"));
    expect(await flamegraph(`{service_name="${service}", pod!="p0"}`, t0, end)).toBe(pods((p) => p !== "p0"));
    expect(await flamegraph(`{service_name="${service}", pod=~"p"}`, t0, end)).toBe("");
    expect(await flamegraph(`{service_name=~"merge-.*", missing=""}`, t0, end)).toBe(expectedStacks(inputs));
  });

  it("gives SelectSeries one right-edge bucket per profile, each its exact total", async () => {
    const { status, json } = await rpcJson("SelectSeries", {
      profileTypeID: CPU,
      labelSelector: sel,
      start: t0,
      end: t0 + 11 * STEP_MS,
      step: STEP_MS / 1000,
    });
    expect(status).toBe(200);
    expect(json.series).toHaveLength(1);
    expect(json.series[0].labels ?? []).toEqual([]);
    const points = (json.series[0].points as { value: number; timestamp: string }[]).map((p) => [Number(p.timestamp), p.value]);
    expect(points).toEqual(inputs.map((i) => [i.timeMs, totalOf(i.bytes)]));
  });
});

describe("read-your-writes", () => {
  const service = "ryw";

  it("shows an acknowledged push to every query method before any flush", async () => {
    const timeMs = Date.now() - 60_000;
    const input = { bytes: await retimed("pprof/cpu-exemplars.pb.gz", timeMs), timeMs, pod: "only" };
    await ingest(service, input);
    const blocks = await env.DB.prepare("SELECT count(*) AS n FROM blocks WHERE service = ?").bind(service).first<{ n: number }>();
    expect(blocks?.n).toBe(0);
    const range = { start: timeMs - 1000, end: timeMs + 1000 };
    const sel = `{service_name="${service}"}`;

    const types = await rpcJson("ProfileTypes", range);
    expect((types.json.profileTypes as { ID: string }[]).map((t) => t.ID)).toContain(CPU);
    const names = await rpcJson("LabelNames", { matchers: [sel], ...range });
    expect(names.json.names).toEqual(expect.arrayContaining(["__name__", "function", "pod", "service_name"]));
    const values = await rpcJson("LabelValues", { name: "function", matchers: [sel], ...range });
    expect(values.json.names).toEqual(["fast", "slow"]);
    const series = await rpcJson("Series", { matchers: [sel], labelNames: ["__profile_type__", "service_name"], ...range });
    expect(series.json.labelsSet).toHaveLength(2);
    expect(await flamegraph(sel, range.start, range.end)).toBe(expectedStacks([input]));
    const total = totalOf(input.bytes);
    // Buckets end at start + k·step ≤ end (spec §3.8): the profile lands in the one at start + 15 s.
    const ts = await rpcJson("SelectSeries", { profileTypeID: CPU, labelSelector: sel, start: range.start, end: range.start + 15_000, step: 15 });
    expect(ts.json.series[0].points.reduce((a: number, p: { value: number }) => a + p.value, 0)).toBe(total);
    const pprof = await rpcJson("SelectMergeProfile", { profileTypeID: CPU, labelSelector: sel, ...range });
    const samples = pprof.json.sample as { value: string[] }[];
    expect(samples.reduce((a, s) => a + Number(s.value[0]), 0)).toBe(total);
    const spanTotals = new Map<string, number>();
    const decoded = Profile.decode(input.bytes);
    const key = decoded.stringTable.strings.indexOf("profile_id");
    for (const smp of decoded.sample) {
      const span = smp.label.find((l) => Number(l.key) === key);
      if (span) {
        const id = String(decoded.stringTable.strings[Number(span.str)]);
        spanTotals.set(id, (spanTotals.get(id) ?? 0) + Number(smp.value[CPU_INDEX]));
      }
    }
    const [spanId, spanTotal] = [...spanTotals].sort((a, b) => b[1] - a[1])[0];
    const span = await rpcJson("SelectMergeSpanProfile", { profileTypeID: CPU, labelSelector: sel, spanSelector: [spanId], ...range });
    expect(Number(span.json.flamegraph.total)).toBe(spanTotal);
    const analysis = await rpcJson("AnalyzeQuery", { query: `${CPU}${sel}`, ...range });
    expect(analysis.json.queryImpact.totalQueriedSeries).toBe("3");
    const stats = await rpcJson("GetProfileStats", {});
    expect(stats.json.dataIngested).toBe(true);
    const render = await getJson(
      `/pyroscope/render?query=${encodeURIComponent(`${CPU}${sel}`)}&from=${range.start}&until=${range.end}`,
    );
    expect(render.status).toBe(200);
    expect(render.json.flamebearer.numTicks).toBe(total);
    const diff = await rpcJson("Diff", {
      left: { profileTypeID: CPU, labelSelector: sel, ...range },
      right: { profileTypeID: CPU, labelSelector: sel, ...range },
    });
    expect([Number(diff.json.flamegraph.leftTicks), Number(diff.json.flamegraph.rightTicks)]).toEqual([total, total]);
  });
});

describe("a query during a flush", () => {
  const stubFor = (service: string) => env.INGESTER.get(env.INGESTER.idFromName(ingesterName("anonymous", service, 0)));

  async function once(service: string): Promise<{ input: Input; range: { start: number; end: number } }> {
    const timeMs = Date.now() - 120_000;
    const input = { bytes: await retimed("pprof/cpu.pb.gz", timeMs), timeMs, pod: "x" };
    await ingest(service, input);
    return { input, range: { start: timeMs - 1, end: timeMs + 1 } };
  }

  it("counts a block written to R2 but not committed exactly once", async () => {
    const service = "flush-uncommitted";
    const { input, range } = await once(service);
    await env.DB.exec("ALTER TABLE label_stats RENAME TO label_stats_away");
    const failure = await stubFor(service).flush().then(
      () => "no error",
      (err: unknown) => String(err),
    );
    await env.DB.exec("ALTER TABLE label_stats_away RENAME TO label_stats");
    expect(failure).toMatch(/label_stats/);
    expect(await flamegraph(`{service_name="${service}"}`, range.start, range.end)).toBe(expectedStacks([input]));
  });

  it("counts a block committed but still buffered exactly once", async () => {
    const service = "flush-committed";
    const { input, range } = await once(service);
    await commitWithoutDrop(stubFor(service));
    const blocks = await env.DB.prepare("SELECT count(*) AS n FROM blocks WHERE service = ?").bind(service).first<{ n: number }>();
    expect(blocks?.n).toBe(1);
    expect((await stubFor(service).buffered()).frozen).not.toBeNull();
    expect(await flamegraph(`{service_name="${service}"}`, range.start, range.end)).toBe(expectedStacks([input]));
  });
});
