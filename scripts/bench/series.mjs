// The series section of `npm run bench`: pushes to new services while the tenant holds one service
// of 20,000 series, against the same pushes into an empty tenant measured in the same run.
//
// The wide service is made of a real CPU pprof of the corpus (SOURCE) whose samples are repeated under
// distinct `request_id` label values (each value is a label group, so a series per sample type),
// pushed one after another. Then NEW_SERVICES real @pyroscope/nodejs 0.6.4 uploads, each renamed to
// a service of its own, are sent over PACE_SECONDS (at most the bench's concurrency at once) while
// the wide service's ingester flushes its 20,000 series. Every push must be acknowledged; the
// figure is the slowest ack.

import { mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import { Label, Profile, Sample } from "pprof-format";
import { isFailure, percentile, runLoad, sendEach } from "./load.mjs";
import { environment, RESULTS_DIR } from "./report.mjs";
import { sampleRss } from "./rss.mjs";
import { benchError, benchServiceVars, freePort, serviceArgs, startStack } from "./server.mjs";
import { sdkRecordings } from "./workload.mjs";

export { printSeriesReport } from "./series-report.mjs";

const SERIES = 20_000;
/** Label groups per push of the wide service: well under MAX_PROFILE_STACKTRACE_SAMPLES. */
const GROUPS_PER_PUSH = 1000;
const NEW_SERVICES = 900;
/**
 * The pushes to new services are spread over this long, so that they overlap the wide service's
 * flush (FLUSH_MAX_AGE_MS after its first push) and the flushes of the new services themselves.
 */
const PACE_SECONDS = 30;
const WIDE = "bench-wide";
const SOURCE = "profile_java";

export async function runSeries(opts) {
  const { testdataDir, concurrency, readyTimeoutMs, tmpDir, signal } = opts;
  const logDir = path.join(RESULTS_DIR, "logs");
  mkdirSync(logDir, { recursive: true });

  const wide = widePushes(testdataDir);
  const uploads = sdkUploads(testdataDir);
  console.log(
    `Workload: ${WIDE} of ${wide.series} series (${wide.requests.length} pushes of ${GROUPS_PER_PUSH} request_id values × ${wide.types} sample types of pprof/${SOURCE}), ` +
      `then ${NEW_SERVICES} pushes to new services (${uploads.length} @pyroscope/nodejs 0.6.4 uploads, renamed) over ${PACE_SECONDS} s, at most ${concurrency} at once`,
  );

  const run = async (name, withWide) => {
    const port = await freePort();
    const stack = await startStack({
      name,
      args: serviceArgs(port, path.join(tmpDir, `${name}-state`), ["RETENTION_SECONDS:0", ...benchServiceVars()]),
      port,
      logFile: path.join(logDir, `series-${name}.log`),
      timeoutMs: readyTimeoutMs,
      signal,
    });
    try {
      let wideResult = null;
      if (withWide) {
        const t0 = performance.now();
        const results = await sendEach(stack.url, wide.requests, 1, signal);
        const failed = results.filter((r) => r.status !== 200);
        if (failed.length) {
          throw benchError(`the wide service's pushes failed: ${failed.map((r) => `HTTP ${r.status} ${r.error}`).join("; ").slice(0, 500)}`);
        }
        wideResult = { pushes: results.length, seconds: (performance.now() - t0) / 1000, maxMs: Math.max(...results.map((r) => r.latencyMs)) };
        console.log(`  ${WIDE}: ${wide.series} series in ${results.length} pushes, ${wideResult.seconds.toFixed(1)} s`);
      }
      const sampler = sampleRss(stack.pid, { publicPort: stack.port });
      let load;
      let rss;
      try {
        load = await runLoad({
          baseUrl: stack.url,
          requestAt: (i) => newServiceRequest(uploads, i),
          concurrency,
          maxRequests: NEW_SERVICES,
          maxSeconds: 600,
          intervalMs: (PACE_SECONDS * 1000) / NEW_SERVICES,
          signal,
        });
      } finally {
        rss = sampler.stop();
      }
      const figures = summarize(load);
      console.log(`  ${name}: ${figures.ok}/${figures.requests} acknowledged, ${figures.failed} failed, slowest ack ${figures.maxMs.toFixed(0)} ms`);
      return { wide: wideResult, ...figures, peakRss: rss.peakRss, logFile: stack.logFile };
    } finally {
      await stack.stop();
    }
  };

  console.log("\nBaseline: the same pushes to new services into an empty tenant...");
  const baseline = await run("series-baseline", false);
  console.log(`\nWith ${WIDE} (${wide.series} series) in the tenant...`);
  const withWide = await run("series-wide", true);
  return {
    section: "series",
    date: new Date().toISOString(),
    environment: environment(),
    config: { concurrency, series: wide.series, pushes: wide.requests.length, newServices: NEW_SERVICES, source: SOURCE, serviceVars: benchServiceVars().join(" ") },
    baseline,
    withWide,
    failedRequests: baseline.failed + withWide.failed,
  };
}

/** Pushes of the wide service: SOURCE's samples repeated under GROUPS_PER_PUSH request_id values each. */
function widePushes(testdataDir) {
  const at = path.join(testdataDir, "pprof", SOURCE);
  let bytes;
  try {
    bytes = readFileSync(at);
  } catch {
    throw benchError(`test data not found at ${at}: set TESTDATA_DIR to the shared testdata folder`);
  }
  const raw = bytes[0] === 0x1f && bytes[1] === 0x8b ? gunzipSync(bytes) : bytes;
  const types = Profile.decode(raw).sampleType.length;
  const groups = Math.ceil(SERIES / types);
  const requests = [];
  for (let first = 0, i = 0; first < groups; first += GROUPS_PER_PUSH, i++) {
    const p = Profile.decode(raw);
    const key = p.stringTable.dedup("request_id");
    const samples = p.sample;
    const n = Math.min(GROUPS_PER_PUSH, groups - first);
    p.sample = Array.from({ length: n }, (_, k) => {
      const s = samples[k % samples.length];
      return new Sample({ locationId: s.locationId, value: s.value, label: [new Label({ key, str: p.stringTable.dedup(`r-${first + k}`) })] });
    });
    p.timeNanos = BigInt(Date.now()) * 1_000_000n;
    const body = gzipSync(p.encode());
    requests.push({
      i,
      item: { id: `${SOURCE}#${i}` },
      path: `/ingest?name=${encodeURIComponent(`${WIDE}{env=bench}`)}&format=pprof&spyName=javaspy`,
      body,
      rawBytes: raw.length,
      contentType: "application/octet-stream",
    });
  }
  return { requests, types, series: groups * types };
}

/** The recorded @pyroscope/nodejs 0.6.4 uploads: body, content type and query. */
function sdkUploads(testdataDir) {
  const sdkDir = path.join(testdataDir, "sdk-nodejs");
  const out = sdkRecordings(sdkDir).map((u) => ({ ...u, rawBytes: gunzipSync(u.body).length }));
  if (out.length === 0) throw benchError(`no @pyroscope/nodejs 0.6.4 uploads found under ${sdkDir}`);
  return out;
}

/** Upload i, sent as service `bench-new-<i>` (the SDK's labels kept), timed now. */
function newServiceRequest(uploads, i) {
  const u = uploads[i % uploads.length];
  const q = new URLSearchParams(u.query);
  q.set("name", q.get("name").replace(/^[^{]*/, `bench-new-${i}`));
  const now = Math.floor(Date.now() / 1000);
  q.set("from", String(now - 10));
  q.set("until", String(now));
  return { i, item: { id: u.id }, path: `/ingest?${q}`, body: u.body, rawBytes: u.rawBytes, contentType: u.contentType };
}

function summarize(load) {
  const ok = load.results.filter((r) => r.status === 200);
  const groups = new Map();
  for (const r of load.results) {
    if (r.status === 200) continue;
    const key = `${r.status === 0 ? "no answer" : `HTTP ${r.status}`} ${(r.error ?? "").replace(/\s+/g, " ").trim().slice(0, 160)}`;
    groups.set(key, (groups.get(key) ?? 0) + 1);
  }
  const latencies = load.results.map((r) => r.latencyMs);
  return {
    requests: load.results.length,
    ok: ok.length,
    failed: load.results.filter(isFailure).length,
    failures: [...groups].map(([message, count]) => ({ message, count })),
    seconds: load.wallSeconds,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    maxMs: Math.max(...latencies),
  };
}
