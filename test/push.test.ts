// push.v1.PusherService/Push as Alloy (binary, Connect header), pyroscope-rs (gzipped request, no
// Connect header) and JSON clients send it.

import { create, toBinary, toJsonString } from "@bufbuild/protobuf";
import { exports } from "cloudflare:workers";
import { gzipSync } from "fflate";
import { Profile } from "pprof-format";
import { beforeAll, describe, expect, it } from "vitest";
import { PushRequestSchema } from "../workers/gen/push/v1/push_pb";
import { flushAll, storageSnapshot, storedSeries, type StoredSeries } from "./setup/storage";
import { testdataPlain } from "./setup/testdata";

interface Variant {
  name: string;
  codec: "proto" | "json";
  gzipRequest: boolean;
  gzipProfile: boolean;
  connectHeader: boolean;
}

const VARIANTS: Variant[] = [
  { name: "alloy", codec: "proto", gzipRequest: false, gzipProfile: true, connectHeader: true },
  { name: "pyroscope-rs", codec: "proto", gzipRequest: true, gzipProfile: false, connectHeader: false },
  { name: "json", codec: "json", gzipRequest: false, gzipProfile: false, connectHeader: true },
  { name: "json-gzip", codec: "json", gzipRequest: true, gzipProfile: true, connectHeader: false },
];

const FILES = ["cpu.pb.gz", "heap.pb.gz", "profile_rust", "single_group_with_optional_span_id.pb.gz"];

async function rawProfile(file: string, gzip: boolean): Promise<Uint8Array> {
  const bytes = await testdataPlain(`pprof/${file}`);
  return gzip ? gzipSync(bytes) : bytes;
}

/** Σ of each sample type of a pprof, computed from the file itself. */
async function totalsOf(file: string): Promise<Map<string, number>> {
  const p = Profile.decode(await testdataPlain(`pprof/${file}`));
  const str = (i: number | bigint) => p.stringTable.strings[Number(i)];
  const out = new Map<string, number>();
  p.sampleType.forEach((st, i) => {
    let t = 0;
    for (const s of p.sample) t += Number(s.value[i]);
    out.set(`${str(st.type)}/${str(st.unit)}`, t);
  });
  return out;
}

export async function push(
  v: Pick<Variant, "codec" | "gzipRequest" | "connectHeader">,
  series: { labels: [string, string][]; profiles: Uint8Array[] }[],
): Promise<Response> {
  const msg = create(PushRequestSchema, {
    series: series.map((s) => ({
      labels: s.labels.map(([name, value]) => ({ name, value })),
      samples: s.profiles.map((rawProfile) => ({ rawProfile, ID: crypto.randomUUID() })),
    })),
  });
  let body: Uint8Array =
    v.codec === "proto" ? toBinary(PushRequestSchema, msg) : new TextEncoder().encode(toJsonString(PushRequestSchema, msg));
  const headers: Record<string, string> = { "Content-Type": v.codec === "proto" ? "application/proto" : "application/json" };
  if (v.gzipRequest) {
    body = gzipSync(body);
    headers["Content-Encoding"] = "gzip";
  }
  if (v.connectHeader) headers["Connect-Protocol-Version"] = "1";
  return exports.default.fetch("http://localhost/push.v1.PusherService/Push", { method: "POST", body, headers });
}

describe("Push", () => {
  let stored: StoredSeries[];
  const results: [string, number, string][] = [];

  beforeAll(async () => {
    for (const v of VARIANTS) {
      for (const file of FILES) {
        const res = await push(v, [
          {
            labels: [
              ["__name__", "process_cpu"],
              ["service_name", `push-${v.name}-${file}`],
              ["__delta__", "false"],
            ],
            profiles: [await rawProfile(file, v.gzipProfile)],
          },
        ]);
        results.push([`${v.name}/${file}`, res.status, await res.text()]);
      }
    }
    await flushAll();
    stored = await storedSeries();
  });

  it("answers 200 with an empty PushResponse to every encoding", () => {
    for (const [what, status, body] of results) {
      expect([what, status]).toEqual([what, 200]);
      expect(body === "" || body === "{}").toBe(true);
    }
  });

  it("stores every sample type with its exact total, whatever the encoding", async () => {
    for (const v of VARIANTS) {
      for (const file of FILES) {
        const mine = stored.filter((s) => s.labels.service_name === `push-${v.name}-${file}`);
        const got = new Map<string, number>();
        for (const s of mine) {
          const key = `${s.labels.__type__}/${s.labels.__unit__}`;
          got.set(key, (got.get(key) ?? 0) + s.total);
          expect(s.labels.__delta__).toBeUndefined();
          expect(s.labels.__name__).toBe("process_cpu");
        }
        for (const [type, total] of await totalsOf(file)) {
          if (total !== 0) expect([v.name, file, type, got.get(type)]).toEqual([v.name, file, type, total]);
        }
      }
    }
  });

  it("defaults service_name to unknown_service", async () => {
    const res = await push(VARIANTS[0], [{ labels: [["__name__", "process_cpu"]], profiles: [await rawProfile("cpu.pb.gz", true)] }]);
    expect(res.status).toBe(200);
    await flushAll();
    const s = (await storedSeries()).filter((x) => x.labels.service_name === "unknown_service");
    expect(s.map((x) => x.total).sort((a, b) => a - b)).toEqual([...(await totalsOf("cpu.pb.gz")).values()].sort((a, b) => a - b));
  });

  it("refuses bad pushes with Connect errors and stores nothing", async () => {
    await flushAll();
    const before = await storageSnapshot();
    const cases: [string, Promise<Response>, number, RegExp][] = [
      ["empty request", push(VARIANTS[0], []), 400, /no profiles received/],
      [
        "function id 0 (broken .NET)",
        push(VARIANTS[0], [{ labels: [["__name__", "process_cpu"], ["service_name", "bad"]], profiles: [await rawProfile("dotnet-pprof-3.pb.gz", false)] }]),
        400,
        /function id is 0/,
      ],
      [
        "invalid UTF-8",
        push(VARIANTS[2], [{ labels: [["__name__", "process_cpu"], ["service_name", "bad"]], profiles: [await rawProfile("invalid_utf8.pb.gz", false)] }]),
        400,
        /utf-?8/i,
      ],
      [
        "one bad profile among good ones",
        push(VARIANTS[0], [
          { labels: [["__name__", "process_cpu"], ["service_name", "bad"]], profiles: [await rawProfile("cpu.pb.gz", false)] },
          { labels: [["__name__", "process_cpu"], ["service_name", "bad2"]], profiles: [await rawProfile("invalid_utf8.pb.gz", false)] },
        ]),
        400,
        /utf-?8/i,
      ],
      [
        "not a protobuf",
        exports.default.fetch("http://localhost/push.v1.PusherService/Push", {
          method: "POST",
          body: "this is not protobuf",
          headers: { "Content-Type": "application/proto" },
        }),
        400,
        /./,
      ],
      [
        "claims gzip, is not",
        exports.default.fetch("http://localhost/push.v1.PusherService/Push", {
          method: "POST",
          body: new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]),
          headers: { "Content-Type": "application/proto", "Content-Encoding": "gzip" },
        }),
        400,
        /gzip/i,
      ],
    ];
    for (const [what, pending, status, message] of cases) {
      const res = await pending;
      const body = (await res.json()) as { code: string; message: string };
      expect([what, res.status]).toEqual([what, status]);
      expect(res.headers.get("content-type")).toContain("application/json");
      expect(body.message).toMatch(message);
    }
    await flushAll();
    expect(await storageSnapshot()).toEqual(before);
  });

  it("speaks Connect: 415 for other content types, 405 for GET, works under a path prefix", async () => {
    const t = await exports.default.fetch("http://localhost/push.v1.PusherService/Push", {
      method: "POST",
      body: "x",
      headers: { "Content-Type": "text/plain" },
    });
    expect(t.status).toBe(415);
    const g = await exports.default.fetch("http://localhost/push.v1.PusherService/Push");
    expect(g.status).toBe(405);
    const msg = toBinary(PushRequestSchema, create(PushRequestSchema, {
      series: [{ labels: [{ name: "__name__", value: "process_cpu" }, { name: "service_name", value: "prefixed" }], samples: [{ rawProfile: await rawProfile("cpu.pb.gz", false) }] }],
    }));
    const p = await exports.default.fetch("http://localhost/some/prefix/push.v1.PusherService/Push", {
      method: "POST",
      body: msg,
      headers: { "Content-Type": "application/proto" },
    });
    expect(p.status).toBe(200);
  });
});
