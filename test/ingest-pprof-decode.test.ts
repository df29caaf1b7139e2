// The pprof decoder against pprof-format, the library it replaced: every corpus pprof, and
// hand-built ones with what the corpus lacks (unpacked repeated fields, unknown fields, int64
// values and ids above 2^53), must decode to the same tables; truncated and corrupted bytes must be
// refused as malformed_profile, never crash or hang.

import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { Profile } from "pprof-format";
import { describe, expect, it } from "vitest";
import { IngestError } from "../workers/ingest/errors";
import { decodePprof } from "../workers/ingest/pprof";
import type { PprofProfile } from "../workers/ingest/pprof-decode";
import { testdataList, testdataPlain } from "./setup/testdata";

const SUBDIRS = ["gotruncatefix", "malformed", "phlaredb"];

async function corpusPprofs(): Promise<[string, Uint8Array][]> {
  const out: [string, Uint8Array][] = [];
  for (const dir of ["", ...SUBDIRS.map((d) => `${d}/`)]) {
    for (const name of await testdataList(`pprof/${dir}`)) {
      if (name.endsWith(".json") || (dir === "" && SUBDIRS.includes(name))) continue;
      out.push([`${dir}${name}`, await testdataPlain(`pprof/${dir}${name}`)]);
    }
  }
  return out;
}

/**
 * Ids as comparable strings: exact below 2^53, and above it numbered by first appearance, since the
 * decoder's stand-ins for big ids (negative numbers) and pprof-format's BigInts only have to pair
 * up one to one.
 */
function idNamer(isBig: (id: number | bigint) => boolean) {
  const big = new Map<number | bigint, string>();
  return (ids: Iterable<number | bigint>) =>
    Array.from(ids, (id) => {
      if (!isBig(id)) return String(id);
      let name = big.get(id);
      if (name === undefined) big.set(id, (name = `big${big.size}`));
      return name;
    });
}

/** The decoder's tables as plain arrays. */
function view(p: PprofProfile) {
  const ids = idNamer((id) => (id as number) < 0);
  return {
    // pprof-format invents the empty string of a missing string table.
    strings: p.strings.length === 0 ? [""] : p.strings,
    sampleTypes: p.sampleTypes,
    periodType: p.periodType,
    timeNanos: p.timeNanos,
    durationNanos: p.durationNanos,
    sampleLocationStart: [...p.sampleLocationStart],
    sampleLocations: [...p.sampleLocations],
    sampleValueStart: [...p.sampleValueStart],
    sampleValues: [...p.sampleValues],
    sampleLabelStart: [...p.sampleLabelStart],
    labels: [...p.labelKey].map((key, i) => [key, p.labelStr[i], p.labelNumUnit[i]]),
    mappings: [...p.mappingId].map((_, i) => [
      p.mappingStart[i],
      p.mappingLimit[i],
      p.mappingOffset[i],
      p.mappingFile[i],
      p.mappingBuildId[i],
      p.mappingFlags[i],
    ]),
    locations: [...p.locationAddress].map((address, i) => [address, p.locationLineStart[i], p.locationLineStart[i + 1]]),
    lineNumber: [...p.lineNumber],
    functions: [...p.functionName].map((name, i) => [name, p.functionSystemName[i], p.functionFile[i], p.functionStartLine[i]]),
    ids: [p.mappingId, p.locationId, p.locationMappingId, p.lineFunctionId, p.functionId].map(ids),
  };
}

type Num = number | bigint;
const int64 = (v: Num) => BigInt.asIntN(64, BigInt(v));
const uint64 = (v: Num) => BigInt.asUintN(64, BigInt(v));
const number = (v: Num) => Number(int64(v));
const index = (v: Num) => {
  const i = int64(v);
  return i >= 0n && i <= 0x7fffffffn ? Number(i) : -1;
};

/** The same view of pprof-format's decoding, converted with each field's protobuf meaning. */
function referenceView(bytes: Uint8Array) {
  const p = Profile.decode(bytes);
  const positions = new Map<bigint, number>();
  p.location.forEach((l, i) => positions.set(uint64(l.id), i));
  const starts = (lengths: number[]) => lengths.reduce((s, n) => [...s, s[s.length - 1] + n], [0]);
  const ids = idNamer((id) => (id as bigint) > BigInt(Number.MAX_SAFE_INTEGER));
  const valueType = (vt: { type: Num; unit: Num }) => ({ type: index(vt.type), unit: index(vt.unit) });
  return {
    strings: p.stringTable.strings,
    sampleTypes: p.sampleType.map(valueType),
    periodType: p.periodType && valueType(p.periodType),
    timeNanos: int64(p.timeNanos),
    durationNanos: int64(p.durationNanos),
    sampleLocationStart: starts(p.sample.map((s) => s.locationId.length)),
    sampleLocations: p.sample.flatMap((s) => s.locationId.map((id) => positions.get(uint64(id)) ?? -1)),
    sampleValueStart: starts(p.sample.map((s) => s.value.length)),
    sampleValues: p.sample.flatMap((s) => s.value.map(number)),
    sampleLabelStart: starts(p.sample.map((s) => s.label.length)),
    labels: p.sample.flatMap((s) => s.label.map((l) => [index(l.key), index(l.str), index(l.numUnit)])),
    mappings: p.mapping.map((m) => [
      uint64(m.memoryStart),
      uint64(m.memoryLimit),
      uint64(m.fileOffset),
      index(m.filename),
      index(m.buildId),
      (m.hasFunctions ? 1 : 0) | (m.hasFilenames ? 2 : 0) | (m.hasLineNumbers ? 4 : 0) | (m.hasInlineFrames ? 8 : 0),
    ]),
    locations: p.location.map((l, i, all) => {
      const first = all.slice(0, i).reduce((n, x) => n + x.line.length, 0);
      return [uint64(l.address), first, first + l.line.length];
    }),
    lineNumber: p.location.flatMap((l) => l.line.map((line) => number(line.line))),
    functions: p.function.map((f) => [index(f.name), index(f.systemName), index(f.filename), number(f.startLine)]),
    ids: [
      p.mapping.map((m) => uint64(m.id)),
      p.location.map((l) => uint64(l.id)),
      p.location.map((l) => uint64(l.mappingId)),
      p.location.flatMap((l) => l.line.map((line) => uint64(line.functionId))),
      p.function.map((f) => uint64(f.id)),
    ].map(ids),
  };
}

function refusal(run: () => unknown): IngestError | undefined {
  try {
    run();
  } catch (e) {
    if (e instanceof IngestError) return e;
    throw e;
  }
  return undefined;
}

const V = WireType.Varint;
const LD = WireType.LengthDelimited;
const BIG_ID = 0xffff_ffff_ffff_f000n;
const BIG_VALUE = (1n << 60n) + 12345n; // not a double: rounds
const BIG_ADDRESS = 0xffff_8000_1234_5678n;

interface HandBuilt {
  /** Repeated scalars one field per value instead of packed. */
  unpacked?: boolean;
  /** Fields pprof-format also tolerates: unknown numbers below 16, varint or length-delimited. */
  unknown?: boolean;
  /** Fields only a full protobuf decoder skips: fixed32/64, groups, numbers of 16 and above. */
  exotic?: boolean;
}

/** A pprof written field by field, to control what pprof-format's encoder cannot. */
function handBuilt(o: HandBuilt = {}): Uint8Array {
  const w = new BinaryWriter();
  const junk = (field: number) => {
    if (o.unknown) w.tag(field, V).uint64(7).tag(field, LD).bytes(new Uint8Array([1, 2, 3]));
    if (o.exotic) {
      w.tag(field + 100, V).uint64(1n << 63n);
      w.tag(field + 1000, WireType.Bit32).fixed32(0xdeadbeef);
      w.tag(20_000, WireType.Bit64).fixed64(BIG_ID);
      w.tag(field + 200, WireType.StartGroup).tag(1, V).uint32(5).tag(2, LD).string("in a group").tag(field + 200, WireType.EndGroup);
    }
  };
  const repeated = (field: number, values: bigint[], write: (v: bigint) => void) => {
    if (o.unpacked) {
      for (const v of values) {
        w.tag(field, V);
        write(v);
      }
      return;
    }
    w.tag(field, LD).fork();
    for (const v of values) write(v);
    w.join();
  };
  const strings = ["", "cpu", "nanoseconds", "main", "main.go", "lib.so", "leaf", "k", "v", "samples", "count"];
  const s = (x: string) => strings.indexOf(x);

  for (const [type, unit] of [["samples", "count"], ["cpu", "nanoseconds"]]) {
    w.tag(1, LD).fork().tag(1, V).int64(s(type)).tag(2, V).int64(s(unit));
    junk(3);
    w.join();
  }
  const samples: { ids: bigint[]; values: bigint[]; labels?: boolean }[] = [
    { ids: [1n, BIG_ID], values: [1n, BIG_VALUE] },
    { ids: [BIG_ID, 2n, 1n], values: [2n, -7n], labels: true },
    { ids: [3n], values: [0n, -(1n << 62n)] },
    { ids: [999n], values: [4n, 5n] }, // an unknown location
    { ids: [BIG_ID + 1n, BIG_ID], values: [6n, 7n] },
  ];
  for (const sample of samples) {
    w.tag(2, LD).fork();
    repeated(1, sample.ids, (v) => w.uint64(v));
    junk(4);
    repeated(2, sample.values, (v) => w.int64(v));
    if (sample.labels) {
      w.tag(3, LD).fork().tag(1, V).int64(s("k")).tag(2, V).int64(s("v"));
      junk(5);
      w.join();
      w.tag(3, LD).fork().tag(1, V).int64(s("k")).tag(3, V).int64(-3).tag(4, V).int64(s("count")).join();
    }
    w.join();
  }
  w.tag(3, LD).fork().tag(1, V).uint64(1).tag(2, V).uint64(0x400000).tag(3, V).uint64(BIG_ADDRESS).tag(4, V).uint64(0x1000);
  w.tag(5, V).int64(s("lib.so")).tag(6, V).int64(0).tag(7, V).bool(true).tag(9, V).bool(true);
  junk(11);
  w.join();
  const locations: [bigint, bigint, bigint, [bigint, bigint][]][] = [
    [1n, 1n, 0x401000n, [[1n, 10n]]],
    [BIG_ID, 0n, BIG_ADDRESS, [[2n, 20n], [BIG_ID, -1n]]],
    [2n, 1n, 0x402000n, []],
    [3n, 7n, 0n, [[1n, 1n << 55n]]], // an unknown mapping
    [BIG_ID + 1n, 1n, 0x403000n, [[1n, 30n]]],
  ];
  for (const [id, mapping, address, lines] of locations) {
    w.tag(4, LD).fork().tag(1, V).uint64(id).tag(2, V).uint64(mapping).tag(3, V).uint64(address);
    for (const [fn, line] of lines) {
      w.tag(4, LD).fork().tag(1, V).uint64(fn).tag(2, V).int64(line);
      if (o.unknown) w.tag(3, V).int64(17); // Line.column, unknown to Pyroscope
      junk(4);
      w.join();
    }
    w.tag(5, V).bool(false);
    junk(6);
    w.join();
  }
  for (const [id, name] of [[1n, "main"], [2n, "leaf"], [BIG_ID, "main"]] as const) {
    w.tag(5, LD).fork().tag(1, V).uint64(id).tag(2, V).int64(s(name)).tag(3, V).int64(s(name)).tag(4, V).int64(s("main.go"));
    w.tag(5, V).int64(42);
    junk(6);
    w.join();
  }
  for (const str of strings) w.tag(6, LD).string(str);
  w.tag(7, V).int64(0).tag(8, V).int64(0);
  w.tag(9, V).int64(1_676_636_000_123_456_789n).tag(10, V).int64(10_000_000_000n);
  w.tag(11, LD).fork().tag(1, V).int64(s("cpu")).tag(2, V).int64(s("nanoseconds")).join();
  w.tag(12, V).int64(10_000_000);
  repeated(13, [BigInt(s("main")), BigInt(s("leaf"))], (v) => w.int64(v));
  w.tag(14, V).int64(s("cpu"));
  if (o.unknown) w.tag(15, V).int64(s("main")); // Profile.doc_url, unknown to Pyroscope
  junk(15);
  return w.finish();
}

describe("the pprof decoder agrees with pprof-format", () => {
  it("on every pprof of the corpus", async () => {
    const files = await corpusPprofs();
    expect(files.length).toBeGreaterThan(25);
    for (const [name, bytes] of files) {
      const { profile } = decodePprof(bytes);
      expect(view(profile), name).toEqual(referenceView(bytes));
      expect(profile.invalidUtf8 !== undefined, name).toBe(name === "invalid_utf8.pb.gz");
    }
  });

  for (const o of [{}, { unpacked: true }, { unknown: true }, { unpacked: true, unknown: true }]) {
    it(`on a hand-built pprof ${JSON.stringify(o)}`, () => {
      const bytes = handBuilt(o);
      const { profile } = decodePprof(bytes);
      expect(view(profile)).toEqual(referenceView(bytes));
    });
  }

  it("keeps 64-bit values, addresses and ids exact until they must become doubles", () => {
    const { profile } = decodePprof(handBuilt());
    expect([...profile.sampleValues]).toEqual([1, Number(BIG_VALUE), 2, -7, 0, -(2 ** 62), 4, 5, 6, 7]);
    expect(profile.locationAddress[1]).toBe(BIG_ADDRESS);
    expect(profile.mappingLimit[0]).toBe(BIG_ADDRESS);
    expect(profile.lineNumber[2]).toBe(-1);
    // Big location ids are told apart and found wherever a sample uses them; id 999 is not found.
    expect([...profile.sampleLocations]).toEqual([0, 1, 1, 2, 0, 3, -1, 4, 1]);
    expect(profile.lineFunctionId[2]).toBe(profile.functionId[2]);
    expect(profile.locationId[1]).toBe(profile.functionId[2]);
    expect(profile.timeNanos).toBe(1_676_636_000_123_456_789n);
  });

  it("judges strings on their bytes and keeps a leading BOM, as Go does (pprof-format drops it)", () => {
    const table = (...strings: (string | Uint8Array)[]) => {
      const w = new BinaryWriter();
      for (const s of strings) w.tag(6, LD).bytes(typeof s === "string" ? new TextEncoder().encode(s) : s);
      return decodePprof(w.finish()).profile;
    };
    const valid = table("", "\uFEFFbom", "genuine \uFFFD");
    expect(valid.strings).toEqual(["", "\uFEFFbom", "genuine \uFFFD"]);
    expect(valid.invalidUtf8).toBeUndefined();
    const invalid = table("", "ok", new Uint8Array([0x61, 0xc0, 0xaf]), new Uint8Array([0xff]));
    expect(invalid.strings).toEqual(["", "ok", "a\uFFFD\uFFFD", "\uFFFD"]);
    expect(invalid.invalidUtf8).toBe("61c0af");
  });

  it("skips fixed-width, group and high-numbered unknown fields", () => {
    const plain = view(decodePprof(handBuilt()).profile);
    expect(view(decodePprof(handBuilt({ exotic: true })).profile)).toEqual(plain);
    expect(view(decodePprof(handBuilt({ exotic: true, unknown: true, unpacked: true })).profile)).toEqual(plain);
  });
});

describe("broken bytes", () => {
  it("a pprof cut at every 7th byte decodes as its whole fields or is refused", async () => {
    const small = (await corpusPprofs()).filter(([, b]) => b.length < 4000).map(([, b]) => b);
    // pprof-format cannot read the exotic fields: that input is only checked for refusals.
    const exotic = handBuilt({ unpacked: true, unknown: true, exotic: true });
    let refused = 0;
    let decoded = 0;
    for (const bytes of [handBuilt(), handBuilt({ unpacked: true, unknown: true }), exotic, ...small]) {
      for (let cut = 0; cut < bytes.length; cut += 7) {
        const prefix = bytes.slice(0, cut);
        let profile: PprofProfile | undefined;
        const e = refusal(() => (profile = decodePprof(prefix).profile));
        if (e) {
          expect([e.reason, e.message.startsWith("failed to parse pprof: ")]).toEqual(["malformed_profile", true]);
          refused++;
        } else {
          // Only a cut between top-level fields leaves a valid protobuf.
          if (bytes !== exotic) expect(view(profile!)).toEqual(referenceView(prefix));
          decoded++;
        }
      }
    }
    expect(refused).toBeGreaterThan(100);
    expect(decoded).toBeGreaterThan(10);
  });

  it("corrupted bytes are refused or decoded, never a crash", async () => {
    const bytes = (await corpusPprofs()).find(([name]) => name === "cpu.pb.gz")![1];
    for (let at = 0; at < bytes.length; at += 5) {
      for (const b of [0x00, 0x07, 0x80, 0xff]) {
        const corrupt = bytes.slice();
        corrupt[at] = b;
        const e = refusal(() => decodePprof(corrupt));
        if (e) expect(e.reason).toBe("malformed_profile");
      }
    }
  });

  it("refuses wrong wire types, overlong varints and lengths past the end", () => {
    const cases = [
      new BinaryWriter().tag(2, V).uint32(1).finish(), // a sample as a varint
      new BinaryWriter().tag(9, LD).bytes(new Uint8Array(2)).finish(), // time_nanos length-delimited
      new BinaryWriter().tag(9, WireType.Bit64).fixed64(1).finish(),
      new Uint8Array([0x48, ...Array(10).fill(0xff), 0x01]), // an 11-byte varint
      new Uint8Array([0x12, 0x05, 0x08]), // a sample longer than the data
      new Uint8Array([0x12, 0x02, 0x0a, 0x05]), // a packed field longer than its sample
      new Uint8Array([0x12, 0xff, 0xff, 0xff, 0xff, 0x1f]), // a 4 GiB length
      new Uint8Array([0x00]), // field 0
      new Uint8Array([0x84, 0x01]), // an end-group tag with no group
    ];
    for (const bytes of cases) expect(refusal(() => decodePprof(bytes))?.reason, String(bytes)).toBe("malformed_profile");
  });
});
