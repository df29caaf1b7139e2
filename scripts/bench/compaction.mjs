// The compaction part of the query section: the same day written as a live service writes it, in
// many small flushes, queried before and after the compactor has merged each hour's blocks.
//
// A live shard flushes every 15 s, so its day is thousands of blocks of seconds each. Here the day's
// requests are replayed into a fresh state with FLUSH_MAX_AGE_MS at 100 ms and compaction off,
// which gives a few hundred blocks of minutes each; the 24-h flame graph is measured over them.
// Then the stack restarts on the same state with compaction on and no delay, one extra profile
// (after the day, so no total changes) wakes the shard's compactor, and once the block count has
// settled the same query is measured again. Both must answer the inputs' sum.

import path from "node:path";
import { runLoad } from "./load.mjs";
import { benchError, freePort, serviceArgs, startStack } from "./server.mjs";

const SMALL_FLUSH_VARS = ["RETENTION_SECONDS:0", "FLUSH_MAX_AGE_MS:100"];
/** Longest wait for the compactor to settle; the queries run regardless. */
const COMPACTION_MAX_WAIT_MS = 180_000;

/**
 * `h` holds the query section's helpers: checkIngest, flushedScope, measureQuery, waitForFlush, sleep. `flame` is the
 * 24-h flame graph query (with its expected total), `analyze` the AnalyzeQuery selector.
 */
export async function measureCompaction({ requestAt, profiles, maxSeconds, concurrency, readyTimeoutMs, tmpDir, logDir, service, flame, analyze, day, repeats, h, signal }) {
  const stateDir = path.join(tmpDir, "compaction-state");
  const start = async (name, vars) => {
    const port = await freePort();
    return startStack({
      name,
      args: serviceArgs(port, stateDir, vars),
      port,
      logFile: path.join(logDir, `${name}.log`),
      timeoutMs: readyTimeoutMs,
      signal,
    });
  };

  console.log(`\nCompaction: the same ${profiles} profiles in small flushes (${SMALL_FLUSH_VARS.join(" ")}, compaction off)...`);
  let stack = await start("compaction-before", [...SMALL_FLUSH_VARS, "COMPACTION_WINDOW_MS:0"]);
  let before;
  try {
    h.checkIngest(await runLoad({ baseUrl: stack.url, requestAt, concurrency, maxRequests: profiles, maxSeconds, signal }), stack);
    const flush = await h.waitForFlush(stack, analyze, day, 100, signal);
    before = { blocks: flush.blocks, blockBytes: flush.blockBytes, flame: await h.measureQuery(stack, flame, repeats, signal) };
  } finally {
    await stack.stop();
  }

  console.log("\nRestarting on the same state with compaction on (COMPACTION_DELAY_MS:0)...");
  stack = await start("compaction-after", [...SMALL_FLUSH_VARS, "COMPACTION_DELAY_MS:0"]);
  let after;
  try {
    const wake = await fetch(`${stack.url}/ingest?name=${encodeURIComponent(`${service}.cpu`)}&from=${Math.floor(Date.now() / 1000)}&format=folded`, {
      method: "POST",
      body: "bench;compaction;wake 1\n",
      signal,
    });
    if (wake.status !== 200) throw benchError(`compaction phase: the wake-up profile got HTTP ${wake.status}: ${await wake.text()}`);
    const settled = await settle(stack, analyze, day, before.blocks, h, signal);
    after = { ...settled, flame: await h.measureQuery(stack, flame, repeats, signal) };
  } finally {
    await stack.stop();
  }
  return { vars: SMALL_FLUSH_VARS, before, after };
}

/** Polls AnalyzeQuery until the day's block count has dropped and then held for two polls. */
async function settle(stack, analyze, day, initial, h, signal) {
  const started = Date.now();
  let previous = initial;
  let steady = 0;
  let scope = {};
  console.log(`  waiting for the compactor (${initial} blocks before)...`);
  while (Date.now() - started < COMPACTION_MAX_WAIT_MS) {
    await h.sleep(2000, signal);
    scope = await h.flushedScope(stack, analyze, day, signal);
    const blocks = Number(scope.blockCount ?? 0);
    steady = blocks < initial && blocks === previous ? steady + 1 : 0;
    console.log(`  ${((Date.now() - started) / 1000).toFixed(0)} s: ${blocks} blocks`);
    previous = blocks;
    if (steady >= 2) break;
  }
  return { seconds: (Date.now() - started) / 1000, settled: steady >= 2, blocks: previous, blockBytes: Number(scope.profileBytes ?? 0) };
}
