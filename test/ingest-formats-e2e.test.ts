// The non-pprof /ingest formats through the whole service: folded text, lines, trie, tree and
// speedscope uploads are queried back with SelectMergeStacktraces (flame graph decoded to stacks)
// and must give the uploaded stacks, scaled as spec API.md §1.6.3 says. The legacy JFR dumps
// (MANIFEST "Legacy dump") are replayed series by series under the app-name suffix of their
// event. Corrupted uploads of every format are refused and leave storage as it was.

import { exports } from "cloudflare:workers";
import { gunzipSync, gzipSync } from "fflate";
import { describe, expect, it } from "vitest";
import { ProfileSchema } from "../workers/gen/google/v1/profile_pb";
import { SelectMergeProfileRequestSchema } from "../workers/gen/querier/v1/querier_pb";
import { flameGraphCollapsed, formatCollapsed, parseCollapsed } from "./setup/flamegraph";
import { rpcJson, rpcProto } from "./setup/query";
import { flushAll, multipart, storageSnapshot } from "./setup/storage";
import { testdata, testdataList, testdataText } from "./setup/testdata";

/** Every upload here is dated 2023-11-14 22:13:20 UTC (`from` in seconds). */
const FROM_S = 1_700_000_000;
const AT_MS = FROM_S * 1000;
const HOUR_MS = 3_600_000;
const CPU = "process_cpu:cpu:nanoseconds:cpu:nanoseconds";
const WALL = "wall:wall:nanoseconds:cpu:nanoseconds";
/** A sample at the default sampleRate of 100 Hz is 10 ms. */
const SAMPLE_NS = 10_000_000;
const enc = new TextEncoder();

function ingest(params: Record<string, string>, body: BodyInit, contentType = "binary/octet-stream"): Promise<Response> {
  const q = new URLSearchParams({ from: String(FROM_S), until: String(FROM_S + 10), ...params });
  return exports.default.fetch(`http://localhost/ingest?${q}`, { method: "POST", body, headers: { "Content-Type": contentType } });
}

async function ingestOk(params: Record<string, string>, body: BodyInit, contentType?: string): Promise<void> {
  const res = await ingest(params, body, contentType);
  expect([params.name, res.status, await res.text()]).toEqual([params.name, 200, ""]);
}

/** The merged stacks of a selection, as the flame graph draws them. */
async function queried(profileTypeID: string, labelSelector: string): Promise<string> {
  const { status, json } = await rpcJson("SelectMergeStacktraces", {
    profileTypeID,
    labelSelector,
    start: AT_MS - HOUR_MS,
    end: AT_MS + HOUR_MS,
    maxNodes: 1048576,
  });
  expect([labelSelector, status]).toEqual([labelSelector, 200]);
  const levels = (json.flamegraph.levels as { values?: string[] }[]).map((l) => (l.values ?? []).map(Number));
  return flameGraphCollapsed({ names: json.flamegraph.names, levels });
}

/** Folded text → stack → summed value. */
function stacksOf(text: string): Map<string, number> {
  const sums = new Map<string, number>();
  for (const [frames, v] of parseCollapsed(text)) sums.set(frames.join(";"), (sums.get(frames.join(";")) ?? 0) + v);
  return sums;
}

/** Folded text in the flame graph's collapsed form, every value multiplied by `scale`. */
function expected(text: string, scale = 1): string {
  return formatCollapsed(new Map([...stacksOf(text)].map(([s, v]) => [s, v * scale])));
}

function uvarint(out: number[], v: number): void {
  for (; v >= 0x80; v = Math.floor(v / 128)) out.push((v % 128) | 0x80);
  out.push(v);
}

/** The "tree" format (§1.5.5) of some stacks: a frame tree, pre-order, under an empty root. */
function treeBytes(stacks: Map<string, number>): Uint8Array {
  interface Node {
    self: number;
    children: Map<string, Node>;
  }
  const root: Node = { self: 0, children: new Map() };
  for (const [stack, v] of stacks) {
    let n = root;
    for (const f of stack.split(";")) {
      let c = n.children.get(f);
      if (!c) n.children.set(f, (c = { self: 0, children: new Map() }));
      n = c;
    }
    n.self += v;
  }
  const out: number[] = [];
  const write = (name: string, n: Node) => {
    const b = enc.encode(name);
    uvarint(out, b.length);
    out.push(...b);
    uvarint(out, n.self);
    uvarint(out, n.children.size);
    for (const [f, c] of n.children) write(f, c);
  };
  write("", root);
  return new Uint8Array(out);
}

/**
 * The "trie" format (§1.5.4) of some stacks: a byte trie whose single-child chains without a
 * value are merged into one chunk, so chunks end anywhere, inside frames and UTF-8 sequences too.
 */
function trieBytes(stacks: Map<string, number>): Uint8Array {
  interface Node {
    value: number;
    children: Map<number, Node>;
  }
  const root: Node = { value: 0, children: new Map() };
  for (const [stack, v] of stacks) {
    let n = root;
    for (const byte of enc.encode(stack)) {
      let c = n.children.get(byte);
      if (!c) n.children.set(byte, (c = { value: 0, children: new Map() }));
      n = c;
    }
    n.value += v;
  }
  const out: number[] = [];
  const write = (chunk: number[], n: Node) => {
    while (n.value === 0 && n.children.size === 1) {
      const [[byte, only]] = n.children;
      chunk.push(byte);
      n = only;
    }
    uvarint(out, chunk.length);
    out.push(...chunk);
    uvarint(out, n.value);
    uvarint(out, n.children.size);
    for (const [byte, c] of n.children) write([byte], c);
  };
  uvarint(out, 0); // the root: an empty chunk, as clients write it
  uvarint(out, root.value);
  uvarint(out, root.children.size);
  for (const [byte, c] of root.children) write([byte], c);
  return new Uint8Array(out);
}

describe("folded text through ingest and query", () => {
  it("cortex cpu dump as myapp.cpu: 316 stacks, 478 samples × 10 ms", async () => {
    const text = await testdataText("folded/cortex-dev-01__kafka-0__cpu__0.cpu.folded");
    await ingestOk({ name: "fmt-folded-cortex.cpu" }, text);
    const got = await queried(CPU, `{service_name="fmt-folded-cortex"}`);
    expect(got).toBe(expected(text, SAMPLE_NS));
    const lines = got.trimEnd().split("\n");
    expect(lines.length).toBe(316);
    expect(lines.reduce((n, l) => n + Number(l.slice(l.lastIndexOf(" ") + 1)), 0)).toBe(4_780_000_000);
  });

  it("every folded file, under its type, with CRLF line ends and sampleRate=0", async () => {
    const cases: [file: string, suffix: string, params: Record<string, string>, profileType: string, scale: number][] = [
      ["cortex-dev-01__kafka-0__cpu_lock0_alloc0__0.lock_duration", "lock_duration", {}, "block:delay:nanoseconds::", 1],
      ["cortex-dev-01__kafka-0__cpu_lock0_alloc0__0.alloc_outside_tlab_objects", "alloc_outside_tlab_objects", {}, "memory:alloc_outside_tlab_objects:count::", 1],
      ["dump2.wall", "wall", {}, WALL, SAMPLE_NS],
      ["dump2.wall.pool-2-thread-1", "wall", { spyName: "javaspy" }, WALL, SAMPLE_NS],
      // Go CPU nanoseconds: stored as they are when the rate is 0.
      ["stacktraces-1", "cpu", { sampleRate: "0", format: "folded" }, "process_cpu:samples:count::", 1],
      ["stacktraces-2", "itimer", { sampleRate: "0", format: "collapsed" }, "process_cpu:samples:count::", 1],
    ];
    for (const [file, suffix, params, profileType, scale] of cases) {
      const text = await testdataText(`folded/${file}.folded`);
      const service = `fmt-folded-${file}`;
      await ingestOk({ name: `${service}.${suffix}`, ...params }, text.replace(/\n/g, "\r\n"));
      expect([file, await queried(profileType, `{service_name="${service}"}`)]).toEqual([file, expected(text, scale)]);
    }
  });

  it("lines: each line counts one sample", async () => {
    await ingestOk({ name: "fmt-lines.wall", format: "lines" }, "main;a\nmain;b\n\nmain;a\r\nmain;a\n");
    expect(await queried(WALL, `{service_name="fmt-lines"}`)).toBe(`main;a ${3 * SAMPLE_NS}\nmain;b ${SAMPLE_NS}\n`);
  });

  it("a profile_id label makes the upload a no-op", async () => {
    await ingestOk({ name: "fmt-profile-id.cpu{profile_id=abc}" }, "main;a 1\n");
    const { json } = await rpcJson("Series", { matchers: ['{service_name="fmt-profile-id"}'], start: AT_MS - HOUR_MS, end: AT_MS + HOUR_MS });
    expect(json.labelsSet ?? []).toEqual([]);
  });
});

describe("legacy JFR dumps through ingest and query", () => {
  // Event → profile type and value scale, from spec §1.6.3 (thread_park_* have no suffix there).
  const TYPES: Record<string, [string, number]> = {
    cpu: [CPU, SAMPLE_NS],
    wall: [WALL, SAMPLE_NS],
    alloc_in_new_tlab_bytes: ["memory:alloc_in_new_tlab_bytes:bytes::", 1],
    alloc_in_new_tlab_objects: ["memory:alloc_in_new_tlab_objects:count::", 1],
    alloc_outside_tlab_bytes: ["memory:alloc_outside_tlab_bytes:bytes::", 1],
    alloc_outside_tlab_objects: ["memory:alloc_outside_tlab_objects:count::", 1],
    lock_count: ["block:contentions:count::", 1],
    lock_duration: ["block:delay:nanoseconds::", 1],
    live: ["memory:live:count::", 1],
  };

  it("stores every series of every dump with exactly its stacks", async () => {
    const dumps = (await testdataList("jfr")).filter((f) => f.endsWith(".json.gz"));
    expect(dumps.length).toBe(8);
    const checked: { selector: string; type: string; want: string }[] = [];
    let noops = 0;
    let unknown = 0;
    for (const [d, file] of dumps.entries()) {
      const series = JSON.parse(new TextDecoder().decode(gunzipSync(await testdata(`jfr/${file}`)))) as Record<string, string>;
      for (const [s, [key, text]] of Object.entries(series).entries()) {
        const [, event, labels] = /^kafka\.app\.(\w+)\{(.*)\}$/.exec(key)!;
        const service = `fmt-jfrdump-${d}-${s}`;
        const res = await ingest({ name: `${service}.${event}{${labels}}`, spyName: "javaspy" }, text);
        const body = await res.text();
        if (labels.includes("profile_id=")) {
          expect([key, res.status, body]).toEqual([key, 200, ""]);
          noops++;
        } else if (!TYPES[event]) {
          expect([key, res.status, JSON.parse(body).message]).toEqual([key, 400, `unknown profile type: ${event}`]);
          unknown++;
        } else {
          expect([key, res.status, body]).toEqual([key, 200, ""]);
          const matchers = labels === "" ? "" : labels.split(",").map((l) => `, ${l.replace("=", '="')}"`).join("");
          const [type, scale] = TYPES[event];
          checked.push({ selector: `{service_name="${service}"${matchers}}`, type, want: expected(text, scale) });
        }
      }
    }
    expect([checked.length, noops, unknown]).toEqual([40, 112, 2]);
    for (const c of checked) expect([c.selector, await queried(c.type, c.selector)]).toEqual([c.selector, c.want]);
  });
});

describe("binary trees through ingest and query", () => {
  it("trie (format=trie) round-trips a folded file", async () => {
    const text = await testdataText("folded/stacktraces-1.folded");
    await ingestOk({ name: "fmt-trie.mutex_duration", format: "trie" }, trieBytes(stacksOf(text)));
    expect(await queried("mutex:delay:nanoseconds::", `{service_name="fmt-trie"}`)).toBe(expected(text));
  });

  it("tree (Content-Type binary/octet-stream+tree) round-trips a folded file", async () => {
    const text = await testdataText("folded/cortex-dev-01__kafka-0__cpu__0.cpu.folded");
    await ingestOk({ name: "fmt-tree.cpu" }, treeBytes(stacksOf(text)), "binary/octet-stream+tree");
    expect(await queried(CPU, `{service_name="fmt-tree"}`)).toBe(expected(text, SAMPLE_NS));
  });

  it("trie via its Content-Type, with multi-byte frame names split across chunks", async () => {
    const text = "main;données;é 3\nmain;données;è 2\nmain;日本 1\n";
    await ingestOk({ name: "fmt-trie-utf8.alloc_space" }, trieBytes(stacksOf(text)), "binary/octet-stream+trie");
    expect(await queried("memory:alloc_space:bytes::", `{service_name="fmt-trie-utf8"}`)).toBe(expected(text));
  });
});

describe("speedscope through ingest and query", () => {
  const TREE = "a;b 500\na;b;c 500\na;b;d 400\n";
  const cases: [file: string, profileType: string, stacks: string][] = [
    // unit none at 10_000 Hz: ×100_000 ns.
    ["simple", CPU, expected(TREE, 100_000)],
    // Two profiles in seconds (foo.seconds → wall) at 100 Hz, merged by the query.
    ["two-sampled", WALL, expected(TREE, 2 * SAMPLE_NS)],
    // Two profiles in bytes (foo.bytes → memory), not scaled by 100.
    ["two-sampled-bytes", "memory:samples:bytes::", "a;b 10\na;b;c 10\na;b;d 8\n"],
  ];

  it("ingests the three files and answers the MANIFEST queries with their stacks", async () => {
    for (const [file, profileType, stacks] of cases) {
      const service = `fmt-speedscope-${file}`;
      await ingestOk({ name: service, format: "speedscope" }, await testdata(`speedscope/${file}.speedscope.json`), "application/json");
      expect([file, await queried(profileType, `{service_name="${service}"}`)]).toEqual([file, stacks]);
      const pprof = await rpcProto(
        "SelectMergeProfile",
        SelectMergeProfileRequestSchema,
        { profileTypeID: profileType, labelSelector: `{service_name="${service}"}`, start: BigInt(AT_MS - HOUR_MS), end: BigInt(AT_MS + HOUR_MS) },
        ProfileSchema,
      );
      expect([file, pprof.sampleType.length, pprof.sample.length > 0 && pprof.sample[0].value[0] > 0n]).toEqual([file, 1, true]);
    }
    expect(await queried(WALL, `{service_name="fmt-speedscope-two-sampled", profile_name="one"}`)).toBe(expected(TREE, SAMPLE_NS));
  });
});

describe("corrupted uploads of every format", () => {
  it("are refused with their status and store nothing", async () => {
    const folded = enc.encode("main;a 100\nmain;b 200\n");
    const flipFirst = (b: Uint8Array) => Uint8Array.from(b, (x, i) => (i === 0 ? x ^ 0xff : x));
    const text = await testdataText("folded/stacktraces-2.folded");
    const trie = trieBytes(stacksOf(text));
    const tree = treeBytes(stacksOf(text));
    const simple = await testdata("speedscope/simple.speedscope.json");
    const two = JSON.parse(await testdataText("speedscope/two-sampled.speedscope.json"));
    const speedscope = (edit: (f: any) => void) => {
      const f = structuredClone(two);
      edit(f);
      return JSON.stringify(f);
    };
    const treeNode = (name: number[], self: number, children: number) => {
      const out: number[] = [];
      uvarint(out, name.length);
      out.push(...name);
      uvarint(out, self);
      uvarint(out, children);
      return out;
    };
    const jfrParts = multipart([{ name: "labels", data: new Uint8Array([1]) }]);
    const jfrTooBig = multipart([{ name: "jfr", data: gzipSync(new Uint8Array(4 * 1024 * 1024 + 1)) }]);

    const cases: [what: string, params: Record<string, string>, body: BodyInit, status: number, message: string, contentType?: string][] = [
      ["folded: first byte flipped", { name: "bad.cpu" }, flipFirst(folded), 422, "not valid UTF-8"],
      ["folded: truncated mid-record", { name: "bad.cpu" }, "main;a 100\nmain;b ", 422, "strconv.Atoi"],
      ["folded: bad number", { name: "bad.cpu" }, "main;a 100\nmain;b 2x\n", 422, 'parsing "2x"'],
      ["folded: unknown suffix", { name: "my.python.app" }, folded, 400, "unknown profile type: app"],
      ["lines: line over 64 KiB", { name: "bad.cpu", format: "lines" }, "x".repeat(70_000), 422, "token too long"],
      ["trie: first byte flipped", { name: "bad.cpu", format: "trie" }, flipFirst(trie), 422, "trie:"],
      ["trie: truncated mid-record", { name: "bad.cpu", format: "trie" }, trie.slice(0, trie.length >> 1), 422, "truncated"],
      ["trie: child count too large", { name: "bad.cpu", format: "trie" }, Uint8Array.from([0, 0, 9, ...trie.slice(3)]), 422, "trie:"],
      ["tree: first byte flipped", { name: "bad.cpu", format: "tree" }, flipFirst(tree), 422, "tree:"],
      ["tree: truncated mid-record", { name: "bad.cpu", format: "tree" }, tree.slice(0, tree.length >> 1), 422, "truncated"],
      ["tree: name over 65535 bytes", { name: "bad.cpu", format: "tree" }, Uint8Array.from([...treeNode([], 0, 1), ...treeNode(new Array(70_000).fill(0x61), 1, 0)]), 422, "node name length 70000 exceeds maximum 65535"],
      ["tree: over 16000 children", { name: "bad.cpu", format: "tree" }, Uint8Array.from(treeNode([], 0, 16_001)), 422, "node children count 16001 exceeds maximum 16000"],
      ["tree: unknown suffix", { name: "bad.sideways", format: "tree" }, tree, 400, "unknown profile type: sideways"],
      ["speedscope: first byte flipped", { name: "bad", format: "speedscope" }, flipFirst(simple), 422, "not a speedscope JSON file"],
      ["speedscope: truncated", { name: "bad", format: "speedscope" }, simple.slice(0, simple.length >> 1), 422, "not a speedscope JSON file"],
      ["speedscope: unknown unit", { name: "bad", format: "speedscope" }, speedscope((f) => (f.profiles[1].unit = "parsecs")), 422, "unknown unit parsecs"],
      ["speedscope: samples and weights disagree", { name: "bad", format: "speedscope" }, speedscope((f) => f.profiles[1].weights.pop()), 422, "Unequal lengths"],
      ["speedscope: bad weight", { name: "bad", format: "speedscope" }, speedscope((f) => (f.profiles[1].weights[0] = "1")), 422, "weight is not a number"],
      ["speedscope: frame out of range", { name: "bad", format: "speedscope" }, speedscope((f) => (f.profiles[1].samples[0] = [0, 9])), 422, "Invalid frame 9"],
      ["speedscope: unknown profile type", { name: "bad", format: "speedscope" }, speedscope((f) => f.profiles.forEach((p: any) => (p.unit = "none"))), 400, "unknown profile type: none"],
      // The first profile passes; the second's label is over the limit: neither is stored.
      ["speedscope: second profile refused", { name: "bad", format: "speedscope" }, speedscope((f) => (f.profiles[1].name = "n".repeat(3000))), 400, "label value too long"],
      ["jfr: no jfr part", { name: "bad", format: "jfr" }, jfrParts.body, 422, "jfr field is required", jfrParts.contentType],
      ["jfr: part over the size limit", { name: "bad", format: "jfr" }, jfrTooBig.body, 422, "decompressed size exceeds maximum allowed size of 4194304 bytes", jfrTooBig.contentType],
    ];
    await ingestOk({ name: "fmt-good.cpu" }, folded);
    await flushAll();
    const before = await storageSnapshot();
    for (const [what, params, body, status, message, contentType] of cases) {
      const res = await ingest(params, body, contentType);
      expect(res.headers.get("content-type")).toContain("application/json");
      const err = JSON.parse(await res.text()) as { code: string; message: string };
      expect([what, res.status, err.message]).toEqual([what, status, expect.stringContaining(message)]);
    }
    await flushAll();
    expect(await storageSnapshot()).toEqual(before);
  });
});
