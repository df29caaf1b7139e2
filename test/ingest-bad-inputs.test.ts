// Refusals on POST /ingest: each bad input gets its status and a JSON error, and storage is left
// exactly as it was.

import { env, exports } from "cloudflare:workers";
import { gzipSync } from "fflate";
import { beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../workers/config";
import { flushAll, multipart, storageSnapshot } from "./setup/storage";
import { testdata } from "./setup/testdata";

const config = loadConfig(env);

function ingest(query: string, body: BodyInit, contentType = "application/octet-stream"): Promise<Response> {
  return exports.default.fetch(`http://localhost/ingest?${query}`, {
    method: "POST",
    body,
    headers: { "Content-Type": contentType },
  });
}

describe("bad inputs on /ingest", () => {
  let cpu: Uint8Array;
  beforeAll(async () => {
    cpu = await testdata("pprof/cpu.pb.gz");
    // Something valid first, so "unchanged" is measured against non-empty storage.
    expect((await ingest("name=good&format=pprof", cpu)).status).toBe(200);
    await flushAll();
  });

  it("refuses each with its status and stores nothing", async () => {
    const tooManyLabels = Array.from({ length: config.MAX_LABEL_NAMES_PER_SERIES + 1 }, (_, i) => `l${i}=v`).join(",");
    const bomb = gzipSync(new Uint8Array(64 * 1024 * 1024));
    const notGzip = new Uint8Array([0x1f, 0x8b, 0x08, 0x00, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    const flipped = cpu.slice();
    flipped[40] ^= 0xff;
    const withPrev = multipart([
      { name: "profile", data: cpu },
      { name: "prev_profile", data: cpu },
    ]);
    const oversizedBody = new Uint8Array(config.INGESTION_BODY_LIMIT_BYTES + 1);
    const rawTooBig = new Uint8Array(config.MAX_PROFILE_SIZE_BYTES + 1).fill(0x0a);
    const cases: [string, () => Promise<Response>, number][] = [
      ["truncated gzip", () => ingest("name=bad&format=pprof", cpu.slice(0, cpu.length >> 1)), 422],
      ["claims gzip but is not", () => ingest("name=bad&format=pprof", notGzip), 422],
      ["corrupted deflate data", () => ingest("name=bad&format=pprof", flipped), 422],
      [`gzip bomb (${bomb.length} B → 64 MiB)`, () => ingest("name=bad&format=pprof", bomb), 422],
      ["profile over the decompressed limit", () => ingest("name=bad&format=pprof", rawTooBig), 422],
      ["body over the request limit", () => ingest("name=bad&format=pprof", oversizedBody), 413],
      ["not a pprof", () => ingest("name=bad&format=pprof", new TextEncoder().encode("hello world")), 422],
      ["empty pprof", () => ingest("name=bad&format=pprof", new Uint8Array(0)), 422],
      ["too many labels", () => ingest(`name=bad{${tooManyLabels}}&format=pprof`, cpu), 422],
      ["invalid label name", () => ingest("name=bad{bad-key=v}&format=pprof", cpu), 400],
      ["invalid service name", () => ingest("name=bad%20app!&format=pprof", cpu), 400],
      ["missing name", () => ingest("format=pprof", cpu), 400],
      ["invalid UTF-8 in the profile", async () => ingest("name=bad&format=pprof", await testdata("pprof/invalid_utf8.pb.gz")), 422],
      ["unknown format (read as collapsed text, per Pyroscope; a gzipped pprof is not UTF-8 text)", () => ingest("name=bad&format=xml", cpu), 422],
      ["prev_profile (cumulative Go SDK)", () => ingest("name=bad", withPrev.body, withPrev.contentType), 422],
      ["multipart without boundary", () => ingest("name=bad", cpu, "multipart/form-data"), 422],
    ];
    const before = await storageSnapshot();
    for (const [what, send, status] of cases) {
      const res = await send();
      const body = await res.text();
      expect([what, res.status, body]).toEqual([what, status, body]);
      expect(res.headers.get("content-type")).toContain("application/json");
      const err = JSON.parse(body) as { code: string; message: string };
      expect(err.message.length).toBeGreaterThan(5);
      expect(err.code).toMatch(/^[a-z_]+$/);
    }
    await flushAll();
    expect(await storageSnapshot()).toEqual(before);
  });

  it("accepts a multipart upload without a profile as a no-op", async () => {
    const before = await storageSnapshot();
    const { body, contentType } = multipart([{ name: "other", data: new Uint8Array([1]) }]);
    expect((await ingest("name=noop", body, contentType)).status).toBe(200);
    expect(await storageSnapshot()).toEqual(before);
  });

  it("only accepts POST", async () => {
    const res = await exports.default.fetch("http://localhost/ingest?name=x");
    expect(res.status).toBe(405);
  });
});
