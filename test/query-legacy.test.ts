// The legacy GET API (spec API.md §5): /pyroscope/render, /render-diff, /label-values and /labels,
// checked against the OG UI's own flamebearer schema (@pyroscope/models) and the corpus, then the
// exact requests the real Perses Pyroscope plugin made (../shared/testdata/query-clients) replayed
// against SDK data that makes each of them answer something.

// The package's TypeScript sources, not its CommonJS dist (see test/render-legacy.test.ts).
import { FlamebearerProfileSchema, GroupsSchema } from "@pyroscope/models/src/index";
import { exports } from "cloudflare:workers";
import { Profile } from "pprof-format";
import { beforeAll, describe, expect, it } from "vitest";
import { decodeFlameGraph, diffCollapsed, flameGraphCollapsed, formatCollapsed, parseCollapsed } from "./setup/flamegraph";
import { captureTimeMs, getJson, ingestProfile, replaySdkNodejs, responseBytes, type SdkCapture } from "./setup/query";
import { plain, testdata, testdataPlain, testdataText } from "./setup/testdata";
import { cpuExemplarsSplit, pprofTotal } from "./setup/manifest";

const HOUR_MS = 3_600_000;
const EXEMPLARS = "legacy/cpu-exemplars";
const PYSPY = "legacy/pyspy";
const SDK_SERVICE = "sdk-capture-app";
const CPU = "process_cpu:cpu:nanoseconds:cpu:nanoseconds";
const PYSPY_TYPE = "process_cpu:samples:count::milliseconds";
const WALL = "wall:wall:nanoseconds:wall:nanoseconds";
const WALL_SAMPLES = "wall:samples:count:wall:nanoseconds";
// MANIFEST.md: cpu-exemplars.pb.gz's cpu total and its split by `function`; pyspy-1.pb.gz's samples.
const CPU_TOTAL = await pprofTotal("cpu-exemplars.pb.gz", "cpu/nanoseconds");
const { slow: SLOW, fast: FAST, none: NO_FUNCTION } = await cpuExemplarsSplit();
const PYSPY_TOTAL = await pprofTotal("pyspy-1.pb.gz", "samples/count");
const CPU_GOLDEN = "expected/cpu-exemplars.pb.gz.cpu.nanoseconds.collapsed";
const PYSPY_GOLDEN = "expected/pyspy-1.pb.gz.samples.count.spy-scripting.collapsed";
/** The recorded SDK upload re-sent with the current time, so that "the last hour" has SDK data. */
const RETIMED = "sdk-nodejs/v0.6.4-token/005-wall";

interface Timeline {
  startTime: number;
  samples: number[];
  durationDelta: number;
  watermarks: null;
}

/** The flamebearer JSON of render and render-diff (§5.1, §5.2), as read from the wire. */
interface Flamebearer {
  version: number;
  flamebearer: { names: string[]; levels: number[][]; numTicks: number; maxSelf: number };
  metadata: { format: string; spyName: string; sampleRate: number; units: string; name: string };
  timeline: Timeline | null;
  groups: Record<string, Timeline> | null;
  heatmap: null;
  leftTicks?: number;
  rightTicks?: number;
}

/** Recorded request headers, minus those the recording's transport set. */
const replayHeaders = (pairs: [string, string][]) =>
  new Headers(pairs.filter(([k]) => !["host", "content-length", "connection"].includes(k.toLowerCase())));

async function bodyJson(res: Response): Promise<unknown> {
  return JSON.parse(new TextDecoder().decode(await responseBytes(res)));
}

/**
 * GET /pyroscope/render (or -diff) that must succeed: the body must parse with the OG UI's schema
 * and, since that schema strips it, the timeline with the groups' schema.
 */
async function flamebearer(route: "render" | "render-diff", params: Record<string, string>): Promise<Flamebearer> {
  const res = await exports.default.fetch(`http://localhost/pyroscope/${route}?${new URLSearchParams(params)}`);
  const json = await bodyJson(res);
  expect([route, params, res.status]).toEqual([route, params, 200]);
  expect(res.headers.get("Content-Type")).toMatch(/^application\/json/);
  FlamebearerProfileSchema.parse(json);
  const fb = json as Flamebearer;
  if (fb.timeline !== null) GroupsSchema.parse({ timeline: fb.timeline });
  return fb;
}

const stacksOf = (fb: Flamebearer) => flameGraphCollapsed(fb.flamebearer);
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
const seconds = (ms: number) => String(Math.floor(ms / 1000));

/**
 * What truncation to `maxNodes` must draw (§3.15.4): of the golden's call tree, the nodes whose
 * total is at least the maxNodes-th largest stay; everything below a dropped node is one `other`
 * child of its kept parent.
 */
function truncatedGolden(golden: string, maxNodes: number): { stacks: string; kept: Set<string> } {
  const stacks = parseCollapsed(golden);
  const totals = new Map<string, number>();
  for (const [frames, v] of stacks) {
    for (let i = 1; i <= frames.length; i++) {
      const path = frames.slice(0, i).join(";");
      totals.set(path, (totals.get(path) ?? 0) + v);
    }
  }
  const threshold = [...totals.values()].sort((a, b) => b - a)[maxNodes - 1];
  const kept = new Set([...totals].filter(([, t]) => t >= threshold).map(([path]) => path));
  const sums = new Map<string, number>();
  for (const [frames, v] of stacks) {
    const cut = frames.findIndex((_, i) => !kept.has(frames.slice(0, i + 1).join(";")));
    const key = cut < 0 ? frames.join(";") : [...frames.slice(0, cut), "other"].join(";");
    sums.set(key, (sums.get(key) ?? 0) + v);
  }
  return { stacks: formatCollapsed(sums), kept };
}

describe("legacy query API", () => {
  let timeMs: number;
  let captures: SdkCapture[];
  let retimedWall: number;
  const exemplarsQuery = (selector = "") => `${CPU}{service_name="${EXEMPLARS}"${selector}}`;
  const around = () => ({ from: seconds(timeMs - HOUR_MS), until: seconds(timeMs + HOUR_MS) });

  beforeAll(async () => {
    const exemplars = await testdata("pprof/cpu-exemplars.pb.gz");
    timeMs = Number(BigInt(Profile.decode(plain(exemplars)).timeNanos) / 1_000_000n);
    await ingestProfile(exemplars, { name: EXEMPLARS });
    // pyspy-1's time_nanos falls in 1970, so it is stored at the request time: data of the last hour.
    await ingestProfile(await testdata("pprof/pyspy-1.pb.gz"), { name: PYSPY, spyName: "scripting" });
    captures = await replaySdkNodejs();

    // The recordings are hours old by now; Perses' "no time range" render asks for the last hour.
    // One recorded wall upload is re-sent as recorded (query, headers) with its profile re-timed to now.
    const capture = JSON.parse(await testdataText(`${RETIMED}.json`)) as SdkCapture;
    const p = Profile.decode(await testdataPlain(`${RETIMED}.pprof.gz`));
    p.timeNanos = BigInt(Date.now()) * 1_000_000n;
    retimedWall = Number(capture.pprof.valueTotals["wall/nanoseconds"]);
    const res = await exports.default.fetch(`http://localhost${capture.path}?${capture.rawQuery}`, {
      method: "POST",
      headers: replayHeaders(capture.headers),
      body: p.encode(),
    });
    expect(res.status).toBe(200);
  });

  describe("/pyroscope/render", () => {
    it("answers a flamebearer the OG UI's schema accepts, with the golden stacks and a full timeline", async () => {
      const range = around();
      const fb = await flamebearer("render", { query: exemplarsQuery(), ...range });
      expect(fb.version).toBe(1);
      expect(fb.flamebearer.numTicks).toBe(CPU_TOTAL);
      expect(stacksOf(fb)).toBe(await testdataText(CPU_GOLDEN));
      expect(fb.flamebearer.maxSelf).toBe(Math.max(...decodeFlameGraph(fb.flamebearer).map((n) => n.self[0])));
      // ExportToFlamebearer's metadata for cpu (§5.1).
      expect(fb.metadata).toEqual({ format: "single", spyName: "", sampleRate: 1_000_000_000, units: "samples", name: "cpu" });
      // Two hours → a 15 s step; both ends snapped down to it; the one profile lands in one slot.
      const step = 15;
      const first = Math.floor(Number(range.from) / step) * step;
      const last = Math.floor(Number(range.until) / step) * step;
      expect(fb.timeline).toMatchObject({ startTime: first, durationDelta: step, watermarks: null });
      expect(fb.timeline!.samples).toHaveLength((last - first) / step);
      expect(sum(fb.timeline!.samples)).toBe(CPU_TOTAL);
      expect(fb.timeline!.samples.filter((v) => v !== 0)).toHaveLength(1);
      expect([fb.groups, fb.heatmap]).toEqual([null, null]);
    });

    it("reads from/until as unix seconds, milliseconds, microseconds and relative times", async () => {
      const forms = [
        around(),
        { from: String(timeMs - HOUR_MS), until: String(timeMs + HOUR_MS) },
        { from: String((timeMs - HOUR_MS) * 1000), until: String((timeMs + HOUR_MS) * 1000) },
      ];
      for (const range of forms) {
        expect((await flamebearer("render", { query: exemplarsQuery(), ...range })).flamebearer.numTicks).toBe(CPU_TOTAL);
      }
      // A window that ends just before the profile holds nothing: the bare root (§3.5).
      const before = await flamebearer("render", { query: exemplarsQuery(), from: String(timeMs - HOUR_MS), until: String(timeMs - 1) });
      expect(before.flamebearer).toEqual({ names: ["total"], levels: [[0, 0, 0, 0]], numTicks: 0, maxSelf: 0 });
      // Relative times: the last hour has pyspy-1 (stored at its upload time) but not the 2022 profile.
      const pyspyQuery = `${PYSPY_TYPE}{service_name="${PYSPY}"}`;
      const relative: Record<string, string>[] = [{ from: "now-1h" }, { from: "now-1h", until: "now" }];
      for (const range of relative) {
        const fb = await flamebearer("render", { query: pyspyQuery, ...range });
        expect(fb.flamebearer.numTicks).toBe(PYSPY_TOTAL);
        expect(stacksOf(fb)).toBe(await testdataText(PYSPY_GOLDEN));
      }
      expect((await flamebearer("render", { query: exemplarsQuery(), from: "now-1h" })).flamebearer.numTicks).toBe(0);
    });

    it("groups timelines by the first groupBy label", async () => {
      const fb = await flamebearer("render", { query: exemplarsQuery(), ...around(), groupBy: "function" });
      expect(fb.flamebearer.numTicks).toBe(CPU_TOTAL);
      GroupsSchema.parse(fb.groups);
      // Samples without the label are keyed "*".
      const sums = Object.fromEntries(Object.entries(fb.groups!).map(([k, t]) => [k, sum(t.samples)]));
      expect(sums).toEqual({ slow: SLOW, fast: FAST, "*": NO_FUNCTION });
      // With more than one series the main timeline stays all zeros, as in Pyroscope (§5.1).
      expect(sum(fb.timeline!.samples)).toBe(0);
      expect(fb.timeline!.samples.length).toBe(fb.groups!.slow.samples.length);
    });

    it("truncates to maxNodes (or max-nodes), folding the rest into `other` and keeping the total", async () => {
      const maxNodes = 8;
      const want = truncatedGolden(await testdataText(CPU_GOLDEN), maxNodes);
      // The 8th and 9th largest totals differ, so exactly 8 of the golden's 37 nodes stay.
      expect(want.kept.size).toBe(maxNodes);
      // maxNodes wins over max-nodes (§5.1).
      const params: Record<string, string>[] = [{ maxNodes: "8" }, { "max-nodes": "8" }, { maxNodes: "8", "max-nodes": "1000" }];
      for (const nodes of params) {
        const fb = await flamebearer("render", { query: exemplarsQuery(), ...around(), ...nodes });
        expect(fb.flamebearer.numTicks).toBe(CPU_TOTAL);
        expect(stacksOf(fb)).toBe(want.stacks);
        const real = decodeFlameGraph(fb.flamebearer).filter((n) => n.parent >= 0 && n.name !== "other");
        expect(new Set(real.map((n) => n.path))).toEqual(want.kept);
      }
    });
  });

  describe("/pyroscope/render-diff", () => {
    it("diffs a selection with itself: format double, equal sides", async () => {
      const range = around();
      const fb = await flamebearer("render-diff", {
        leftQuery: exemplarsQuery(),
        leftFrom: range.from,
        leftUntil: range.until,
        rightQuery: exemplarsQuery(),
        rightFrom: range.from,
        rightUntil: range.until,
      });
      expect(fb.metadata.format).toBe("double");
      expect([fb.leftTicks, fb.rightTicks, fb.flamebearer.numTicks]).toEqual([CPU_TOTAL, CPU_TOTAL, 2 * CPU_TOTAL]);
      for (const level of fb.flamebearer.levels) expect(level.length % 7).toBe(0);
      const golden = await testdataText(CPU_GOLDEN);
      expect(diffCollapsed(fb.flamebearer)).toEqual({ left: golden, right: golden });
      expect([fb.timeline, fb.groups, fb.heatmap]).toEqual([null, null, null]);
    });

    it("diffs two label selections, each side its own total", async () => {
      const range = around();
      const fb = await flamebearer("render-diff", {
        leftQuery: exemplarsQuery(',function="slow"'),
        leftFrom: range.from,
        leftUntil: range.until,
        rightQuery: exemplarsQuery(',function="fast"'),
        rightFrom: range.from,
        rightUntil: range.until,
      });
      expect([fb.leftTicks, fb.rightTicks]).toEqual([SLOW, FAST]);
    });

    it("refuses sides of different profile types", async () => {
      const range = around();
      const res = await getJson(
        `/pyroscope/render-diff?${new URLSearchParams({
          leftQuery: exemplarsQuery(),
          leftFrom: range.from,
          leftUntil: range.until,
          rightQuery: `process_cpu:samples:count:cpu:nanoseconds{service_name="${EXEMPLARS}"}`,
          rightFrom: range.from,
          rightUntil: range.until,
        })}`,
      );
      expect([res.status, res.json]).toEqual([400, { code: "invalid_argument", message: "profile types must match" }]);
    });

    it("refuses a time past what a date can hold instead of sizing a timeline by it", async () => {
      const res = await getJson(`/pyroscope/render?${new URLSearchParams({ query: exemplarsQuery(), from: "now-100000000000000000000000y" })}`);
      expect([res.status, res.json]).toEqual([400, { code: "invalid_argument", message: '"from" is out of range: give a time between the years -271821 and 275760' }]);
    });
  });

  describe("/pyroscope/label-values and /pyroscope/labels", () => {
    it("lists the profile type ids of the last hour for label=__name__", async () => {
      const res = await getJson("/pyroscope/label-values?label=__name__");
      expect(res.status).toBe(200);
      expect(res.json).toEqual([PYSPY_TYPE, WALL_SAMPLES, WALL]);
    });

    it("lists another label's values of the last hour", async () => {
      const res = await getJson("/pyroscope/label-values?label=service_name");
      expect([res.status, res.json]).toEqual([200, [PYSPY, SDK_SERVICE]]);
    });

    it("requires the label parameter", async () => {
      const res = await getJson("/pyroscope/label-values");
      expect([res.status, res.json]).toEqual([400, { code: "invalid_argument", message: "label parameter is required" }]);
    });

    it("lists the label names of the last hour, sorted, legacy names only", async () => {
      const res = await getJson("/pyroscope/labels");
      expect(res.status).toBe(200);
      const names = res.json as string[];
      expect(names).toEqual([...new Set(names)].sort());
      expect(names).toEqual(expect.arrayContaining(["__name__", "service_name", "env", "region"]));
      expect(names).not.toContain("otel.scope.name");
    });
  });

  describe("the Perses plugin's recorded requests", () => {
    interface Recorded {
      method: string;
      path: string;
      query: [string, string][];
      headers: [string, string][];
      body: string;
    }
    interface ProfileTypeJson {
      ID: string;
      name: string;
      sampleType: string;
      sampleUnit: string;
      periodType?: string;
      periodUnit?: string;
    }

    it("answers every request with 200 and the JSON the plugin reads", async () => {
      const { requests } = JSON.parse(await testdataText("query-clients/perses-requests.json")) as { requests: Recorded[] };
      expect(requests.map((r) => r.path)).toEqual([
        "/querier.v1.QuerierService/ProfileTypes",
        "/querier.v1.QuerierService/LabelNames",
        "/querier.v1.QuerierService/LabelValues",
        "/querier.v1.QuerierService/LabelValues",
        "/pyroscope/render",
        "/pyroscope/render",
      ]);
      for (const r of requests) {
        const url = `http://localhost${r.path}${r.query.length > 0 ? `?${new URLSearchParams(r.query)}` : ""}`;
        const res = await exports.default.fetch(url, { method: r.method, headers: replayHeaders(r.headers), body: r.method === "GET" ? undefined : r.body });
        const json = await bodyJson(res);
        const what = `${r.method} ${r.path} ${r.body}`;
        expect([what, res.status]).toEqual([what, 200]);

        if (r.path.endsWith("/ProfileTypes")) {
          // No range in the body: the last hour, where the re-timed upload and pyspy-1 are.
          const types = (json as { profileTypes: ProfileTypeJson[] }).profileTypes;
          expect(types.map((t) => t.ID)).toEqual([PYSPY_TYPE, WALL_SAMPLES, WALL]);
          for (const t of types) {
            expect([t.name, t.sampleType, t.sampleUnit, t.periodType ?? "", t.periodUnit ?? ""].join(":")).toBe(t.ID);
          }
        } else if (r.path.endsWith("/LabelNames")) {
          expect((json as { names: string[] }).names).toEqual(expect.arrayContaining(["service_name", "env", "region"]));
        } else if (r.path.endsWith("/LabelValues")) {
          const { name } = JSON.parse(r.body) as { name: string };
          const values: Record<string, string> = { env: "test", service_name: SDK_SERVICE };
          const want = values[name];
          expect([name, (json as { names: string[] }).names]).toEqual([name, expect.arrayContaining([want])]);
        } else {
          const params = new URLSearchParams(r.query);
          FlamebearerProfileSchema.parse(json);
          const fb = json as Flamebearer;
          // The plugin throws on a render without a timeline, and draws 4-number bars.
          GroupsSchema.parse({ timeline: fb.timeline });
          for (const level of fb.flamebearer.levels) {
            expect(level.length % 4).toBe(0);
            expect(level.every(Number.isInteger)).toBe(true);
          }
          expect(Object.keys(fb.metadata)).toEqual(expect.arrayContaining(["spyName", "sampleRate", "units", "name"]));
          const until = params.get("until");
          // The recorded window (unix s) covers the first v0.6.4-main uploads, so it is replayed
          // as recorded; the window without `until` is the last hour, holding the re-timed upload.
          const want =
            until === null
              ? retimedWall
              : sum(
                  captures
                    .filter((c) => captureTimeMs(c) >= Number(params.get("from")) * 1000 && captureTimeMs(c) <= Number(until) * 1000)
                    .map((c) => Number(c.pprof.valueTotals["wall/nanoseconds"] ?? 0)),
                );
          expect(want).toBeGreaterThan(0);
          expect([params.get("query"), fb.flamebearer.numTicks]).toEqual([params.get("query"), want]);
        }
      }
    });
  });
});
