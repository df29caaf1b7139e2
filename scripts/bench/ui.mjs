// The ui section of `npm run bench`: how fast the dashboard shows a big flame graph in headless
// Chromium, against the API call it waits for, measured in the same page.
//
// Workload: one synthetic CPU profile whose merged flame graph has exactly 8,192 nodes (the root
// and 8,191 frames of a deterministic random call tree: deep chains with branches, up to 48 deep),
// ingested into a fresh local stack and flushed. The API's answer is checked to hold 8,192 nodes and
// the profile's total before anything is timed.
// Measured per run, in the page (performance.now(), whose origin is the navigation's start):
//   - navigation → first flame graph paint: the first frame after the canvas reports drawn nodes;
//   - of it, the app's own SelectMergeStacktraces request (Resource Timing) and the time from its
//     response to that paint (JSON, decoding, layout, drawing);
//   - click on a frame → the first frame after the canvas reports it zoomed;
//   - baseline: the same SelectMergeStacktraces request alone, fetched and parsed in the page.
// The first run has a cold browser cache; the report gives it apart from the median of the rest.

import { accessSync, constants, mkdirSync } from "node:fs";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { chromium } from "playwright-core";
import { Profile, StringTable } from "pprof-format";
import { decodeFlamegraph, getJson, rpc } from "../../test/ui/lib/api.mjs";
import { percentile } from "./load.mjs";
import { environment, RESULTS_DIR } from "./report.mjs";
import { benchError, freePort, ROOT, serviceArgs, startStack, tail } from "./server.mjs";

export { printUiReport } from "./ui-report.mjs";

const SERVICE = "bench-ui";
const PROFILE_TYPE = "process_cpu:cpu:nanoseconds:cpu:nanoseconds";
/** Flame graph nodes, the root included: the API's default max_nodes, so nothing is truncated. */
const NODES = 8192;
const OUTERMOST = 6;
const MAX_DEPTH = 48;
const VIEWPORT = { width: 1400, height: 1000 };
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const CATALOG_TIMEOUT_MS = 60_000;
const WAIT_MS = 30_000;

export async function runUi(opts) {
  const { readyTimeoutMs, tmpDir, signal } = opts;
  const runs = runCount();
  try {
    accessSync(CHROMIUM, constants.X_OK);
  } catch {
    throw benchError(`Chromium not found at ${CHROMIUM}: install the Debian chromium package (sudo apt-get install chromium) or set CHROMIUM_PATH`);
  }
  const logDir = path.join(RESULTS_DIR, "logs");
  mkdirSync(logDir, { recursive: true });

  const nowMs = Date.now();
  const profile = syntheticProfile(nowMs - 60_000);
  console.log(
    `Workload: one synthetic CPU profile of ${SERVICE}: ${NODES - 1} frames under the root (${profile.samples} samples, ` +
      `depth ≤ ${MAX_DEPTH}), ${profile.body.length} bytes gzipped`,
  );

  console.log("\nStarting the service (scripts/start.mjs: dashboard build, D1 migrations, wrangler dev)...");
  const port = await freePort();
  const service = await startStack({
    name: "service",
    // Flushed within seconds: the pages then read a block, as they would for data a minute old.
    args: serviceArgs(port, path.join(tmpDir, "state"), ["FLUSH_MAX_AGE_MS:2000"]),
    port,
    logFile: path.join(logDir, "ui-service.log"),
    timeoutMs: readyTimeoutMs,
    signal,
  });

  const res = await fetch(`${service.url}/ingest?name=${SERVICE}&format=pprof&spyName=gospy`, { method: "POST", body: profile.body, signal });
  if (res.status !== 200) throw benchError(`ingesting the profile answered HTTP ${res.status}: ${(await res.text()).slice(0, 300)}`);
  await waitForCatalog(service, signal);

  const selection = { profileTypeID: PROFILE_TYPE, labelSelector: `{service_name="${SERVICE}"}`, start: nowMs - 3_600_000, end: Date.now() };
  const api = decodeFlamegraph((await rpc(service.url, "SelectMergeStacktraces", selection)).flamegraph);
  if (api.nodes.length !== NODES || BigInt(api.total) !== profile.total) {
    throw benchError(
      `the served flame graph has ${api.nodes.length} nodes and totals ${api.total}; the profile has ${NODES} nodes and totals ${profile.total}: ` +
        `the query path changed the tree (truncation?); service log ${path.relative(ROOT, service.logFile)}`,
    );
  }
  const target = zoomTarget(api);
  console.log(`  served flame graph: ${api.nodes.length} nodes, total ${api.total}; zoom target "${target.name}" (${((100 * target.total) / api.total).toFixed(0)}% of the total)`);

  console.log(`\nChromium (${CHROMIUM}): ${runs} runs of navigation → first paint → zoom → API call alone...`);
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true });
  const measured = [];
  let browserVersion;
  try {
    const page = await browser.newPage({ viewport: VIEWPORT, deviceScaleFactor: 1 });
    await page.addInitScript(instrument);
    let appRequest = null;
    page.on("request", (req) => {
      if (req.url().includes("/SelectMergeStacktraces")) appRequest = req.postData();
    });
    const url = `${service.url}/#/explore?${new URLSearchParams({ service: SERVICE, type: PROFILE_TYPE, from: "now-1h", until: "now" })}`;
    for (let k = 0; k < runs; k++) {
      signal?.throwIfAborted();
      measured.push(await measureRun(page, url, target, () => appRequest, api.total));
      const m = measured.at(-1);
      console.log(
        `  run ${k + 1}${k === 0 ? " (cold cache)" : ""}: first paint ${m.firstPaintMs.toFixed(0)} ms (API ${m.appRequestMs.toFixed(0)} ms, ` +
          `response → paint ${m.responseToPaintMs.toFixed(0)} ms), zoom ${m.zoomMs.toFixed(0)} ms, API alone ${m.apiAloneMs.toFixed(0)} ms`,
      );
    }
    browserVersion = browser.version();
  } catch (err) {
    if (signal?.aborted || err.name === "BenchError") throw err;
    throw benchError(`${err.message}\nservice log ${path.relative(ROOT, service.logFile)}:\n${tail(service.logFile, 10)}`);
  } finally {
    await browser.close();
  }
  await service.stop();

  const rest = measured.slice(1);
  const stat = (key) => ({ first: measured[0][key], median: percentile(rest.map((r) => r[key]), 50), min: Math.min(...rest.map((r) => r[key])) });
  return {
    section: "ui",
    date: new Date().toISOString(),
    environment: { ...environment(), chromium: browserVersion },
    config: { service: SERVICE, profileType: PROFILE_TYPE, nodes: NODES, maxDepth: MAX_DEPTH, samples: profile.samples, bodyBytes: profile.body.length, runs, viewport: VIEWPORT },
    served: { nodes: api.nodes.length, total: api.total, zoomTarget: target.name, zoomTargetShare: target.total / api.total },
    summary: {
      firstPaintMs: stat("firstPaintMs"),
      appRequestMs: stat("appRequestMs"),
      responseToPaintMs: stat("responseToPaintMs"),
      zoomMs: stat("zoomMs"),
      apiAloneMs: stat("apiAloneMs"),
      renderedAtFirstPaint: measured[0].renderedNodes,
      renderedZoomed: measured[0].renderedZoomed,
    },
    runs: measured,
  };
}

/** BENCH_UI_RUNS: page loads measured, the first with a cold cache (default 11). */
function runCount() {
  const raw = process.env.BENCH_UI_RUNS;
  if (raw === undefined || raw === "") return 11;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 2) throw benchError(`BENCH_UI_RUNS must be an integer ≥ 2 (a cold run and warm ones), got "${raw}"`);
  return n;
}

/**
 * Runs in the page before its scripts (every navigation): records when the flame graph canvas
 * first reports drawn nodes and when it reports the zoom target, each as the time after the
 * frame showing it was rendered (requestAnimationFrame, then a message task: past that frame's
 * paint), and the click's own timestamp.
 */
function instrument() {
  const marks = { firstPaint: null, renderedNodes: null, zoomTarget: null, zoomClick: null, zoomPaint: null, renderedZoomed: null };
  window.__uiBench = marks;
  const afterPaint = (record) =>
    requestAnimationFrame(() => {
      const channel = new MessageChannel();
      channel.port1.onmessage = () => record(performance.now());
      channel.port2.postMessage(null);
    });
  let firstSeen = false;
  let zoomSeen = false;
  const check = () => {
    const canvas = document.querySelector('[data-testid="flamegraph"] canvas[data-rendered-nodes]');
    if (!canvas) return;
    const nodes = Number(canvas.dataset.renderedNodes);
    if (!firstSeen && nodes > 0) {
      firstSeen = true;
      marks.renderedNodes = nodes;
      afterPaint((t) => (marks.firstPaint = t));
    }
    if (!zoomSeen && marks.zoomTarget !== null && canvas.dataset.zoomed === marks.zoomTarget) {
      zoomSeen = true;
      marks.renderedZoomed = nodes;
      afterPaint((t) => (marks.zoomPaint = t));
    }
  };
  new MutationObserver(check).observe(document, { subtree: true, childList: true, attributes: true, attributeFilter: ["data-rendered-nodes", "data-zoomed"] });
  addEventListener("click", (e) => marks.zoomTarget !== null && marks.zoomClick === null && (marks.zoomClick = e.timeStamp), true);
}

/** One page load: first paint, the app's request, a zoom, then the API call alone from the page. */
async function measureRun(page, url, target, appRequestBody, total) {
  // From another document, so that every run is a full navigation (the same URL would only be a hash change).
  await page.goto("about:blank");
  await page.goto(url);
  await waitFor(page, "the first flame graph paint", () => window.__uiBench.firstPaint !== null);
  const first = await page.evaluate(() => {
    const canvas = document.querySelector('[data-testid="flamegraph"] canvas[data-rendered-nodes]');
    const request = performance.getEntriesByType("resource").find((e) => e.name.includes("/SelectMergeStacktraces"));
    return { ...window.__uiBench, total: Number(canvas.dataset.total), request: request && { start: request.startTime, end: request.responseEnd } };
  });
  if (first.total !== total) throw benchError(`the page's flame graph totals ${first.total}, the API's ${total}: it shows another selection`);
  if (!first.request) throw benchError("the page drew a flame graph without a SelectMergeStacktraces request: the bench's split of the time is wrong");

  await page.evaluate((name) => (window.__uiBench.zoomTarget = name), target.name);
  const rect = await page.evaluate((name) => window.__edgePyroscope?.flamegraph?.rectOf(name) ?? null, target.name);
  if (!rect) throw benchError(`window.__edgePyroscope.flamegraph.rectOf("${target.name}") found no frame to click`);
  await page.mouse.click(rect.x + rect.w / 2, rect.y + rect.h / 2);
  await waitFor(page, `the flame graph zoomed on "${target.name}"`, () => window.__uiBench.zoomPaint !== null);
  const zoom = await page.evaluate(() => window.__uiBench);

  const body = appRequestBody();
  const apiAloneMs = await page.evaluate(async (requestBody) => {
    const t0 = performance.now();
    const res = await fetch("/querier.v1.QuerierService/SelectMergeStacktraces", { method: "POST", headers: { "Content-Type": "application/json" }, body: requestBody });
    await res.json();
    return performance.now() - t0;
  }, body);
  return {
    firstPaintMs: first.firstPaint,
    appRequestMs: first.request.end - first.request.start,
    responseToPaintMs: first.firstPaint - first.request.end,
    zoomMs: zoom.zoomPaint - zoom.zoomClick,
    apiAloneMs,
    renderedNodes: first.renderedNodes,
    renderedZoomed: zoom.renderedZoomed,
    appRequest: JSON.parse(body),
  };
}

async function waitFor(page, what, fn) {
  try {
    await page.waitForFunction(fn, null, { timeout: WAIT_MS });
  } catch (err) {
    if (err.name !== "TimeoutError") throw err;
    throw benchError(`${what} did not happen within ${WAIT_MS / 1000} s (page ${page.url()}); run node scripts/ui-test.mjs to check the dashboard`);
  }
}

/** The catalog lists the service once its profile is flushed: the state every later page load reads. */
async function waitForCatalog(service, signal) {
  const started = Date.now();
  while (Date.now() - started < CATALOG_TIMEOUT_MS) {
    signal?.throwIfAborted();
    const { services = [] } = await getJson(service.url, "/api/services");
    if (services.some((s) => s.service === SERVICE && s.profileTypes?.includes(PROFILE_TYPE))) return;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw benchError(`${SERVICE} did not reach the catalog within ${CATALOG_TIMEOUT_MS / 1000} s; service log ${path.relative(ROOT, service.logFile)}`);
}

/** A frame to zoom into: the widest below the outermost ones holding 10–70% of the total. */
function zoomTarget(graph) {
  const node = graph.nodes
    .filter((n) => n.depth >= 2 && n.total >= 0.1 * graph.total && n.total <= 0.7 * graph.total)
    .sort((a, b) => b.total - a.total)[0];
  if (!node) throw benchError("the synthetic profile has no frame to zoom into: change its seed or shape in scripts/bench/ui.mjs");
  return node;
}

/** A deterministic PRNG (mulberry32), so that every run benchmarks the same tree. */
function random(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A pprof whose flame graph has NODES nodes: NODES - 1 frames, each its own function, in a tree
 * where a new frame mostly extends one of the last few (deep call chains) and sometimes branches
 * off anywhere (breadth). Every leaf, and a fifth of the inner frames, gets a sample of 10–1000 ms.
 * Returns the gzipped body, its cpu total and its sample count.
 */
function syntheticProfile(timeMs) {
  const frames = NODES - 1;
  const rand = random(NODES);
  const parent = new Int32Array(frames).fill(-1);
  const depth = new Int32Array(frames).fill(1);
  const children = new Int32Array(frames);
  for (let i = OUTERMOST; i < frames; i++) {
    let p = rand() < 0.7 ? i - 1 - Math.floor(rand() * 4) : Math.floor(rand() * i);
    while (depth[p] >= MAX_DEPTH) p = Math.floor(rand() * i);
    parent[i] = p;
    depth[i] = depth[p] + 1;
    children[p]++;
  }

  const strings = new StringTable();
  const functions = [];
  const locations = [];
  for (let i = 0; i < frames; i++) {
    const pkg = `github.com/acme/shop/pkg${i % 64}`;
    functions.push({ id: i + 1, name: strings.dedup(`${pkg}.Func${i}`), systemName: strings.dedup(`${pkg}.Func${i}`), filename: strings.dedup(`${pkg}/file${i % 7}.go`) });
    locations.push({ id: i + 1, line: [{ functionId: i + 1, line: 10 + (i % 300) }] });
  }
  const samples = [];
  let total = 0n;
  for (let i = 0; i < frames; i++) {
    if (children[i] > 0 && rand() >= 0.2) continue;
    const value = BigInt(1 + Math.floor(rand() * 100)) * 10_000_000n;
    const stack = [];
    for (let f = i; f >= 0; f = parent[f]) stack.push(f + 1);
    samples.push({ locationId: stack, value: [value] });
    total += value;
  }
  const cpu = { type: strings.dedup("cpu"), unit: strings.dedup("nanoseconds") };
  const p = new Profile({
    sampleType: [cpu],
    periodType: cpu,
    period: 10_000_000,
    sample: samples,
    location: locations,
    function: functions,
    stringTable: strings,
    timeNanos: BigInt(timeMs) * 1_000_000n,
    durationNanos: 10_000_000_000,
  });
  return { body: gzipSync(p.encode()), total, samples: samples.length };
}
