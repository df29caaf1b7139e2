// Sending a case and classifying the answer. Ordinary requests go through one keep-alive
// connection (a request that leaves it unusable shows up on the next case); the lying
// Content-Length cases write HTTP/1.1 by hand on a raw socket.

import http from "node:http";
import net from "node:net";

/** Outcomes that fail a run. */
export const FAILING = new Set(["5xx", "reset", "hang", "restart"]);

const guarded = new WeakSet();
let agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

/**
 * The outcome of an answer: 2xx, 4xx, unimplemented (Connect's code for a request encoding it does
 * not support, allowed), restart (wrangler's 503 for a runtime that died mid-request) or 5xx.
 */
export function classify(status, body) {
  if (status >= 200 && status < 300) return "2xx";
  if (status >= 400 && status < 500) return "4xx";
  if (status === 503 && /restarted mid-request/i.test(body)) return "restart";
  if (status === 501 && /"code"\s*:\s*"unimplemented"/.test(body)) return "unimplemented";
  return status >= 500 ? "5xx" : `${Math.floor(status / 100)}xx`;
}

function errorOutcome(err) {
  const code = err?.code ?? "";
  if (code === "ECONNRESET" || code === "EPIPE" || /socket hang up/.test(err?.message ?? "")) return "reset";
  if (code === "ECONNREFUSED") return "refused";
  return "error";
}

/** Sends case `c` to `base` (http://host:port); resolves { outcome, status, ms, answer }. */
export function send(base, c, timeoutMs) {
  if (c.transport?.kind === "understate" || c.transport?.kind === "truncate") return sendRaw(base, c, timeoutMs);
  const url = new URL(c.path, base);
  const started = performance.now();
  return new Promise((resolve) => {
    let settled = false;
    const done = (r) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ ms: performance.now() - started, ...r });
    };
    const headers = { ...c.headers };
    if (c.transport?.kind !== "chunked") headers["Content-Length"] = String(c.body.length);
    const req = http.request(url, { method: c.method, headers, agent }, (res) => {
      const chunks = [];
      let size = 0;
      res.on("data", (d) => {
        if (size < 65536) chunks.push(d);
        size += d.length;
      });
      res.on("end", () => {
        const answer = Buffer.concat(chunks).toString("utf8");
        done({ outcome: classify(res.statusCode, answer), status: res.statusCode, answer: answer.slice(0, 300) });
      });
      res.on("error", (err) => done({ outcome: errorOutcome(err), error: err.message }));
    });
    const timer = setTimeout(() => {
      req.destroy();
      done({ outcome: "hang", error: `no complete answer within ${timeoutMs} ms` });
    }, timeoutMs);
    // A server may answer (400, 413) and close before a large body is written: the answer counts.
    // The write then fails on a socket already handed back to the keep-alive pool, where an error
    // without a listener would end this process.
    req.on("socket", (socket) => {
      if (!guarded.has(socket)) socket.on("error", () => {});
      guarded.add(socket);
    });
    req.on("error", (err) => setTimeout(() => done({ outcome: errorOutcome(err), error: `${err.code ?? ""} ${err.message}` }), 50));
    if (c.transport?.kind === "chunked") {
      for (let at = 0; at < c.body.length; at += 1 << 20) req.write(c.body.subarray(at, at + (1 << 20)));
      req.end();
    } else req.end(c.body);
  });
}

/**
 * A request whose Content-Length lies: "understate" declares fewer bytes than follow (the rest
 * reaches the server as the start of a next request); "truncate" declares the whole body, sends
 * part of it and half-closes. The first answer decides; a close without one is "closed".
 */
function sendRaw(base, c, timeoutMs) {
  const url = new URL(c.path, base);
  const started = performance.now();
  return new Promise((resolve) => {
    const socket = net.connect(Number(url.port), url.hostname);
    let buf = Buffer.alloc(0);
    let settled = false;
    const done = (r) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ ms: performance.now() - started, ...r });
    };
    const timer = setTimeout(() => done({ outcome: "hang", error: `no complete answer within ${timeoutMs} ms` }), timeoutMs);
    const declared = c.transport.kind === "understate" ? c.transport.declared : c.body.length;
    const head =
      `${c.method} ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\nConnection: keep-alive\r\n` +
      Object.entries(c.headers)
        .map(([k, v]) => `${k}: ${v}\r\n`)
        .join("") +
      `Content-Length: ${declared}\r\n\r\n`;
    socket.on("connect", () => {
      socket.write(head);
      if (c.transport.kind === "understate") socket.write(c.body);
      else socket.end(c.body.subarray(0, c.transport.sent));
    });
    socket.on("data", (d) => {
      buf = Buffer.concat([buf, d]);
      const r = parseResponse(buf);
      if (r) done({ outcome: classify(r.status, r.body), status: r.status, answer: r.body.slice(0, 300) });
    });
    socket.on("error", (err) => done({ outcome: errorOutcome(err), error: `${err.code ?? ""} ${err.message}` }));
    socket.on("close", () => {
      const r = parseResponse(buf, true);
      if (r) done({ outcome: classify(r.status, r.body), status: r.status, answer: r.body.slice(0, 300) });
      else done({ outcome: "closed", error: `connection closed after ${buf.length} bytes, no complete answer` });
    });
  });
}

/** The first HTTP response in `buf` once complete (or, at `eof`, whatever body there is). */
function parseResponse(buf, eof = false) {
  const end = buf.indexOf("\r\n\r\n");
  if (end < 0) return null;
  const head = buf.subarray(0, end).toString("latin1");
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(head);
  if (!m) return null;
  const body = buf.subarray(end + 4);
  const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
  if (length) {
    if (body.length < Number(length[1]) && !eof) return null;
    return { status: Number(m[1]), body: body.subarray(0, Number(length[1])).toString("utf8") };
  }
  if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) {
    const text = body.toString("latin1");
    if (!text.includes("0\r\n\r\n") && !eof) return null;
    return { status: Number(m[1]), body: text.replace(/^[0-9a-f]+\r\n/gim, "") };
  }
  return { status: Number(m[1]), body: body.toString("utf8") };
}

/** Drops the keep-alive connection (after a hang or a restart, so the next case starts clean). */
export function resetConnections() {
  agent.destroy();
  agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
}
