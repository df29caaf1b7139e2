// The ingest section of `npm run bench`: the service's /ingest path against two references
// measured in the same run.
//   (a) runtime ceiling: a Worker that only reads the body (scripts/bench/null-worker.*), on the
//       same local stack, same requests, same concurrency;
//   (b) decode ceiling: gunzip + a wire-level walk of every pprof field, in this Node process.

import { mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { isFailure, percentile, runLoad, sendEach } from "./load.mjs";
import { environment, mb, num, progressPrinter, RESULTS_DIR, target } from "./report.mjs";
import { sampleRss } from "./rss.mjs";
import { benchError, benchServiceVars, freePort, ROOT, serviceArgs, startStack, WRANGLER } from "./server.mjs";
import { measureDecodeCeiling } from "./wire-walk.mjs";
import { interleave, loadProfiles, PODS, requestAt, SERVICES } from "./workload.mjs";

export { printIngestReport } from "./ingest-report.mjs";

export const TARGETS = {
  throughputRatio: 0.5, // service MB/s ÷ null-worker MB/s, at least
  p50DiffMs: 20, // service p50 − null-worker p50, at most
  decodeRatio: 0.5, // Worker+DO processing rate ÷ decode ceiling, at least
};

export async function runIngest(opts) {
  const { testdataDir, concurrency, maxRequests, maxSeconds, warmup, decodeRuns, readyTimeoutMs, tmpDir, signal } = opts;
  const loadOpts = { concurrency, maxRequests, maxSeconds, warmup, signal };
  const logDir = path.join(RESULTS_DIR, "logs");
  mkdirSync(logDir, { recursive: true });

  // --- workload -------------------------------------------------------------------------------
  const loaded = interleave(loadProfiles(testdataDir));
  const totalRaw = loaded.reduce((n, it) => n + it.rawBytes, 0);
  console.log(
    `Workload: ${loaded.length} profiles from ${path.relative(ROOT, testdataDir) || testdataDir} ` +
      `(${loaded.filter((i) => i.kind === "pprof").length} pprof/, ${loaded.filter((i) => i.kind === "sdk").length} sdk-nodejs 0.6.4), ` +
      `${num(mb(totalRaw))} MB uncompressed; ${SERVICES} bench services × ${PODS} pods + the SDK's app`,
  );

  // --- service: start and validate the workload ----------------------------------------------
  console.log("\nStarting the service (scripts/start.mjs: D1 migrations + wrangler dev)...");
  const servicePort = await freePort();
  const service = await startStack({
    name: "service",
    args: serviceArgs(servicePort, path.join(tmpDir, "service-state"), ["RETENTION_SECONDS:0", ...benchServiceVars()]),
    port: servicePort,
    logFile: path.join(logDir, "ingest-service.log"),
    timeoutMs: readyTimeoutMs,
    signal,
  });

  console.log("Validation pass: each profile once, one at a time, to the service...");
  const validation = await sendEach(service.url, loaded.map((_, i) => requestAt(loaded, i)), 1, signal);
  const validationFailed = validation.filter(isFailure).length;
  const refused = validation.filter((r) => r.status !== 200);
  const items = loaded.filter((_, i) => validation[i].status === 200);
  for (const r of refused) console.log(`  dropped ${r.id}: HTTP ${r.status} ${oneLine(r.error)}`);
  if (items.length === 0) throw benchError("the service refused every profile of the workload; see the log above");
  console.log(`  ${items.length} profiles accepted, ${refused.length} dropped`);
  const reqAt = (i) => requestAt(items, i);

  // --- reference (a): the null worker ----------------------------------------------------------
  console.log("\nReference (a): null worker (scripts/bench/null-worker.toml) on the same stack...");
  const nullPort = await freePort();
  const nullStack = await startStack({
    name: "null worker",
    args: [
      WRANGLER, "dev",
      "--config", path.join(ROOT, "scripts", "bench", "null-worker.toml"),
      "--port", String(nullPort),
      "--persist-to", path.join(tmpDir, "null-state"),
    ],
    port: nullPort,
    logFile: path.join(logDir, "ingest-null.log"),
    timeoutMs: readyTimeoutMs,
    signal,
  });
  const nullRun = await measure(nullStack, reqAt, items.length, loadOpts);
  await nullStack.stop();

  // --- the service -----------------------------------------------------------------------------
  console.log("\nService under load...");
  const serviceRun = await measure(service, reqAt, items.length, loadOpts);
  await service.stop();
  const serviceLog = scanLog(service.logFile);

  // --- reference (b): decode ceiling -----------------------------------------------------------
  signal?.throwIfAborted();
  console.log(`\nReference (b): gunzip + wire walk in Node over the ${serviceRun.sent} request bodies the service got...`);
  const bodies = Array.from({ length: serviceRun.sent }, (_, i) => reqAt(i).body);
  const decode = measureDecodeCeiling(bodies, { runs: decodeRuns, warmup: 1 });
  const decodeMbps = percentile(decode.runs.map((r) => r.mbPerSec), 50);
  console.log(`  ${decode.runs.map((r) => num(r.mbPerSec)).join(", ")} MB/s per run; median ${num(decodeMbps)} MB/s`);

  // --- figures ---------------------------------------------------------------------------------
  const svc = summarize(serviceRun);
  const ref = summarize(nullRun);
  const throughputRatio = svc.mbPerSec / ref.mbPerSec;
  const p50Diff = svc.p50 - ref.p50;
  const processingMbps = svc.serverSeconds > 0 ? mb(svc.serverRawBytes) / svc.serverSeconds : null;
  const decodeRatio = processingMbps !== null ? processingMbps / decodeMbps : null;
  // Every request the service answered with a 5xx or not at all, in any phase: each is a lost profile.
  const failed = {
    validation: validationFailed,
    warmup: serviceRun.warmFailed,
    uncontended: serviceRun.serial.failed,
    load: svc.failed,
  };
  const results = {
    section: "ingest",
    failedRequests: failed.validation + failed.warmup + failed.uncontended + failed.load,
    failed,
    date: new Date().toISOString(),
    environment: environment(),
    config: { testdataDir, concurrency, maxRequests, maxSeconds, warmup, decodeRuns, services: SERVICES, pods: PODS },
    workload: {
      profiles: items.map((it) => ({ id: it.id, kind: it.kind, bodyBytes: it.body.length, rawBytes: it.rawBytes })),
      dropped: refused.map((r) => ({ id: r.id, status: r.status, message: r.error })),
    },
    service: {
      ...svc,
      rss: serviceRun.rss,
      uncontended: serviceRun.serial,
      warmupErrors: serviceRun.warmErrors,
      errorGroups: errorGroups(serviceRun.results),
      log: serviceLog,
      slowest: slowest(serviceRun.results, serviceRun.serialResults),
      requestLog: requestLog(serviceRun.results, items),
    },
    nullWorker: {
      ...ref,
      rss: nullRun.rss,
      uncontended: nullRun.serial,
      warmupErrors: nullRun.warmErrors,
      errorGroups: errorGroups(nullRun.results),
      requestLog: requestLog(nullRun.results, items),
    },
    decodeCeiling: { mbPerSec: decodeMbps, ...decode },
    ratios: {
      throughput: throughputRatio,
      p50DiffMs: p50Diff,
      processingMbPerSec: processingMbps,
      processingVsDecode: decodeRatio,
      mbPerWorkerCpuSecond: serviceRun.rss.cpu.workerdWorker > 0 ? mb(svc.rawBytes) / serviceRun.rss.cpu.workerdWorker : null,
      // The best throughput ratio a service could reach whose only work beyond (a)'s were (b)'s,
      // done on (a)'s thread: per request, (a)'s time plus its bytes at (b)'s rate.
      throughputCeiling: decodeMbps > 0 ? 1 / (1 + ref.mbPerSec / decodeMbps) : null,
    },
    targets: {
      throughputRatio: target(">=", TARGETS.throughputRatio, throughputRatio),
      p50DiffMs: target("<=", TARGETS.p50DiffMs, p50Diff),
      processingVsDecode: target(">=", TARGETS.decodeRatio, decodeRatio),
      noErrors: target("<=", 0, svc.errors),
      noFailures: target("<=", 0, failed.validation + failed.warmup + failed.uncontended + failed.load),
    },
  };
  return results;
}


/**
 * Warm-up (`warmup` requests at the load's concurrency), an uncontended pass (each profile once,
 * one at a time), then the measured load with RSS and CPU sampling.
 */
async function measure(stack, reqAt, distinct, { concurrency, maxRequests, maxSeconds, warmup, signal }) {
  const warmCount = Math.max(warmup, distinct);
  const warm = await sendEach(stack.url, Array.from({ length: warmCount }, (_, i) => reqAt(i)), concurrency, signal);
  const warmErrors = warm.filter((r) => r.status !== 200).length;
  const warmFailed = warm.filter(isFailure).length;
  console.log(`  warm-up: ${warmCount} requests at concurrency ${concurrency}${warmErrors ? `, ${warmErrors} non-200 (${warmFailed} failed)` : ""}`);
  const serialResults = await sendEach(stack.url, Array.from({ length: distinct }, (_, i) => reqAt(i)), 1, signal);
  const serial = summarizeSerial(serialResults);
  console.log(`  uncontended pass: ${distinct} requests one at a time, p50 ${num(serial.p50)} ms`);
  const sampler = sampleRss(stack.pid, { publicPort: stack.port });
  let run;
  let rss;
  try {
    run = await runLoad({
      baseUrl: stack.url,
      requestAt: reqAt,
      concurrency,
      maxRequests,
      maxSeconds,
      onProgress: progressPrinter(stack.name),
      signal,
    });
  } finally {
    rss = sampler.stop();
  }
  return { ...run, rss, warmErrors, warmFailed, serial, serialResults };
}

/** The uncontended pass: latency and Server-Timing with one request at a time. */
function summarizeSerial(results) {
  const ok = results.filter((r) => r.status === 200);
  const timed = ok.filter((r) => r.serverMs !== null);
  const serverSeconds = timed.reduce((n, r) => n + r.serverMs, 0) / 1000;
  const rawBytes = timed.reduce((n, r) => n + r.rawBytes, 0);
  return {
    requests: results.length,
    errors: results.length - ok.length,
    failed: results.filter(isFailure).length,
    p50: percentile(ok.map((r) => r.latencyMs), 50),
    p99: percentile(ok.map((r) => r.latencyMs), 99),
    serverSeconds,
    processingMbPerSec: serverSeconds > 0 ? mb(rawBytes) / serverSeconds : null,
    ...phaseRates(timed),
  };
}

/** MB/s of each reported phase: decoding in the Worker, and the ingesters making pushes durable. */
function phaseRates(results) {
  const rate = (key) => {
    const withPhase = results.filter((r) => r[key] !== null && r[key] !== undefined);
    const seconds = withPhase.reduce((n, r) => n + r[key], 0) / 1000;
    return seconds > 0 ? mb(withPhase.reduce((n, r) => n + r.rawBytes, 0)) / seconds : null;
  };
  return { decodeMbPerSec: rate("decodeMs"), storeMbPerSec: rate("storeMs") };
}

function summarize(run) {
  const ok = run.results.filter((r) => r.status === 200);
  const latencies = ok.map((r) => r.latencyMs);
  const timed = ok.filter((r) => r.serverMs !== null);
  const serverMs = timed.reduce((n, r) => n + r.serverMs, 0);
  const rawBytes = ok.reduce((n, r) => n + r.rawBytes, 0);
  return {
    requests: run.results.length,
    ok: ok.length,
    errors: run.results.length - ok.length,
    failed: run.results.filter(isFailure).length,
    wallSeconds: run.wallSeconds,
    profilesPerSec: ok.length / run.wallSeconds,
    rawBytes,
    bodyBytes: ok.reduce((n, r) => n + r.bodyBytes, 0),
    mbPerSec: mb(rawBytes) / run.wallSeconds,
    p50: percentile(latencies, 50),
    p90: percentile(latencies, 90),
    p99: percentile(latencies, 99),
    max: latencies.length ? Math.max(...latencies) : null,
    serverTimed: timed.length,
    serverSeconds: serverMs / 1000,
    serverRawBytes: timed.reduce((n, r) => n + r.rawBytes, 0),
    serverP50: percentile(timed.map((r) => r.serverMs), 50),
    serverP99: percentile(timed.map((r) => r.serverMs), 99),
    /** Σ server time ÷ wall time: how many requests were inside the Worker at once, on average. */
    serverInFlight: serverMs / 1000 / run.wallSeconds,
    ...stalls(run),
  };
}

/**
 * Stalls: the longest time without any answer, and requests answered per whole second of the
 * load (min and median), to spot pauses such as a flush or a garbage collection.
 */
function stalls(run) {
  const ends = run.results.map((r) => r.startMs + r.latencyMs).sort((a, b) => a - b);
  let longestGapMs = 0;
  let longestGapAtS = 0;
  for (let k = 1; k < ends.length; k++) {
    if (ends[k] - ends[k - 1] > longestGapMs) {
      longestGapMs = ends[k] - ends[k - 1];
      longestGapAtS = ends[k - 1] / 1000;
    }
  }
  const whole = Math.floor(run.wallSeconds);
  const perSecond = new Array(whole).fill(0);
  for (const t of ends) if (t < whole * 1000) perSecond[Math.floor(t / 1000)]++;
  const minPerSecond = whole ? Math.min(...perSecond) : null;
  return {
    longestGapMs,
    longestGapAtS,
    perSecond,
    minPerSecond,
    minPerSecondAtS: whole ? perSecond.indexOf(minPerSecond) : null,
    medianPerSecond: percentile(perSecond, 50),
  };
}

/** Every request, compactly: [i, profile index, status, start ms, latency ms, Server-Timing ms]. */
function requestLog(results, items) {
  const index = new Map(items.map((it, k) => [it.id, k]));
  return {
    columns: ["i", "profile", "status", "startMs", "latencyMs", "serverMs"],
    rows: results
      .map((r) => [r.i, index.get(r.id), r.status, round1(r.startMs), round1(r.latencyMs), r.serverMs])
      .sort((a, b) => a[0] - b[0]),
  };
}

const round1 = (x) => Math.round(x * 10) / 10;

/** Non-200 answers grouped by status and message. */
function errorGroups(results) {
  const groups = new Map();
  for (const r of results) {
    if (r.status === 200) continue;
    const key = `${r.status} ${oneLine(r.error)}`;
    const g = groups.get(key) ?? { status: r.status, message: oneLine(r.error), count: 0, profiles: new Set() };
    g.count++;
    g.profiles.add(r.id);
    groups.set(key, g);
  }
  return [...groups.values()].map((g) => ({ ...g, profiles: [...g.profiles] }));
}

/**
 * Per profile: requests, mean Server-Timing under load and its share of the total, and the
 * Server-Timing of the uncontended pass; the top 5 by total time under load.
 */
function slowest(results, serialResults) {
  const alone = new Map(serialResults.filter((r) => r.status === 200).map((r) => [r.id, r.serverMs]));
  const by = new Map();
  let total = 0;
  for (const r of results) {
    if (r.status !== 200 || r.serverMs === null) continue;
    const s = by.get(r.id) ?? { id: r.id, rawBytes: r.rawBytes, requests: 0, serverMs: 0 };
    s.requests++;
    s.serverMs += r.serverMs;
    total += r.serverMs;
    by.set(r.id, s);
  }
  return [...by.values()]
    .map((s) => ({
      ...s,
      meanServerMs: s.serverMs / s.requests,
      share: s.serverMs / total,
      mbPerServerSec: mb(s.rawBytes * s.requests) / (s.serverMs / 1000),
      aloneServerMs: alone.get(s.id) ?? null,
      aloneMbPerSec: alone.get(s.id) ? mb(s.rawBytes) / (alone.get(s.id) / 1000) : null,
    }))
    .sort((a, b) => b.serverMs - a.serverMs)
    .slice(0, 5);
}

/** Status counts wrangler logged for the service, and error lines (the offline Request.cf fetch excepted). */
function scanLog(file) {
  const text = readFileSync(file, "utf8");
  const statuses = {};
  const errors = new Map();
  const lines = text.split("\n");
  for (let k = 0; k < lines.length; k++) {
    const line = lines[k].replace(/\x1b\[[0-9;]*m/g, "");
    const m = /\b(GET|POST|PUT|DELETE|HEAD) (\S+) (\d{3})\b/.exec(line);
    if (m) {
      const key = `${m[1]} ${m[2].split("?")[0]} ${m[3]}`;
      statuses[key] = (statuses[key] ?? 0) + 1;
      continue;
    }
    if (!/error|exception|uncaught|✘/i.test(line)) continue;
    if (/Request\.cf|workers\.cloudflare\.com|ENOTFOUND/.test(line + (lines[k - 1] ?? ""))) continue;
    const key = line.trim().slice(0, 300);
    errors.set(key, (errors.get(key) ?? 0) + 1);
  }
  return { statuses, errorLines: [...errors.entries()].map(([line, count]) => ({ line, count })).slice(0, 20) };
}



const oneLine = (s) => (s ?? "").replace(/\s+/g, " ").trim().slice(0, 200);
