// Sending a case and classifying the answer. Every case is written as HTTP/1.1 by hand on a
// socket of its own, so that a lying Content-Length can be sent at all, and so that an answer the
// server gives before it has read the whole body (413 on an oversized upload) is still read when
// the rest of the body can no longer be written: Node's HTTP client reports the failed write
// instead, which would count a correct early refusal as a reset.

import net from "node:net";

/** Outcomes that fail a run. */
export const FAILING = new Set(["5xx", "reset", "hang", "restart"]);

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

/**
 * Sends case `c` to `base` (http://host:port); resolves { outcome, status, ms, answer|error }.
 * Transports: none (Content-Length true), "chunked" (no Content-Length), "understate" (declares
 * fewer bytes than follow: the rest reaches the server as the start of a next request) and
 * "truncate" (declares the whole body, sends part of it and half-closes). The first answer
 * decides; a connection closed without one is "closed", or "reset" when it was reset.
 */
export function send(base, c, timeoutMs) {
  const url = new URL(c.path, base);
  const started = performance.now();
  const kind = c.transport?.kind;
  return new Promise((resolve) => {
    const socket = net.connect(Number(url.port), url.hostname);
    let buf = Buffer.alloc(0);
    let settled = false;
    let writeError = null;
    const done = (r) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ ms: performance.now() - started, ...r });
    };
    let first = null;
    const answered = (eof) => {
      if (first) {
        // The keep-alive probe: any answer, or the server closing, is fine.
        if (eof || parseResponse(buf.subarray(first.end), false)) done(first.result);
        return true;
      }
      const r = parseResponse(buf, eof);
      if (!r) return null;
      const result = { outcome: classify(r.status, r.body), status: r.status, answer: r.body.slice(0, 300), ...(writeError ? { note: `body write failed: ${writeError}` } : {}) };
      // A connection the server keeps open must still serve the next request (a request can leave
      // it hanging although it was answered), so a keep-alive probe follows on the same socket.
      if (eof || kind === "understate" || kind === "truncate" || /\r\nconnection:\s*close/i.test(r.head)) done(result);
      else {
        first = { end: r.end, result };
        socket.write(`GET /ready HTTP/1.1\r\nHost: ${url.host}\r\n\r\n`, () => {});
        clearTimeout(timer);
        timer = setTimeout(() => done({ ...result, outcome: "hang", error: `answered ${r.status}, then the same connection left the next request (GET /ready) unanswered for ${timeoutMs} ms` }), timeoutMs);
      }
      return r;
    };
    let timer = setTimeout(() => done({ outcome: "hang", error: `no complete answer within ${timeoutMs} ms` }), timeoutMs);
    const length = kind === "chunked" ? "Transfer-Encoding: chunked" : `Content-Length: ${kind === "understate" ? c.transport.declared : c.body.length}`;
    const head =
      `${c.method} ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\n` +
      Object.entries(c.headers)
        .map(([k, v]) => `${k}: ${v}\r\n`)
        .join("") +
      `${length}\r\n\r\n`;
    socket.on("connect", () => {
      socket.write(head);
      if (kind === "truncate") socket.end(c.body.subarray(0, c.transport.sent));
      else if (kind === "chunked") {
        for (let at = 0; at < c.body.length; at += 1 << 20) {
          const chunk = c.body.subarray(at, at + (1 << 20));
          socket.write(`${chunk.length.toString(16)}\r\n`);
          socket.write(chunk);
          socket.write("\r\n");
        }
        socket.write("0\r\n\r\n");
      } else socket.write(c.body);
    });
    socket.on("data", (d) => {
      buf = Buffer.concat([buf, d]);
      answered(false);
    });
    socket.on("error", (err) => {
      // A refusal may be on its way (or already read) when the rest of the body cannot be written.
      writeError ??= `${err.code ?? ""} ${err.message}`.trim();
      if (!answered(true)) done({ outcome: err.code === "ECONNREFUSED" ? "refused" : "reset", error: writeError });
    });
    socket.on("close", () => {
      if (!answered(true)) done({ outcome: "closed", error: `connection closed after ${buf.length} bytes of answer, none complete` });
    });
  });
}

/** The first HTTP response in `buf` once complete (or, at `eof`, whatever body there is). */
function parseResponse(buf, eof) {
  const end = buf.indexOf("\r\n\r\n");
  if (end < 0) return null;
  const head = buf.subarray(0, end).toString("latin1");
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(head);
  if (!m) return null;
  const body = buf.subarray(end + 4);
  const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
  const status = Number(m[1]);
  if (length) {
    if (body.length < Number(length[1]) && !eof) return null;
    return { status, head, end: end + 4 + Number(length[1]), body: body.subarray(0, Number(length[1])).toString("utf8") };
  }
  if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) {
    const chunks = [];
    let at = 0;
    for (;;) {
      const line = body.indexOf("\r\n", at);
      if (line < 0) break;
      const size = parseInt(body.subarray(at, line).toString("latin1"), 16);
      if (!(size >= 0) || line + 2 + size + 2 > body.length) break;
      if (size === 0) return { status, head, end: end + 4 + line + 4, body: Buffer.concat(chunks).toString("utf8") };
      chunks.push(body.subarray(line + 2, line + 2 + size));
      at = line + 2 + size + 2;
    }
    return eof ? { status, head, end: buf.length, body: Buffer.concat(chunks).toString("utf8") } : null;
  }
  // Neither length nor chunks: the body runs to the close.
  return eof ? { status, head, end: buf.length, body: body.toString("utf8") } : null;
}
