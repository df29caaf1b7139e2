#!/usr/bin/env node
// `npm run fuzz [-- flags]`: structure-aware fuzzing of every format the service ingests, against
// a local stack (scripts/start.mjs on fresh state in a temp folder, or --url).
//
//   --cases N       cases to send (default 5000); cases go round every (format, mutation) pair
//   --seed S        the run's seed (default 1); case i of seed S is always the same request
//   --short         the quick run of `npm test`: the saved regressions, then one round of the pairs
//                   (--cases 168); no query abuse
//   --case I[,J]    only these cases (reproducing a failure); --print I shows case I and exits
//   --url URL       fuzz a running service instead of starting one; --port P for the one started
//   --no-query      skip the query abuse checks; --timeout-ms T per case (default 5000)
//   --out DIR       where the report, the failing inputs and the stack's logs go (test-artifacts/fuzz)
//   --save I[,J]    add cases of --seed to the regression corpus test/fuzz-corpus/index.json
//                   (replayed by test/fuzz-regressions.test.ts); --expect 4xx|2xx-or-4xx, --note
//
// A run fails (exit 1) on any 5xx (Connect's `unimplemented` for an unsupported request encoding
// aside), connection reset, answer (or keep-alive probe after it) slower than the timeout, or
// runtime restart; on a control profile whose total is not exact after the run; and on the query
// abuse checks. Failing inputs are written to test-artifacts/fuzz/failures/ with the command that
// replays them; the figures per format × mutation class go to test-artifacts/fuzz/report.json.

import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { gunzipSync, gzipSync } from "node:zlib";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { freePort, killAllSync, ROOT, serviceArgs, startStack, stopAll } from "./bench/server.mjs";
import { FILES, FORMATS, MUTATIONS, PAIRS, makeCase } from "./fuzz/cases.mjs";
import { checkControls, concurrencyAbuse, regexAbuse, sendControls } from "./fuzz/checks.mjs";
import { FAILING, send } from "./fuzz/send.mjs";
import { RestartWatch, workerUrl } from "./fuzz/watch.mjs";

const { values: opts } = parseArgs({
  options: {
    cases: { type: "string" },
    seed: { type: "string", default: "1" },
    short: { type: "boolean", default: false },
    case: { type: "string" },
    print: { type: "string" },
    url: { type: "string" },
    port: { type: "string" },
    "no-query": { type: "boolean", default: false },
    "timeout-ms": { type: "string", default: "5000" },
    save: { type: "string" },
    expect: { type: "string", default: "4xx" },
    note: { type: "string", default: "" },
    out: { type: "string" },
  },
});

const TESTDATA = path.resolve(ROOT, process.env.TESTDATA_DIR || "../shared/testdata");
const ARTIFACTS = path.resolve(opts.out ?? path.join(ROOT, "test-artifacts", "fuzz"));
const seed = Number(opts.seed);
const timeoutMs = Number(opts["timeout-ms"]);
const log = (msg) => console.log(`[fuzz] ${msg}`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const mib = (b) => `${(b / 1048576).toFixed(0)} MiB`;

/** Stack settings: open (as npm start runs), the corpus's old profiles accepted and queryable. */
const STACK_VARS = ["RETENTION_SECONDS:0", "MAX_QUERY_LOOKBACK_SECONDS:0", "FLUSH_MAX_AGE_MS:2000"];
/** What cases are generated against when printing without a stack: the defaults of workers/config.ts. */
const DEFAULT_LIMITS = { INGESTION_BODY_LIMIT_BYTES: 16 * 1024 * 1024, MAX_PROFILE_SIZE_BYTES: 4 * 1024 * 1024 };

function loadCorpus() {
  return new Map(
    FILES.map((f) => {
      try {
        return [f, new Uint8Array(readFileSync(path.join(TESTDATA, f)))];
      } catch {
        throw new Error(`corpus file ${f} not found under ${TESTDATA}: set TESTDATA_DIR to the shared testdata folder`);
      }
    }),
  );
}

function caseIndices() {
  if (opts.case) return opts.case.split(",").map(Number);
  const n = opts.short ? PAIRS.length : Number(opts.cases ?? 5000);
  return Array.from({ length: n }, (_, i) => i);
}

function replayCommand(c) {
  return `npm run fuzz -- --seed ${c.seed} --case ${c.index}`;
}

function describe(c) {
  const headers = Object.entries(c.headers)
    .map(([k, v]) => `${k}: ${String(v).length > 80 ? String(v).slice(0, 80) + "..." : v}`)
    .join("; ");
  const head = Buffer.from(c.body.subarray(0, 96));
  return [
    `case ${c.index} of seed ${c.seed}: ${c.format} × ${c.mutation}`,
    `  ${c.detail}`,
    `  ${c.method} ${c.path.length > 160 ? c.path.slice(0, 160) + `... (${c.path.length} chars)` : c.path}`,
    `  headers: ${headers}`,
    `  body: ${c.body.length} bytes${c.transport ? `, transport ${JSON.stringify(c.transport)}` : ""}; first bytes ${head.toString("hex")}`,
    `  printable: ${JSON.stringify(head.toString("latin1"))}`,
  ].join("\n");
}

async function main() {
  const corpus = loadCorpus();
  if (opts.print !== undefined) {
    for (const i of opts.print.split(",").map(Number)) {
      const c = makeCase(seed, i, corpus, DEFAULT_LIMITS);
      console.log(describe(c));
      mkdirSync(ARTIFACTS, { recursive: true });
      const file = path.join(ARTIFACTS, `case-${seed}-${i}.bin`);
      writeFileSync(file, c.body);
      console.log(`  body written to ${path.relative(process.cwd(), file)}`);
    }
    return 0;
  }

  if (opts.save !== undefined) return saveRegressions(corpus);

  rmSync(ARTIFACTS, { recursive: true, force: true });
  mkdirSync(path.join(ARTIFACTS, "failures"), { recursive: true });
  const tmpDir = mkdtempSync(path.join(os.tmpdir(), "fuzz-"));
  try {
    let base = opts.url;
    let watch = null;
    let stackStarts = 0;
    const port = opts.port ? Number(opts.port) : await freePort();
    // The same state folder each time: what was stored before a restart must still be there.
    const start = async () => {
      stackStarts++;
      const logFile = path.join(ARTIFACTS, `stack-${stackStarts}.log`);
      const stack = await startStack({ name: "local stack", args: serviceArgs(port, path.join(tmpDir, "state"), STACK_VARS), port, logFile, timeoutMs: 180_000 });
      watch = new RestartWatch(stack);
      return stack.url;
    };
    if (!base) {
      log("starting the local stack (npm start on fresh state)...");
      base = await start();
    }
    const inForce = (await (await fetch(`${base}/config`)).json()).limits ?? {};
    const limits = Object.fromEntries(Object.entries(DEFAULT_LIMITS).map(([k, v]) => [k, Number(inForce[k] ?? v)]));
    log(`limits: body ${mib(limits.INGESTION_BODY_LIMIT_BYTES)}, decompressed profile ${mib(limits.MAX_PROFILE_SIZE_BYTES)}`);

    // Tenants of their own, so that a service fuzzed before (--url) holds nothing under them.
    const runId = Date.now().toString(36);
    const controls = await sendControls(base, `fuzz-control-before-${runId}`, corpus);
    const early = await checkControls(base, controls);
    if (!early.every((r) => r.ok)) throw new Error(`control profiles are not queryable before the run: ${JSON.stringify(early, (k, v) => (typeof v === "bigint" ? String(v) : v))}`);

    // The short run replays the saved regressions too, with the clock the vitest replay lacks.
    const saved = opts.short ? regressionCases(corpus) : [];
    const indices = [...saved.map((_, k) => -1 - k), ...caseIndices()];
    if (saved.length) log(`${saved.length} saved regression inputs (test/fuzz-corpus) first`);
    log(`seed ${seed}: ${indices.length - saved.length} cases over ${Object.keys(FORMATS).length} formats × ${MUTATIONS.length} mutation classes (${PAIRS.length} pairs) against ${base}`);
    const table = {};
    const statuses = {};
    const failures = [];
    const restarts = [];
    const replayed = new Map();
    /** The Worker's own address behind wrangler's proxy, found at the first proxy 503. */
    let workerAddress = null;
    /** Cases the proxy answered 503 that the Worker answered itself, by the Worker's outcome. */
    const proxied = {};
    const started = performance.now();
    let rssPeak = { bytes: watch?.rss() ?? 0, index: -1 };
    // The case after which the Worker's memory grew most (the peak may come later, or be a sum).
    let rssJump = { bytes: 0, index: -1 };
    let rssBefore = rssPeak.bytes;
    let lastPrint = 0;
    for (const [k, n] of indices.entries()) {
      const c = n < 0 ? saved[-1 - n] : makeCase(seed, n, corpus, limits);
      const i = c.index;
      const r = await send(base, c, timeoutMs);
      const restart = watch?.check();
      if (restart) Object.assign(r, { outcome: "restart", restart, answered: r.outcome });
      else if (watch && r.outcome === "restart") {
        // wrangler's proxy words any failure to forward a request as a restart, and fails to
        // forward a body that ends before its Content-Length. With the processes watched and none
        // restarted, the case is judged by the Worker's own answer, sent to it without the proxy;
        // the table counts such cases under `proxy 503`.
        const direct = (workerAddress ??= await workerUrl(watch.pids)) && (await send(workerAddress, c, timeoutMs));
        if (direct && !FAILING.has(direct.outcome) && !watch.check()) {
          proxied[direct.outcome] = (proxied[direct.outcome] ?? 0) + 1;
          Object.assign(r, { outcome: "proxy503", direct: { outcome: direct.outcome, status: direct.status, answer: direct.answer } });
        } else r.outcome = "5xx";
      }
      const cell = ((table[c.format] ??= {})[c.mutation] ??= {});
      cell[r.outcome] = (cell[r.outcome] ?? 0) + 1;
      if (r.status) statuses[r.status] = (statuses[r.status] ?? 0) + 1;
      const rss = watch?.rss() ?? 0;
      if (rss > rssPeak.bytes) rssPeak = { bytes: rss, index: i };
      if (rss - rssBefore > rssJump.bytes) rssJump = { bytes: rss - rssBefore, index: i };
      rssBefore = rss;
      if (FAILING.has(r.outcome)) {
        const f = { index: i, seed: c.seed, ...(c.regression ? { regression: c.regression } : {}), format: c.format, mutation: c.mutation, detail: c.detail, path: c.path.slice(0, 300), headers: c.headers, transport: c.transport, bytes: c.body.length, limits, ...r, replay: replayCommand(c) };
        failures.push(f);
        writeFileSync(path.join(ARTIFACTS, "failures", `case-${c.seed}-${i}.json`), JSON.stringify(f, null, 2));
        writeFileSync(path.join(ARTIFACTS, "failures", `case-${c.seed}-${i}.bin`), c.body);
        console.log(`\n[fuzz] FAIL ${r.outcome}${r.status ? ` ${r.status}` : ""} after ${r.ms.toFixed(0)} ms\n${describe(c)}\n  answer: ${r.answer ?? r.error ?? ""}${r.restart ? `\n  restart: ${r.restart}` : ""}\n  replay: ${replayCommand(c)}`);
        if ((r.outcome === "restart" || r.outcome === "hang") && !(await isReady(base))) {
          // After its runtime restarted, wrangler dev's proxy refuses every request (400
          // "Disallowed header in request: MF-Proxy-Shared-Secret"): only a new stack serves again.
          if (!watch) throw new Error(`${base} no longer answers /ready after case ${i}`);
          log("the stack no longer answers /ready: restarting it on the same state...");
          await stopAll();
          base = await start();
          workerAddress = null;
          if (!restarts.includes(i)) restarts.push(i);
        }
        watch?.check();
        // Sent again alone: an answer that differs points at an earlier case that left the stack
        // in a bad state (wrangler's proxy keeps a broken connection to the runtime, for one).
        // Three of each kind are enough to tell; the rest are marked unchecked.
        const kind = `${c.format}|${c.mutation}|${r.outcome}`;
        replayed.set(kind, (replayed.get(kind) ?? 0) + 1);
        if (replayed.get(kind) > 3 && !c.regression) {
          f.alone = "unchecked";
          continue;
        }
        const again = await send(base, c, timeoutMs);
        const restartAgain = watch?.check();
        f.alone = restartAgain ? "restart" : again.outcome === "restart" && watch ? "5xx" : again.outcome;
        f.previousFailure = failures.length > 1 ? failures[failures.length - 2].index : null;
        console.log(`  sent again alone: ${f.alone}${again.status ? ` ${again.status}` : ""}${FAILING.has(f.alone) ? "" : ` (not reproduced: the previous failing case was ${f.previousFailure ?? "none"})`}`);
        writeFileSync(path.join(ARTIFACTS, "failures", `case-${c.seed}-${i}.json`), JSON.stringify(f, null, 2));
        if (restartAgain && !(await isReady(base)) && watch) {
          await stopAll();
          base = await start();
          workerAddress = null;
          if (!restarts.includes(i)) restarts.push(i);
        }
        rssBefore = watch?.rss() ?? 0;
      }
      if (performance.now() - lastPrint > 10_000 || k === indices.length - 1) {
        lastPrint = performance.now();
        log(`${k + 1}/${indices.length} cases, ${failures.length} failing, ${((performance.now() - started) / 1000).toFixed(0)} s`);
      }
    }
    const seconds = (performance.now() - started) / 1000;

    log("control profiles: sending the same again into a second tenant, checking both totals...");
    controls.push(...(await sendControls(base, `fuzz-control-after-${runId}`, corpus)));
    const controlResults = await checkControls(base, controls);

    let query = null;
    if (!opts.short && !opts["no-query"] && !opts.case) {
      log("query abuse: a pathological regex over 2,048-character label values...");
      const regex = await regexAbuse(base, corpus);
      let concurrency = null;
      if (regex.stuck && watch) {
        log("a regex query never answered: restarting the stack (same state) for the concurrency check...");
        await stopAll();
        base = await start();
      }
      if (watch) {
        log("query abuse: 1,000 concurrent queries from one tenant...");
        concurrency = await concurrencyAbuse(base, corpus, () => watch.rss());
        const restart = watch.check();
        if (restart) Object.assign(concurrency, { ok: false, restart });
      } else log("query abuse: concurrency check skipped (needs the stack's processes; not with --url)");
      query = { regex, concurrency };
    }

    const report = { seed, cases: indices.length, regressions: saved.length, seconds, timeoutMs, limits, table, statuses, failures, stackRestartsAfter: restarts, proxied, controls: controlResults, query, rssPeak, rssJump };
    writeFileSync(path.join(ARTIFACTS, "report.json"), JSON.stringify(report, (k, v) => (typeof v === "bigint" ? String(v) : v), 2));
    printReport(report);
    const controlsOk = controlResults.every((r) => r.ok);
    const queryOk = !query || (query.regex.results.every((r) => r.ok) && (query.concurrency?.ok ?? true));
    const ok = failures.length === 0 && controlsOk && queryOk;
    log(ok ? "passed" : `FAILED: ${failures.length} failing case(s)${controlsOk ? "" : ", control totals wrong"}${queryOk ? "" : ", query abuse checks"}; report ${path.relative(process.cwd(), path.join(ARTIFACTS, "report.json"))}`);
    if (!ok && watch) log(`the stack's logs: ${path.relative(process.cwd(), ARTIFACTS)}/stack-*.log`);
    return ok ? 0 : 1;
  } finally {
    await stopAll();
    rmSync(tmpDir, { recursive: true, force: true });
  }
}

const REGRESSIONS = path.join(ROOT, "test", "fuzz-corpus", "index.json");
/** Inputs whose gzip is at most this size are stored; larger ones are regenerated from seed and case. */
const STORE_MAX_BYTES = 24 * 1024;

/**
 * Adds cases to the regression corpus. The answer that made each a failure is taken from this
 * run's test-artifacts/fuzz/failures/ when there, and so are the limits the case was made with.
 */
function saveRegressions(corpus) {
  const index = existsSync(REGRESSIONS) ? JSON.parse(readFileSync(REGRESSIONS, "utf8")) : [];
  for (const i of opts.save.split(",").map(Number)) {
    const failure = path.join(ARTIFACTS, "failures", `case-${seed}-${i}.json`);
    const found = existsSync(failure) ? JSON.parse(readFileSync(failure, "utf8")) : {};
    const limits = found.limits ?? DEFAULT_LIMITS;
    const c = makeCase(seed, i, corpus, limits);
    const zipped = gzipSync(c.body, { level: 9 });
    const entry = {
      name: `${c.format} × ${c.mutation} (seed ${seed}, case ${i})`,
      seed,
      case: i,
      format: c.format,
      mutation: c.mutation,
      detail: c.detail,
      found: found.outcome ? `${found.outcome}${found.status ? ` ${found.status}` : ""}: ${(found.answer ?? found.error ?? "").slice(0, 160)}${found.restart ? ` (${found.restart})` : ""}` : opts.note,
      ...(opts.note && found.outcome ? { note: opts.note } : {}),
      expect: opts.expect,
      method: c.method,
      path: c.path,
      headers: c.headers,
      ...(c.transport ? { transport: c.transport } : {}),
      ...(zipped.length <= STORE_MAX_BYTES
        ? { bodyGzipBase64: zipped.toString("base64") }
        : { regenerate: { limits, bytes: c.body.length, sha256: createHash("sha256").update(c.body).digest("hex") } }),
    };
    const at = index.findIndex((e) => e.seed === seed && e.case === i);
    if (at >= 0) index[at] = entry;
    else index.push(entry);
    log(`saved ${entry.name}: ${entry.bodyGzipBase64 ? `${zipped.length} bytes gzipped` : `regenerated (${c.body.length} bytes, ${zipped.length} gzipped)`}`);
  }
  mkdirSync(path.dirname(REGRESSIONS), { recursive: true });
  writeFileSync(REGRESSIONS, JSON.stringify(index, null, 2) + "\n");
  return 0;
}

/** The saved regression inputs as cases (their stored bytes, or regenerated as they were found). */
function regressionCases(corpus) {
  if (!existsSync(REGRESSIONS)) return [];
  return JSON.parse(readFileSync(REGRESSIONS, "utf8")).map((e) => {
    const body = e.bodyGzipBase64 ? new Uint8Array(gunzipSync(Buffer.from(e.bodyGzipBase64, "base64"))) : makeCase(e.seed, e.case, corpus, e.regenerate.limits).body;
    return { seed: e.seed, index: e.case, format: e.format, mutation: e.mutation, detail: e.detail, method: e.method, path: e.path, headers: e.headers, body, transport: e.transport, regression: e.name };
  });
}

/** Whether the service answers GET /ready with 200 within `timeoutMs` (a restarted runtime takes a few seconds). */
async function isReady(base, timeoutMs = 20_000) {
  const started = Date.now();
  while (Date.now() - started < timeoutMs) {
    try {
      const res = await fetch(`${base}/ready`, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      if (res.status === 200) return true;
    } catch {
      // not yet
    }
    await sleep(500);
  }
  return false;
}

const OUTCOMES = ["2xx", "4xx", "unimplemented", "closed", "proxy503", "5xx", "reset", "hang", "restart"];

function printReport(r) {
  console.log(`\n[fuzz] ${r.cases} cases${r.regressions ? ` (${r.regressions} of them saved regression inputs)` : ""} in ${r.seconds.toFixed(1)} s (seed ${r.seed}); outcomes per format (rows) × mutation class (columns):`);
  console.log(`  cell = 2xx/4xx/other; "!" marks failing outcomes (5xx, reset, hang >${r.timeoutMs / 1000} s, restart)`);
  const cols = MUTATIONS.filter((m) => Object.values(r.table).some((row) => row[m]));
  const cellText = (cell) => {
    if (!cell) return "-";
    const other = Object.entries(cell).filter(([k]) => k !== "2xx" && k !== "4xx");
    const bad = other.filter(([k]) => FAILING.has(k));
    return `${cell["2xx"] ?? 0}/${cell["4xx"] ?? 0}${other.length ? "/" + other.map(([k, v]) => `${v}${k}`).join("+") : ""}${bad.length ? "!" : ""}`;
  };
  const widths = cols.map((c) => Math.max(c.length, ...Object.values(r.table).map((row) => cellText(row[c]).length)) + 2);
  console.log("  " + "format".padEnd(16) + cols.map((c, k) => c.padStart(widths[k])).join(""));
  for (const [format, row] of Object.entries(r.table)) console.log("  " + format.padEnd(16) + cols.map((c, k) => cellText(row[c]).padStart(widths[k])).join(""));
  const totals = {};
  for (const row of Object.values(r.table)) for (const cell of Object.values(row)) for (const [k, v] of Object.entries(cell)) totals[k] = (totals[k] ?? 0) + v;
  console.log(`  totals: ${OUTCOMES.filter((o) => totals[o]).map((o) => `${o} ${totals[o]}`).join(", ")}; HTTP statuses: ${JSON.stringify(r.statuses)}`);
  if (Object.keys(r.proxied).length) {
    console.log(`  proxy503: wrangler's proxy answered 503 (its "restarted mid-request", no process restarted); the Worker itself, sent the same case without the proxy, answered ${JSON.stringify(r.proxied)}`);
  }
  if (r.stackRestartsAfter.length) console.log(`  the stack had to be restarted after case(s) ${r.stackRestartsAfter.join(", ")}`);
  if (r.rssPeak.bytes) console.log(`  Worker RSS peak ${mib(r.rssPeak.bytes)} (after case ${r.rssPeak.index}); largest growth over one case ${mib(r.rssJump.bytes)} (case ${r.rssJump.index})`);
  for (const f of r.failures) {
    const alone = FAILING.has(f.alone) ? "reproduced alone" : `alone: ${f.alone}, after failing case ${f.previousFailure ?? "-"}`;
    console.log(`  FAIL case ${f.index}: ${f.format} × ${f.mutation}: ${f.outcome}${f.status ? ` ${f.status}` : ""} (${alone}) — ${f.detail.slice(0, 120)}`);
  }
  const alone = r.failures.filter((f) => FAILING.has(f.alone)).length;
  const unchecked = r.failures.filter((f) => f.alone === "unchecked").length;
  if (r.failures.length) console.log(`  ${r.failures.length} failing cases, ${alone} of them failing again when sent alone${unchecked ? ` (${unchecked} not sent again: more than 3 of their format, class and outcome)` : ""}; replay one with npm run fuzz -- --seed ${r.seed} --case N`);
  for (const c of r.controls) console.log(`  control ${c.tenant}/${c.service} (${c.source}): ${c.ok ? "exact" : "WRONG"}, ${c.got} of ${c.total}`);
  if (r.query) {
    for (const q of r.query.regex.results) console.log(`  regex ${q.method} ${q.selector}: ${q.status}, median ${q.medianMs.toFixed(1)} ms, max ${q.maxMs.toFixed(1)} ms${q.ok ? "" : " FAIL"}`);
    if (!r.query.regex.seriesQueryable) console.log("  regex: the 2,048-character series never became queryable (the timings above ran over no data)");
    const cc = r.query.concurrency;
    if (cc) console.log(`  ${cc.n} concurrent queries in ${cc.seconds.toFixed(1)} s: ${JSON.stringify(cc.counts)}; Worker RSS ${mib(cc.rssBefore)} → peak ${mib(cc.rssPeak)} → ${mib(cc.rssAfter)} after ${(cc.settledMs / 1000).toFixed(1)} s${cc.ok ? "" : " FAIL"}${cc.restart ? ` (restart: ${cc.restart})` : ""}`);
  }
}

for (const sig of ["SIGINT", "SIGTERM"]) {
  process.on(sig, () => {
    killAllSync();
    process.exit(130);
  });
}
process.on("exit", killAllSync);

main().then(
  (code) => process.exit(code),
  async (err) => {
    console.error(`[fuzz] ${err?.name === "BenchError" ? err.message : (err?.stack ?? err)}`);
    await stopAll();
    process.exit(1);
  },
);
