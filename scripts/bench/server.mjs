// Starting and stopping local stacks (`wrangler dev` and its workerd processes) for the bench.
// Each stack runs in its own process group so that it can be stopped as a whole: SIGINT to the
// group, SIGKILL after a grace period. Output goes to a log file, not through this process.

import { spawn } from "node:child_process";
import { closeSync, existsSync, openSync, readFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
export const WRANGLER = path.join(ROOT, "node_modules", "wrangler", "bin", "wrangler.js");

/** Stacks started and not yet stopped, so that exit paths can stop them. */
const live = new Set();

/** Ports handed out by this process: a stack may not have bound its port yet when the next is asked for. */
const handedOut = new Set();

/**
 * A TCP port that is free on 127.0.0.1 right now: any port, or with BENCH_PORTS=<lo>-<hi> the
 * first free one of that range (for machines where each user of the loopback has its own range).
 */
export async function freePort() {
  const range = /^(\d+)-(\d+)$/.exec(process.env.BENCH_PORTS ?? "");
  if (!range) return listenOnce(0);
  for (let p = Number(range[1]); p <= Number(range[2]); p++) {
    if (handedOut.has(p)) continue;
    try {
      await listenOnce(p);
      handedOut.add(p);
      return p;
    } catch {
      // in use: try the next
    }
  }
  throw benchError(`no free port left in BENCH_PORTS=${process.env.BENCH_PORTS}`);
}

function listenOnce(port) {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(port, "127.0.0.1", () => {
      const { port: bound } = srv.address();
      srv.close(() => resolve(bound));
    });
  });
}

/** An expected failure (bad setup, a stack that does not start): reported without a stack trace. */
export function benchError(message) {
  const err = new Error(message);
  err.name = "BenchError";
  return err;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The last `lines` lines of a file (for error messages). */
export function tail(file, lines = 25) {
  if (!existsSync(file)) return "";
  return readFileSync(file, "utf8")
    .replace(/\x1b\[[0-9;]*m/g, "")
    .split("\n")
    .filter((l) => l.trim())
    .slice(-lines)
    .join("\n");
}

/**
 * The arguments that run the whole service with scripts/start.mjs (dashboard build, D1
 * migrations, wrangler dev) on `port`, its local state in `stateDir`, with `--var NAME:VALUE`
 * settings on top of start.mjs's local defaults.
 */
export function serviceArgs(port, stateDir, vars = []) {
  return [path.join(ROOT, "scripts", "start.mjs"), "--port", String(port), "--persist-to", stateDir, ...vars.flatMap((v) => ["--var", v])];
}

/** BENCH_SERVICE_VARS: extra service settings for experiments, space-separated NAME:VALUE pairs. */
export function benchServiceVars() {
  return (process.env.BENCH_SERVICE_VARS ?? "").split(/\s+/).filter(Boolean);
}

/**
 * Spawns `node <args>` in ROOT as a new process group with output to `logFile`, then waits until
 * GET <readyPath> answers 200 (progress is printed while waiting; past `timeoutMs`, or when
 * `signal` aborts, the stack is stopped and this throws). Returns { name, pid, port, url, logFile, stop() }.
 */
export async function startStack({ name, args, port, logFile, readyPath = "/ready", timeoutMs = 120_000, env = {}, signal }) {
  // wrangler's default inspector port (9229) is shared by every stack on the machine; take one of ours.
  args = [...args, "--inspector-port", String(await freePort())];
  const fd = openSync(logFile, "w");
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    detached: true,
    stdio: ["ignore", fd, fd],
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", ...env },
  });
  closeSync(fd);
  const stack = {
    name,
    pid: child.pid,
    port,
    url: `http://127.0.0.1:${port}`,
    logFile,
    exited: null,
    exitPromise: new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal }))),
  };
  stack.exitPromise.then((e) => (stack.exited = e));
  stack.stop = () => stopStack(stack);
  live.add(stack);

  const started = Date.now();
  const tty = process.stdout.isTTY;
  let lastPrint = 0;
  for (;;) {
    const waited = (Date.now() - started) / 1000;
    if (stack.exited) {
      live.delete(stack);
      throw benchError(
        `${name} exited before it was ready (code ${stack.exited.code}, signal ${stack.exited.signal}); ` +
          `log ${logFile}:\n${tail(logFile)}`,
      );
    }
    if (signal?.aborted) {
      await stopStack(stack);
      signal.throwIfAborted();
    }
    if (waited * 1000 > timeoutMs) {
      await stopStack(stack);
      throw benchError(
        `${name} did not answer GET ${readyPath} with 200 within ${timeoutMs / 1000} s; log ${logFile}:\n${tail(logFile)}`,
      );
    }
    if (await isReady(stack.url + readyPath)) {
      if (tty) process.stdout.write("\r\x1b[K");
      console.log(`  ${name} ready on ${stack.url} after ${waited.toFixed(1)} s (pid ${stack.pid}, log ${path.relative(ROOT, logFile)})`);
      return stack;
    }
    if (tty) process.stdout.write(`\r  waiting for ${name} on ${stack.url}${readyPath} ... ${waited.toFixed(0)} s`);
    else if (waited - lastPrint >= 3) {
      lastPrint = waited;
      console.log(`  waiting for ${name} on ${stack.url}${readyPath} ... ${waited.toFixed(0)} s`);
    }
    await sleep(250);
  }
}

async function isReady(url) {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    await res.arrayBuffer();
    return res.status === 200;
  } catch {
    return false;
  }
}

function groupAlive(pgid) {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

function signalGroup(pgid, sig) {
  try {
    process.kill(-pgid, sig);
  } catch {
    // already gone
  }
}

/** SIGINT to the stack's process group; SIGKILL to whatever is left after `graceMs`. */
export async function stopStack(stack, graceMs = 8000) {
  if (!live.has(stack)) return;
  live.delete(stack);
  signalGroup(stack.pid, "SIGINT");
  const deadline = Date.now() + graceMs;
  while (groupAlive(stack.pid) && Date.now() < deadline) await sleep(100);
  if (groupAlive(stack.pid)) {
    console.log(`  ${stack.name}: still running ${graceMs / 1000} s after SIGINT, sending SIGKILL`);
    signalGroup(stack.pid, "SIGKILL");
    while (groupAlive(stack.pid)) await sleep(50);
  }
}

/** Stops every live stack (in parallel). */
export async function stopAll() {
  await Promise.all([...live].map((s) => stopStack(s)));
}

/** Last resort on process exit: synchronous SIGKILL to every live stack's group. */
export function killAllSync() {
  for (const s of live) signalGroup(s.pid, "SIGKILL");
  live.clear();
}
