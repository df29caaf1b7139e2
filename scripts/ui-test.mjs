#!/usr/bin/env node
// `node scripts/ui-test.mjs [node --test flags]` (the last step of `npm test`): the dashboard's
// end-to-end tests in headless Chromium. The tests (test/ui/*.test.mjs, node:test) need Node —
// child processes, a browser — so they run here rather than in workerd with the vitest suite.
//
//   1. starts the local stack (scripts/start.mjs: builds web/, applies the D1 migrations, runs
//      wrangler dev) on a free port with fresh state in a temp folder;
//   2. ingests real profiles of the shared corpus (test/ui/lib/corpus.mjs) and waits until every
//      service is flushed to the catalog and its totals are queryable;
//   3. launches Chromium (Debian's, via playwright-core) as a server the test files connect to;
//   4. runs `node --test` on test/ui/*.test.mjs, one file at a time;
//   5. stops Chromium and the stack whatever happened (a second Ctrl-C kills them at once).
//
// Environment: CHROMIUM_PATH (default /usr/bin/chromium), TESTDATA_DIR (default ../shared/testdata).
// Extra arguments go to node --test, e.g. `node scripts/ui-test.mjs --test-name-pattern=zoom`.
// Screenshots of each view (and of each failure), the stack's log and downloads: test-artifacts/ui/.

import { spawn } from "node:child_process";
import { accessSync, constants, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { chromium } from "playwright-core";
import { getJson, rpc } from "../test/ui/lib/api.mjs";
import { buildPushes, CPU_SERVICES, CPU_TYPE, PYSPY_SERVICE, sendPushes } from "../test/ui/lib/corpus.mjs";
import { freePort, killAllSync, ROOT, serviceArgs, startStack, stopAll, tail } from "./bench/server.mjs";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const TESTDATA = path.resolve(ROOT, process.env.TESTDATA_DIR || "../shared/testdata");
const ARTIFACTS = path.join(ROOT, "test-artifacts", "ui");
const TEST_DIR = path.join(ROOT, "test", "ui");
/** wrangler dev's first start (the build, workerd's first compile) can be slow on a cold CI machine. */
const READY_TIMEOUT_MS = 180_000;
/** How long the ingested profiles may take to reach the catalog (flushed every FLUSH_MAX_AGE_MS below). */
const QUERYABLE_TIMEOUT_MS = 60_000;

const log = (msg) => console.log(`[ui-test] ${msg}`);
const rel = (p) => path.relative(process.cwd(), p) || ".";
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A setup failure the user can act on: printed without a stack trace. */
class SetupError extends Error {}

const interrupt = new AbortController();
let browserServer = null;
let testRun = null;

async function main() {
  checkPrerequisites();
  rmSync(ARTIFACTS, { recursive: true, force: true });
  mkdirSync(ARTIFACTS, { recursive: true });
  const tmpDir = mkdtempSync(path.join(os.tmpdir(), "ui-test-"));
  try {
    log("starting the local stack (npm start: build web/, D1 migrations, wrangler dev)...");
    const port = await freePort();
    const stack = await startStack({
      name: "local stack",
      // Flush within seconds rather than 15 s, so that the tests read flushed blocks and catalog
      // rows too (test/ui/unflushed.test.mjs starts a stack of its own that does not flush).
      args: serviceArgs(port, path.join(tmpDir, "state"), ["FLUSH_MAX_AGE_MS:2000"]),
      port,
      logFile: path.join(ARTIFACTS, "stack.log"),
      timeoutMs: READY_TIMEOUT_MS,
      signal: interrupt.signal,
    });

    const { pushes, expected } = buildPushes(TESTDATA, Date.now());
    log(`ingesting ${pushes.length} profiles of ${CPU_SERVICES.length + 1} services from ${rel(path.join(TESTDATA, "pprof"))}...`);
    await sendPushes(stack.url, pushes).catch((err) => {
      throw new SetupError(`ingesting the test profiles failed: ${err.message}\nstack log ${rel(stack.logFile)}:\n${tail(stack.logFile, 15)}`);
    });
    await waitUntilQueryable(stack, expected);

    log(`launching Chromium (${CHROMIUM})...`);
    try {
      // A browser server rather than chromium.launch(): every test file runs in its own process
      // (node --test) and connects to this one browser.
      browserServer = await chromium.launchServer({ executablePath: CHROMIUM, headless: true, handleSIGINT: false, handleSIGTERM: false });
    } catch (err) {
      throw new SetupError(`Chromium at ${CHROMIUM} did not start: ${err.message.split("\n")[0]}\nInstall the Debian chromium package or set CHROMIUM_PATH to a working Chromium.`);
    }

    const contextFile = path.join(tmpDir, "context.json");
    writeFileSync(
      contextFile,
      JSON.stringify({
        baseUrl: stack.url,
        wsEndpoint: browserServer.wsEndpoint(),
        artifactsDir: ARTIFACTS,
        services: [...CPU_SERVICES.map((s) => s.service), PYSPY_SERVICE.service],
        cpuType: CPU_TYPE,
        expected: Object.fromEntries(Object.entries(expected).map(([k, v]) => [k, String(v)])),
      }),
    );
    const files = readdirSync(TEST_DIR).filter((f) => f.endsWith(".test.mjs")).sort().map((f) => path.join(TEST_DIR, f));
    log(`running ${files.map((f) => path.relative(ROOT, f)).join(", ")} against ${stack.url}...\n`);
    const code = await runTests(files, contextFile);
    interrupt.signal.throwIfAborted();
    const shots = readdirSync(ARTIFACTS).filter((f) => f.endsWith(".png"));
    console.log("");
    log(`screenshots (${shots.length}) in ${rel(ARTIFACTS)}: ${shots.join(", ") || "none"}`);
    if (code !== 0) log(`UI tests FAILED (node --test exited with ${code}); the stack's log is ${rel(stack.logFile)}`);
    else log("UI tests passed");
    return code;
  } finally {
    log("stopping Chromium and the local stack...");
    await browserServer?.close().catch(() => {});
    await stopAll();
    rmSync(tmpDir, { recursive: true, force: true });
  }
}

function checkPrerequisites() {
  try {
    accessSync(CHROMIUM, constants.X_OK);
  } catch {
    throw new SetupError(`Chromium not found at ${CHROMIUM}: install the Debian chromium package (sudo apt-get install chromium; .ci/run does it) or set CHROMIUM_PATH`);
  }
  if (!existsSync(path.join(TESTDATA, "pprof"))) {
    throw new SetupError(`the shared test corpus is not at ${TESTDATA}: set TESTDATA_DIR to the shared testdata folder`);
  }
}

/**
 * Polls until the catalog lists every service with its profile types (what the dashboard's
 * pickers offer) and each CPU service's flame graph totals what was sent: tests that start
 * earlier would fail on a half-ingested state rather than on the dashboard.
 */
async function waitUntilQueryable(stack, expected) {
  log("waiting for the profiles to be flushed and queryable...");
  const names = [...CPU_SERVICES.map((s) => s.service), PYSPY_SERVICE.service];
  const started = Date.now();
  let missing = names.map((n) => `${n}: not in /api/services`);
  while (Date.now() - started < QUERYABLE_TIMEOUT_MS) {
    interrupt.signal.throwIfAborted();
    const listed = new Map(((await getJson(stack.url, "/api/services")).services ?? []).map((s) => [s.service, s]));
    const now = Date.now();
    missing = [];
    for (const name of names) {
      if (!listed.get(name)?.profileTypes?.length) {
        missing.push(`${name}: ${listed.has(name) ? "no profile types in the catalog yet" : "not in /api/services"}`);
        continue;
      }
      if (expected[name] === undefined) continue;
      const selection = { profileTypeID: CPU_TYPE, labelSelector: `{service_name="${name}"}`, start: now - 3_600_000, end: now };
      const total = BigInt((await rpc(stack.url, "SelectMergeStacktraces", selection)).flamegraph?.total ?? "0");
      if (total !== expected[name]) missing.push(`${name}: ${CPU_TYPE} totals ${total}, ${expected[name]} sent`);
    }
    if (missing.length === 0) {
      log(`all ${names.length} services queryable after ${((Date.now() - started) / 1000).toFixed(1)} s`);
      return;
    }
    await sleep(500);
  }
  throw new SetupError(
    `the ingested profiles are not all queryable after ${QUERYABLE_TIMEOUT_MS / 1000} s:\n  ${missing.join("\n  ")}\n` +
      `This is the service, not the dashboard: run npm test's vitest suite; stack log ${rel(stack.logFile)}`,
  );
}

function runTests(files, contextFile) {
  const args = ["--test", "--test-reporter=spec", "--test-concurrency=1", ...process.argv.slice(2), ...files];
  testRun = spawn(process.execPath, args, { cwd: ROOT, stdio: "inherit", env: { ...process.env, UI_CONTEXT: contextFile } });
  return new Promise((resolve) => testRun.once("exit", (code, signal) => resolve(code ?? (signal ? 1 : 0))));
}

// Ctrl-C: stop the tests, then Chromium and the stack on the way out of main(); a second Ctrl-C
// kills them at once.
for (const sig of ["SIGINT", "SIGTERM"]) {
  process.on(sig, () => {
    if (interrupt.signal.aborted) {
      killAllSync();
      process.exit(130);
    }
    console.error(`\n[ui-test] ${sig}: stopping the tests, Chromium and the local stack (again to kill them at once)...`);
    interrupt.abort(new Error(`interrupted by ${sig}`));
    testRun?.kill(sig);
  });
}
process.on("exit", killAllSync);

main().then(
  (code) => process.exit(interrupt.signal.aborted ? 130 : code),
  async (err) => {
    if (interrupt.signal.aborted) {
      console.error("[ui-test] interrupted; Chromium and the local stack stopped");
      process.exit(130);
    }
    const expectedFailure = err instanceof SetupError || err?.name === "BenchError";
    console.error(`\n[ui-test] setup failed: ${expectedFailure ? err.message : (err?.stack ?? err)}`);
    await stopAll();
    process.exit(1);
  },
);
