// Closed-loop load: C connections each send the next request of the workload as soon as their
// previous one is fully answered, until `maxRequests` were sent or `maxSeconds` have passed.
// Loopback HTTP/1.1 with keep-alive (node:http), one socket per worker.

import http from "node:http";

const SERVER_TIMING = /(?:^|,)\s*[\w-]+;(?:[^,]*;)?\s*dur=([\d.]+)/;
/** The duration of one named Server-Timing phase (the service reports `decode` and `store`). */
const phase = (timing, name) => {
  const m = timing && new RegExp(`(?:^|,)\\s*${name};(?:[^,]*;)?\\s*dur=([\\d.]+)`).exec(timing);
  return m ? Number(m[1]) : null;
};

/** Sends one request; resolves with its status, latency, Server-Timing dur and (for errors) body. */
export function send(agent, baseUrl, req, timeoutMs = 60_000) {
  const url = new URL(req.path, baseUrl);
  return new Promise((resolve) => {
    const t0 = performance.now();
    const done = (r) =>
      resolve({ i: req.i, id: req.item.id, rawBytes: req.rawBytes, bodyBytes: req.body.length, startMs: t0, ...r });
    const r = http.request(
      url,
      {
        method: "POST",
        agent,
        headers: { "Content-Type": req.contentType, "Content-Length": req.body.length },
        timeout: timeoutMs,
      },
      (res) => {
        const chunks = [];
        let kept = 0;
        res.on("data", (c) => {
          if (kept < 4096) chunks.push(c);
          kept += c.length;
        });
        res.on("end", () => {
          const timing = res.headers["server-timing"];
          const m = timing && SERVER_TIMING.exec(timing);
          done({
            status: res.statusCode,
            latencyMs: performance.now() - t0,
            serverMs: m ? Number(m[1]) : null,
            decodeMs: phase(timing, "decode"),
            storeMs: phase(timing, "store"),
            error: res.statusCode === 200 ? null : Buffer.concat(chunks).toString("utf8").slice(0, 500),
          });
        });
        res.on("error", (e) => done({ status: 0, latencyMs: performance.now() - t0, serverMs: null, error: e.message }));
      },
    );
    r.on("timeout", () => r.destroy(new Error(`no answer within ${timeoutMs / 1000} s`)));
    r.on("error", (e) => done({ status: 0, latencyMs: performance.now() - t0, serverMs: null, error: e.message }));
    r.end(req.body);
  });
}

/**
 * Runs the load. `requestAt(i)` gives request i; with `intervalMs`, request i waits until
 * i × intervalMs into the load (at most `concurrency` in flight still). Returns { results (in completion order),
 * wallSeconds, sent }. `onProgress(done, total, elapsedSeconds)` is called about every second.
 */
export async function runLoad({ baseUrl, requestAt, concurrency, maxRequests, maxSeconds, onProgress, signal, intervalMs = 0 }) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency, maxFreeSockets: concurrency });
  const results = [];
  let next = 0;
  const t0 = performance.now();
  const elapsed = () => (performance.now() - t0) / 1000;
  const progress = onProgress && setInterval(() => onProgress(results.length, maxRequests, elapsed()), 1000);
  const worker = async () => {
    while (next < maxRequests && elapsed() < maxSeconds && !signal?.aborted) {
      const k = next++;
      // Paced: request k is not sent before k × intervalMs into the load (0 = as fast as answered).
      const wait = k * intervalMs - (performance.now() - t0);
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const req = requestAt(k);
      const r = await send(agent, baseUrl, req);
      r.startMs -= t0; // relative to the start of the load
      results.push(r);
    }
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, worker));
  } finally {
    if (progress) clearInterval(progress);
    agent.destroy();
  }
  signal?.throwIfAborted();
  const wallSeconds = elapsed();
  onProgress?.(results.length, maxRequests, wallSeconds, true);
  return { results, wallSeconds, sent: next };
}

/** Sends `requests` at `concurrency` (for warm-up and validation); results in request order. */
export async function sendEach(baseUrl, requests, concurrency = 1, signal) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const out = new Array(requests.length);
  let next = 0;
  const worker = async () => {
    while (next < requests.length && !signal?.aborted) {
      const k = next++;
      out[k] = await send(agent, baseUrl, requests[k]);
    }
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, worker));
  } finally {
    agent.destroy();
  }
  signal?.throwIfAborted();
  return out;
}

/** A lost push: a 5xx, or no answer at all (reset, closed socket, timeout). */
export const isFailure = (r) => r.status === 0 || r.status >= 500;

/** Percentile (nearest-rank) of an array of numbers. */
export function percentile(values, p) {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}
