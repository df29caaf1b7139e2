import { env } from "cloudflare:workers";
import { deflateSync } from "fflate";
import { Profile } from "pprof-format";
import { describe, expect, it } from "vitest";
import { BlockBuilder, type BuilderColumns, type Labels } from "../workers/block/builder";
import { crc32, CRC32_INIT, crc32Finish, crc32Update } from "../workers/util/crc32";
import {
  decodeBlock,
  decodeProfiles,
  decodeSamples,
  decodeSeries,
  decodeStacks,
  decodeStrings,
  decodeSymbols,
  inflateSection,
  readToc,
} from "../workers/block/decode";
import { type BlockMeta, encodeBlock, encodeBlockAsync, encodeDatasets, nativeDeflate } from "../workers/block/encode";
import { DEFAULT_TAIL_BYTES, SectionKind, type Toc, TRAILER_SIZE, sectionOf } from "../workers/block/format";
import { mergeInto } from "../workers/block/merge";
import { builderOfPush, decodePushFrame, encodePushFrame } from "../workers/block/push-frame";
import { writeTocAndTrailer } from "../workers/block/toc";
import { ByteReader, ByteWriter } from "../workers/block/varint";
import { typeTotals } from "./setup/storage";
import { plain, testdata, testdataList } from "./setup/testdata";

const META: BlockMeta = { tenant: "tenant-ü", service: "app", shard: 3, blockId: "01J0000000000000000000000", createdAtMs: 1_700_000_123_456 };

// ---------------------------------------------------------------------------------------------
// Synthetic builders

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const NAMES = ["main", "runtime.mcall", "net/http.(*conn).serve", "функция", "関数_𝔘𝔫𝔦", "🔥hot_path", "std::vector<int>::push_back", "a\u0000nul"];
const FILES = ["/src/main.go", "/usr/include/c++/vector", "файл.py", ""];
const CPU = "process_cpu:cpu:nanoseconds:cpu:nanoseconds";
const ALLOC = "memory:alloc_space:bytes:space:bytes";
const OBJECTS = "memory:alloc_objects:count:space:bytes";

/**
 * Several series and profile types, 64-bit and wrapping mappings, inline frames, deep stacks
 * sharing prefixes, span/trace ids. `odd` adds values that need the raw-double encoding.
 */
function synthetic(seed: number, odd = false): BlockBuilder {
  const rnd = mulberry32(seed);
  const int = (n: number) => Math.floor(rnd() * n);
  const b = new BlockBuilder();
  b.string("\uFEFFstarts with a byte order mark");
  const maps = [
    { memoryStart: 0xffffffff81000000n, memoryLimit: 0xffffffff83000000n, fileOffset: 0n, filename: "[kernel.kallsyms]", buildId: "", flags: 0 },
    { memoryStart: 0x400000n, memoryLimit: 0x1400000n, fileOffset: 0x1000n, filename: "/usr/bin/app", buildId: "3f2a9c0d", flags: 15 },
    { memoryStart: 0x7f3a2c000000n, memoryLimit: 0x7f3a2c200000n, fileOffset: 0n, filename: "/lib/libc.so.6", buildId: "ビルド", flags: 3 },
    { memoryStart: 0xfffffffffffff000n, memoryLimit: 0x1000n, fileOffset: 0xffffffffffffffffn, filename: "wraps", buildId: "", flags: 2 },
  ];
  const mapIds = maps.map((m) => b.mapping(m));
  const fns: number[] = [];
  for (let i = 0; i < 60; i++) {
    const startLine = odd && i === 7 ? 1.5 : i === 9 ? -3 : i * 17;
    fns.push(b.func(b.string(`${NAMES[i % NAMES.length]}#${i % 45}`), b.string(`sys_${i}`), b.string(FILES[i % FILES.length]), startLine));
  }
  const locs: number[] = [];
  for (let i = 0; i < 150; i++) {
    const m = int(maps.length);
    const address = BigInt.asUintN(64, maps[m].memoryStart + BigInt(int(0x200000)));
    const n = int(4);
    const lf: number[] = [];
    const ln: number[] = [];
    for (let k = 0; k < n; k++) {
      lf.push(fns[int(fns.length)]);
      ln.push(int(5000));
    }
    locs.push(b.location(mapIds[m], address, lf, ln, n));
  }
  // Stacks grow from earlier ones so that they share prefixes; a few are hundreds of frames deep.
  const stacks: number[][] = [[locs[0]]];
  for (let i = 1; i < 60; i++) {
    const base = stacks[int(stacks.length)];
    const keep = base.slice(0, 1 + int(base.length));
    const grow = i % 15 === 0 ? 300 : 1 + int(12);
    for (let k = 0; k < grow; k++) keep.push(locs[int(locs.length)]);
    stacks.push(keep);
  }
  const nodeOf = (stack: number[]) => {
    let node = 0;
    for (const loc of stack) node = b.stackNode(node, loc);
    return node;
  };
  const series = [
    b.series([["__name__", "process_cpu"], ["service_name", "app"]], CPU),
    b.series([["__name__", "process_cpu"], ["pod", "pod-ü-1"], ["service_name", "app"]], CPU),
    b.series([["__name__", "memory"], ["service_name", "app"]], ALLOC),
    b.series([["__name__", "memory"], ["région", "Île-de-France 🇫🇷"], ["service_name", "app"]], OBJECTS),
  ];
  for (let p = 0; p < 16; p++) {
    const s = p % series.length;
    const time = 1_700_000_000_000 + p * 15_000 - (p === 5 ? 40_000 : 0);
    b.beginProfile(series[s], time, odd && p === 3 ? 1e9 + 0.5 : 15_000_000_000);
    const n = 30 + int(120);
    for (let i = 0; i < n; i++) {
      const node = nodeOf(stacks[int(stacks.length)]);
      let value = s < 2 ? 10_000_000 * (1 + int(20)) : 1 + int(1_000_000);
      if (odd && p === 2 && i === 0) value = 0.25;
      if (odd && p === 6 && i === 0) value = 2 ** 60;
      const span = int(4) === 0 ? b.string(hex16(rnd)) : 0;
      const trace = int(5) === 0 ? b.string(hex16(rnd) + hex16(rnd)) : 0;
      b.addSample(node, value, span, trace);
    }
    b.endProfile();
  }
  return b;
}

function hex16(rnd: () => number): string {
  let s = "";
  for (let i = 0; i < 16; i++) s += Math.floor(rnd() * 16).toString(16);
  return s;
}

// ---------------------------------------------------------------------------------------------
// Views of a builder for comparisons

function columnsOf(b: BlockBuilder): BuilderColumns {
  return {
    strings: b.strings,
    mappingStart: b.mappingStart.view(),
    mappingLimit: b.mappingLimit.view(),
    mappingOffset: b.mappingOffset.view(),
    mappingFile: b.mappingFile.view(),
    mappingBuildId: b.mappingBuildId.view(),
    mappingFlags: b.mappingFlags.view(),
    fnName: b.fnName.view(),
    fnSystemName: b.fnSystemName.view(),
    fnFile: b.fnFile.view(),
    fnStartLine: b.fnStartLine.view(),
    locMapping: b.locMapping.view(),
    locAddress: b.locAddress.view(),
    locLineStart: b.locLineStart.view(),
    lineFn: b.lineFn.view(),
    lineNo: b.lineNo.view(),
    nodeParent: b.nodeParent.view(),
    nodeLoc: b.nodeLoc.view(),
    seriesLabelStart: b.seriesLabelStart.view(),
    seriesLabels: b.seriesLabels.view(),
    seriesProfileType: b.seriesProfileType.view(),
    profileSeries: b.profileSeries.view(),
    profileTime: b.profileTime.view(),
    profileDuration: b.profileDuration.view(),
    profileSampleStart: b.profileSampleStart.view(),
    sampleNode: b.sampleNode.view(),
    sampleValue: b.sampleValue.view(),
    sampleSpan: b.sampleSpan.view(),
    sampleTrace: b.sampleTrace.view(),
  };
}

/** Byte-exact comparison, so that -0, NaN payloads and 64-bit values count too. */
function bytesOf(a: ArrayBufferView): number[] {
  return [...new Uint8Array(a.buffer, a.byteOffset, a.byteLength)];
}

function expectSameColumns(actual: Partial<BuilderColumns>, expected: BuilderColumns): void {
  for (const [name, col] of Object.entries(actual)) {
    const want = expected[name as keyof BuilderColumns];
    if (Array.isArray(want)) expect(col, name).toEqual(want);
    else {
      expect((col as ArrayBufferView).constructor, name).toBe((want as ArrayBufferView).constructor);
      expect(bytesOf(col as ArrayBufferView), name).toEqual(bytesOf(want as ArrayBufferView));
    }
  }
}

function frameName(b: BlockBuilder, loc: number): string {
  const [start, end] = b.locationLines(loc);
  if (start === end) return `${b.strings[b.mappingFile.get(b.locMapping.get(loc))]}+0x${b.locAddress.get(loc).toString(16)}`;
  const names: string[] = [];
  for (let k = end - 1; k >= start; k--) names.push(`${b.strings[b.fnName.get(b.lineFn.get(k))]}:${b.lineNo.get(k)}`);
  return names.join(";");
}

/** series (type + labels) → root-first frame names → Σ values; independent of any ids. */
function stackTotals(b: BlockBuilder): Map<string, Map<string, number>> {
  const out = new Map<string, Map<string, number>>();
  for (let p = 0; p < b.profileCount; p++) {
    const s = b.profileSeries.get(p);
    const key = `${b.strings[b.seriesProfileType.get(s)]} ${JSON.stringify(b.seriesLabelsOf(s))}`;
    let m = out.get(key);
    if (!m) out.set(key, (m = new Map()));
    const [start, end] = b.profileSamples(p);
    for (let i = start; i < end; i++) {
      const stack = b
        .stackLocations(b.sampleNode.get(i))
        .map((l) => frameName(b, l))
        .join(";");
      m.set(stack, (m.get(stack) ?? 0) + b.sampleValue.get(i));
    }
  }
  return out;
}

function addTotals(into: Map<string, Map<string, number>>, from: Map<string, Map<string, number>>): void {
  for (const [series, stacks] of from) {
    let m = into.get(series);
    if (!m) into.set(series, (m = new Map()));
    for (const [stack, v] of stacks) m.set(stack, (m.get(stack) ?? 0) + v);
  }
}

function sortedTotals(t: Map<string, Map<string, number>>): [string, [string, number][]][] {
  return [...t.entries()].map(([s, m]) => [s, [...m.entries()].sort(([a], [c]) => (a < c ? -1 : 1))] as [string, [string, number][]]).sort(([a], [c]) => (a < c ? -1 : 1));
}

function tocOf(bytes: Uint8Array): { toc: Toc; tocOffset: number } {
  const r = readToc(bytes, bytes.length);
  if (!r.complete) throw new Error("incomplete");
  return r;
}

/** The same object with its TOC replaced (a valid TOC checksum, so only the layout checks can object). */
function withToc(bytes: Uint8Array, edit: (toc: Toc) => void): Uint8Array {
  const { toc, tocOffset } = tocOf(bytes);
  const copy: Toc = structuredClone(toc);
  edit(copy);
  const w = new ByteWriter();
  w.bytes(bytes.subarray(0, tocOffset));
  writeTocAndTrailer(w, copy);
  return w.finish().slice();
}

// ---------------------------------------------------------------------------------------------

describe("varints", () => {
  it("round-trip at the edges of each width", () => {
    const w = new ByteWriter(4);
    const us = [0, 1, 127, 128, 16383, 16384, 2 ** 31 - 1, 2 ** 31, 2 ** 32, 2 ** 53 - 1];
    const ss = [0, -1, 1, -64, 64, -(2 ** 31), 2 ** 40, -(2 ** 52), 2 ** 52 - 1];
    const bs = [0n, 127n, 128n, 0xfffffffn, 0x10000000n, 0xffffffff81000000n, 0xffffffffffffffffn];
    for (const v of us) w.uvarint(v);
    for (const v of ss) w.svarint(v);
    for (const v of bs) w.u64varint(v);
    const r = new ByteReader(w.finish(), "test");
    expect(us.map(() => r.uvarint())).toEqual(us);
    expect(ss.map(() => r.svarint())).toEqual(ss);
    expect(bs.map(() => r.u64varint())).toEqual(bs);
    r.done();
  });

  it("rejects values that do not fit and input that ends early", () => {
    const w = new ByteWriter();
    expect(() => w.uvarint(-1)).toThrow(Error);
    expect(() => w.uvarint(0.5)).toThrow(Error);
    expect(() => w.uvarint(2 ** 53)).toThrow(Error);
    expect(() => w.svarint(2 ** 52)).toThrow(Error);
    expect(() => new ByteReader(Uint8Array.of(0x80, 0x80), "t").uvarint()).toThrow(/truncated/);
    expect(() => new ByteReader(new Uint8Array(9).fill(0xff), "t").uvarint()).toThrow(/longer than 8/);
    expect(() => new ByteReader(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f), "t").uvarint()).toThrow(/2\^53/);
  });
});

describe("crc32", () => {
  it("matches the trailers that real gzip writers put on the corpus, fed whole or in odd pieces", async () => {
    // By magic, not by name: some corpus files named .gz are plain pprof.
    const gz: string[] = [];
    for (const f of await testdataList("pprof")) {
      const head = f.endsWith(".json") ? undefined : await testdata(`pprof/${f}`).catch(() => undefined);
      if (head?.[0] === 0x1f && head[1] === 0x8b) gz.push(f);
    }
    expect(gz.length).toBeGreaterThanOrEqual(6);
    expect(crc32(new TextEncoder().encode("123456789"))).toBe(0xcbf43926);
    for (const file of gz) {
      const onDisk = await testdata(`pprof/${file}`);
      const n = onDisk.length;
      const trailer = (onDisk[n - 8] | (onDisk[n - 7] << 8) | (onDisk[n - 6] << 16) | (onDisk[n - 5] << 24)) >>> 0;
      const raw = plain(onDisk);
      expect(crc32(raw), file).toBe(trailer);
      let c = CRC32_INIT;
      for (let at = 0; at < raw.length; at += 13) c = crc32Update(c, raw.subarray(at, at + 13));
      expect(crc32Finish(c), file).toBe(trailer);
    }
  });
});

describe("block encode/decode", () => {
  for (const odd of [false, true]) {
    it(`round-trips every column exactly${odd ? " (fractional and huge values)" : ""}`, () => {
      const b = synthetic(1, odd);
      const decoded = decodeBlock(encodeBlock(b, META));
      expectSameColumns(columnsOf(decoded), columnsOf(b));
      expect(sortedTotals(stackTotals(decoded))).toEqual(sortedTotals(stackTotals(b)));
    });
  }

  it("encodes the same builder to the same bytes, also after a decode", () => {
    const b = synthetic(2);
    const once = encodeBlock(b, META);
    expect(encodeBlock(b, META)).toEqual(once);
    expect(encodeBlock(synthetic(2), META)).toEqual(once);
    expect(encodeBlock(decodeBlock(once), META)).toEqual(once);
  });

  it("encodes with the runtime's native deflate to a block that reads back the same as fflate's", async () => {
    const b = synthetic(4, true);
    const native = await encodeBlockAsync(b, META, nativeDeflate);
    const reference = encodeBlock(b, META);
    // Different compressors, so different bytes; the same layout and contents.
    expect(native).not.toEqual(reference);
    expectSameColumns(columnsOf(decodeBlock(native)), columnsOf(b));
    const [a, r] = [tocOf(native).toc.datasets[0], tocOf(reference).toc.datasets[0]];
    expect(a.sections.map((s) => [s.kind, s.rawLength])).toEqual(r.sections.map((s) => [s.kind, s.rawLength]));
    expect(sortedTotals(stackTotals(decodeBlock(native)))).toEqual(sortedTotals(stackTotals(b)));
    // A retried flush writes the same key again: the native output must be repeatable too.
    expect(await encodeBlockAsync(b, META, nativeDeflate)).toEqual(native);
  });

  it("round-trips an empty builder", () => {
    const bytes = encodeBlock(new BlockBuilder(), META);
    expectSameColumns(columnsOf(decodeBlock(bytes)), columnsOf(new BlockBuilder()));
    const d = tocOf(bytes).toc.datasets[0];
    expect([d.minTimeMs, d.maxTimeMs, d.series, d.profiles, d.samples, d.types.length]).toEqual([0, 0, 0, 0, 0, 0]);
  });

  it("rebuilds the interning indexes so that more data can be appended", () => {
    const b = synthetic(3);
    const d = decodeBlock(encodeBlock(b, META));
    for (let i = 0; i < b.strings.length; i++) expect(d.string(b.strings[i])).toBe(i);
    for (let n = 1; n < b.stackNodeCount; n++) expect(d.stackNode(b.nodeParent.get(n), b.nodeLoc.get(n))).toBe(n);
    for (let s = 0; s < b.seriesCount; s++) expect(d.series(b.seriesLabelsOf(s), b.strings[b.seriesProfileType.get(s)])).toBe(s);
    const [start, end] = b.locationLines(5);
    expect(d.location(b.locMapping.get(5), b.locAddress.get(5), b.lineFn.view().slice(start, end), b.lineNo.view().slice(start, end), end - start)).toBe(5);
    expect(d.func(b.fnName.get(4), b.fnSystemName.get(4), b.fnFile.get(4), b.fnStartLine.get(4))).toBe(4);
    expect(d.mapping({ memoryStart: 0x400000n, memoryLimit: 0x1400000n, fileOffset: 0x1000n, filename: "/usr/bin/app", buildId: "3f2a9c0d", flags: 15 })).toBe(2);
    expectSameColumns(columnsOf(d), columnsOf(b));

    // Appending goes on from where the decoded tables end.
    const loc = d.location(1, 0xdeadbeefn, [], [], 0);
    expect(loc).toBe(b.locationCount);
    const leaf = d.stackNode(0, loc);
    expect(leaf).toBe(b.stackNodeCount);
    d.beginProfile(0, 1_800_000_000_000, 1);
    d.addSample(leaf, 7, d.string("new-span"));
    expect(d.endProfile()).toBe(true);
    const again = decodeBlock(encodeBlock(d, META));
    expectSameColumns(columnsOf(again), columnsOf(d));
  });

  it("decodes read-only builders with the same columns that refuse to be added to", () => {
    const b = synthetic(3);
    const r = decodeBlock(encodeBlock(b, META), undefined, false);
    expectSameColumns(columnsOf(r), columnsOf(b));
    expect(() => r.string("x")).toThrow(/read-only/);
    expect(() => r.stackNode(0, 1)).toThrow(/read-only/);
    expect(() => r.beginProfile(0, 1, 1)).toThrow(/read-only/);
    const target = new BlockBuilder();
    mergeInto(target, r);
    expectSameColumns(columnsOf(target), columnsOf(b));
  });

  it("puts per-type totals and counts that match the samples in the TOC", () => {
    const b = synthetic(4, true);
    const { toc } = tocOf(encodeBlock(b, META));
    expect(toc).toMatchObject({ version: 1, tenant: META.tenant, blockId: META.blockId, shard: META.shard, createdAtMs: META.createdAtMs });
    expect(toc.datasets).toHaveLength(1);
    const d = toc.datasets[0];
    expect(d.service).toBe("app");
    expect([d.series, d.profiles, d.samples]).toEqual([b.seriesCount, b.profileCount, b.sampleCount]);
    const times = b.profileTime.view();
    expect(d.minTimeMs).toBe(Math.min(...times));
    expect(d.maxTimeMs).toBe(Math.max(...times));
    expect(d.types.map((t) => t.profileType)).toEqual([ALLOC, OBJECTS, CPU].sort());
    const totals = typeTotals(b);
    for (const t of d.types) {
      expect(t.total).toBe(totals.get(t.profileType));
      let samples = 0;
      let profiles = 0;
      for (let p = 0; p < b.profileCount; p++) {
        if (b.strings[b.seriesProfileType.get(b.profileSeries.get(p))] !== t.profileType) continue;
        profiles++;
        const [s, e] = b.profileSamples(p);
        samples += e - s;
      }
      expect([t.profiles, t.samples]).toEqual([profiles, samples]);
    }
    expect(d.types.reduce((n, t) => n + t.samples, 0)).toBe(b.sampleCount);
  });

  it("reads the TOC from the tail alone and decodes sections from range reads", () => {
    const b = synthetic(5);
    const bytes = encodeBlock(b, META);
    const size = bytes.length;
    const tail = (n: number) => bytes.slice(size - n);
    expect(readToc(tail(10), size)).toEqual({ complete: false, needTailBytes: TRAILER_SIZE });
    const first = readToc(tail(TRAILER_SIZE), size);
    expect(first.complete).toBe(false);
    if (first.complete) return;
    const exact = readToc(tail(first.needTailBytes), size);
    const big = readToc(tail(Math.min(size, DEFAULT_TAIL_BYTES)), size);
    expect(exact.complete && big.complete).toBe(true);
    if (!exact.complete || !big.complete) return;
    expect(exact.toc).toEqual(big.toc);

    const d = exact.toc.datasets[0];
    const range = (kind: SectionKind) => {
      const e = sectionOf(d, kind);
      return inflateSection(bytes.slice(e.offset, e.offset + e.length), e);
    };
    const want = columnsOf(b);
    expect(decodeStrings(range(SectionKind.Strings))).toEqual(b.strings);
    expectSameColumns(decodeSymbols(range(SectionKind.Symbols)), want);
    expectSameColumns(decodeStacks(range(SectionKind.Stacks)), want);
    expectSameColumns(decodeSeries(range(SectionKind.Series)), want);
    expectSameColumns(decodeProfiles(range(SectionKind.Profiles)), want);
    expectSameColumns(decodeSamples(range(SectionKind.Samples)), want);
  });

  it("holds several datasets, one per service, sorted by service", () => {
    const x = synthetic(6);
    const y = synthetic(7, true);
    const { service: _, ...meta } = META;
    const bytes = encodeDatasets(meta, [
      { service: "zeta", builder: x },
      { service: "alpha", builder: y },
    ]);
    expect(tocOf(bytes).toc.datasets.map((d) => d.service)).toEqual(["alpha", "zeta"]);
    expectSameColumns(columnsOf(decodeBlock(bytes, "zeta")), columnsOf(x));
    expectSameColumns(columnsOf(decodeBlock(bytes, "alpha")), columnsOf(y));
    expect(() => decodeBlock(bytes)).toThrow(/2 datasets/);
    expect(() => decodeBlock(bytes, "nope")).toThrow(/no dataset/);
    expect(() => encodeDatasets(meta, [{ service: "a", builder: x }, { service: "a", builder: y }])).toThrow(/twice/);
  });

  it("skips section kinds it does not know (additions that need no version bump)", () => {
    const b = synthetic(14);
    const bytes = encodeBlock(b, META);
    const { toc, tocOffset } = tocOf(bytes);
    const extra = Uint8Array.of(1, 2, 3, 4, 5);
    toc.datasets[0].sections.push({ kind: 99, offset: tocOffset, length: extra.length, rawLength: 0, crc32: crc32(extra) });
    const w = new ByteWriter();
    w.bytes(bytes.subarray(0, tocOffset));
    w.bytes(extra);
    writeTocAndTrailer(w, toc);
    expectSameColumns(columnsOf(decodeBlock(w.finish())), columnsOf(b));
  });

  it("refuses to encode or merge a builder with an open profile", () => {
    const b = synthetic(8);
    b.beginProfile(0, 1, 1);
    expect(() => encodeBlock(b, META)).toThrow(/open/);
    expect(() => mergeInto(new BlockBuilder(), b)).toThrow(/open/);
  });
});

describe("corrupt blocks", () => {
  const bytes = encodeBlock(synthetic(9), META);
  const flipped = (at: number) => {
    const c = bytes.slice();
    c[at] ^= 0x40;
    return c;
  };

  it("throws on bad magic at either end", () => {
    expect(() => decodeBlock(flipped(bytes.length - 1))).toThrow(/magic/);
    expect(() => decodeBlock(flipped(0))).toThrow(/magic/);
    expect(() => decodeBlock(new TextEncoder().encode("not a block at all, just some text here"))).toThrow(/magic/);
  });

  it("throws on an unknown version", () => {
    const c = bytes.slice();
    c[bytes.length - 8] = 2;
    expect(() => decodeBlock(c)).toThrow(/version 2/);
    const h = bytes.slice();
    h[4] = 2;
    expect(() => decodeBlock(h)).toThrow(/version 2/);
  });

  it("throws when truncated anywhere", () => {
    const cuts = [0, 1, 7, 8, 31, 32, 100, bytes.length >> 1, bytes.length - TRAILER_SIZE - 1, bytes.length - TRAILER_SIZE, bytes.length - 1];
    for (const n of cuts) expect(() => decodeBlock(bytes.slice(0, n)), `cut at ${n}`).toThrow(Error);
    // A reader told the wrong object size sees a TOC that does not end at the trailer.
    const tail = bytes.slice(bytes.length - 64);
    for (const size of [bytes.length - 1, bytes.length + 1, 100, 64]) expect(() => readToc(tail, size), `size ${size}`).toThrow(/does not end/);
    expect(() => readToc(tail, 40)).toThrow(/exceeds the object size/);
    expect(() => readToc(tail.subarray(48), 24)).toThrow(/too small/);
  });

  it("throws when the TOC lies about a section", () => {
    const longer = withToc(bytes, (t) => void (t.datasets[0].sections[2].length += 1));
    expect(() => decodeBlock(longer)).toThrow(/starts at|sections end/);
    const shorter = withToc(bytes, (t) => void (t.datasets[0].sections[5].length -= 3));
    expect(() => decodeBlock(shorter)).toThrow(/sections end/);
    const rawLies = withToc(bytes, (t) => void (t.datasets[0].sections[1].rawLength -= 1));
    expect(() => decodeBlock(rawLies)).toThrow(/inflated to/);
    const rawHuge = withToc(bytes, (t) => void (t.datasets[0].sections[1].rawLength = 2 ** 40));
    expect(() => decodeBlock(rawHuge)).toThrow(/claims/);
    const missing = withToc(bytes, (t) => {
      const d = t.datasets[0];
      d.sections[4].length += d.sections[5].length;
      d.sections.pop();
    });
    expect(() => decodeBlock(missing)).toThrow(/0 sections of kind 6/);
    const counts = withToc(bytes, (t) => void (t.datasets[0].samples += 1));
    expect(() => decodeBlock(counts)).toThrow(/summary/);
  });

  it("throws when a section does not inflate", () => {
    const { toc } = tocOf(bytes);
    const e = sectionOf(toc.datasets[0], SectionKind.Stacks);
    const c = bytes.slice();
    c.fill(0xff, e.offset, e.offset + e.length); // block type 3 does not exist in deflate
    const patched = withToc(c, (t) => void (sectionOf(t.datasets[0], SectionKind.Stacks).crc32 = crc32(c.subarray(e.offset, e.offset + e.length))));
    expect(() => decodeBlock(patched)).toThrow(/inflate failed/);
  });

  it("throws on every single flipped byte", () => {
    const rnd = mulberry32(99);
    for (let k = 0; k < 400; k++) {
      const at = k < 64 ? bytes.length - 1 - k : Math.floor(rnd() * bytes.length);
      expect(() => decodeBlock(flipped(at)), `byte ${at}`).toThrow(Error);
    }
  });

  it("refuses counts that the bytes cannot hold before allocating", () => {
    const huge = (write: (w: ByteWriter) => void) => {
      const w = new ByteWriter();
      write(w);
      return w.finish();
    };
    expect(() => decodeStrings(huge((w) => w.uvarint(2 ** 50)))).toThrow(/count/);
    expect(() => decodeStacks(huge((w) => w.uvarint(1e9)))).toThrow(/count/);
    expect(() => decodeSamples(huge((w) => w.uvarint(2 ** 40)))).toThrow(/count/);
    expect(() => decodeSeries(huge((w) => (w.uvarint(1), w.uvarint(0), w.uvarint(2 ** 45))))).toThrow(/label count/);
    const oneLocation = (w: ByteWriter) => (w.uvarint(0), w.uvarint(0), w.u8(0), w.uvarint(1), w.uvarint(1), w.uvarint(0), w.uvarint(0));
    expect(() => decodeSymbols(huge((w) => (oneLocation(w), w.uvarint(2 ** 52))))).toThrow(/line count/);
    expect(() => decodeStacks(huge((w) => (w.uvarint(2), w.uvarint(1), w.uvarint(5), w.uvarint(1), w.uvarint(1))))).toThrow(/parent offset/);
    expect(() => decodeProfiles(huge((w) => (w.uvarint(1), w.uvarint(0), w.u8(7), w.uvarint(0), w.uvarint(0))))).toThrow(/mode 7/);
    const entry = { kind: 3, offset: 8, length: 2, rawLength: 10_000_000, crc32: 0 };
    expect(() => inflateSection(Uint8Array.of(3, 0), entry)).toThrow(/implausible/);
    // Well-formed deflate that inflates to more than the TOC says must not be truncated silently.
    const packed = deflateSync(new Uint8Array(1000));
    expect(() => inflateSection(packed, { kind: 3, offset: 8, length: packed.length, rawLength: 10, crc32: crc32(packed) })).toThrow(/inflated to 11/);
  });
});

describe("mergeInto", () => {
  it("equals the element-wise union of the inputs", () => {
    const x = synthetic(10);
    const y = synthetic(11, true);
    const target = decodeBlock(encodeBlock(x, META));
    mergeInto(target, y);
    const want = stackTotals(x);
    addTotals(want, stackTotals(y));
    expect(sortedTotals(stackTotals(target))).toEqual(sortedTotals(want));
    expect(target.profileCount).toBe(x.profileCount + y.profileCount);
    const merged = decodeBlock(encodeBlock(target, META));
    expectSameColumns(columnsOf(merged), columnsOf(target));
  });

  it("reproduces the source exactly when the target is empty", () => {
    const x = synthetic(12, true);
    const target = new BlockBuilder();
    mergeInto(target, x);
    expect(encodeBlock(target, META)).toEqual(encodeBlock(x, META));
  });

  it("adds no symbols or stacks when merging data the target already has", () => {
    const x = synthetic(13);
    const target = decodeBlock(encodeBlock(x, META));
    mergeInto(target, x);
    const counts = (b: BlockBuilder) => [b.strings.length, b.mappingCount, b.functionCount, b.locationCount, b.stackNodeCount, b.seriesCount];
    expect(counts(target)).toEqual(counts(x));
    const want = stackTotals(x);
    addTotals(want, stackTotals(x));
    expect(sortedTotals(stackTotals(target))).toEqual(sortedTotals(want));
  });
});

// ---------------------------------------------------------------------------------------------
// Real profiles, fed through a minimal test-local pprof reader (the real ingest path lives elsewhere).

const SKIP = new Set(["invalid_utf8.pb.gz", "dotnet-pprof-3.pb.gz"]);

async function pprofFiles(): Promise<string[]> {
  const files: string[] = [];
  for (const name of await testdataList("pprof")) {
    if (SKIP.has(name) || name.endsWith(".json")) continue;
    const r = await env.TESTDATA.fetch(`http://testdata/pprof/${name}`);
    // The corpus server lists directories as JSON; only plain files are profiles.
    if (!(r.headers.get("content-type") ?? "").includes("json")) files.push(name);
    await r.body?.cancel();
  }
  return files;
}

interface Fed {
  builder: BlockBuilder;
  /** Per sample type index: its profile type id and the plain sum of its values in the pprof. */
  types: { id: string; total: number }[];
}

/** Every sample type of the pprof becomes one series with one profile. */
function feed(raw: Uint8Array, file: string): Fed {
  const prof = Profile.decode(raw);
  const str = (i: unknown) => prof.stringTable.strings[Number(i)] ?? "";
  const b = new BlockBuilder();
  const fnIds = new Map<number, number>();
  for (const f of prof.function) fnIds.set(Number(f.id), b.func(b.string(str(f.name)), b.string(str(f.systemName)), b.string(str(f.filename)), Number(f.startLine)));
  const mapIds = new Map<number, number>();
  for (const m of prof.mapping) {
    const flags = (m.hasFunctions ? 1 : 0) | (m.hasFilenames ? 2 : 0) | (m.hasLineNumbers ? 4 : 0) | (m.hasInlineFrames ? 8 : 0);
    mapIds.set(
      Number(m.id),
      b.mapping({ memoryStart: BigInt(m.memoryStart), memoryLimit: BigInt(m.memoryLimit), fileOffset: BigInt(m.fileOffset), filename: str(m.filename), buildId: str(m.buildId), flags }),
    );
  }
  const locIds = new Map<number, number>();
  for (const l of prof.location) {
    const fns = l.line.map((x) => fnIds.get(Number(x.functionId)) ?? 0);
    const lines = l.line.map((x) => Number(x.line));
    locIds.set(Number(l.id), b.location(mapIds.get(Number(l.mappingId)) ?? 0, BigInt(l.address), fns, lines, fns.length));
  }
  const nodes = new Int32Array(prof.sample.length);
  const spans = new Int32Array(prof.sample.length);
  const traces = new Int32Array(prof.sample.length);
  prof.sample.forEach((s, i) => {
    let node = 0;
    for (let k = s.locationId.length - 1; k >= 0; k--) node = b.stackNode(node, locIds.get(Number(s.locationId[k])) ?? 0);
    nodes[i] = node;
    for (const l of s.label) {
      if (str(l.key) === "span_id") spans[i] = b.string(str(l.str));
      if (str(l.key) === "profile_id") traces[i] = b.string(str(l.str));
    }
  });
  const period = prof.periodType ? `${str(prof.periodType.type)}:${str(prof.periodType.unit)}` : ":";
  const timeMs = Math.floor(Number(prof.timeNanos) / 1e6);
  const types = prof.sampleType.map((t, ti) => {
    const id = `pprof:${str(t.type)}:${str(t.unit)}:${period}`;
    const labels: Labels = [["__name__", "pprof"], ["sample_type", `${ti}`], ["service_name", file]];
    b.beginProfile(b.series(labels, id), timeMs, Number(prof.durationNanos));
    let total = 0;
    prof.sample.forEach((s, i) => {
      const v = Number(s.value[ti]);
      total += v;
      b.addSample(nodes[i], v, spans[i], traces[i]);
    });
    b.endProfile();
    return { id, total };
  });
  return { builder: b, types };
}

describe("push frames", () => {
  for (const odd of [false, true]) {
    it(`round-trip every column exactly${odd ? " (fractional and huge values)" : ""}, BOM-led string included`, () => {
      const b = synthetic(3, odd);
      const frame = encodePushFrame(b);
      expectSameColumns(decodePushFrame(frame), columnsOf(b));
      const rebuilt = builderOfPush(frame);
      expectSameColumns(columnsOf(rebuilt), columnsOf(b));
      expect(sortedTotals(stackTotals(rebuilt))).toEqual(sortedTotals(stackTotals(b)));
      expect(rebuilt.strings).toContain("\uFEFFstarts with a byte order mark");
    });
  }

  it("decode from an unaligned copy, and from blocks as ingesters buffered them before frames", () => {
    const b = synthetic(4);
    const frame = encodePushFrame(b);
    const shifted = new Uint8Array(frame.length + 3).subarray(3);
    shifted.set(frame);
    expectSameColumns(decodePushFrame(shifted), columnsOf(b));
    expectSameColumns(columnsOf(builderOfPush(encodeBlock(b, META, 0))), columnsOf(b));
  });

  it("throw when truncated anywhere or when a count lies", () => {
    const frame = encodePushFrame(synthetic(5));
    for (let cut = 0; cut < frame.length; cut += Math.max(1, Math.floor(frame.length / 97))) {
      expect(() => builderOfPush(frame.subarray(0, cut)), `cut at ${cut}`).toThrow();
    }
    const lying = frame.slice();
    new DataView(lying.buffer).setUint32(16 + 4 * 24, 1 << 30, true); // sampleNode's count
    expect(() => decodePushFrame(lying)).toThrow(/runs past the end/);
    const badHeader = frame.slice();
    const dv = new DataView(badHeader.buffer);
    dv.setUint16(4, 2, true);
    expect(() => decodePushFrame(badHeader)).toThrow(/version 2/);
    dv.setUint16(4, 1, true);
    dv.setUint16(6, 1, true);
    expect(() => decodePushFrame(badHeader)).toThrow(/reserved/);
  });
});

describe("real profiles", () => {
  it("keep every column and per-type total through encode → decode", async () => {
    const files = await pprofFiles();
    expect(files.length).toBeGreaterThanOrEqual(20);
    const checked = new Map<string, Map<string, number>>();
    const rows: string[] = [];
    let rawSum = 0;
    let encSum = 0;
    for (const file of files) {
      const onDisk = await testdata(`pprof/${file}`);
      const raw = plain(onDisk);
      const { builder, types } = feed(raw, file);
      expect(new Set(types.map((t) => t.id)).size, file).toBe(types.length);

      const bytes = encodeBlock(builder, { ...META, service: file });
      const decoded = decodeBlock(bytes);
      expectSameColumns(columnsOf(decoded), columnsOf(builder));

      const totals = typeTotals(decoded);
      const { toc } = tocOf(bytes);
      const summary = new Map(toc.datasets[0].types.map((t) => [t.profileType, t.total]));
      for (const t of types) {
        expect(totals.get(t.id) ?? 0, `${file} ${t.id}`).toBe(t.total);
        expect(summary.get(t.id) ?? 0, `${file} ${t.id} (TOC)`).toBe(t.total);
      }
      checked.set(file, new Map(types.map((t) => [t.id, totals.get(t.id) ?? 0])));

      // The ingester's buffered form keeps every column too.
      expectSameColumns(columnsOf(builderOfPush(encodePushFrame(builder))), columnsOf(builder));

      // Merging a block's own contents again doubles the totals and adds no symbols.
      const twice = decodeBlock(bytes);
      mergeInto(twice, builder);
      expect(twice.stackNodeCount, file).toBe(builder.stackNodeCount);
      for (const t of types) expect(typeTotals(twice).get(t.id) ?? 0, file).toBe(2 * t.total);

      rawSum += raw.length;
      encSum += bytes.length;
      rows.push(
        `${file.padEnd(42)} file ${String(onDisk.length).padStart(7)}  pprof ${String(raw.length).padStart(7)}  block ${String(bytes.length).padStart(7)}  ` +
          `(${((100 * bytes.length) / raw.length).toFixed(1).padStart(5)}% of pprof)`,
      );
    }
    console.log(`block sizes (${files.length} pprof files, every sample type):\n${rows.join("\n")}\ntotal: pprof ${rawSum} B → block ${encSum} B (${((100 * encSum) / rawSum).toFixed(1)}%)`);

    // Spot checks against MANIFEST.md.
    expect(checked.get("heap.pb")?.get("pprof:alloc_space:bytes:space:bytes")).toBe(13_434_386_318);
    expect(checked.get("heap.pb.gz")?.get("pprof:inuse_space:bytes:space:bytes")).toBe(1_602_645_059);
    expect(checked.get("cpu.pb.gz")?.get("pprof:cpu:nanoseconds:cpu:nanoseconds")).toBe(470_000_000);
    expect(checked.get("cpu-exemplars.pb.gz")?.get("pprof:cpu:nanoseconds:cpu:nanoseconds")).toBe(8_730_000_000);
    expect(checked.get("heap")?.get("pprof:alloc_space:bytes:space:bytes")).toBe(2_180_208_886_994);
    expect(checked.get("req_3.pprof")?.get("pprof:delay:nanoseconds:contentions:count")).toBe(22_674_240_703);
  });
});
