// Queries of bounded cost (issue 14): regexes matched by RE2 in linear time on real series with
// label values as long as ingestion allows, the limits on a query request's size refused with the
// limit named, and the per-tenant query concurrency cap answering 429 beyond it.

import { create, toBinary } from "@bufbuild/protobuf";
import { exports } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { DEFAULTS } from "../workers/config";
import { SelectMergeStacktracesRequestSchema } from "../workers/gen/querier/v1/querier_pb";
import { QUERY_SLOT_STALE_MS, QuerySlots, querySlots } from "../workers/query/slots";
import { cpuExemplarsSplit, pprofTotal } from "./setup/manifest";
import { multipart, flushAll } from "./setup/storage";
import { rpcJson } from "./setup/query";
import { plain, testdata } from "./setup/testdata";
import { Profile } from "pprof-format";

const CPU = "process_cpu:cpu:nanoseconds:cpu:nanoseconds";
const HOUR_MS = 3_600_000;
/** MAX_LABEL_VALUE_LENGTH: the longest label value ingestion accepts. */
const LONG = DEFAULTS.MAX_LABEL_VALUE_LENGTH;
const BURST_TENANT = "limits-burst";

async function ingest(file: string, name: string, org?: string): Promise<number> {
  const bytes = await testdata(`pprof/${file}`);
  const { body, contentType } = multipart([{ name: "profile", data: bytes }]);
  const res = await exports.default.fetch(`http://localhost/ingest?${new URLSearchParams({ name })}`, {
    method: "POST",
    body,
    headers: { "Content-Type": contentType, ...(org ? { "X-Scope-OrgID": org } : {}) },
  });
  expect([res.status, await res.text()]).toEqual([200, ""]);
  return Number(BigInt(Profile.decode(plain(bytes)).timeNanos) / 1_000_000n);
}

/** An hour either side of a profile's time. */
const around = (timeMs: number) => ({ start: timeMs - HOUR_MS, end: timeMs + HOUR_MS });

/** The flame graph total of a selection over an hour either side of `timeMs`. */
async function total(labelSelector: string, timeMs: number, headers: Record<string, string> = {}): Promise<number> {
  const res = await rpcJson("SelectMergeStacktraces", { profileTypeID: CPU, labelSelector, ...around(timeMs) }, headers);
  expect(res.status, JSON.stringify(res.json)).toBe(200);
  return Number(res.json.flamegraph.total ?? 0);
}

describe("regex selectors over label values of the longest length", () => {
  // Two real profiles whose series differ only in a 2048-character label: a's ending in "b", and
  // a's alone, the input on which `(a+)+b` backtracks for ever in JavaScript's RegExp.
  const ending = `${"a".repeat(LONG - 1)}b`;
  const plainRun = "a".repeat(LONG);
  // The profiles are a year apart: each is read in its own range, [b-series total, a-series total].
  let bTime = 0;
  let aTime = 0;
  let cpu = 0;
  let exemplars = 0;

  beforeAll(async () => {
    cpu = await pprofTotal("cpu.pb.gz", "cpu/nanoseconds");
    exemplars = await pprofTotal("cpu-exemplars.pb.gz", "cpu/nanoseconds");
    bTime = await ingest("cpu.pb.gz", `limits-re-b{run=${ending}}`);
    aTime = await ingest("cpu-exemplars.pb.gz", `limits-re-a{run=${plainRun}}`);
  });

  const B = "b";
  const A = "a";
  const cases: [selector: string, matches: string][] = [
    [`{service_name=~"limits-re-.*", run=~"(a+)+b"}`, B],
    [`{service_name=~"limits-re-.*", run!~"(a+)+b"}`, A],
    [`{service_name=~"limits-re-.*", run=~"(a|aa)+"}`, A],
    [`{service_name=~"limits-re-.*", run=~"(?i)(A+)+B"}`, B],
    [`{service_name=~"limits-re-.*", run=~"(a*)*"}`, A],
    [`{service_name=~"limits-re-.*", run=~"a+"}`, A],
    // Fully anchored: a prefix of the value is no match.
    [`{service_name=~"limits-re-.*", run=~"(a+)+"}`, A],
    [`{service_name=~"limits-re-.*", run=~".*b"}`, B],
    [`{service_name=~"limits-re-.*", run=~"(a+)+c"}`, ""],
    [`{service_name=~"limits-re-.*", run!~"(a+)+c"}`, A + B],
  ];

  async function check(): Promise<void> {
    for (const [selector, matches] of cases) {
      const got = [await total(selector, bTime), await total(selector, aTime)];
      expect(got, selector).toEqual([matches.includes(B) ? cpu : 0, matches.includes(A) ? exemplars : 0]);
    }
  }

  it("selects exactly the matching series while they are buffered and once flushed", async () => {
    await check();
    await flushAll();
    await check();
  });

  it("lists label values under the same regexes", async () => {
    const values = async (matcher: string) => {
      const names = new Set<string>();
      for (const t of [bTime, aTime]) {
        const res = await rpcJson("LabelValues", { name: "service_name", matchers: [`{${matcher}}`], ...around(t) });
        for (const n of res.json.names ?? []) names.add(n);
      }
      return [...names].sort();
    };
    expect(await values(`run=~"(a+)+b"`)).toEqual(["limits-re-b"]);
    expect(await values(`run=~"(a+)+"`)).toEqual(["limits-re-a"]);
    expect(await values(`service_name=~"limits-re-.", run!~"(a+)+b"`)).toEqual(["limits-re-a"]);
    expect(await values(`run=~".+"`)).toEqual(["limits-re-a", "limits-re-b"]);
  });

  it("refuses backreferences as RE2 does, saying so", async () => {
    const res = await rpcJson("SelectMergeStacktraces", { profileTypeID: CPU, labelSelector: `{run=~"(a)\\\\1"}`, ...around(aTime) });
    expect([res.status, res.json.code]).toEqual([400, "invalid_argument"]);
    expect(res.json.message).toMatch(/invalid regular expression "\(a\)\\\\1" for label "run": .*backreferences are not supported/);
  });
});

describe("query request limits", () => {
  let timeMs = 0;
  const range = () => ({ start: timeMs - HOUR_MS, end: timeMs + HOUR_MS });
  const SERVICE = "limits-shape";
  const selector = `{service_name="${SERVICE}"}`;

  beforeAll(async () => {
    timeMs = await ingest("cpu-exemplars.pb.gz", SERVICE);
  });

  /** `n` matchers that every series of the service satisfies. */
  const matchers = (n: number) => `{service_name="${SERVICE}"${`, x!="y"`.repeat(n - 1)}}`;
  const names = (n: number) => Array.from({ length: n }, (_, i) => (i === 0 ? "function" : `l${i}`));
  const ids = (n: number) => Array.from({ length: n }, (_, i) => i.toString(16).padStart(16, "0"));

  async function refused(method: string, body: unknown, message: string | RegExp): Promise<void> {
    const res = await rpcJson(method, body);
    expect([res.status, res.json.code], JSON.stringify(res.json)).toEqual([400, "invalid_argument"]);
    if (typeof message === "string") expect(res.json.message).toBe(message);
    else expect(res.json.message).toMatch(message);
  }

  it("answers at each limit and refuses one past it, naming the limit", async () => {
    const m = DEFAULTS.MAX_QUERY_MATCHERS;
    const atLimit = await rpcJson("SelectMergeStacktraces", { profileTypeID: CPU, labelSelector: matchers(m), ...range() });
    expect(atLimit.status).toBe(200);
    expect(Number(atLimit.json.flamegraph.total)).toBe(await pprofTotal("cpu-exemplars.pb.gz", "cpu/nanoseconds"));
    const tooMany = `too many matchers in the selector: the limit is ${m} (MAX_QUERY_MATCHERS)`;
    await refused("SelectMergeStacktraces", { profileTypeID: CPU, labelSelector: matchers(m + 1), ...range() }, tooMany);
    await refused("SelectMergeStacktraces", { profileTypeID: CPU, labelSelector: matchers(6000).slice(0, DEFAULTS.MAX_QUERY_SELECTOR_LENGTH - 1) + "}", ...range() }, tooMany);
    // The matchers of a label call's selectors count together.
    await refused("LabelNames", { matchers: [matchers(m / 2), matchers(m / 2 + 1)], ...range() }, tooMany);

    const n = DEFAULTS.MAX_QUERY_LABEL_NAMES;
    const series = await rpcJson("SelectSeries", { profileTypeID: CPU, labelSelector: selector, ...range(), step: 15, groupBy: names(n) });
    expect(series.status).toBe(200);
    // Grouped by `function` (the other names are on no series): the MANIFEST's split.
    const split = await cpuExemplarsSplit();
    const grouped = Object.fromEntries(
      series.json.series.map((s: { labels?: { value: string }[]; points: { value: number }[] }) => [s.labels?.[0]?.value ?? "none", s.points[0].value]),
    );
    expect(grouped).toEqual(split);
    const namesMessage = (field: string) => `too many label names in ${field}: ${n + 1}, the limit is ${n} (MAX_QUERY_LABEL_NAMES)`;
    await refused("SelectSeries", { profileTypeID: CPU, labelSelector: selector, ...range(), step: 15, groupBy: names(n + 1) }, namesMessage("group_by"));
    await refused(
      "SelectHeatmap",
      { profileTypeID: CPU, labelSelector: selector, ...range(), step: 15, groupBy: names(n + 1), queryType: "HEATMAP_QUERY_TYPE_INDIVIDUAL" },
      namesMessage("group_by"),
    );
    expect((await rpcJson("Series", { matchers: [selector], labelNames: names(n), ...range() })).status).toBe(200);
    await refused("Series", { matchers: [selector], labelNames: names(n + 1), ...range() }, namesMessage("label_names"));

    const k = DEFAULTS.MAX_QUERY_IDS;
    const idsMessage = (field: string) => `too many ids in ${field}: ${k + 1}, the limit is ${k} (MAX_QUERY_IDS)`;
    const spans = await rpcJson("SelectMergeStacktraces", { profileTypeID: CPU, labelSelector: selector, ...range(), spanSelector: ids(k) });
    expect(spans.status).toBe(200);
    await refused("SelectMergeStacktraces", { profileTypeID: CPU, labelSelector: selector, ...range(), spanSelector: ids(k + 1) }, idsMessage("span_selector"));
    await refused("SelectMergeStacktraces", { profileTypeID: CPU, labelSelector: selector, ...range(), traceIdSelector: ids(k + 1) }, idsMessage("trace_id_selector"));
    await refused(
      "SelectMergeProfile",
      { profileTypeID: CPU, labelSelector: selector, ...range(), profileIdSelector: Array.from({ length: k + 1 }, () => crypto.randomUUID()) },
      idsMessage("profile_id_selector"),
    );
  });

  it("refuses a selector longer than MAX_QUERY_SELECTOR_LENGTH", async () => {
    const limit = DEFAULTS.MAX_QUERY_SELECTOR_LENGTH;
    const long = `{service_name=~"${SERVICE}|${"x".repeat(limit)}"}`;
    await refused(
      "SelectMergeStacktraces",
      { profileTypeID: CPU, labelSelector: long, ...range() },
      `the selector is too long: ${long.length} characters, the limit is ${limit} (MAX_QUERY_SELECTOR_LENGTH)`,
    );
    await refused("LabelValues", { name: "service_name", matchers: Array.from({ length: limit / 2 + 1 }, () => "{}"), ...range() }, /\(MAX_QUERY_SELECTOR_LENGTH\)$/);
  });

  it("refuses more points per series than MAX_QUERY_POINTS, for SelectSeries and SelectHeatmap", async () => {
    const limit = DEFAULTS.MAX_QUERY_POINTS;
    // Two hours at 1 s is 7200 steps; at 0.5 s, 14400.
    const ok = await rpcJson("SelectSeries", { profileTypeID: CPU, labelSelector: selector, ...range(), step: 1 });
    expect(ok.status).toBe(200);
    const points = ok.json.series[0].points.length;
    expect(points).toBeGreaterThan(0);
    // Exactly MAX_QUERY_POINTS steps answers, as in Prometheus; one more step does not.
    const steps = (n: number) => ({ start: timeMs - n * 500, end: timeMs + n * 500, step: 1 });
    expect((await rpcJson("SelectSeries", { profileTypeID: CPU, labelSelector: selector, ...steps(limit) })).status).toBe(200);
    await refused("SelectSeries", { profileTypeID: CPU, labelSelector: selector, ...steps(limit + 2) }, /\(MAX_QUERY_POINTS\)/);
    const message = `too many points per series: 14400 (range / step), the limit is ${limit} (MAX_QUERY_POINTS); use a larger step`;
    await refused("SelectSeries", { profileTypeID: CPU, labelSelector: selector, ...range(), step: 0.5 }, message);
    await refused("SelectHeatmap", { profileTypeID: CPU, labelSelector: selector, ...range(), step: 0.5, queryType: "HEATMAP_QUERY_TYPE_INDIVIDUAL" }, message);
  });

  it("answers 400 on the legacy render route too", async () => {
    const params = new URLSearchParams({ query: `${CPU}${selector}`, from: String(range().start), until: String(range().end) });
    for (const g of names(DEFAULTS.MAX_QUERY_LABEL_NAMES + 1)) params.append("groupBy", g);
    const res = await exports.default.fetch(`http://localhost/pyroscope/render?${params}`);
    const body = (await res.json()) as { code: string; message: string };
    expect([res.status, body.code]).toEqual([400, "invalid_argument"]);
    expect(body.message).toMatch(/\(MAX_QUERY_LABEL_NAMES\)$/);
  });
});

describe("query concurrency cap", () => {
  const CAP = 2;
  const org = { "X-Scope-OrgID": BURST_TENANT };
  let expected = 0;
  let timeMs = 0;

  beforeAll(async () => {
    expected = await pprofTotal("cpu-exemplars.pb.gz", "cpu/nanoseconds");
    timeMs = await ingest("cpu-exemplars.pb.gz", "limits-burst", BURST_TENANT);
    const put = await exports.default.fetch("http://localhost/api/admin/limits", {
      method: "PUT",
      headers: org,
      body: JSON.stringify({ name: "MAX_QUERY_CONCURRENCY", value: CAP, tenant: BURST_TENANT }),
    });
    expect(put.status, await put.text()).toBe(200);
  });

  it("answers every query of a burst past the cap with the result or 429 naming the limit", async () => {
    const body = { profileTypeID: CPU, labelSelector: "{}", ...around(timeMs) };
    const outcomes = await Promise.all(Array.from({ length: 24 }, () => rpcJson("SelectMergeStacktraces", body, org)));
    const served = outcomes.filter((o) => o.status === 200);
    const refusedOnes = outcomes.filter((o) => o.status === 429);
    expect(served.length + refusedOnes.length).toBe(outcomes.length);
    // The first CAP queries always get a slot; 24 at once cannot all fit.
    expect(served.length).toBeGreaterThanOrEqual(CAP);
    expect(refusedOnes.length).toBeGreaterThan(0);
    for (const o of served) expect(Number(o.json.flamegraph.total)).toBe(expected);
    for (const o of refusedOnes) {
      expect(o.json).toEqual({
        code: "resource_exhausted",
        message: `too many concurrent queries for tenant "${BURST_TENANT}" (MAX_QUERY_CONCURRENCY, limit ${CAP} per isolate); retry shortly`,
      });
    }
    // Every slot is given back, refused or not.
    expect(querySlots.inUse(BURST_TENANT)).toBe(0);
    expect(await total("{}", timeMs, org)).toBe(expected);
  });

  it("refuses Grafana's binary Connect calls and the legacy routes the same way while the slots are taken", async () => {
    const held = Array.from({ length: CAP }, () => querySlots.tryAcquire(BURST_TENANT, CAP));
    expect(held).not.toContain(null);
    try {
      const { start, end } = around(timeMs);
      const request = create(SelectMergeStacktracesRequestSchema, { profileTypeID: CPU, labelSelector: "{}", start: BigInt(start), end: BigInt(end) });
      const binary = await exports.default.fetch("http://localhost/querier.v1.QuerierService/SelectMergeStacktraces", {
        method: "POST",
        headers: { "Content-Type": "application/proto", "Connect-Protocol-Version": "1", ...org },
        body: toBinary(SelectMergeStacktracesRequestSchema, request),
      });
      expect([binary.status, ((await binary.json()) as { code: string }).code]).toEqual([429, "resource_exhausted"]);
      const legacy = await exports.default.fetch(`http://localhost/pyroscope/render?${new URLSearchParams({ query: `${CPU}{}`, from: String(start), until: String(end) })}`, {
        headers: org,
      });
      expect([legacy.status, ((await legacy.json()) as { code: string }).code]).toEqual([429, "resource_exhausted"]);
      // Another tenant is not held up by this one's queries.
      expect((await rpcJson("LabelNames", { matchers: ["{}"], ...around(timeMs) })).status).toBe(200);
    } finally {
      for (const slot of held) querySlots.release(BURST_TENANT, slot!);
    }
    expect(await total("{}", timeMs, org)).toBe(expected);
  });
});

describe("query slots", () => {
  it("holds no slot while a query's body has not arrived", async () => {
    const tenant = "slots-body";
    let push!: ReadableStreamDefaultController<Uint8Array>;
    const body = new ReadableStream<Uint8Array>({ start: (c) => void (push = c) });
    push.enqueue(new TextEncoder().encode("{"));
    const pending = exports.default.fetch("http://localhost/querier.v1.QuerierService/LabelNames", {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-Scope-OrgID": tenant },
      body,
      duplex: "half",
    } as RequestInit);
    await new Promise((r) => setTimeout(r, 200));
    const heldWhileWaiting = querySlots.inUse(tenant);
    push.enqueue(new TextEncoder().encode("}"));
    push.close();
    expect((await pending).status).toBe(200);
    expect(heldWhileWaiting).toBe(0);
    expect(querySlots.inUse(tenant)).toBe(0);
  });

  it("takes a slot whose query never gave it back to be free after QUERY_SLOT_STALE_MS", () => {
    const slots = new QuerySlots();
    const t0 = 1_000_000;
    const a = slots.tryAcquire("t", 2, t0);
    const b = slots.tryAcquire("t", 2, t0 + 1);
    expect([a, b]).not.toContain(null);
    expect(slots.tryAcquire("t", 2, t0 + QUERY_SLOT_STALE_MS - 1)).toBeNull();
    // `a` was dropped with its request: once stale it no longer counts, `b` still does.
    const c = slots.tryAcquire("t", 2, t0 + QUERY_SLOT_STALE_MS);
    expect(c).not.toBeNull();
    expect(slots.inUse("t")).toBe(2);
    slots.release("t", a!); // a late release of the stale slot frees nothing else
    expect(slots.inUse("t")).toBe(2);
    slots.release("t", b!);
    slots.release("t", c!);
    expect(slots.inUse("t")).toBe(0);
  });
});
