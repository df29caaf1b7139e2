// The query section of `npm run bench`: a day of one service, then the flame graph and series
// queries a UI would make over it, against a baseline measured in the same run.
//
// Workload: 24 h of `bench-query` at a 10 s interval (8,640 profiles), made from real CPU pprofs
// of the corpus that share one profile type, cycled, each re-timed to its slot and its sample
// values scaled (decoded with pprof-format, edited, re-encoded, gzipped) and labelled with a pod,
// a region and a version. They are sent to /ingest of the local stack, and the ingesters are given time to flush
// so that the queries read blocks, as they would for a day-old range.
// Baseline: gunzip + pprof-format decode + a merge of every sample's stack into one tree of the
// same 8,640 request bodies, in this Node process: what answering the query costs without the
// service's storage layout.
// Then the same day in small flushes, before and after compaction (compaction.mjs).

import { mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import { Profile } from "pprof-format";
import { isFailure, percentile, runLoad } from "./load.mjs";
import { environment, mb, RESULTS_DIR, target } from "./report.mjs";
import { measureCompaction } from "./compaction.mjs";
import { sampleRss } from "./rss.mjs";
import { benchError, benchServiceVars, freePort, ROOT, serviceArgs, startStack, tail } from "./server.mjs";

export { printQueryReport } from "./query-report.mjs";

export const TARGETS = {
  speedup: 20, // baseline time ÷ 24-h flame graph time, at least
  flamegraphMs: 1000, // 24-h flame graph latency, less than
};

const SERVICE = "bench-query";
const PROFILE_TYPE = "process_cpu:cpu:nanoseconds:cpu:nanoseconds";
const SAMPLE_TYPE = { type: "cpu", unit: "nanoseconds" };
const INTERVAL_MS = 10_000;
const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
const PROFILES = DAY_MS / INTERVAL_MS;
const PODS = 8;
const REGIONS = ["eu-west", "us-east", "ap-south"];
const MAX_NODES = 8192;
const SERIES_STEP_S = 60;
/** The ingest phase gives up past this (the local rate is ~200 profiles/s, ~45 s). */
const INGEST_MAX_SECONDS = 600;
/** Longest wait for the ingesters to flush beyond FLUSH_MAX_AGE_MS; the queries run regardless. */
const FLUSH_EXTRA_WAIT_MS = 45_000;
const QUERY_TIMEOUT_MS = 120_000;

/**
 * Corpus files whose every sample has a cpu/nanoseconds value with a cpu/nanoseconds period, so
 * that one profile type covers the whole day; with the spy name their client sends.
 */
const SOURCES = [
  { file: "cpu.pb.gz", spy: "gospy" },
  { file: "cpu-exemplars.pb.gz", spy: "gospy" },
  { file: "profile_java", spy: "javaspy" },
  { file: "profile_rust", spy: "pyroscope-rs" },
  { file: "phlaredb/profile", spy: "gospy" },
  { file: "single_group_with_optional_span_id.pb.gz", spy: "gospy" },
];

export async function runQuery(opts) {
  const { testdataDir, concurrency, readyTimeoutMs, tmpDir, signal } = opts;
  const repeats = repeatCount();
  const logDir = path.join(RESULTS_DIR, "logs");
  mkdirSync(logDir, { recursive: true });

  // --- workload -------------------------------------------------------------------------------
  const sources = loadSources(testdataDir);
  // Whole 10 s slots ending before now; each profile sits mid-slot, so none lies on a range edge.
  const endMs = Math.floor(Date.now() / INTERVAL_MS) * INTERVAL_MS;
  const day = { start: endMs - DAY_MS, end: endMs };
  const hour = { start: endMs - HOUR_MS, end: endMs };
  const hourFrom = PROFILES - HOUR_MS / INTERVAL_MS;
  const timeMs = (i) => day.start + i * INTERVAL_MS + INTERVAL_MS / 2;
  console.log(
    `Workload: ${PROFILES} profiles of ${SERVICE}, one per ${INTERVAL_MS / 1000} s over 24 h, cycling ${sources.length} CPU pprofs ` +
      `from ${path.relative(ROOT, testdataDir) || testdataDir}/pprof (${sources.map((s) => s.file).join(", ")}); ` +
      `${PODS} pods × ${REGIONS.length} regions × 2 versions`,
  );

  // Bodies are made as they are sent (re-encoding costs ~1 ms each) and kept for the baseline,
  // with their totals of the queried sample type: what each query must answer.
  const bodies = new Array(PROFILES);
  const totals = new Array(PROFILES);
  const requestAt = (i) => {
    const src = sources[i % sources.length];
    ({ body: bodies[i], total: totals[i] } = profileAt(src, i, BigInt(timeMs(i)) * 1_000_000n));
    const labels = `pod=pod-${i % PODS},region=${REGIONS[Math.floor(i / PODS) % REGIONS.length]},version=${i < PROFILES / 2 ? "v1" : "v2"}`;
    return {
      i,
      item: { id: src.file },
      path: `/ingest?name=${encodeURIComponent(`${SERVICE}{${labels}}`)}&format=pprof&spyName=${src.spy}`,
      body: bodies[i],
      rawBytes: src.rawBytes,
      contentType: "application/octet-stream",
    };
  };

  // --- service ----------------------------------------------------------------------------------
  console.log("\nStarting the service (scripts/start.mjs: D1 migrations + wrangler dev)...");
  const port = await freePort();
  const service = await startStack({
    name: "service",
    // The day starts 24 h ago: no profile may count as too old.
    args: serviceArgs(port, path.join(tmpDir, "service-state"), ["RETENTION_SECONDS:0", ...benchServiceVars()]),
    port,
    logFile: path.join(logDir, "query-service.log"),
    timeoutMs: readyTimeoutMs,
    signal,
  });
  const limits = (await getJson(service, "/config", signal)).limits;

  // --- ingest a day -----------------------------------------------------------------------------
  console.log(`\nIngesting ${PROFILES} profiles at concurrency ${concurrency}...`);
  const load = await runLoad({
    baseUrl: service.url,
    requestAt,
    concurrency,
    maxRequests: PROFILES,
    maxSeconds: INGEST_MAX_SECONDS,
    onProgress: ingestProgress(),
    signal,
  });
  checkIngest(load, service);
  const sum = (from) => totals.slice(from).reduce((a, b) => a + b, 0n);
  const expected = { day: sum(0), hour: sum(hourFrom) };
  const latencies = load.results.map((r) => r.latencyMs);
  const ingest = {
    profiles: load.results.length,
    concurrency,
    failed: load.results.filter(isFailure).length,
    seconds: load.wallSeconds,
    profilesPerSec: load.results.length / load.wallSeconds,
    bodyBytes: bodies.reduce((n, b) => n + b.length, 0),
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
  };

  const selector = `{service_name="${SERVICE}"}`;
  const flush = await waitForFlush(service, `${PROFILE_TYPE}${selector}`, day, limits.FLUSH_MAX_AGE_MS, signal);
  const types = await rpc(service, "ProfileTypes", { start: String(day.start), end: String(day.end) }, signal);
  const typeIds = (types.json.profileTypes ?? []).map((t) => t.ID);
  if (!typeIds.includes(PROFILE_TYPE)) {
    throw benchError(
      `ProfileTypes does not list ${PROFILE_TYPE} after the ingest (it lists: ${typeIds.join(", ") || "nothing"}); ` +
        `the profiles were accepted but are not queryable: check ${path.relative(ROOT, service.logFile)} and run npm test`,
    );
  }

  // --- queries ----------------------------------------------------------------------------------
  console.log(`\nQueries (${PROFILE_TYPE}${selector}; first call, then ${repeats} repeats each)...`);
  const select = (r) => ({ profileTypeID: PROFILE_TYPE, labelSelector: selector, start: String(r.start), end: String(r.end) });
  const flamegraph = (label, r, want) => ({
    label,
    method: "SelectMergeStacktraces",
    body: { ...select(r), maxNodes: MAX_NODES },
    totalOf: (json) => BigInt(json.flamegraph?.total ?? "0"),
    want,
  });
  const series = {
    label: "24-h series",
    method: "SelectSeries",
    body: { ...select(day), step: SERIES_STEP_S },
    totalOf: seriesTotal,
    want: expected.day,
  };
  const sampler = sampleRss(service.pid, { publicPort: service.port });
  let queries;
  let rss;
  try {
    // In this order: the first 24-h flame graph is the only call that finds the mergers cold.
    queries = {
      flame24h: await measureQuery(service, flamegraph("24-h flame graph", day, expected.day), repeats, signal),
      series24h: await measureQuery(service, series, repeats, signal),
      flame1h: await measureQuery(service, flamegraph("1-h flame graph", hour, expected.hour), repeats, signal),
      exemplars24h: await measureQuery(
        service,
        { ...series, label: "24-h series with exemplars", body: { ...series.body, exemplarType: "EXEMPLAR_TYPE_INDIVIDUAL" } },
        repeats,
        signal,
      ),
    };
    queries.drillDown = await measureQuery(service, drillDown(queries.exemplars24h.answer, flamegraph("", day, 0n).body), repeats, signal);
  } finally {
    rss = sampler.stop();
  }
  await service.stop();

  // --- baseline ---------------------------------------------------------------------------------
  signal?.throwIfAborted();
  console.log(`\nBaseline: gunzip + pprof-format decode + merge of the same ${PROFILES} bodies in Node...`);
  const baseline = mergeBaseline(bodies, hourFrom);
  for (const [name, got, want] of [["24 h", baseline.total, expected.day], ["1 h", baseline.totalHour, expected.hour]]) {
    if (got !== want) {
      throw benchError(`the baseline merge's ${name} total is ${got}, the inputs sum to ${want}: the baseline in scripts/bench/query.mjs is wrong`);
    }
  }
  console.log(
    `  ${(baseline.ms / 1000).toFixed(2)} s for 24 h (${(baseline.hourMs / 1000).toFixed(2)} s of it for the last hour), ` +
      `${baseline.nodes} tree nodes`,
  );

  const compaction = await measureCompaction({
    requestAt,
    profiles: PROFILES,
    maxSeconds: INGEST_MAX_SECONDS,
    concurrency,
    readyTimeoutMs,
    tmpDir,
    logDir,
    service: SERVICE,
    flame: flamegraph("24-h flame graph", day, expected.day),
    analyze: `${PROFILE_TYPE}${selector}`,
    day,
    repeats,
    h: { checkIngest, flushedScope, measureQuery, waitForFlush, sleep },
    signal,
  });

  const f24 = queries.flame24h;
  return {
    section: "query",
    failedRequests: ingest.failed,
    date: new Date().toISOString(),
    environment: environment(),
    config: {
      testdataDir,
      concurrency,
      repeats,
      profiles: PROFILES,
      intervalSeconds: INTERVAL_MS / 1000,
      sources: sources.map(({ file, spy, rawBytes }) => ({ file, spy, rawBytes })),
      pods: PODS,
      regions: REGIONS,
      profileType: PROFILE_TYPE,
      maxNodes: MAX_NODES,
      seriesStepSeconds: SERIES_STEP_S,
      range: { day, hour },
      serviceVars: benchServiceVars().join(" "),
    },
    expectedTotals: { day: String(expected.day), hour: String(expected.hour) },
    ingest,
    flush,
    profileTypes: typeIds,
    queries,
    compaction,
    rss,
    baseline: { ...baseline, total: String(baseline.total), totalHour: String(baseline.totalHour) },
    ratios: {
      flame24hFirst: baseline.ms / f24.first.ms,
      flame24hRepeated: baseline.ms / f24.median,
      series24hFirst: baseline.ms / queries.series24h.first.ms,
      series24hRepeated: baseline.ms / queries.series24h.median,
      flame1hFirst: baseline.hourMs / queries.flame1h.first.ms,
      flame1hRepeated: baseline.hourMs / queries.flame1h.median,
    },
    targets: {
      speedupFirst: target(">=", TARGETS.speedup, baseline.ms / f24.first.ms),
      speedupRepeated: target(">=", TARGETS.speedup, baseline.ms / f24.median),
      latencyFirst: target("<", TARGETS.flamegraphMs, f24.first.ms),
      latencyRepeated: target("<", TARGETS.flamegraphMs, f24.median),
    },
  };
}

/** BENCH_QUERY_REPEATS: calls of each query after its first one (default 5). */
function repeatCount() {
  const raw = process.env.BENCH_QUERY_REPEATS;
  if (raw === undefined || raw === "") return 5;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw benchError(`BENCH_QUERY_REPEATS must be a positive integer, got "${raw}"`);
  return n;
}

/** Decodes each source once, keeping its sample values to scale for each copy. */
function loadSources(testdataDir) {
  return SOURCES.map(({ file, spy }) => {
    const at = path.join(testdataDir, "pprof", file);
    let bytes;
    try {
      bytes = readFileSync(at);
    } catch {
      throw benchError(`test data not found at ${at}: set TESTDATA_DIR to the shared testdata folder`);
    }
    const raw = isGzip(bytes) ? gunzipSync(bytes) : bytes;
    const profile = Profile.decode(raw);
    const index = valueIndex(profile);
    if (index < 0) throw benchError(`${at} has no ${SAMPLE_TYPE.type}/${SAMPLE_TYPE.unit} sample type; remove it from SOURCES in scripts/bench/query.mjs`);
    return { file, spy, profile, index, values: profile.sample.map((s) => s.value), rawBytes: raw.length };
  });
}

/**
 * Profile `i` of the day from its source: timed at `timeNanos`, every sample's values multiplied
 * by a pseudo-random 1–4 (a hash of i and the sample, deterministic) so that copies differ as a
 * real day's profiles do, rather than repeating six profiles that a store could keep once or
 * compress away. Returns the gzipped body and its total of the queried sample type.
 */
function profileAt(src, i, timeNanos) {
  const p = src.profile;
  p.timeNanos = timeNanos;
  let total = 0n;
  p.sample.forEach((s, k) => {
    const f = 1 + (mix(i, k) % 4);
    s.value = src.values[k].map((v) => (typeof v === "bigint" ? v * BigInt(f) : v * f));
    total += BigInt(s.value[src.index]);
  });
  return { body: gzipSync(p.encode()), total };
}

/** A 32-bit hash of two integers (murmur3's finaliser over their combination). */
function mix(a, b) {
  let h = Math.imul(a, 0x9e3779b1) ^ b;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

const isGzip = (b) => b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b;

function valueIndex(profile) {
  const strings = profile.stringTable.strings;
  return profile.sampleType.findIndex((t) => strings[Number(t.type)] === SAMPLE_TYPE.type && strings[Number(t.unit)] === SAMPLE_TYPE.unit);
}

/** Ingest progress with rate and time left: one line on a terminal, every 5 s otherwise. */
function ingestProgress() {
  const tty = process.stdout.isTTY;
  let last = -Infinity;
  return (done, total, seconds, final = false) => {
    const rate = seconds > 0 ? done / seconds : 0;
    const eta = rate > 0 ? `, ${Math.ceil((total - done) / rate)} s left` : "";
    const text = `  ingest: ${done}/${total} profiles, ${seconds.toFixed(0)} s, ${rate.toFixed(0)} profiles/s${final ? "" : eta}`;
    if (tty) {
      process.stdout.write(`\r\x1b[K${text}`);
      if (final) process.stdout.write("\n");
    } else if (final || seconds - last >= 5) {
      last = seconds;
      console.log(text);
    }
  };
}

/**
 * Every push must have been answered 200 within the time allowed; failed requests (5xx, resets,
 * timeouts) are counted apart from refusals, since each is a profile an SDK would lose.
 */
function checkIngest(load, service) {
  const failed = load.results.filter((r) => r.status !== 200);
  if (failed.length) {
    const lost = failed.filter(isFailure).length;
    const groups = new Map();
    for (const r of failed) {
      const key = `HTTP ${r.status} ${(r.error ?? "").replace(/\s+/g, " ").trim().slice(0, 200)}`;
      groups.set(key, (groups.get(key) ?? 0) + 1);
    }
    throw benchError(
      `${failed.length} of ${load.results.length} pushes were not acknowledged (${lost} FAILED REQUESTS: 5xx, resets or timeouts):\n` +
        [...groups].map(([k, n]) => `  ${n} × ${k}`).join("\n") +
        `\nThe day must be complete for the totals to be checked: fix the cause (service log ${path.relative(ROOT, service.logFile)}) and rerun.`,
    );
  }
  if (load.results.length < PROFILES) {
    throw benchError(
      `only ${load.results.length} of ${PROFILES} profiles were sent in ${INGEST_MAX_SECONDS} s: the service ingests too slowly ` +
        `for this section; look for stalls in ${path.relative(ROOT, service.logFile)} or compare with \`npm run bench -- ingest\``,
    );
  }
}

/**
 * Waits until every push is past FLUSH_MAX_AGE_MS (plus a margin for the flush itself) and
 * AnalyzeQuery's block count has stopped changing, so that the queries read flushed blocks.
 */
async function waitForFlush(service, query, range, flushAgeMs, signal) {
  const started = Date.now();
  const minWait = flushAgeMs + 3000;
  const deadline = started + flushAgeMs + FLUSH_EXTRA_WAIT_MS;
  console.log(`\nWaiting for the ingesters to flush (FLUSH_MAX_AGE_MS ${flushAgeMs})...`);
  let previous = null;
  let stable = false;
  let scope;
  for (;;) {
    scope = await flushedScope(service, query, range, signal);
    const blocks = Number(scope.blockCount ?? 0);
    const waited = Date.now() - started;
    stable = previous !== null && blocks === previous && waited >= minWait;
    console.log(`  ${(waited / 1000).toFixed(0)} s: ${blocks} blocks, ${scope.profileCount ?? 0} profiles`);
    if (stable || Date.now() >= deadline) break;
    previous = blocks;
    await sleep(3000, signal);
  }
  if (!stable) console.log("  block count still changing: querying anyway (the ingesters answer what they have not flushed)");
  return {
    seconds: (Date.now() - started) / 1000,
    stable,
    blocks: Number(scope.blockCount ?? 0),
    blockBytes: Number(scope.profileBytes ?? 0),
    series: Number(scope.seriesCount ?? 0),
    profiles: Number(scope.profileCount ?? 0),
    samples: Number(scope.sampleCount ?? 0),
  };
}

/** AnalyzeQuery's figures for the flushed blocks a query over `range` would read. */
async function flushedScope(service, query, range, signal) {
  const a = await rpc(service, "AnalyzeQuery", { start: String(range.start), end: String(range.end), query }, signal);
  // Connect JSON leaves zero counts out; the flushed side is the scope that is not the ingesters.
  return a.json.queryScopes?.find((s) => !/ingester/i.test(s.componentType ?? "")) ?? {};
}

/**
 * One query: a first call, then `repeats` more; each answer's total must equal the inputs' sum.
 * Returns every call plus the median and minimum of the repeats, and the last answer.
 */
async function measureQuery(service, { label, method, body, totalOf, want }, repeats, signal) {
  const calls = [];
  let answer;
  for (let k = 0; k <= repeats; k++) {
    const r = await rpc(service, method, body, signal);
    const got = totalOf(r.json);
    if (got !== want) {
      throw benchError(
        `${label} (${method}, call ${k + 1}) answered a total of ${got}, but the ${PROFILES} inputs sum to ${want} in that range: ` +
          `the query path lost or duplicated samples. Reproduce with npm test (test/query-*.test.ts); service log ${path.relative(ROOT, service.logFile)}`,
      );
    }
    calls.push({ ms: r.ms, serverMs: r.serverMs, stats: r.stats, total: String(got), gzippedTwice: r.gzippedTwice });
    console.log(`  ${label}: ${k === 0 ? "first" : `repeat ${k}`} ${r.ms.toFixed(0)} ms${r.stats ? `, ${r.stats.blocks} blocks, ${r.stats.invocations} invocations` : ""}`);
    answer = r.json;
  }
  const rest = calls.slice(1).map((c) => c.ms);
  return { method, first: calls[0], median: percentile(rest, 50), min: Math.min(...rest), calls, answer };
}

/**
 * Grafana's exemplar drill-down: the flame graph of the day's greatest profile alone, named by the
 * exemplar SelectSeries gave it, over the same 24-h range (the id's time confines the read).
 */
function drillDown(seriesJson, body) {
  const exemplars = (seriesJson.series ?? []).flatMap((s) => (s.points ?? []).map((p) => p.exemplars?.[0]));
  if (exemplars.length === 0 || exemplars.some((e) => !e?.profileId)) {
    throw benchError(
      `SelectSeries with EXEMPLAR_TYPE_INDIVIDUAL gave ${exemplars.filter((e) => e?.profileId).length} exemplars for ${exemplars.length} points; ` +
        "every point must carry one. Reproduce with npm test (test/query-exemplars.test.ts)",
    );
  }
  const top = exemplars.reduce((a, b) => (Number(b.value) > Number(a.value) ? b : a));
  return {
    label: "exemplar drill-down",
    method: "SelectMergeStacktraces",
    body: { ...body, profileIdSelector: [top.profileId] },
    totalOf: (json) => BigInt(json.flamegraph?.total ?? "0"),
    want: BigInt(top.value),
  };
}

/** SelectSeries: the sum of every point of every series (all profiles lie inside the range). */
function seriesTotal(json) {
  let sum = 0;
  for (const s of json.series ?? []) for (const p of s.points ?? []) sum += p.value ?? 0;
  return BigInt(Math.round(sum));
}

/** A querier.v1 method over Connect JSON: the parsed answer, client latency, Server-Timing and X-Query-Stats. */
async function rpc(service, method, body, signal) {
  const t0 = performance.now();
  let res;
  let bytes;
  try {
    res = await fetch(`${service.url}/querier.v1.QuerierService/${method}`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
      signal: AbortSignal.any([AbortSignal.timeout(QUERY_TIMEOUT_MS), ...(signal ? [signal] : [])]),
    });
    bytes = Buffer.from(await res.arrayBuffer());
  } catch (err) {
    signal?.throwIfAborted();
    throw benchError(`${method} failed: ${err.message}; service log ${path.relative(ROOT, service.logFile)}:\n${tail(service.logFile, 10)}`);
  }
  const ms = performance.now() - t0;
  // fetch has undone the Content-Encoding; a body still gzipped was compressed twice (Connect's
  // response compression, then workerd's): a service bug that clients trip over, reported as such.
  const gzippedTwice = isGzip(bytes);
  const text = (gzippedTwice ? gunzipSync(bytes) : bytes).toString("utf8");
  if (res.status !== 200) {
    throw benchError(`${method} answered HTTP ${res.status}: ${text.slice(0, 500)}\nservice log ${path.relative(ROOT, service.logFile)}:\n${tail(service.logFile, 10)}`);
  }
  const timing = /(?:^|,)\s*rpc;(?:[^,]*;)?\s*dur=([\d.]+)/.exec(res.headers.get("server-timing") ?? "");
  const stats = res.headers.get("x-query-stats");
  return { json: JSON.parse(text), ms, serverMs: timing ? Number(timing[1]) : null, stats: stats ? JSON.parse(stats) : null, gzippedTwice };
}

async function getJson(service, urlPath, signal) {
  const res = await fetch(service.url + urlPath, { signal });
  if (res.status !== 200) throw benchError(`GET ${urlPath} answered HTTP ${res.status}; service log ${path.relative(ROOT, service.logFile)}`);
  return res.json();
}

const sleep = (ms, signal) =>
  new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(signal.reason);
    }, { once: true });
  });

/**
 * The baseline: every body gunzipped, decoded and merged into one tree keyed by function name,
 * root first (inlined lines caller first), summing the queried sample type, as a flame graph
 * needs it. Timed over all bodies after a short warm-up; the last hour's share is timed too.
 */
function mergeBaseline(bodies, hourFrom) {
  const warm = newNode();
  for (let i = 0; i < 2 * SOURCES.length; i++) mergeBody(warm, bodies[i]);
  globalThis.gc?.();
  const base = process.memoryUsage();
  let peakRss = base.rss;
  let peakHeap = base.heapUsed;
  // The last hour also goes into a tree of its own, timed apart: the 1-h query's reference.
  const root = newNode();
  const hourRoot = newNode();
  let total = 0n;
  let totalHour = 0n;
  let rawBytes = 0;
  let hourStart = 0;
  const t0 = performance.now();
  for (let i = 0; i < bodies.length; i++) {
    if (i === hourFrom) hourStart = performance.now();
    const r = mergeBody(i < hourFrom ? root : hourRoot, bodies[i]);
    total += r.total;
    if (i >= hourFrom) totalHour += r.total;
    rawBytes += r.rawBytes;
    if (i % 64 === 0) {
      const m = process.memoryUsage();
      peakRss = Math.max(peakRss, m.rss);
      peakHeap = Math.max(peakHeap, m.heapUsed);
    }
  }
  const hourMs = performance.now() - hourStart;
  addTree(root, hourRoot);
  const ms = performance.now() - t0;
  const m = process.memoryUsage();
  return {
    ms,
    hourMs,
    total,
    totalHour,
    profiles: bodies.length,
    rawBytes,
    mbPerSec: mb(rawBytes) / (ms / 1000),
    nodes: countNodes(root),
    memory: { baseRss: base.rss, baseHeapUsed: base.heapUsed, peakRss: Math.max(peakRss, m.rss), peakHeapUsed: Math.max(peakHeap, m.heapUsed) },
    gcAvailable: typeof globalThis.gc === "function",
  };
}

const newNode = () => ({ children: new Map(), self: 0 });

/** Merges one request body into `root`; returns the value it added and its uncompressed size. */
function mergeBody(root, body) {
  const raw = gunzipSync(body);
  const p = Profile.decode(raw);
  const strings = p.stringTable.strings;
  const index = valueIndex(p);
  const names = new Map(p.function.map((f) => [Number(f.id), strings[Number(f.name)]]));
  const frames = new Map();
  for (const loc of p.location) {
    // pprof lists inlined lines innermost first; a flame graph reads them caller first.
    const fs = loc.line.length ? loc.line.map((l) => names.get(Number(l.functionId)) ?? "").reverse() : [Number(loc.address).toString(16)];
    frames.set(Number(loc.id), fs);
  }
  let total = 0;
  for (const s of p.sample) {
    const v = Number(s.value[index]);
    if (v === 0) continue;
    let node = root;
    for (let k = s.locationId.length - 1; k >= 0; k--) {
      for (const name of frames.get(Number(s.locationId[k]))) {
        let child = node.children.get(name);
        if (!child) {
          child = newNode();
          node.children.set(name, child);
        }
        node = child;
      }
    }
    node.self += v;
    total += v;
  }
  return { total: BigInt(total), rawBytes: raw.length };
}

function addTree(into, from) {
  into.self += from.self;
  for (const [name, child] of from.children) {
    let target = into.children.get(name);
    if (!target) {
      target = newNode();
      into.children.set(name, target);
    }
    addTree(target, child);
  }
}

function countNodes(node) {
  let n = 1;
  for (const child of node.children.values()) n += countNodes(child);
  return n;
}


