// Query answers are compressed only for clients that asked for gzip. Behind Cloudflare's edge (and
// wrangler dev) every request reaches the Worker saying "Accept-Encoding: br, gzip" and the
// client's own header is in `cf.clientAcceptEncoding`; here both shapes are sent, on Connect JSON,
// Connect binary and the legacy render, over a corpus profile whose answers exceed Connect's
// compression threshold.

import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { exports } from "cloudflare:workers";
import { Profile } from "pprof-format";
import { beforeAll, describe, expect, it } from "vitest";
import { acceptsGzip } from "../workers/http/encoding";
import { SelectMergeStacktracesRequestSchema, SelectMergeStacktracesResponseSchema } from "../workers/gen/querier/v1/querier_pb";
import { ingestProfile } from "./setup/query";
import { plain, testdata } from "./setup/testdata";

const SERVICE = "encoding/heap";
const TYPE = "memory:inuse_space:bytes:space:bytes";
/** @connectrpc/connect's default: smaller answers are never compressed. */
const CONNECT_COMPRESS_MIN_BYTES = 1024;

interface Client {
  what: string;
  headers: Record<string, string>;
  cf?: { clientAcceptEncoding?: string; country?: string };
  gzip: boolean;
}

/** What the Worker sees from each client: direct, and behind the edge (header rewritten, cf set). */
const CLIENTS: Client[] = [
  { what: "no Accept-Encoding", headers: {}, gzip: false },
  { what: "gzip", headers: { "Accept-Encoding": "gzip" }, gzip: true },
  { what: "gzip;q=0, identity", headers: { "Accept-Encoding": "gzip;q=0, identity" }, gzip: false },
  { what: "br only", headers: { "Accept-Encoding": "br" }, gzip: false },
  { what: "curl behind the edge", headers: { "Accept-Encoding": "br, gzip" }, cf: { clientAcceptEncoding: "" }, gzip: false },
  { what: "curl --compressed behind the edge", headers: { "Accept-Encoding": "br, gzip" }, cf: { clientAcceptEncoding: "deflate, gzip, br, zstd" }, gzip: true },
  { what: "q=0 behind the edge", headers: { "Accept-Encoding": "br, gzip" }, cf: { clientAcceptEncoding: "gzip;q=0" }, gzip: false },
  { what: "behind the edge, client's header not reported", headers: { "Accept-Encoding": "br, gzip" }, cf: { country: "PT" }, gzip: false },
];

describe("response compression follows the client's Accept-Encoding", () => {
  let range: { start: number; end: number };

  beforeAll(async () => {
    // heap.pb.gz: 1150 samples, 507 functions; its flame graph is tens of KiB.
    const bytes = await testdata("pprof/heap.pb.gz");
    const ms = Number(BigInt(Profile.decode(plain(bytes)).timeNanos) / 1_000_000n);
    range = { start: ms - 60_000, end: ms + 60_000 };
    await ingestProfile(bytes, { name: SERVICE });
  });

  async function call(path: string, client: Client, init: RequestInit = {}): Promise<{ encoding: string | null; body: Uint8Array; status: number }> {
    const res = await exports.default.fetch(`http://localhost${path}`, {
      ...init,
      headers: { ...(init.headers as Record<string, string>), ...client.headers },
      ...(client.cf ? { cf: client.cf } : {}),
    });
    // The runtime's fetch inflates a gzip Content-Encoding, so the body reads the same either way.
    return { encoding: res.headers.get("Content-Encoding"), body: new Uint8Array(await res.arrayBuffer()), status: res.status };
  }

  const mergeRequest = () => ({ profileTypeID: TYPE, labelSelector: `{service_name="${SERVICE}"}`, start: BigInt(range.start), end: BigInt(range.end) });

  it("Connect JSON", async () => {
    const json = JSON.stringify({ profileTypeID: TYPE, labelSelector: `{service_name="${SERVICE}"}`, start: String(range.start), end: String(range.end) });
    const answers: string[] = [];
    for (const client of CLIENTS) {
      const res = await call("/querier.v1.QuerierService/SelectMergeStacktraces", client, { method: "POST", headers: { "Content-Type": "application/json" }, body: json });
      expect([client.what, res.status, res.encoding]).toEqual([client.what, 200, client.gzip ? "gzip" : null]);
      answers.push(new TextDecoder().decode(res.body));
    }
    expect(answers[0].length).toBeGreaterThan(CONNECT_COMPRESS_MIN_BYTES);
    expect(Number(JSON.parse(answers[0]).flamegraph.total)).toBeGreaterThan(0);
    for (const a of answers) expect(a).toBe(answers[0]);
  });

  it("Connect binary protobuf", async () => {
    const body = toBinary(SelectMergeStacktracesRequestSchema, create(SelectMergeStacktracesRequestSchema, mergeRequest()));
    const totals: bigint[] = [];
    let size = 0;
    for (const client of CLIENTS) {
      const res = await call("/querier.v1.QuerierService/SelectMergeStacktraces", client, {
        method: "POST",
        headers: { "Content-Type": "application/proto", "Connect-Protocol-Version": "1" },
        body,
      });
      expect([client.what, res.status, res.encoding]).toEqual([client.what, 200, client.gzip ? "gzip" : null]);
      totals.push(fromBinary(SelectMergeStacktracesResponseSchema, res.body).flamegraph!.total);
      size = res.body.length;
    }
    expect(size).toBeGreaterThan(CONNECT_COMPRESS_MIN_BYTES);
    expect(totals[0]).toBeGreaterThan(0n);
    expect(new Set(totals).size).toBe(1);
  });

  it("legacy render: never compressed by the Worker (the edge compresses JSON for clients that accept it)", async () => {
    const q = new URLSearchParams({ query: `${TYPE}{service_name="${SERVICE}"}`, from: String(range.start), until: String(range.end) });
    const answers: string[] = [];
    for (const client of CLIENTS) {
      const res = await call(`/pyroscope/render?${q}`, client);
      expect([client.what, res.status, res.encoding]).toEqual([client.what, 200, null]);
      answers.push(new TextDecoder().decode(res.body));
    }
    expect(JSON.parse(answers[0]).flamebearer.numTicks).toBeGreaterThan(0);
    for (const a of answers) expect(a).toBe(answers[0]);
  });

  it("reads Accept-Encoding as RFC 9110 does", () => {
    const cases: [string | null, boolean][] = [
      [null, false],
      ["", false],
      ["identity", false],
      ["gzip", true],
      ["GZIP", true],
      ["x-gzip", true],
      ["deflate, gzip;q=0.5", true],
      ["gzip;q=0", false],
      ["gzip; q=0.000", false],
      ["gzip;q=0.001", true],
      ["*", true],
      ["*;q=0", false],
      ["*, gzip;q=0", false],
      ["gzip;q=0, *", false],
      ["br;q=1, *;q=0.1", true],
      ["gzip;q=2", false],
      ["gzip;q=abc", false],
      ["br, deflate", false],
    ];
    for (const [header, want] of cases) expect([header, acceptsGzip(header)]).toEqual([header, want]);
  });
});
