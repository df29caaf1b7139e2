// The JFR decoder against Pyroscope's own expectations (testdata/MANIFEST.md "## JFR"): every
// recording's profiles, run through the pprof pipeline as /ingest runs them, must hold exactly the
// stacks of each expected pprof for its profile type and label selector. Recordings made of several
// chunks add up; damaged recordings are refused as malformed profiles, never with another error.
// A small recording written here covers what the corpus does not: integers without compression,
// every string encoding, 64-bit keys and span ids, and span labels.

import { create, toBinary } from "@bufbuild/protobuf";
import { beforeAll, describe, expect, it } from "vitest";
import { BlockBuilder } from "../workers/block/builder";
import { DEFAULTS } from "../workers/config";
import { LabelsSnapshotSchema } from "../workers/gen/jfr/v1/labels_pb";
import type { PprofProfile } from "../workers/ingest/pprof-decode";
import { IngestError } from "../workers/ingest/errors";
import { decodeJfr, type JfrInput } from "../workers/ingest/jfr/index";
import type { Labels } from "../workers/ingest/labels";
import { normalizePprof } from "../workers/ingest/pprof";
import { collapsed } from "./setup/collapsed";
import { collapsePprof } from "./setup/query";
import { testdataList, testdataPlain } from "./setup/testdata";
import { refusal } from "./setup/refusal";

const CONFIG = { ...DEFAULTS, RETENTION_SECONDS: 0 };
const INPUT: JfrInput = {
  appName: "jfr-app",
  nameLabels: [],
  spyName: "javaspy",
  fromMs: 1_693_796_435_000,
  untilMs: 1_693_796_445_000,
  nowMs: 1_693_796_445_000,
  config: CONFIG,
};

/** The label selectors of the expected files, by the hash in their names (MANIFEST). */
const SELECTORS: Record<string, Labels> = { "17241709254077376921": [] };
const THREAD_HASHES = ["2539015855607244867", "6511396920643364271", "5571933481434853072", "10784330302778997279", "16370823494798218517", "14685508092873724845", "15666661103234080825", "302387572117411911"];
THREAD_HASHES.forEach((hash, i) => (SELECTORS[hash] = [["thread_name", `pool-2-thread-${i + 1}`]]));

interface Expected {
  file: string;
  /** The profile type id with `:` replaced by `_`, as in the file name. */
  metric: string;
  selector: Labels;
}

interface Recording {
  name: string;
  jfr: Uint8Array;
  labels: Uint8Array | undefined;
  expected: Expected[];
}

async function recordings(): Promise<Recording[]> {
  const files = await testdataList("jfr");
  const out: Recording[] = [];
  for (const name of files.filter((f) => f.endsWith(".jfr.gz"))) {
    const labelsFile = name.replace(/\.jfr\.gz$/, ".labels.pb.gz");
    const expected = files
      .filter((f) => f.startsWith(`${name}.`) && f.endsWith(".pb.gz"))
      .map((file) => {
        const [, metric, hash] = /^\.(.+)\.(\d+)\.pb\.gz$/.exec(file.slice(name.length))!;
        expect(SELECTORS[hash], `selector of ${file}`).toBeDefined();
        return { file, metric, selector: SELECTORS[hash] };
      });
    out.push({
      name,
      jfr: await testdataPlain(`jfr/${name}`),
      labels: files.includes(labelsFile) ? await testdataPlain(`jfr/${labelsFile}`) : undefined,
      expected,
    });
  }
  return out;
}

/** Decodes a recording and stores its profiles as /ingest does (normalizePprof in push mode). */
function ingest(jfr: Uint8Array, labels: Uint8Array | undefined, input: JfrInput = INPUT): BlockBuilder {
  const builder = new BlockBuilder();
  for (const { labels: series, profile } of decodeJfr(jfr, labels, input)) {
    normalizePprof({ profile, bytes: new Uint8Array(0) }, { mode: "push", seriesLabels: series, nowMs: input.nowMs, config: CONFIG }, () => builder);
  }
  return builder;
}

/** The merged stacks of the series of one profile type whose labels include the selector. */
function select(b: BlockBuilder, metric: string, selector: Labels): string {
  return collapsed(b, (profileType, series) => {
    if (profileType.replaceAll(":", "_") !== metric) return false;
    const labels = b.seriesLabelsOf(series);
    return selector.every(([n, v]) => labels.some(([m, w]) => m === n && w === v));
  });
}

function seriesOf(b: BlockBuilder): { profileType: string; labels: Labels }[] {
  return Array.from({ length: b.seriesProfileType.length }, (_, s) => ({
    profileType: b.strings[b.seriesProfileType.get(s)],
    labels: b.seriesLabelsOf(s),
  }));
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Collapsed text with every value multiplied. */
function scaled(text: string, factor: number): string {
  return text.replace(/ (\d+)\n/g, (_, v: string) => ` ${Number(v) * factor}\n`);
}

/** A LEB128 varint at `at`: [value, byte length] (values far below 2^53 here). */
function varint(bytes: Uint8Array, at: number): [number, number] {
  let value = 0;
  for (let i = 0; ; i++) {
    const b = bytes[at + i];
    value += (b & 0x7f) * 2 ** (7 * i);
    if (b < 0x80) return [value, i + 1];
  }
}

describe("JFR decoder", () => {
  let all: Recording[];
  beforeAll(async () => {
    all = await recordings();
  });

  it("finds the 8 recordings and 42 expected profiles of the MANIFEST", () => {
    expect(all.length).toBe(8);
    expect(all.reduce((n, r) => n + r.expected.length, 0)).toBe(42);
  });

  it("produces exactly the expected stacks for every profile type and selector", async () => {
    for (const rec of all) {
      const b = ingest(rec.jfr, rec.labels);
      for (const e of rec.expected) {
        const want = collapsePprof(await testdataPlain(`jfr/${e.file}`), 0);
        expect(select(b, e.metric, e.selector), e.file).toBe(want);
      }
    }
  });

  it("labels series as Pyroscope's JFR path does (§1.6.2) and keeps profile_id off them", () => {
    const dump2 = all.find((r) => r.name === "dump2.jfr.gz")!;
    const input = { ...INPUT, nameLabels: [["env", "test"], ["__reserved", "x"]] as Labels };
    const series = seriesOf(ingest(dump2.jfr, dump2.labels, input));
    expect(new Set(series.map((s) => s.profileType))).toEqual(
      new Set([
        "process_cpu:cpu:nanoseconds:cpu:nanoseconds",
        "wall:wall:nanoseconds:wall:nanoseconds",
        "memory:alloc_in_new_tlab_objects:count:space:bytes",
        "memory:alloc_in_new_tlab_bytes:bytes:space:bytes",
        "memory:live:count:objects:count",
      ]),
    );
    const cpu = series.filter((s) => s.profileType.startsWith("process_cpu:"));
    // The unlabelled samples plus one series per thread: profile_id became per-sample span ids.
    expect(cpu.length).toBe(9);
    for (const { labels } of cpu) {
      const names = labels.map(([n]) => n);
      expect(names).not.toContain("profile_id");
      expect(names).not.toContain("__reserved");
      expect(labels).toEqual(expect.arrayContaining([["__name__", "process_cpu"], ["service_name", "jfr-app"], ["pyroscope_spy", "javaspy"], ["jfr_event", "wall"], ["env", "test"]]));
    }
    // A service_name among the name labels wins; the app name then goes to app_name.
    const renamed = seriesOf(ingest(dump2.jfr, dump2.labels, { ...INPUT, nameLabels: [["service_name", "svc"]] }));
    expect(renamed[0].labels).toEqual(expect.arrayContaining([["service_name", "svc"], ["app_name", "jfr-app"]]));
  });

  it("totals dump2's CPU time as the MANIFEST does: 3358 samples × 10 ms", () => {
    const dump2 = all.find((r) => r.name === "dump2.jfr.gz")!;
    const cpu = decodeJfr(dump2.jfr, dump2.labels, INPUT).find(({ labels }) => labels.some(([n, v]) => n === "__name__" && v === "process_cpu"))!;
    expect(cpu.profile.sampleValues.reduce((a, v) => a + v, 0)).toBe(33_580_000_000);
  });

  it("takes a sample's worth from the recording's interval, as the agent's sampleRate is", () => {
    const dump2 = all.find((r) => r.name === "dump2.jfr.gz")!;
    const text = new TextDecoder("latin1").decode(dump2.jfr);
    const at = text.indexOf("interval\x03\x0810000000") + "interval\x03\x08".length;
    expect(text.indexOf("interval", at)).toBe(-1);
    const slower = dump2.jfr.slice();
    slower.set(new TextEncoder().encode("20000000"), at);
    const total = (bytes: Uint8Array, metric: string) =>
      decodeJfr(bytes, dump2.labels, INPUT)
        .filter(({ labels }) => labels.some(([n, v]) => n === "__name__" && v === metric))
        .reduce((sum, { profile }) => sum + profile.sampleValues.reduce((a, v) => a + v, 0), 0);
    expect(total(slower, "process_cpu")).toBe(2 * 33_580_000_000);
    expect(total(slower, "wall")).toBe(2 * 147_230_000_000);
  });

  it("adds up recordings made of several chunks", () => {
    const [a, b] = ["cortex-dev-01__kafka-0__cpu__0.jfr.gz", "cortex-dev-01__kafka-0__cpu__1.jfr.gz"].map((n) => all.find((r) => r.name === n)!);
    const cpu = "process_cpu_cpu_nanoseconds_cpu_nanoseconds";
    const sum = new Map<string, number>();
    for (const r of [a, b]) {
      for (const line of select(ingest(r.jfr, undefined), cpu, []).split("\n").filter(Boolean)) {
        const sp = line.lastIndexOf(" ");
        sum.set(line.slice(0, sp), (sum.get(line.slice(0, sp)) ?? 0) + Number(line.slice(sp + 1)));
      }
    }
    const both = select(ingest(concat(a.jfr, b.jfr), undefined), cpu, []);
    expect(both.split("\n").filter(Boolean).length).toBe(sum.size);
    for (const line of both.split("\n").filter(Boolean)) {
      const sp = line.lastIndexOf(" ");
      expect(Number(line.slice(sp + 1)), line).toBe(sum.get(line.slice(0, sp)));
    }

    const dump2 = all.find((r) => r.name === "dump2.jfr.gz")!;
    const once = ingest(dump2.jfr, dump2.labels);
    const twice = ingest(concat(dump2.jfr, dump2.jfr, dump2.jfr), dump2.labels);
    for (const e of dump2.expected) expect(select(twice, e.metric, e.selector), e.file).toBe(scaled(select(once, e.metric, e.selector), 3));
  });

  describe("damaged recordings are malformed profiles", () => {
    let jfr: Uint8Array;
    let dump2: Uint8Array;
    beforeAll(() => {
      jfr = all.find((r) => r.name === "cortex-dev-01__kafka-0__cpu__0.jfr.gz")!.jfr;
      dump2 = all.find((r) => r.name === "dump2.jfr.gz")!.jfr;
    });
    const malformed = (bytes: Uint8Array) => {
      const err = refusal(() => decodeJfr(bytes, undefined, INPUT), "the damaged recording was accepted");
      expect([err.kind, err.reason]).toEqual(["invalid", "malformed_profile"]);
      return err.message;
    };
    const withChunkSize = (bytes: Uint8Array, size: number) => {
      const out = bytes.slice();
      new DataView(out.buffer).setBigInt64(8, BigInt(size));
      return out;
    };

    it("refuses a recording whose first byte is changed", () => {
      for (const first of [0, jfr[0] ^ 0xff]) {
        const bytes = jfr.slice();
        bytes[0] = first;
        expect(malformed(bytes)).toMatch(/magic/);
      }
      expect(malformed(new Uint8Array(0))).toMatch(/empty/);
    });

    it("refuses recordings cut anywhere, and cut chunks that claim to end there", () => {
      const cuts = [1, 40, 67, 68, 69, 500, 5_000, 100_000, jfr.length - 100, jfr.length - 1];
      for (const cut of cuts) malformed(jfr.subarray(0, cut));
      // The chunk size rewritten to the cut: the error now comes from inside the chunk (metadata,
      // constant pools or an event cut short), wherever the cut falls.
      for (const cut of [100, 1_000, 50_000, 200_000, 300_000, 500_000, 700_000, dump2.length - 3]) {
        malformed(withChunkSize(dump2.subarray(0, cut), cut));
      }
    });

    it("refuses chunk sizes that are too large or too small", () => {
      for (const size of [jfr.length + 1, jfr.length * 2, 2 ** 62, -1, 0, 67, jfr.length - 1, jfr.length - 1000]) {
        malformed(withChunkSize(jfr, size));
      }
    });

    it("refuses events whose declared size is wrong and pools of undefined types", () => {
      // dump2's first execution sample (type id 101 in its metadata), resized by ±1.
      let at = 68;
      while (varint(dump2, at)[0] > 0 && varint(dump2, at + varint(dump2, at)[1])[0] !== 101) at += varint(dump2, at)[0];
      const [size, sizeBytes] = varint(dump2, at);
      expect([sizeBytes, size < 127]).toEqual([1, true]);
      for (const delta of [-1, 1]) {
        const bytes = dump2.slice();
        bytes[at] = size + delta;
        expect(malformed(bytes)).toMatch(/event at byte|truncated/);
      }
      // The type id of the checkpoint's first pool (after size, type, start, duration, delta, the
      // kind byte and the pool count) replaced by one the metadata does not define (127 or 16383).
      const bytes = dump2.slice();
      at = Number(new DataView(dump2.buffer, dump2.byteOffset).getBigInt64(16));
      for (let i = 0; i < 7; i++) at += varint(bytes, at)[1];
      const idBytes = varint(bytes, at)[1];
      expect(idBytes).toBeLessThanOrEqual(2);
      bytes.fill(0xff, at, at + idBytes - 1);
      bytes[at + idBytes - 1] = 0x7f;
      expect(malformed(bytes)).toMatch(/does not define/);
    });

    it("refuses metadata nested too deep and classes nested by value too deep or in themselves", () => {
      let deep: Element = { name: "leaf", attributes: {} };
      for (let i = 0; i < 20; i++) deep = { name: "region", attributes: {}, children: [deep] };
      expect(malformed(syntheticChunk(true, undefined, { metadata: [deep] }))).toMatch(/metadata elements nested deeper than 16/);
      expect(malformed(syntheticChunk(true, undefined, { arrays: [cls(ARRAYS, "test.Arrays", [["self", ARRAYS]])] }))).toMatch(/test\.Arrays contains itself by value/);
      const chain = Array.from({ length: 40 }, (_, i) => cls(200 + i, `test.Level${i}`, i === 39 ? [["n", INT]] : [["next", 201 + i]]));
      expect(malformed(syntheticChunk(true, undefined, { arrays: [cls(ARRAYS, "test.Arrays", [["first", 200]]), ...chain] }))).toMatch(/nested by value deeper than 32/);
      // Nesting within the bounds reads: the chain cut to 8 levels, its one value an int.
      const short = Array.from({ length: 8 }, (_, i) => cls(200 + i, `test.Level${i}`, i === 7 ? [["ints", INT, "array"], ["longs", LONG, "array"], ["names", STRING, "array"], ["flags", BOOLEAN, "array"]] : [["next", 201 + i]]));
      expect(decodeJfr(syntheticChunk(true, undefined, { arrays: [cls(ARRAYS, "test.Arrays", [["first", 200]]), ...short] }), undefined, INPUT).length).toBe(1);
    });

    it("never fails with anything but a refusal on random damage", () => {
      let seed = 1;
      const random = () => ((seed = (Math.imul(seed, 1_103_515_245) + 12_345) >>> 0) / 2 ** 32);
      for (let i = 0; i < 300; i++) {
        const bytes = (i % 2 ? dump2 : jfr).slice();
        for (let k = 0; k < 3; k++) bytes[Math.floor(random() * bytes.length)] = Math.floor(random() * 256);
        try {
          decodeJfr(bytes, undefined, INPUT);
        } catch (err) {
          expect(err, String(err)).toBeInstanceOf(IngestError);
        }
      }
    });

    it("refuses a labels snapshot that is not protobuf", () => {
      const err = refusal(() => decodeJfr(dump2, new Uint8Array([0xff, 0xff, 0xff]), INPUT), "the damaged recording was accepted");
      expect(err.reason).toBe("malformed_profile");
    });
  });
});

/** A tiny JFR writer: one chunk, integers compressed (varints) or not (big-endian). */
class ChunkWriter {
  readonly out: number[] = [];
  constructor(readonly compressed: boolean) {}

  byte(v: number): this {
    this.out.push(v & 0xff);
    return this;
  }
  fixed(v: bigint, bytes: number): this {
    for (let i = bytes - 1; i >= 0; i--) this.byte(Number((BigInt.asUintN(64, v) >> BigInt(8 * i)) & 0xffn));
    return this;
  }
  long(v: bigint | number): this {
    let x = BigInt.asUintN(64, BigInt(v));
    if (!this.compressed) return this.fixed(x, 8);
    for (let i = 0; i < 8; i++, x >>= 7n) {
      if (x < 0x80n) return this.byte(Number(x));
      this.byte(Number(x & 0x7fn) | 0x80);
    }
    return this.byte(Number(x));
  }
  int(v: number): this {
    return this.compressed ? this.long(v >>> 0) : this.fixed(BigInt(v), 4);
  }
  /** A string: UTF-8 (3), Latin-1 (5), chars (4) or a reference to the string pool (2). */
  string(s: string, encoding: 2 | 3 | 4 | 5 = 3, poolKey = 0): this {
    this.byte(encoding);
    if (encoding === 2) return this.long(poolKey);
    const units = encoding === 3 ? [...new TextEncoder().encode(s)] : [...s].map((c) => c.charCodeAt(0));
    this.int(units.length);
    for (const u of units) {
      if (encoding === 4) this.compressed ? this.long(u) : this.fixed(BigInt(u), 2);
      else this.byte(u);
    }
    return this;
  }
  /** Appends `body` as an event: its size (padded to 4 bytes when compressed, as the JDK writes it) first. */
  event(body: ChunkWriter): this {
    const size = body.out.length + 4;
    if (this.compressed) for (let i = 0; i < 4; i++) this.byte(((size >> (7 * i)) & 0x7f) | (i < 3 ? 0x80 : 0));
    else this.fixed(BigInt(size), 4);
    this.out.push(...body.out);
    return this;
  }
  part(): ChunkWriter {
    return new ChunkWriter(this.compressed);
  }
}

interface Element {
  name: string;
  attributes: Record<string, string>;
  children?: Element[];
}

const cls = (id: number, name: string, fields: [string, number, ("cp" | "array")?][] = []): Element => ({
  name: "class",
  attributes: { id: String(id), name },
  children: fields.map(([field, type, how]) => ({
    name: "field",
    attributes: { name: field, class: String(type), ...(how === "cp" ? { constantPool: "true" } : how === "array" ? { dimension: "1" } : {}) },
  })),
});

const [LONG, INT, BOOLEAN, STRING, BYTE, CLASS, SYMBOL, METHOD, FRAME, TRACE, STATE, HEADER, ARRAYS, SAMPLE, SETTING] = [
  1, 2, 3, 4, 5, 10, 11, 12, 13, 14, 15, 16, 17, 101, 102,
];
const TYPES: Element[] = [
  cls(LONG, "long"),
  cls(INT, "int"),
  cls(BOOLEAN, "boolean"),
  cls(STRING, "java.lang.String"),
  cls(BYTE, "byte"),
  // HotSpot pools a copy of the chunk header as a byte array; arrays of the other scalars too.
  cls(HEADER, "jdk.types.ChunkHeader", [["payload", BYTE, "array"]]),
  cls(ARRAYS, "test.Arrays", [["ints", INT, "array"], ["longs", LONG, "array"], ["names", STRING, "array"], ["flags", BOOLEAN, "array"]]),
  cls(CLASS, "java.lang.Class", [["name", SYMBOL, "cp"], ["modifiers", INT]]),
  cls(SYMBOL, "jdk.types.Symbol", [["string", STRING]]),
  cls(METHOD, "jdk.types.Method", [["type", CLASS, "cp"], ["name", SYMBOL, "cp"], ["hidden", BOOLEAN]]),
  cls(FRAME, "jdk.types.StackFrame", [["method", METHOD, "cp"], ["lineNumber", INT]]),
  cls(TRACE, "jdk.types.StackTrace", [["truncated", BOOLEAN], ["frames", FRAME, "array"]]),
  cls(STATE, "jdk.types.ThreadState", [["name", STRING]]),
  cls(SAMPLE, "jdk.ExecutionSample", [["startTime", LONG], ["stackTrace", TRACE, "cp"], ["state", STATE, "cp"], ["contextId", LONG], ["spanId", LONG], ["spanName", LONG]]),
  cls(SETTING, "jdk.ActiveSetting", [["id", LONG], ["name", STRING], ["value", STRING]]),
];

/** Stack trace keys: one past 2^53 (a 64-bit key), one small. */
const BIG_KEY = (1n << 60n) + 7n;
const SPAN = 0xfedcba9876543210n;

/**
 * One chunk: two stacks (one through a lambda class), CPU samples with and without a span. Its
 * settings are async-profiler's (`event`), or with `period` HotSpot's (a timespan per event type).
 */
function syntheticChunk(compressed: boolean, period?: string, shape: { metadata?: Element[]; arrays?: Element[] } = {}): Uint8Array {
  const w = new ChunkWriter(compressed);
  w.out.push(...new Array(68).fill(0));

  const metadataAt = w.out.length;
  const strings: string[] = [];
  const index = (s: string) => (strings.includes(s) ? strings.indexOf(s) : strings.push(s) - 1);
  const tree = w.part();
  const element = (e: Element) => {
    tree.int(index(e.name)).int(Object.keys(e.attributes).length);
    for (const [k, v] of Object.entries(e.attributes)) tree.int(index(k)).int(index(v));
    tree.int(e.children?.length ?? 0);
    for (const c of e.children ?? []) element(c);
  };
  // `arrays` replaces the pooled test.Arrays class (and may add classes), `metadata` adds elements.
  const types = shape.arrays ? [...TYPES.filter((t) => t.attributes.id !== String(ARRAYS)), ...shape.arrays] : TYPES;
  element({ name: "root", attributes: {}, children: [{ name: "metadata", attributes: {}, children: types }, ...(shape.metadata ?? [])] });
  const metadata = w.part().long(0).long(0).long(0).long(0).int(strings.length);
  for (const s of strings) metadata.string(s);
  metadata.out.push(...tree.out);
  w.event(metadata);

  w.event(period === undefined ? w.part().long(SETTING).long(SAMPLE).string("event").string("cpu") : w.part().long(SETTING).long(SAMPLE).string("period").string(period));
  const sample = (stack: bigint, state: number, context: number, span: bigint, spanName: number) =>
    w.event(w.part().long(SAMPLE).long(1).long(stack).long(state).long(context).long(span).long(spanName));
  sample(BIG_KEY, 1, 1, SPAN, 7);
  sample(BIG_KEY, 1, 1, SPAN, 7);
  sample(5n, 1, 0, 0n, 0);
  sample(5n, 2, 0, 0n, 0); // sleeping: no CPU
  sample(999n, 1, 0, 0n, 0); // unknown stack: dropped

  const cpAt = w.out.length;
  const pools = w.part().long(1).long(0).long(0).long(0).byte(1).int(8);
  pools.long(HEADER).int(1).long(1).int(68);
  for (let i = 0; i < 68; i++) pools.byte(0xf0 + i);
  pools.long(ARRAYS).int(1).long(1).int(3).int(1).int(300).int(-5).int(1).long(1n << 40n).int(2).string("a").string("", 2, 40).int(2).byte(1).byte(0);
  pools.long(STRING).int(1).long(40).string("com/example/App");
  pools.long(SYMBOL).int(5);
  pools.long(1).string("", 2, 40).long(2).string("work", 5).long(3).string("main", 4);
  pools.long(4).string("com/example/App$$Lambda$14/0x0000000800c03000").long(5).string("run");
  pools.long(CLASS).int(2).long(1).long(1).int(1).long(2).long(4).int(0x1000);
  pools.long(METHOD).int(3).long(1).long(1).long(2).byte(0).long(2).long(1).long(3).byte(0).long(3).long(2).long(5).byte(1);
  pools.long(TRACE).int(2);
  pools.long(BIG_KEY).byte(0).int(2).long(1).int(10).long(2).int(20);
  pools.long(5).byte(0).int(3).long(3).int(1).long(77).int(0).long(2).int(21); // method 77 is unknown: left out
  pools.long(STATE).int(2).long(1).string("STATE_RUNNABLE").long(2).string("STATE_SLEEPING");
  w.event(pools);

  const bytes = new Uint8Array(w.out);
  const header = new DataView(bytes.buffer);
  bytes.set([0x46, 0x4c, 0x52, 0x00]);
  header.setUint16(4, 2);
  header.setBigInt64(8, BigInt(bytes.length));
  header.setBigInt64(16, BigInt(cpAt));
  header.setBigInt64(24, BigInt(metadataAt));
  header.setBigInt64(56, 1_000_000_000n);
  header.setInt32(64, compressed ? 1 : 0);
  return bytes;
}

const SNAPSHOT = toBinary(
  LabelsSnapshotSchema,
  create(LabelsSnapshotSchema, {
    contexts: { "1": { labels: { "10": 11n } } },
    strings: { "10": "thread_name", "11": "worker-1", "7": "GET /api" },
  }),
);

/** `stack {labels} value` lines of one profile's sample type 0, sorted. */
function samplesOf(p: PprofProfile): string[] {
  const lines: string[] = [];
  for (let s = 0; s + 1 < p.sampleLocationStart.length; s++) {
    const frames: string[] = [];
    for (let i = p.sampleLocationStart[s + 1] - 1; i >= p.sampleLocationStart[s]; i--) frames.push(p.strings[p.functionName[p.sampleLocations[i]]]);
    const labels: string[] = [];
    for (let l = p.sampleLabelStart[s]; l < p.sampleLabelStart[s + 1]; l++) labels.push(`${p.strings[p.labelKey[l]]}=${p.strings[p.labelStr[l]]}`);
    lines.push(`${frames.join(";")} {${labels.sort().join(",")}} ${p.sampleValues[p.sampleValueStart[s]]}`);
  }
  return lines.sort();
}

describe("JFR decoder on a written recording", () => {
  const expected = (n: number) => [
    `com/example/App.main;com/example/App$$Lambda_.run {} ${n * 10_000_000}`,
    `com/example/App.main;com/example/App.work {profile_id=fedcba9876543210,span_name=GET /api,thread_name=worker-1} ${n * 20_000_000}`,
  ];

  for (const compressed of [true, false]) {
    it(`reads a chunk with integers ${compressed ? "compressed" : "uncompressed"}: strings, 64-bit keys, spans, states`, () => {
      const profiles = decodeJfr(syntheticChunk(compressed), SNAPSHOT, INPUT);
      expect(profiles.map(({ labels }) => labels.find(([n]) => n === "__name__")![1])).toEqual(["process_cpu"]);
      expect(profiles[0].labels).toEqual(expect.arrayContaining([["jfr_event", "cpu"]]));
      expect(samplesOf(profiles[0].profile)).toEqual(expected(1));
    });
  }

  for (const compressed of [true, false]) {
    it(`takes a sample's worth from HotSpot's period setting (integers ${compressed ? "compressed" : "uncompressed"})`, () => {
      for (const [period, nanos] of [
        ["20 ms", 20_000_000],
        ["10ms", 10_000_000],
        ["1 s", 1_000_000_000],
        ["500 us", 500_000],
        // Not a timespan: the default rate.
        ["off", 10_000_000],
        ["0 ms", 10_000_000],
      ] as const) {
        const profiles = decodeJfr(syntheticChunk(compressed, period), SNAPSHOT, INPUT);
        expect(profiles.length).toBe(1);
        expect(profiles[0].labels.some(([n]) => n === "jfr_event"), period).toBe(false);
        expect(samplesOf(profiles[0].profile), period).toEqual(expected(1).map((l) => l.replace(/ (\d+)$/, (_, v: string) => ` ${(Number(v) / 10_000_000) * nanos}`)));
      }
    });
  }

  it("adds up chunks of either kind in one recording", () => {
    const [profile] = decodeJfr(concat(syntheticChunk(true), syntheticChunk(false), syntheticChunk(true)), SNAPSHOT, INPUT);
    expect(samplesOf(profile.profile)).toEqual(expected(3));
  });

  it("labels spans without a labels part, as Pyroscope does", () => {
    const [profile] = decodeJfr(syntheticChunk(true), undefined, INPUT);
    expect(samplesOf(profile.profile)).toEqual([
      `com/example/App.main;com/example/App$$Lambda_.run {} 10000000`,
      `com/example/App.main;com/example/App.work {profile_id=fedcba9876543210} 20000000`,
    ]);
  });
});
