// GET /pyroscope/render?format=pprof: the command-line pprof export (README "Querying"). The
// answer must be a gzipped pprof file that an independent decoder (pprof-format) reads back to the
// golden stacks of the corpus profile that was ingested, and the same profile SelectMergeProfile
// returns.

import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { exports } from "cloudflare:workers";
import { Profile } from "pprof-format";
import { beforeAll, describe, expect, it } from "vitest";
import { ProfileSchema } from "../workers/gen/google/v1/profile_pb";
import { SelectMergeProfileRequestSchema } from "../workers/gen/querier/v1/querier_pb";
import { collapsePprof, ingestProfile } from "./setup/query";
import { plain, testdata, testdataText } from "./setup/testdata";

const SERVICE = "pprof-export/cpu-exemplars";
const CPU = "process_cpu:cpu:nanoseconds:cpu:nanoseconds";
const GOLDEN = "expected/cpu-exemplars.pb.gz.cpu.nanoseconds.collapsed";

async function gunzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

describe("render?format=pprof", () => {
  let range: { from: string; until: string };

  beforeAll(async () => {
    const bytes = await testdata("pprof/cpu-exemplars.pb.gz");
    const ms = Number(BigInt(Profile.decode(plain(bytes)).timeNanos) / 1_000_000n);
    range = { from: String(ms - 60_000), until: String(ms + 60_000) };
    await ingestProfile(bytes, { name: SERVICE });
  });

  async function exportPprof(params: Record<string, string>): Promise<{ res: Response; file: Uint8Array }> {
    const res = await exports.default.fetch(`http://localhost/pyroscope/render?${new URLSearchParams({ format: "pprof", ...params })}`);
    return { res, file: new Uint8Array(await res.arrayBuffer()) };
  }

  it("is a gzipped pprof file holding the golden stacks", async () => {
    const { res, file } = await exportPprof({ query: `${CPU}{service_name="${SERVICE}"}`, ...range });
    expect(res.status).toBe(200);
    expect(res.headers.get("Content-Type")).toBe("application/octet-stream");
    // A file format, not a transfer encoding: clients save the gzip bytes as they come.
    expect(res.headers.get("Content-Encoding")).toBeNull();
    expect([file[0], file[1]]).toEqual([0x1f, 0x8b]);
    const pprof = await gunzip(file);
    const decoded = Profile.decode(pprof);
    const names = decoded.stringTable.strings;
    expect(decoded.sampleType.map((t) => `${names[Number(t.type)]}/${names[Number(t.unit)]}`)).toEqual(["cpu/nanoseconds"]);
    expect(collapsePprof(pprof, 0)).toBe(await testdataText(GOLDEN));

    // The same profile as Grafana's pprof download (SelectMergeProfile, binary protobuf).
    const rpc = await exports.default.fetch("http://localhost/querier.v1.QuerierService/SelectMergeProfile", {
      method: "POST",
      headers: { "Content-Type": "application/proto", "Connect-Protocol-Version": "1" },
      body: toBinary(
        SelectMergeProfileRequestSchema,
        create(SelectMergeProfileRequestSchema, {
          profileTypeID: CPU,
          labelSelector: `{service_name="${SERVICE}"}`,
          start: BigInt(range.from),
          end: BigInt(range.until),
        }),
      ),
    });
    expect(rpc.status).toBe(200);
    const fromRpc = fromBinary(ProfileSchema, new Uint8Array(await rpc.arrayBuffer()));
    expect(fromBinary(ProfileSchema, pprof)).toEqual(fromRpc);
  });

  it("an empty selection is a valid pprof without samples", async () => {
    const { res, file } = await exportPprof({ query: `${CPU}{service_name="no-such-service"}`, ...range });
    expect(res.status).toBe(200);
    const decoded = Profile.decode(await gunzip(file));
    expect(decoded.sample).toHaveLength(0);
  });

  it("refuses a query without a profile type with 400 and the reason", async () => {
    const { res, file } = await exportPprof({ query: `{service_name="${SERVICE}"}` });
    expect(res.status).toBe(400);
    const body = JSON.parse(new TextDecoder().decode(file)) as { code: string; message: string };
    expect(body.code).toBe("invalid_argument");
    expect(body.message).toContain("profile-type");
  });
});
