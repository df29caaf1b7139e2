#!/usr/bin/env node
// `npm run bench [-- <section>...]`: benchmarks of the local stack (wrangler dev + workerd), each
// against references measured in the same run. Sections run in the order given; none = all.
//
//   ingest   /ingest throughput, latency, processing rate and memory vs a null Worker (a) and a
//            gunzip + protobuf wire walk in Node (b)
//   query    24 h of one service (8,640 real CPU profiles) ingested, then the 24-h flame graph
//            (first and repeated), 24-h SelectSeries and 1-h flame graph, with totals checked, vs
//            gunzip + decode + merge of the same pprofs in Node
//   series   pushes to 900 new services while the tenant holds a 20,000-series service (made of
//            real pprofs with distinct label values), vs the same pushes into an empty tenant
//   formats  JFR decode throughput and peak memory (dump2, and dump2's chunk repeated 8×) vs
//            pprof decode of dump2's expected pprofs, in Node
//   ui       the dashboard in headless Chromium (CHROMIUM_PATH, default /usr/bin/chromium): time to
//            the first flame graph paint and to a zoom for an 8,192-node profile, vs the API call alone
//
// Environment: TESTDATA_DIR (default ../shared/testdata), BENCH_CONCURRENCY (8),
// BENCH_REQUESTS (1500 per target), BENCH_SECONDS (20 per target), BENCH_WARMUP (200 requests
// per target before measuring), BENCH_DECODE_RUNS (5), BENCH_READY_TIMEOUT (120 s),
// BENCH_SERVICE_VARS (extra `NAME:VALUE` service settings, space-separated, for experiments),
// BENCH_QUERY_REPEATS (5 calls of each query after its first), BENCH_UI_RUNS (11 page loads),
// BENCH_PORTS (`<lo>-<hi>`: the stacks' ports, wrangler's inspector included, from that range),
// BENCH_STATE_DIR (the stacks' local state; default /dev/shm, see stateDirRoot).
// Every section counts failed requests (5xx, resets, timeouts); any makes the bench exit 1.
// Results: bench-results/<section>.json; wrangler output: bench-results/logs/.
//
// To add a section: write scripts/bench/<name>.mjs exporting a run(opts) → results function and
// a print(results) function, and register them in SECTIONS below.

import { accessSync, constants, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { printFormatsReport, runFormats } from "./bench/formats.mjs";
import { printIngestReport, runIngest } from "./bench/ingest.mjs";
import { printQueryReport, runQuery } from "./bench/query.mjs";
import { printSeriesReport, runSeries } from "./bench/series.mjs";
import { writeJson } from "./bench/report.mjs";
import { benchError, killAllSync, ROOT, stopAll } from "./bench/server.mjs";
import { printUiReport, runUi } from "./bench/ui.mjs";

const SECTIONS = {
  ingest: { run: runIngest, print: printIngestReport },
  query: { run: runQuery, print: printQueryReport },
  series: { run: runSeries, print: printSeriesReport },
  formats: { run: runFormats, print: printFormatsReport },
  ui: { run: runUi, print: printUiReport },
};

function envNumber(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number, got "${raw}"`);
  return n;
}

function options() {
  return {
    testdataDir: path.resolve(ROOT, process.env.TESTDATA_DIR || "../shared/testdata"),
    concurrency: Math.floor(envNumber("BENCH_CONCURRENCY", 8)),
    maxRequests: Math.floor(envNumber("BENCH_REQUESTS", 1500)),
    maxSeconds: envNumber("BENCH_SECONDS", 20),
    warmup: Math.floor(envNumber("BENCH_WARMUP", 200)),
    decodeRuns: Math.floor(envNumber("BENCH_DECODE_RUNS", 5)),
    readyTimeoutMs: envNumber("BENCH_READY_TIMEOUT", 120) * 1000,
  };
}

const interrupt = new AbortController();

async function main() {
  const args = process.argv.slice(2).filter((a) => !a.startsWith("-"));
  const unknown = args.filter((a) => !(a in SECTIONS));
  if (unknown.length) {
    console.error(`unknown section(s): ${unknown.join(", ")}; available: ${Object.keys(SECTIONS).join(", ")}`);
    process.exit(2);
  }
  if (process.platform !== "linux") console.warn("warning: memory figures need /proc (Linux); they will be empty here");
  if (typeof globalThis.gc !== "function") console.warn("warning: run with node --expose-gc (npm run bench does) for stable memory figures");
  const sections = args.length ? args : Object.keys(SECTIONS);
  const opts = options();

  const stateRoot = stateDirRoot();
  console.log(`Local state of the stacks under ${stateRoot}`);
  let failedRequests = 0;
  for (const name of sections) {
    const tmpDir = mkdtempSync(path.join(stateRoot, `bench-${name}-`));
    console.log(`\n=== ${name} ===`);
    try {
      const results = await SECTIONS[name].run({ ...opts, tmpDir, signal: interrupt.signal });
      const file = writeJson(`${name}.json`, results);
      console.log(`\n=== ${name}: report ===\n`);
      SECTIONS[name].print(results);
      console.log(`\nResults written to ${path.relative(ROOT, file)}`);
      if (results.failedRequests > 0) {
        console.error(`\n${name}: ${results.failedRequests} FAILED REQUESTS (5xx, resets or timeouts); every one is a lost profile`);
        failedRequests += results.failedRequests;
      }
    } finally {
      await stopAll();
      rmSync(tmpDir, { recursive: true, force: true });
    }
  }
  if (failedRequests > 0) throw benchError(`${failedRequests} requests failed in all; see the reports above`);
}

/**
 * Where the stacks keep their local state: BENCH_STATE_DIR, else tmpfs (/dev/shm) when there is
 * one, else the system temp folder. Local workerd runs the Worker and every Durable Object on one
 * thread and fsyncs each SQLite commit on it; on a disk shared with other work an fsync can take
 * seconds, and a stall of 5 s makes workerd close the connections it has not read from, failing
 * their requests. That is the disk's figure, not the service's, so the bench keeps it out.
 */
function stateDirRoot() {
  if (process.env.BENCH_STATE_DIR) return path.resolve(process.env.BENCH_STATE_DIR);
  try {
    accessSync("/dev/shm", constants.W_OK);
    return "/dev/shm";
  } catch {
    return os.tmpdir();
  }
}

// Ctrl-C: abort the section (it stops sending and throws), which stops the stacks on the way
// out; a second Ctrl-C kills them at once.
for (const sig of ["SIGINT", "SIGTERM"]) {
  process.on(sig, () => {
    if (interrupt.signal.aborted) {
      killAllSync();
      process.exit(130);
    }
    console.error(`\n${sig}: stopping the local stacks (again to kill them at once)...`);
    interrupt.abort(new Error(`interrupted by ${sig}`));
  });
}
process.on("exit", killAllSync);

main().then(
  () => process.exit(0),
  async (err) => {
    if (interrupt.signal.aborted) {
      console.error("bench interrupted; local stacks stopped");
      process.exit(130);
    }
    console.error(`\nbench failed: ${err?.name === "BenchError" ? err.message : (err?.stack ?? err)}`);
    await stopAll();
    process.exit(1);
  },
);
