// The checks around the fuzz cases: control profiles whose totals must be exact before and after
// the run, and the query abuse of issue 14 (a pathological regex over long label values; 1,000
// concurrent queries from one tenant and the runtime's memory afterwards).

import http from "node:http";
import { gunzipSync } from "node:zlib";
import { Profile } from "pprof-format";
import { lenField, concat } from "./proto.mjs";

const CPU_TYPE = "process_cpu:cpu:nanoseconds:cpu:nanoseconds";
const HOUR = 3_600_000;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const isGzip = (b) => b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b;

/** The cpu/nanoseconds total and time (ms) of a corpus pprof, computed from the file. */
export function cpuFacts(bytes) {
  const p = Profile.decode(isGzip(bytes) ? gunzipSync(bytes) : bytes);
  const strings = p.stringTable.strings;
  const index = p.sampleType.findIndex((t) => strings[Number(t.type)] === "cpu" && strings[Number(t.unit)] === "nanoseconds");
  if (index < 0) throw new Error("control profile without a cpu/nanoseconds sample type");
  return { total: p.sample.reduce((n, s) => n + BigInt(s.value[index]), 0n), timeMs: Math.floor(Number(p.timeNanos) / 1e6) };
}

async function post(base, path, body, headers) {
  const res = await fetch(base + path, { method: "POST", body, headers, signal: AbortSignal.timeout(30_000) });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`POST ${path} answered ${res.status}: ${text.slice(0, 300)}`);
}

async function mergeTotal(base, tenant, service, timeMs) {
  const res = await fetch(`${base}/querier.v1.QuerierService/SelectMergeStacktraces`, {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-Scope-OrgID": tenant },
    body: JSON.stringify({ profileTypeID: CPU_TYPE, labelSelector: `{service_name="${service}"}`, start: timeMs - HOUR, end: timeMs + HOUR }),
    signal: AbortSignal.timeout(30_000),
  });
  if (res.status !== 200) return { error: `HTTP ${res.status}: ${(await res.text()).slice(0, 200)}` };
  return { total: BigInt((await res.json()).flamegraph?.total ?? "0") };
}

/**
 * Control profiles: cpu.pb.gz raw on /ingest and cpu-exemplars.pb.gz over Push (binary), sent
 * into `tenant`. Returns what each must total.
 */
export async function sendControls(base, tenant, corpus) {
  const ingest = corpus.get("pprof/cpu.pb.gz");
  const push = corpus.get("pprof/cpu-exemplars.pb.gz");
  const labels = [
    ["__name__", "process_cpu"],
    ["service_name", "fuzz-control-push"],
  ];
  const pushBody = lenField(1, concat([...labels.map(([n, v]) => lenField(1, concat([lenField(1, n), lenField(2, v)]))), lenField(2, lenField(1, push))]));
  await post(base, "/ingest?name=fuzz-control&format=pprof", ingest, { "X-Scope-OrgID": tenant, "Content-Type": "application/octet-stream" });
  await post(base, "/push.v1.PusherService/Push", pushBody, { "X-Scope-OrgID": tenant, "Content-Type": "application/proto", "Connect-Protocol-Version": "1" });
  return [
    { tenant, service: "fuzz-control", source: "pprof/cpu.pb.gz via /ingest", ...cpuFacts(ingest) },
    { tenant, service: "fuzz-control-push", source: "pprof/cpu-exemplars.pb.gz via Push", ...cpuFacts(push) },
  ];
}

/** Polls until every control's total is exact (or `timeoutMs` passes): [{ ...control, got, ok }]. */
export async function checkControls(base, controls, timeoutMs = 60_000) {
  const started = Date.now();
  for (;;) {
    const results = [];
    for (const c of controls) {
      const r = await mergeTotal(base, c.tenant, c.service, c.timeMs).catch((e) => ({ error: e.message }));
      results.push({ ...c, got: r.error ?? r.total, ok: r.total === c.total });
    }
    if (results.every((r) => r.ok) || Date.now() - started > timeoutMs) return results;
    await sleep(1000);
  }
}

/**
 * A pathological regex over series whose label values are 2,048 characters long: each selector
 * must be answered (2xx or 4xx, never 5xx) within `budgetMs`; the median of 5 tries per query.
 */
export async function regexAbuse(base, corpus, { series = 8, budgetMs = 100, hangMs = 5000 } = {}) {
  const tenant = "fuzz-query-abuse";
  const cpu = corpus.get("pprof/cpu.pb.gz");
  const { timeMs, total } = cpuFacts(cpu);
  const blob = "a".repeat(2048);
  for (let i = 0; i < series; i++) {
    await post(base, `/ingest?name=fuzz-regex{blob=${blob},i=${i}}&format=pprof`, cpu, { "X-Scope-OrgID": tenant, "Content-Type": "application/octet-stream" });
  }
  // Queryable first, so that the regex runs over the series rather than over nothing.
  const want = total * BigInt(series);
  const started = Date.now();
  let got;
  while (Date.now() - started < 60_000) {
    got = (await mergeTotal(base, tenant, "fuzz-regex", timeMs)).total;
    if (got === want) break;
    await sleep(500);
  }
  const selectors = [
    `{service_name="fuzz-regex", blob=~"(a+)+b"}`,
    `{service_name="fuzz-regex", blob=~"(a|aa)+$"}`,
    `{service_name="fuzz-regex", blob!~"(a*)*c"}`,
    `{service_name="fuzz-regex", blob=~"(.*a){20}b"}`,
    `{blob=~"((a+)+)+b"}`,
  ];
  const range = { start: timeMs - HOUR, end: timeMs + HOUR };
  const calls = [];
  for (const labelSelector of selectors) {
    calls.push(["SelectMergeStacktraces", { profileTypeID: CPU_TYPE, labelSelector, ...range }]);
    calls.push(["SelectSeries", { profileTypeID: CPU_TYPE, labelSelector, ...range, step: 60, groupBy: ["i"] }]);
  }
  calls.push(["LabelValues", { name: "i", matchers: [selectors[0]], ...range }]);
  calls.push(["Series", { matchers: [selectors[0]], labelNames: ["i"], ...range }]);
  const results = [];
  for (const [method, body] of calls) {
    const times = [];
    let status = 0;
    let answer = "";
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      const res = await fetch(`${base}/querier.v1.QuerierService/${method}`, {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-Scope-OrgID": tenant },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(hangMs),
      })
        .then(async (r) => ({ status: r.status, text: await r.text() }))
        .catch((e) => ({ status: 0, text: e.name === "TimeoutError" ? `no answer within ${hangMs} ms` : e.message }));
      answer = res.text;
      times.push(performance.now() - t0);
      status = res.status;
      if (status === 0) break;
    }
    times.sort((a, b) => a - b);
    const medianMs = times[Math.floor((times.length - 1) / 2)];
    const ok = status >= 200 && status < 500 && medianMs < budgetMs;
    results.push({ method, selector: body.labelSelector ?? body.matchers[0], status, medianMs, maxMs: times[times.length - 1], ok, answer: status >= 300 || status === 0 ? answer.slice(0, 200) : undefined });
    // A regex that never ends holds the isolate: every later query would wait behind it.
    if (status === 0) return { tenant, seriesQueryable: got === want, results, stuck: true };
  }
  return { tenant, seriesQueryable: got === want, results, stuck: false };
}

/**
 * `n` concurrent SelectMergeStacktraces of one tenant: every answer must be 200 or 429, and the
 * Worker's resident memory must come back to within 20% of where it started (`rss()` reads it).
 */
export async function concurrencyAbuse(base, corpus, rss, { n = 1000, settleMs = 30_000 } = {}) {
  const tenant = "fuzz-query-abuse";
  const { timeMs } = cpuFacts(corpus.get("pprof/cpu.pb.gz"));
  const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
  const body = JSON.stringify({ profileTypeID: CPU_TYPE, labelSelector: `{service_name="fuzz-regex"}`, start: timeMs - HOUR, end: timeMs + HOUR });
  const before = rss();
  let peak = before;
  const sampler = setInterval(() => (peak = Math.max(peak, rss())), 100);
  const t0 = performance.now();
  const one = () =>
    new Promise((resolve) => {
      const req = http.request(
        `${base}/querier.v1.QuerierService/SelectMergeStacktraces`,
        { method: "POST", agent, headers: { "Content-Type": "application/json", "X-Scope-OrgID": tenant, "Content-Length": Buffer.byteLength(body) } },
        (res) => {
          res.resume();
          res.on("end", () => resolve(String(res.statusCode)));
          res.on("error", () => resolve("reset"));
        },
      );
      req.setTimeout(60_000, () => {
        req.destroy();
        resolve("hang");
      });
      req.on("error", (e) => resolve(e.code === "ECONNRESET" ? "reset" : `error ${e.code}`));
      req.end(body);
    });
  const answers = await Promise.all(Array.from({ length: n }, one));
  const seconds = (performance.now() - t0) / 1000;
  const counts = {};
  for (const a of answers) counts[a] = (counts[a] ?? 0) + 1;
  // Memory is given back lazily (V8's GC, the allocator): wait for it up to settleMs.
  const settleStart = Date.now();
  let after = rss();
  while (after > before * 1.2 && Date.now() - settleStart < settleMs) {
    await sleep(500);
    after = rss();
  }
  clearInterval(sampler);
  const bad = Object.keys(counts).filter((k) => k !== "200" && k !== "429");
  return { n, seconds, counts, rssBefore: before, rssPeak: peak, rssAfter: after, settledMs: Date.now() - settleStart, ok: bad.length === 0 && after <= before * 1.2 };
}
