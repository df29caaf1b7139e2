// Noticing that the runtime restarted. wrangler dev runs the Worker in a workerd process behind a
// second workerd (its proxy, on the public port); when the Worker's process dies (V8 out of heap,
// a fatal signal) wrangler starts a new one and the proxy answers 503 "restarted mid-request".
// Three signals, any of which counts: that answer (send.mjs), a new Worker process id, and the
// stack's log reporting a fatal error.

import { execFileSync } from "node:child_process";
import { closeSync, openSync, readFileSync, readSync, statSync } from "node:fs";
import { descendants, memOf } from "../bench/rss.mjs";

const FATAL = /V8 fatal error|Reached heap limit|JavaScript heap out of memory|Received signal #\d+|Segmentation fault|restarted mid-request|workerd exited/i;

function cmdline(pid) {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ");
  } catch {
    return "";
  }
}

/** Process ids of the workerd processes running the Worker (not wrangler's proxy on `port`). */
export function workerPids(stackPid, port) {
  return descendants(stackPid)
    .filter((p) => p.comm === "workerd" && !cmdline(p.pid).includes(`entry=127.0.0.1:${port} `))
    .map((p) => p.pid)
    .sort((a, b) => a - b);
}

/**
 * The Worker's own address, behind wrangler's proxy: the port of one of its processes that answers
 * /ready (found with iproute2's `ss`), or null. wrangler's proxy answers 503 "restarted mid-request"
 * whenever forwarding a request fails, which it does for any POST whose client sent less body than
 * it declared, before the Worker's own answer can reach the client.
 */
export async function workerUrl(pids) {
  let listing = "";
  try {
    listing = execFileSync("ss", ["-ltnpH"], { encoding: "utf8" });
  } catch {
    return null;
  }
  for (const line of listing.split("\n")) {
    const pid = /pid=(\d+)/.exec(line)?.[1];
    const port = /127\.0\.0\.1:(\d+)\s/.exec(line)?.[1];
    if (!pid || !port || !pids.includes(Number(pid))) continue;
    const url = `http://127.0.0.1:${port}`;
    try {
      const res = await fetch(`${url}/ready`, { signal: AbortSignal.timeout(2000) });
      if (res.ok && (await res.text()).trim() === "ready") return url;
    } catch {
      // Not an HTTP socket of the Worker's (the inspector, an internal service).
    }
  }
  return null;
}

export class RestartWatch {
  constructor(stack) {
    this.stack = stack;
    this.pids = workerPids(stack.pid, stack.port);
    this.logOffset = safeSize(stack.logFile);
  }

  /** Resident memory of the Worker's processes, bytes. */
  rss() {
    return this.pids.reduce((n, pid) => n + memOf(pid).rss, 0);
  }

  /** What changed since the last check: null, or a sentence saying how the runtime restarted. */
  check() {
    const reasons = [];
    const now = workerPids(this.stack.pid, this.stack.port);
    if (now.join(",") !== this.pids.join(",")) reasons.push(`worker process ${this.pids.join(",") || "none"} → ${now.join(",") || "none"}`);
    this.pids = now;
    const size = safeSize(this.stack.logFile);
    if (size > this.logOffset) {
      const text = readRange(this.stack.logFile, this.logOffset, Math.min(size, this.logOffset + (4 << 20)));
      this.logOffset = size;
      const line = text.split("\n").find((l) => FATAL.test(l));
      if (line) reasons.push(`log: ${line.replace(/\x1b\[[0-9;]*m/g, "").trim().slice(0, 200)}`);
    } else if (size < this.logOffset) this.logOffset = size;
    return reasons.length ? reasons.join("; ") : null;
  }
}

function safeSize(file) {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

function readRange(file, start, end) {
  const fd = openSync(file, "r");
  try {
    const buf = Buffer.alloc(end - start);
    readSync(fd, buf, 0, buf.length, start);
    return buf.toString("utf8");
  } finally {
    closeSync(fd);
  }
}
