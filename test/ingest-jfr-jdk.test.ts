// Recordings of HotSpot's own flight recorder (`java -XX:StartFlightRecording=...,settings=profile`
// and `settings=default`), made on this machine by test/jfr/record.mjs from test/jfr/Workload.java,
// with the totals the JDK's `jfr print` finds in them: each is posted to /ingest as a raw body and
// as multipart `jfr` + `labels`, gzipped or not, and every profile type Pyroscope maps JFR events
// to must query back with exactly that total, before and after the flush. The two settings sample
// every 10 ms and every 20 ms: a sample's worth comes from the recording, not from a constant.

import { create, toBinary } from "@bufbuild/protobuf";
import { env, exports } from "cloudflare:workers";
import { gzipSync } from "fflate";
import { beforeAll, describe, expect, it } from "vitest";
import { DEFAULTS } from "../workers/config";
import { LabelsSnapshotSchema } from "../workers/gen/jfr/v1/labels_pb";
import { IngestError } from "../workers/ingest/errors";
import { decodeJfr } from "../workers/ingest/jfr/index";
import { rpcJson } from "./setup/query";
import { flushAll, multipart, storageSnapshot } from "./setup/storage";

interface JdkRecording {
  file: string;
  options: string;
  /** jdk.ExecutionSample's period, from the recording's jdk.ActiveSetting events. */
  periodNanos: number;
  /** The chunk's clock, from its header. */
  ticksPerSecond: number;
  /** Events per type, as `jfr print` counts them. */
  events: Record<string, number>;
  /** Profile type → the total Pyroscope's mapping gives, from `jfr print`. */
  totals: Record<string, number>;
  bytes: Uint8Array;
}

/** Every profile type Pyroscope makes of JFR events (grafana/jfr-parser's pprof package). */
const TYPES = [
  "process_cpu:cpu:nanoseconds:cpu:nanoseconds",
  "wall:wall:nanoseconds:wall:nanoseconds",
  "memory:alloc_in_new_tlab_objects:count:space:bytes",
  "memory:alloc_in_new_tlab_bytes:bytes:space:bytes",
  "memory:alloc_outside_tlab_objects:count:space:bytes",
  "memory:alloc_outside_tlab_bytes:bytes:space:bytes",
  "memory:alloc_sample_objects:count:space:bytes",
  "memory:alloc_sample_bytes:bytes:space:bytes",
  "memory:live:count:objects:count",
  "mutex:contentions:count:mutex:count",
  "mutex:delay:nanoseconds:mutex:count",
  "block:contentions:count:block:count",
  "block:delay:nanoseconds:block:count",
];
const HOUR_MS = 3_600_000;

async function jdk(path: string): Promise<Response> {
  const res = await env.JDK_JFR.fetch(`http://jdk/${path}`);
  if (!res.ok) throw new Error(`JDK recordings (test/jfr/record.mjs): ${res.status} ${await res.text()}`);
  return res;
}

async function jdkRecordings(): Promise<JdkRecording[]> {
  const index = await (await jdk("")).json<{ recordings: Omit<JdkRecording, "bytes">[] }>();
  return Promise.all(index.recordings.map(async (r) => ({ ...r, bytes: new Uint8Array(await (await jdk(r.file)).arrayBuffer()) })));
}

/** A labels part the Java agent could send: JDK events carry no context ids, so it labels nothing. */
const LABELS = toBinary(LabelsSnapshotSchema, create(LabelsSnapshotSchema, { contexts: { "1": { labels: { "1": 2n } } }, strings: { "1": "k", "2": "v" } }));

type Upload = { name: string; body: (jfr: Uint8Array) => { body: Uint8Array; contentType: string } };
const UPLOADS: Upload[] = [
  { name: "raw", body: (jfr) => ({ body: jfr, contentType: "application/octet-stream" }) },
  { name: "raw gzipped", body: (jfr) => ({ body: gzipSync(jfr), contentType: "application/octet-stream" }) },
  { name: "multipart", body: (jfr) => multipart([{ name: "jfr", data: jfr }, { name: "labels", data: LABELS }]) },
  { name: "multipart gzipped", body: (jfr) => multipart([{ name: "jfr", data: gzipSync(jfr) }, { name: "labels", data: gzipSync(LABELS) }]) },
];

function post(app: string, fromS: number, { body, contentType }: { body: Uint8Array; contentType: string }): Promise<Response> {
  const q = new URLSearchParams({ name: app, spyName: "javaspy", format: "jfr", from: String(fromS), until: String(fromS + 10) });
  return exports.default.fetch(`http://localhost/ingest?${q}`, { method: "POST", body, headers: { "Content-Type": contentType } });
}

async function total(profileTypeID: string, app: string, atMs: number): Promise<number> {
  const { status, json } = await rpcJson("SelectMergeStacktraces", {
    profileTypeID,
    labelSelector: `{service_name="${app}"}`,
    start: atMs - HOUR_MS,
    end: atMs + HOUR_MS,
    maxNodes: 16,
  });
  expect([profileTypeID, status]).toEqual([profileTypeID, 200]);
  return Number(json.flamegraph?.total ?? 0);
}

describe("JFR written by HotSpot's own recorder", () => {
  let recordings: JdkRecording[];
  let profile: JdkRecording;
  let byDefault: JdkRecording;
  beforeAll(async () => {
    recordings = await jdkRecordings();
    profile = recordings.find((r) => r.file === "profile.jfr")!;
    byDefault = recordings.find((r) => r.file === "default.jfr")!;
    // The first run on a machine records: two JVMs of a few seconds each.
  }, 180_000);

  it("has recordings holding every event Pyroscope maps, sampled every 10 ms and every 20 ms", () => {
    expect(recordings.map((r) => r.file).sort()).toEqual(["default.jfr", "profile.jfr"]);
    expect([profile.periodNanos, byDefault.periodNanos]).toEqual([10_000_000, 20_000_000]);
    // The JDK's profile settings plus the TLAB events: everything but wall, live and malloc
    // (async-profiler's own events).
    for (const type of TYPES.filter((t) => !/^wall:|:live:/.test(t))) expect(profile.totals[type], type).toBeGreaterThan(0);
    // Its default settings leave the TLAB events off.
    expect(Object.keys(byDefault.totals).sort()).toEqual(TYPES.filter((t) => /^process_cpu|alloc_sample|^mutex|^block/.test(t)).sort());
    for (const r of recordings) {
      expect(r.totals["process_cpu:cpu:nanoseconds:cpu:nanoseconds"]).toBe(r.events["jdk.ExecutionSample"] * r.periodNanos);
      // Durations are stored in the recording's ticks, as Pyroscope stores them; HotSpot on Linux
      // ticks in nanoseconds, the unit jfr prints.
      expect(r.ticksPerSecond, `${r.file}: the expected delays are nanoseconds`).toBe(1_000_000_000);
    }
  });

  it("stores each recording, raw or multipart, gzipped or not, with every profile type's total exactly as jfr print gives it", async () => {
    const fromS = Math.floor(Date.now() / 1000) - 60;
    const apps: { app: string; rec: JdkRecording; upload: string }[] = [];
    for (const rec of recordings) {
      // Every way of uploading for one recording; the other's interval needs no more than two.
      for (const upload of rec === profile ? UPLOADS : [UPLOADS[0], UPLOADS[3]]) {
        const app = `jfr-jdk-${rec.file.replace(".jfr", "")}-${upload.name.replace(" ", "-")}-${Date.now()}`;
        const res = await post(app, fromS, upload.body(rec.bytes));
        expect([rec.file, upload.name, res.status, await res.text()]).toEqual([rec.file, upload.name, 200, ""]);
        apps.push({ app, rec, upload: upload.name });
      }
    }
    const check = async (when: string) => {
      for (const { app, rec, upload } of apps) {
        const got = await Promise.all(TYPES.map((type) => total(type, app, fromS * 1000)));
        TYPES.forEach((type, i) => expect(got[i], `${rec.file} ${upload} ${type} ${when}`).toBe(rec.totals[type] ?? 0));
      }
    };
    await check("from the ingesters");
    await flushAll();
    await check("after the flush");
  });

  it("values each chunk's samples at its own period: both recordings as the chunks of one upload add up", async () => {
    const both = new Uint8Array(profile.bytes.length + byDefault.bytes.length);
    both.set(profile.bytes);
    both.set(byDefault.bytes, profile.bytes.length);
    const fromS = Math.floor(Date.now() / 1000) - 60;
    const app = `jfr-jdk-chunks-${Date.now()}`;
    const res = await post(app, fromS, { body: gzipSync(both), contentType: "application/octet-stream" });
    expect([res.status, await res.text()]).toEqual([200, ""]);
    const got = await Promise.all(TYPES.map((type) => total(type, app, fromS * 1000)));
    TYPES.forEach((type, i) => expect(got[i], type).toBe((profile.totals[type] ?? 0) + (byDefault.totals[type] ?? 0)));
  });

  it("refuses a JDK recording cut short, or a byte of it changed, with 422 and stores nothing", async () => {
    const before = await storageSnapshot();
    const bytes = profile.bytes;
    // A cut chunk, and one whose size is rewritten to the cut (the failure then comes from inside).
    const cut = bytes.slice(0, Math.floor(bytes.length * 0.6));
    const resized = cut.slice();
    new DataView(resized.buffer).setBigInt64(8, BigInt(resized.length));
    for (const [what, body] of [
      ["cut", cut],
      ["cut and resized", resized],
    ] as const) {
      const res = await post(`jfr-jdk-bad-${Date.now()}`, Math.floor(Date.now() / 1000), { body, contentType: "application/octet-stream" });
      const json = await res.json<{ code: string; message: string }>();
      expect([what, res.status]).toEqual([what, 422]);
      expect(json.message, what).toMatch(/^invalid JFR recording: .*byte \d+/);
    }
    expect(await storageSnapshot()).toEqual(before);
  });

  it("never fails with anything but a refusal when bytes of a JDK recording are damaged", () => {
    const input = { appName: "a", nameLabels: [], spyName: "javaspy", fromMs: 0, untilMs: 10_000, nowMs: 10_000, config: DEFAULTS };
    let seed = 7;
    const random = () => (seed = (Math.imul(seed, 1_103_515_245) + 12_345) >>> 0) / 2 ** 32;
    let refused = 0;
    for (let i = 0; i < 60; i++) {
      const bytes = recordings[i % 2].bytes.slice();
      for (let k = 0; k < 3; k++) bytes[Math.floor(random() * bytes.length)] = Math.floor(random() * 256);
      try {
        decodeJfr(bytes, undefined, input);
      } catch (err) {
        expect(err, String(err)).toBeInstanceOf(IngestError);
        refused++;
      }
    }
    // Damage in skipped bytes (event payloads, unused constants) is accepted; much is not.
    expect(refused).toBeGreaterThan(0);
  });
});
