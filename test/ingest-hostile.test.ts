// Known ways bad input used to restart the runtime or get a 5xx (issue 14): stacks thousands of
// frames deep in every legacy format (quadratic memory in the tree and trie decoders), deeply
// nested JSON, bodies cut short, refused encodings, and non-text bodies sent without `format=`.
// Every body is built from corpus files, deepened or mutated here.

import { create, toBinary } from "@bufbuild/protobuf";
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { gzipSync } from "fflate";
import { Profile } from "pprof-format";
import { describe, expect, it } from "vitest";
import { BlockBuilder } from "../workers/block/builder";
import { DEFAULTS, loadConfig } from "../workers/config";
import type { AssembledProfile } from "../workers/ingest/assemble";
import { decodeStage, IngestError } from "../workers/ingest/errors";
import { decodeFolded, decodeLines } from "../workers/ingest/folded";
import { humanBytes, readBodyCapped } from "../workers/ingest/gzip";
import type { LegacyMeta } from "../workers/ingest/legacy-labels";
import { normalizePprof } from "../workers/ingest/pprof";
import { decodeSpeedscope } from "../workers/ingest/speedscope";
import { decodeTree } from "../workers/ingest/tree";
import { PushRequestSchema } from "../workers/gen/push/v1/push_pb";
import { decodeTrie } from "../workers/ingest/trie";
import worker from "../workers/index";
import { metricsBuffer } from "../workers/ops/metrics";
import { collapsed } from "./setup/collapsed";
import { refusal } from "./setup/refusal";
import { flushAll, storageSnapshot, storedSeries } from "./setup/storage";
import { testdata, testdataPlain } from "./setup/testdata";

const CONFIG = { ...DEFAULTS, RETENTION_SECONDS: 0 };
/** The limits the Worker under test runs with. */
const WORKER_CONFIG = loadConfig(env);
const MAX_DEPTH = CONFIG.MAX_PROFILE_STACKTRACE_DEPTH;
const FROM_MS = Date.UTC(2024, 0, 1);
const enc = new TextEncoder();

function meta(appName: string): LegacyMeta {
  return { appName, nameLabels: [], spyName: "gospy", sampleRate: 100, fromMs: FROM_MS, untilMs: FROM_MS + 10_000 };
}

/** What the pipeline stores for the profiles, as collapsed text. */
function stored(profiles: AssembledProfile[]): string {
  const b = new BlockBuilder();
  for (const { labels, profile } of profiles) {
    normalizePprof({ profile, bytes: new Uint8Array(0) }, { mode: "push", seriesLabels: labels, nowMs: Date.now(), config: CONFIG }, () => b);
  }
  return collapsed(b);
}

type Stack = [frames: string[], value: number];

/** The stacks of a corpus folded file. */
async function corpusStacks(file: string): Promise<Stack[]> {
  const text = new TextDecoder().decode(await testdata(`folded/${file}`));
  return text
    .split("\n")
    .filter((l) => l.includes(" "))
    .map((l) => [l.slice(0, l.lastIndexOf(" ")).split(";"), Number(l.slice(l.lastIndexOf(" ") + 1))]);
}

/** A stack `depth` frames deep: the corpus stacks' frames one after the other, over and over. */
function deepen(stacks: Stack[], depth: number, shorten = false): string[] {
  const all = stacks.flatMap(([frames]) => frames).map((f) => (shorten ? f.slice(0, 2) : f));
  return Array.from({ length: depth }, (_, i) => all[i % all.length]);
}

function uvarint(out: number[], v: number): void {
  while (v > 0x7f) {
    out.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
}

interface Node {
  name: string;
  value: number;
  children: Map<string, Node>;
}

function callTree(stacks: Stack[]): Node {
  const root: Node = { name: "", value: 0, children: new Map() };
  for (const [frames, value] of stacks) {
    let node = root;
    for (const f of frames) {
      let next = node.children.get(f);
      if (!next) node.children.set(f, (next = { name: f, value: 0, children: new Map() }));
      node = next;
    }
    node.value += value;
  }
  return root;
}

/** Nodes of a call tree, the root aside. */
function callTreeSize(root: Node): number {
  let n = 0;
  const todo = [...root.children.values()];
  while (todo.length > 0) {
    n++;
    todo.push(...todo.pop()!.children.values());
  }
  return n;
}

/** A chain of frames, root first: only the leaf counts, or every frame does. */
function chain(frames: string[], value: number, everyFrame: boolean): Node {
  const root: Node = { name: "", value: 0, children: new Map() };
  let node = root;
  for (let i = 0; i < frames.length; i++) {
    const next: Node = { name: frames[i], value: everyFrame || i === frames.length - 1 ? value : 0, children: new Map() };
    node.children.set(frames[i], next);
    node = next;
  }
  return root;
}

/** Pre-order, iteratively (the stacks are deeper than a recursive writer could go). */
function writeNodes(root: Node, chunk: (node: Node, depth: number) => string): Uint8Array {
  const out: number[] = [];
  const todo: [Node, number][] = [[root, 0]];
  while (todo.length > 0) {
    const [node, depth] = todo.pop()!;
    const name = enc.encode(chunk(node, depth));
    uvarint(out, name.length);
    for (const b of name) out.push(b);
    uvarint(out, node.value);
    uvarint(out, node.children.size);
    const kids = [...node.children.values()];
    for (let i = kids.length - 1; i >= 0; i--) todo.push([kids[i], depth + 1]);
  }
  return new Uint8Array(out);
}

/** The "tree" format (API.md §1.5.5). */
const treeOf = (root: Node) => writeNodes(root, (n) => n.name);
/** The "trie" format (§1.5.4), one node per frame: each chunk is `;` and the frame's name. */
const trieOf = (root: Node) => writeNodes(root, (n, depth) => (depth > 1 ? `;${n.name}` : n.name));
const treeBody = (stacks: Stack[]) => treeOf(callTree(stacks));
const trieBody = (stacks: Stack[]) => trieOf(callTree(stacks));
const foldedBody = (stacks: Stack[]) => enc.encode(stacks.map(([f, v]) => `${f.join(";")} ${v}`).join("\n"));
const linesBody = (stacks: Stack[]) => enc.encode(stacks.flatMap(([f, v]) => Array<string>(v).fill(f.join(";"))).join("\n"));

const SCHEMA = "https://www.speedscope.app/file-format-schema.json";

function speedscopeSampled(stacks: Stack[]): Uint8Array {
  const names = [...new Set(stacks.flatMap(([f]) => f))];
  const index = new Map(names.map((n, i) => [n, i]));
  const profile = {
    type: "sampled",
    name: "deep",
    unit: "none",
    startValue: 0,
    endValue: 1,
    samples: stacks.map(([f]) => f.map((n) => index.get(n)!)),
    weights: stacks.map(([, v]) => v),
  };
  return enc.encode(JSON.stringify({ $schema: SCHEMA, shared: { frames: names.map((name) => ({ name })) }, profiles: [profile] }));
}

/** One stack as events: every frame opened at 0, all closed at `value`. */
function speedscopeEvented([frames, value]: Stack): Uint8Array {
  const names = [...new Set(frames)];
  const index = new Map(names.map((n, i) => [n, i]));
  const events = [
    ...frames.map((f) => ({ type: "O", frame: index.get(f)!, at: 0 })),
    ...frames.toReversed().map((f) => ({ type: "C", frame: index.get(f)!, at: value })),
  ];
  const profile = { type: "evented", name: "deep", unit: "none", startValue: 0, endValue: value, events };
  return enc.encode(JSON.stringify({ $schema: SCHEMA, shared: { frames: names.map((name) => ({ name })) }, profiles: [profile] }));
}

const truncated = (stacks: Stack[]): Stack[] => stacks.map(([f, v]) => [f.slice(0, MAX_DEPTH), v]);

describe("stacks 1,000 to 32,000 frames deep in every legacy format", () => {
  const formats: [string, (s: Stack[]) => Uint8Array, (b: Uint8Array, m: LegacyMeta) => AssembledProfile[], number[], boolean][] = [
    ["tree", treeBody, (b, m) => decodeTree(b, m, CONFIG), [1000, 4000, 32_000], false],
    ["trie", trieBody, (b, m) => decodeTrie(b, m, CONFIG), [1000, 4000, 32_000], false],
    ["speedscope sampled", speedscopeSampled, (b, m) => decodeSpeedscope(b, m, CONFIG), [1000, 4000, 32_000], false],
    // A folded or lines line must stay under 64 KiB: two-character frames.
    ["folded", foldedBody, (b, m) => decodeFolded(b, m, CONFIG), [1000, 4000, 16_000], true],
    ["lines", linesBody, (b, m) => decodeLines(b, m, CONFIG), [1000, 4000, 16_000], true],
  ];
  for (const [name, body, decode, depths, shorten] of formats) {
    it(`${name}: a deep stack keeps its root-most ${MAX_DEPTH} frames, and the file's other stacks are unchanged`, async () => {
      const corpus = await corpusStacks("dump2.wall.folded");
      for (const depth of depths) {
        const deep = deepen(corpus, depth, shorten);
        const stacks: Stack[] = [...corpus.slice(0, 20), [deep, 3]];
        const got = stored(decode(body(stacks), meta("app.alloc_objects")));
        expect(got).toBe(stored(decode(body(truncated(stacks)), meta("app.alloc_objects"))));
        // speedscope's unit "none" multiplies by 100.
        expect(got).toContain(`${deep.slice(0, MAX_DEPTH).join(";")} ${name.startsWith("speedscope") ? 300 : 3}\n`);
        expect(got.split("\n").filter((l) => l !== "")).toHaveLength(new Set(truncated(stacks).map(([f]) => f.join(";"))).size);
      }
    });
  }

  it("speedscope evented: a stack opened 32,000 frames deep keeps its root-most frames", async () => {
    const deep = deepen(await corpusStacks("dump2.wall.folded"), 32_000);
    const got = stored(decodeSpeedscope(speedscopeEvented([deep, 5]), meta("app.alloc_objects"), CONFIG));
    // Unit "none": values × 100.
    expect(got).toBe(`${deep.slice(0, MAX_DEPTH).join(";")} 500\n`);
  });

  it("refuses a deep chain where every frame counts before writing any stack out (samples, then frames)", async () => {
    const every = chain(deepen(await corpusStacks("dump2.wall.folded"), 32_000), 1, true);
    for (const [name, body, decode] of [
      ["tree", treeOf(every), (b: Uint8Array, c: typeof CONFIG) => decodeTree(b, meta("app.cpu"), c)],
      ["trie", trieOf(every), (b: Uint8Array, c: typeof CONFIG) => decodeTrie(b, meta("app.cpu"), c)],
    ] as const) {
      const samples = refusal(() => decode(body, CONFIG));
      expect([name, samples.kind, samples.reason, samples.message]).toEqual([
        name,
        "bad_request",
        "samples_limit",
        expect.stringContaining("actual: 32000, limit: 16000"),
      ]);
      // Without a sample limit, the frames the stacks hold after truncation (31.5 million) are what
      // no profile within max_profile_size_bytes could hold.
      const frames = refusal(() => decode(body, { ...CONFIG, MAX_PROFILE_STACKTRACE_SAMPLES: 0 }));
      expect([frames.reason, frames.message]).toEqual(["profile_size_limit", expect.stringContaining("the stacks hold 31500500 frames")]);
    }
  });

  it("refuses a body of more distinct call paths than max_profile_size_bytes / 4 (folded, lines, tree, trie)", async () => {
    const corpus = await corpusStacks("cortex-dev-01__kafka-0__cpu__0.cpu.folded");
    const paths = callTreeSize(callTree(corpus));
    const small = { ...CONFIG, MAX_PROFILE_SIZE_BYTES: 4 * (paths - 1) };
    const decoders: [string, Uint8Array, (b: Uint8Array, c: typeof CONFIG) => AssembledProfile[]][] = [
      ["folded", foldedBody(corpus), (b, c) => decodeFolded(b, meta("app.cpu"), c)],
      ["lines", linesBody(corpus), (b, c) => decodeLines(b, meta("app.cpu"), c)],
      ["tree", treeBody(corpus), (b, c) => decodeTree(b, meta("app.cpu"), c)],
      ["trie", trieBody(corpus), (b, c) => decodeTrie(b, meta("app.cpu"), c)],
    ];
    // (A speedscope file that small is refused for its size before it is parsed: see below.)
    for (const [name, body, decode] of decoders) {
      const err = refusal(() => decode(body, small));
      expect([name, err.reason, err.message]).toEqual([name, "profile_size_limit", expect.stringContaining(`more than ${paths - 1} distinct call paths`)]);
      // Within both budgets (call paths, and frames written out): stored as with the default limits.
      const enough = Math.max(4 * paths, corpus.reduce((n, [f]) => n + f.length, 0));
      expect(stored(decode(body, { ...small, MAX_PROFILE_SIZE_BYTES: enough }))).toBe(stored(decodeFolded(foldedBody(corpus), meta("app.cpu"), CONFIG)));
    }
  });

  it("a trie whose long open frame is shared by many nodes is refused instead of decoded over and over", async () => {
    const [[frames]] = await corpusStacks("dump2.wall.folded");
    // One chunk of 60 KB without a `;`, then 4,000 children adding a byte each: the old decoder
    // turned every child's whole key into a string (240 MB); the frame names are now budgeted.
    const long = frames.join(",").repeat(60_000 / frames.join(",").length + 1).slice(0, 60_000);
    const out: number[] = [];
    const chunk = enc.encode(long);
    uvarint(out, chunk.length);
    out.push(...chunk);
    uvarint(out, 0);
    uvarint(out, 4000);
    for (let i = 0; i < 4000; i++) out.push(1, 0x61 + (i % 26), 1, 0);
    const err = refusal(() => decodeTrie(new Uint8Array(out), meta("app.cpu"), CONFIG));
    expect([err.reason, err.message]).toEqual(["profile_size_limit", expect.stringContaining("frame names add up to more than")]);
  });
});

function post(path: string, body: BodyInit, headers: Record<string, string> = {}, tenant = "hostile"): Promise<Response> {
  return exports.default.fetch(`http://localhost${path}`, { method: "POST", body, headers: { "X-Scope-OrgID": tenant, ...headers } });
}

/**
 * The Worker's fetch called directly with a streamed body: through `exports.default.fetch` a body
 * stream's failure is not passed on (the upload just ends), where a client's lost connection is.
 */
async function postStream(path: string, body: ReadableStream<Uint8Array>, headers: Record<string, string> = {}): Promise<Response> {
  const ctx = createExecutionContext();
  const request = new Request(`http://localhost${path}`, { method: "POST", body, headers: { "X-Scope-OrgID": "hostile", ...headers } });
  const res = await worker.fetch!(request as Parameters<NonNullable<typeof worker.fetch>>[0], env, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

/** A body stream that delivers `bytes` and then fails, as a connection closed mid-upload does. */
function cutShort(bytes: Uint8Array): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      controller.enqueue(bytes);
      controller.error(new Error("Network connection lost."));
    },
  });
}

describe("hostile uploads over HTTP: 4xx quickly, nothing stored, the next upload stored", () => {
  it("refuses a 1.5 MB tree or trie 32,000 frames deep where every frame counts, and stores the one where the leaf does", async () => {
    const deep = deepen(await corpusStacks("cortex-dev-01__kafka-0__cpu__0.cpu.folded"), 32_000);
    const every = chain(deep, 1, true);
    const leaf = chain(deep, 7, false);
    const before = await storageSnapshot();
    for (const [format, body] of [
      ["tree", treeOf(every)],
      ["trie", trieOf(every)],
    ] as const) {
      expect(body.length).toBeGreaterThan(1_500_000);
      const res = await post(`/ingest?name=deep.alloc_objects&format=${format}`, body);
      expect([format, res.status, ((await res.json()) as { message: string }).message]).toEqual([
        format,
        400,
        expect.stringContaining("exceeds the samples count limit"),
      ]);
    }
    await flushAll();
    expect(await storageSnapshot()).toEqual(before);

    for (const format of ["tree", "trie"]) {
      const body = format === "tree" ? treeOf(leaf) : trieOf(leaf);
      expect((await post(`/ingest?name=deep-${format}.alloc_objects&format=${format}`, body)).status).toBe(200);
    }
    await flushAll();
    for (const format of ["tree", "trie"]) {
      const [series] = await storedSeries(`deep-${format}`);
      expect([format, series.total, series.profiles]).toEqual([format, 7, 1]);
    }
  });

  it("answers a body cut short with 400 on /ingest, Push and OTLP, and stores nothing", async () => {
    const folded = await testdata("folded/dump2.wall.folded");
    const cpu = await testdataPlain("pprof/cpu.pb.gz");
    const before = await storageSnapshot();
    const cases: [string, () => Promise<Response>][] = [
      ["ingest folded", () => postStream("/ingest?name=cut.wall", cutShort(folded.subarray(0, 1000)))],
      ["ingest pprof", () => postStream("/ingest?name=cut&format=pprof", cutShort(cpu.subarray(0, 500)))],
      ["push", () => postStream("/push.v1.PusherService/Push", cutShort(cpu.subarray(0, 500)), { "Content-Type": "application/proto" })],
      ["otlp", () => postStream("/v1development/profiles", cutShort(cpu.subarray(0, 500)), { "Content-Type": "application/x-protobuf" })],
    ];
    for (const [name, send] of cases) {
      const res = await send();
      expect([name, res.status, await res.text()]).toEqual([name, 400, expect.stringContaining("the request body was cut short")]);
    }
    await flushAll();
    expect(await storageSnapshot()).toEqual(before);
  });

  it("refuses a body that stops arriving (a Content-Length larger than what is sent) instead of waiting for it", async () => {
    const folded = await testdata("folded/dump2.wall.folded");
    const stalls = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(folded.subarray(0, 1000));
      },
    });
    const err = await readBodyCapped(stalls, WORKER_CONFIG.INGESTION_BODY_LIMIT_BYTES, 50).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IngestError);
    expect([(err as IngestError).kind, (err as IngestError).message]).toEqual(["bad_request", expect.stringContaining("the request body stalled")]);
  });

  it("refuses Content-Encoding br: Push with Connect's unimplemented, OTLP with 415 naming the supported ones", async () => {
    const otlp = await testdataPlain("otlp/otel-ebpf-profile.pb.bin");
    const push = await post("/push.v1.PusherService/Push", otlp, { "Content-Type": "application/proto", "Content-Encoding": "br" });
    expect([push.status, await push.json()]).toEqual([501, { code: "unimplemented", message: expect.stringContaining("gzip") }]);
    const res = await post("/v1development/profiles", otlp, { "Content-Type": "application/x-protobuf", "Content-Encoding": "br" });
    expect([res.status, await res.text()]).toEqual([415, "Unsupported Content-Encoding: br; supported encodings: gzip, identity\n"]);
    // The same body without the encoding is stored.
    expect((await post("/v1development/profiles", otlp, { "Content-Type": "application/x-protobuf" })).status).toBe(200);
  });

  it("refuses deeply nested JSON with 4xx: speedscope, OTLP/JSON over HTTP and over Connect", async () => {
    const simple = JSON.parse(new TextDecoder().decode(await testdata("speedscope/simple.speedscope.json"))) as Record<string, unknown>;
    const depth = 200_000;
    const nestedArrays = `${"[".repeat(depth)}${"]".repeat(depth)}`;
    const speedscope = JSON.stringify({ ...simple, shared: { frames: "@" } }).replace('"@"', nestedArrays);
    const res = await post("/ingest?name=nested&format=speedscope", speedscope);
    expect([res.status, await res.text()]).toEqual([422, expect.stringContaining("frame 0 is not a JSON object")]);

    // An attribute value nested 50,000 arrays deep (AnyValue is recursive), in the corpus request.
    const otlp = JSON.parse(new TextDecoder().decode(await testdata("otlp/otel-ebpf-profile.pb.json"))) as {
      resourceProfiles: { resource?: { attributes?: unknown[] } }[];
    };
    const nest = 50_000;
    otlp.resourceProfiles[0].resource = { attributes: [{ key: "deep", value: "@" }] };
    const nestedValue = `${'{"arrayValue":{"values":['.repeat(nest)}{"stringValue":"x"}${"]}}".repeat(nest)}`;
    const body = JSON.stringify(otlp).replace('"@"', nestedValue);
    const http = await post("/v1development/profiles", body, { "Content-Type": "application/json" });
    expect([http.status, await http.text()]).toEqual([400, expect.stringContaining("Failed to parse JSON request")]);
    const connect = await post("/opentelemetry.proto.collector.profiles.v1development.ProfilesService/Export", body, {
      "Content-Type": "application/json",
      "Connect-Protocol-Version": "1",
    });
    expect([connect.status, ((await connect.json()) as { code: string }).code]).toEqual([400, "invalid_argument"]);
  });

  it("holds a speedscope file to max_profile_size_bytes before parsing it", async () => {
    const simple = new TextDecoder().decode(await testdata("speedscope/simple.speedscope.json"));
    const padded = simple.replace(/\}\s*$/, `, "padding": "${" ".repeat(WORKER_CONFIG.MAX_PROFILE_SIZE_BYTES)}"}`);
    const res = await post("/ingest?name=big&format=speedscope", padded);
    expect([res.status, await res.text()]).toEqual([422, expect.stringContaining("over max_profile_size_bytes")]);
  });

  it("says what a non-text body looks like when format= is missing, and which format to send", async () => {
    const cases: [string, Uint8Array, string][] = [
      ["gzipped pprof", await testdata("pprof/cpu.pb.gz"), "it starts like gzip data; add format=pprof"],
      ["plain pprof", await testdata("pprof/heap.pb"), "it starts like protobuf data (a pprof profile?); add format=pprof"],
      ["JFR", await testdataPlain("jfr/cortex-dev-01__kafka-0__cpu__0.jfr.gz"), "it starts like a JFR recording; add format=jfr"],
    ];
    for (const [name, body, hint] of cases) {
      const res = await post("/ingest?name=sniffed.cpu", body);
      expect([name, res.status, await res.text()]).toEqual([name, 422, expect.stringContaining(`not valid UTF-8 text: ${hint}`)]);
    }
  });

  it("counts a body over the limit as body_size_limit_exceeded, on /ingest and on Push", async () => {
    const tenant = "hostile-size";
    const cpu = await testdataPlain("pprof/cpu.pb.gz");
    const over = new Uint8Array(WORKER_CONFIG.INGESTION_BODY_LIMIT_BYTES + 1);
    over.set(cpu);
    expect((await post("/ingest?name=big&format=pprof", over, {}, tenant)).status).toBe(413);

    // Push: five samples within max_profile_size_bytes each (the corpus pprof, stamped now by a
    // zero time, padded with an unknown field) that decompress to more than the body limit together.
    const p = Profile.decode(cpu);
    p.timeNanos = 0;
    const base = p.encode();
    const padLength = Math.floor(WORKER_CONFIG.INGESTION_BODY_LIMIT_BYTES / 5) - base.length;
    const head: number[] = [];
    uvarint(head, (100 << 3) | 2);
    uvarint(head, padLength);
    const sample = new Uint8Array(base.length + head.length + padLength);
    sample.set(base);
    sample.set(head, base.length);
    const rawProfile = gzipSync(sample);
    const msg = create(PushRequestSchema, {
      series: [{ labels: [{ name: "service_name", value: "big" }, { name: "__name__", value: "process_cpu" }], samples: Array(5).fill({ rawProfile }) }],
    });
    const res = await post("/push.v1.PusherService/Push", toBinary(PushRequestSchema, msg), { "Content-Type": "application/proto" }, tenant);
    expect([res.status, await res.json()]).toEqual([
      400,
      { code: "invalid_argument", message: `uncompressed batched profile payload size exceeds limit of ${humanBytes(WORKER_CONFIG.INGESTION_BODY_LIMIT_BYTES)}` },
    ]);
    await metricsBuffer.flushNow(env);
    const metrics = await env.TENANT.getByName(tenant).metrics();
    expect(metrics).toContainEqual({ name: "discarded_profiles_total", labels: { reason: "body_size_limit_exceeded" }, value: 2 });
  });
});

describe("the decode stage", () => {
  it("turns an exception over client bytes into a 4xx malformed_profile and passes refusals through", async () => {
    const cpu = await testdata("pprof/cpu.pb.gz");
    const thrown = await decodeStage("ingest", () => new Array(cpu.length - 2 ** 32)).catch((e: unknown) => e);
    expect(thrown).toBeInstanceOf(IngestError);
    expect([(thrown as IngestError).kind, (thrown as IngestError).reason, (thrown as IngestError).message]).toEqual([
      "invalid",
      "malformed_profile",
      "ingest: the upload could not be decoded (RangeError: Invalid array length)",
    ]);
    const refused = new IngestError("too_large", "body_size_limit_exceeded", "request body too large");
    expect(await decodeStage("ingest", () => Promise.reject(refused)).catch((e: unknown) => e)).toBe(refused);
  });
});
