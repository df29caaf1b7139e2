// Inputs the fuzzer (npm run fuzz) found answered with a 5xx, a reset, a hang or a runtime
// restart, replayed through the Worker: each must now be refused with a 4xx (or, where accepting
// it is right, answered 2xx), and the refused ones must leave storage as it was. Small inputs are
// stored (test/fuzz-corpus/index.json, gzipped); large ones are regenerated from the run's seed
// and case number, and must come out byte for byte as they were found (sha256).
//
// A truncated upload (Content-Length larger than what the client sent before going away) reaches
// the Worker as a body stream that fails after the bytes sent; a chunked one as a stream without
// a length. Timing (the fuzzer's 5-s limit) is not checked here: `npm run fuzz -- --short` replays
// these same inputs against a local stack with its clock.

import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { gunzipSync } from "fflate";
import { beforeAll, describe, expect, it } from "vitest";
import { FILES, makeCase, type FuzzLimits } from "../scripts/fuzz/cases.mjs";
import worker from "../workers/index";
import regressions from "./fuzz-corpus/index.json";
import { flushAll, storageSnapshot } from "./setup/storage";
import { testdata } from "./setup/testdata";

interface Regression {
  name: string;
  seed: number;
  case: number;
  detail: string;
  found: string;
  expect: "4xx" | "2xx-or-4xx";
  method: string;
  path: string;
  headers: Record<string, string>;
  transport?: { kind: string; declared?: number; sent?: number };
  bodyGzipBase64?: string;
  regenerate?: { limits: FuzzLimits; bytes: number; sha256: string };
}

const entries = regressions as Regression[];

async function sha256(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function streamOf(bytes: Uint8Array, failAfter: boolean): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      for (let at = 0; at < bytes.length; at += 65536) controller.enqueue(bytes.slice(at, at + 65536));
      if (failAfter) controller.error(new Error("the client closed the connection before the whole body was sent"));
      else controller.close();
    },
  });
}

/** The request body as the Worker receives it. */
function bodyFor(e: Regression, bytes: Uint8Array): BodyInit {
  switch (e.transport?.kind) {
    case "truncate":
      return streamOf(bytes.subarray(0, e.transport.sent), true);
    case "understate":
      return bytes.slice(0, e.transport.declared);
    case "chunked":
      return streamOf(bytes, false);
    default:
      return bytes;
  }
}

describe("fuzz regressions", () => {
  let corpus: Map<string, Uint8Array>;
  beforeAll(async () => {
    corpus = new Map();
    if (entries.some((e) => e.regenerate)) for (const f of FILES) corpus.set(f, await testdata(f));
  });

  async function bytesOf(e: Regression): Promise<Uint8Array> {
    if (e.bodyGzipBase64) return gunzipSync(Uint8Array.from(atob(e.bodyGzipBase64), (c) => c.charCodeAt(0)));
    const c = makeCase(e.seed, e.case, corpus, e.regenerate!.limits);
    expect([c.path, c.body.length, await sha256(c.body)], "the regenerated case differs from the one found").toEqual([e.path, e.regenerate!.bytes, e.regenerate!.sha256]);
    return c.body;
  }

  async function replay(e: Regression): Promise<{ status: number; text: string }> {
    const bytes = await bytesOf(e);
    const url = `http://localhost${e.path}`;
    let res: Response;
    if (e.transport?.kind === "truncate") {
      // Through exports.default.fetch workerd ends a failing request stream quietly (the Worker
      // would read a short body); a client that goes away makes the Worker's read itself fail,
      // so the handler is called directly with such a request, its whole length declared.
      const headers = { ...e.headers, "Content-Length": String(bytes.length) };
      const ctx = createExecutionContext();
      const request = new Request<unknown, IncomingRequestCfProperties>(url, { method: e.method, headers, body: bodyFor(e, bytes) });
      res = await worker.fetch(request, env, ctx);
      await waitOnExecutionContext(ctx);
    } else {
      res = await exports.default.fetch(url, { method: e.method, headers: e.headers, body: bodyFor(e, bytes) });
    }
    return { status: res.status, text: await res.text() };
  }

  it("has regressions, each saying what the fuzzer found", () => {
    expect(entries.length).toBeGreaterThan(0);
    for (const e of entries) expect(e.found.length, e.name).toBeGreaterThan(0);
  });

  for (const e of entries.filter((x) => x.expect === "4xx")) {
    it(`refuses ${e.name} with a 4xx that says why, storing nothing`, async () => {
      await flushAll();
      const before = await storageSnapshot();
      const { status, text } = await replay(e);
      expect(Math.floor(status / 100), `${e.detail}; found: ${e.found}; answer ${status}: ${text.slice(0, 200)}`).toBe(4);
      expect(text.trim().length).toBeGreaterThan(5);
      await flushAll();
      expect(await storageSnapshot()).toEqual(before);
    });
  }

  for (const e of entries.filter((x) => x.expect === "2xx-or-4xx")) {
    it(`answers ${e.name} without a 5xx`, async () => {
      const { status, text } = await replay(e);
      expect(status >= 200 && status < 500, `${e.detail}; found: ${e.found}; answer ${status}: ${text.slice(0, 200)}`).toBe(true);
    });
  }
});
