// toPprof: a merged builder → google.v1.Profile, serialized by protobuf-es and read back by an
// independent decoder (pprof-format). Corpus profiles must collapse to their goldens, so the
// output is a valid pprof with every symbol the stacks need.

import { toBinary } from "@bufbuild/protobuf";
import { Profile as DecodedProfile } from "pprof-format";
import { describe, expect, it } from "vitest";
import { BlockBuilder } from "../workers/block/builder";
import { DEFAULTS } from "../workers/config";
import { ProfileSchema } from "../workers/gen/google/v1/profile_pb";
import { decodePprof, normalizePprof, type SampleTypeConfig } from "../workers/ingest/pprof";
import { type PprofOptions, toPprof } from "../workers/query/pprof-out";
import { bySampleType, collapsed } from "./setup/collapsed";
import { testdataPlain, testdataText } from "./setup/testdata";

const OPTS: PprofOptions = {
  sampleType: "cpu",
  sampleUnit: "nanoseconds",
  periodType: "cpu",
  periodUnit: "nanoseconds",
  period: 10_000_000n,
  timeNanos: 1_700_000_000_000_000_000n,
  durationNanos: 15_000_000_000n,
  maxNodes: 0,
};

/** Serialized and decoded again, as a client of SelectMergeProfile would see it. */
function roundTrip(b: BlockBuilder | null, opts: PprofOptions): DecodedProfile {
  return DecodedProfile.decode(toBinary(ProfileSchema, toPprof(b, opts)));
}

/**
 * The golden format (MANIFEST.md "Golden collapsed files") read off a pprof: root first, inlined
 * lines caller first, a location without lines as its hex address; equal stacks summed.
 */
function collapsePprof(p: DecodedProfile): string {
  const names = p.stringTable.strings;
  const fnName = new Map(p.function.map((f) => [Number(f.id), names[Number(f.name)]]));
  const frames = new Map<number, string[]>();
  for (const loc of p.location) {
    const own = loc.line.length === 0 ? [BigInt(loc.address).toString(16)] : loc.line.map((l) => fnName.get(Number(l.functionId))!).reverse();
    frames.set(Number(loc.id), own);
  }
  const totals = new Map<string, number>();
  for (const s of p.sample) {
    expect(s.value).toHaveLength(1);
    const stack = [...s.locationId].reverse().flatMap((id) => frames.get(Number(id))!).join(";");
    totals.set(stack, (totals.get(stack) ?? 0) + Number(s.value[0]));
  }
  const lines = [...totals].filter(([, v]) => v !== 0).map(([stack, v]) => `${stack} ${v}`);
  return lines.sort(compareBytes).map((l) => `${l}\n`).join("");
}

const encoder = new TextEncoder();
function compareBytes(a: string, b: string): number {
  const x = encoder.encode(a);
  const y = encoder.encode(b);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i] - y[i];
  return x.length - y.length;
}

function total(p: DecodedProfile): number {
  return p.sample.reduce((sum, s) => sum + Number(s.value[0]), 0);
}

interface Corpus {
  file: string;
  type: string;
  unit: string;
  st?: string;
  spy?: string;
}

/**
 * The file through the real /ingest normaliser, its series of one sample type routed into their
 * own builder (all of them: label splits give several profiles to merge), with the options a
 * query for that profile type would pass.
 */
async function ingestType(c: Corpus): Promise<{ builder: BlockBuilder; opts: PprofOptions }> {
  const builder = new BlockBuilder();
  const elsewhere = new BlockBuilder();
  const now = Date.now();
  normalizePprof(
    decodePprof(await testdataPlain(`pprof/${c.file}`)),
    {
      mode: "ingest",
      appName: "app",
      nameLabels: [],
      spyName: c.spy ?? "unknown",
      sampleTypeConfig: c.st ? (JSON.parse(await testdataText(`pprof/${c.st}`)) as SampleTypeConfig) : undefined,
      fromMs: now,
      nowMs: now,
      config: { ...DEFAULTS, RETENTION_SECONDS: 0 },
    },
    (_, labels) => {
      const label = (name: string) => labels.find(([n]) => n === name)?.[1];
      return label("__type__") === c.type && label("__unit__") === c.unit ? builder : elsewhere;
    },
  );
  expect(builder.profileCount, c.file).toBeGreaterThan(0);
  const [, sampleType, sampleUnit, periodType, periodUnit] = builder.strings[builder.seriesProfileType.get(0)].split(":");
  return { builder, opts: { ...OPTS, sampleType, sampleUnit, periodType, periodUnit } };
}

const CORPUS: Corpus[] = [
  { file: "cpu.pb.gz", type: "cpu", unit: "nanoseconds" }, // inline frames
  { file: "cpu-exemplars.pb.gz", type: "cpu", unit: "nanoseconds" }, // three series
  { file: "cpu-unknown.pb.gz", type: "samples", unit: "count" }, // locations without lines
  { file: "heap-js.pprof", type: "space", unit: "bytes" },
  { file: "dotnet-pprof-211.pb.gz", type: "alloc_size", unit: "bytes", st: "dotnet-pprof-211.st.json", spy: "dotnetspy" },
  { file: "profile_java", type: "cpu", unit: "nanoseconds" },
];

function goldenName(c: Corpus, gz: boolean): string {
  return `expected/${c.file}.${c.type}.${c.unit}.collapsed${gz ? ".gz" : ""}`;
}

async function golden(c: Corpus): Promise<string> {
  const plain = await testdataText(goldenName(c, false)).catch(() => null);
  return plain ?? new TextDecoder().decode(await testdataPlain(goldenName(c, true)));
}

describe("toPprof on corpus profiles", () => {
  for (const c of CORPUS) {
    it(`${c.file} ${c.type}/${c.unit} collapses to its golden`, async () => {
      const { builder, opts } = await ingestType(c);
      const want = await golden(c);
      expect(collapsed(builder, bySampleType(c.type, c.unit))).toBe(want);

      const p = roundTrip(builder, opts);
      expect(collapsePprof(p)).toBe(want);
      const str = (i: unknown) => p.stringTable.strings[Number(i)];
      expect(str(0)).toBe("");
      expect(p.sampleType.map((t) => [str(t.type), str(t.unit)])).toEqual([[opts.sampleType, opts.sampleUnit]]);
      expect([str(p.periodType?.type), str(p.periodType?.unit)]).toEqual([opts.periodType, opts.periodUnit]);
      expect([BigInt(p.period), BigInt(p.timeNanos), BigInt(p.durationNanos)]).toEqual([opts.period, opts.timeNanos, opts.durationNanos]);
      // Only what the samples reach, numbered 1…n.
      const reached = new Set(p.sample.flatMap((s) => s.locationId.map(Number)));
      expect(p.location.map((l) => Number(l.id))).toEqual(p.location.map((_, i) => i + 1));
      expect(reached.size).toBe(p.location.length);
      expect(p.function.map((f) => Number(f.id))).toEqual(p.function.map((_, i) => i + 1));
      expect(new Set(p.stringTable.strings).size).toBe(p.stringTable.strings.length);
    });
  }
});

/** Root-first stacks of (location, lines) in hand-made builders. */
function handMade(stacks: [frames: string[], value: number][]): BlockBuilder {
  const b = new BlockBuilder();
  const map = b.mapping({ memoryStart: 0x1000n, memoryLimit: 0x9000n, fileOffset: 0x200n, filename: "/bin/app", buildId: "b1d", flags: 0b0101 });
  const file = b.string("app.go");
  b.beginProfile(b.series([], "process_cpu:cpu:nanoseconds:cpu:nanoseconds"), 1, 1);
  for (const [frames, value] of stacks) {
    let node = 0;
    for (const name of frames) {
      const fn = b.func(b.string(name), b.string(`sys.${name}`), file, 7);
      node = b.stackNode(node, b.location(map, 0x1000n + BigInt(name.length), [fn], [42], 1));
    }
    b.addSample(node, value);
  }
  b.endProfile();
  return b;
}

describe("toPprof symbols", () => {
  it("writes mapping flags, function fields, inline lines innermost first, and nothing unreferenced", () => {
    const b = handMade([[["main", "work"], 5]]);
    b.mapping({ memoryStart: 0n, memoryLimit: 1n, fileOffset: 0n, filename: "/unused.so", buildId: "", flags: 15 });
    b.func(b.string("unused"), 0, 0, 0);
    const map = b.mapping({ memoryStart: 0x1000n, memoryLimit: 0x9000n, fileOffset: 0x200n, filename: "/bin/app", buildId: "b1d", flags: 0b0101 });
    const inner = b.func(b.string("inlined"), 0, 0, 3);
    const outer = b.func(b.string("caller"), 0, 0, 1);
    const loc = b.location(map, 0xabcn, [inner, outer], [30, 10], 2);
    b.beginProfile(0, 2, 1);
    b.addSample(b.stackNode(0, loc), 2);
    b.endProfile();

    const p = roundTrip(b, OPTS);
    const str = (i: unknown) => p.stringTable.strings[Number(i)];
    expect(p.mapping).toHaveLength(1);
    const m = p.mapping[0];
    expect([m.memoryStart, m.memoryLimit, m.fileOffset].map(Number)).toEqual([0x1000, 0x9000, 0x200]);
    expect([str(m.filename), str(m.buildId)]).toEqual(["/bin/app", "b1d"]);
    expect([m.hasFunctions, m.hasFilenames, m.hasLineNumbers, m.hasInlineFrames]).toEqual([true, false, true, false]);
    const fns = new Map(p.function.map((f) => [Number(f.id), f]));
    const inl = p.location.find((l) => Number(l.address) === 0xabc)!;
    expect(inl.line.map((l) => [str(fns.get(Number(l.functionId))!.name), Number(l.line)])).toEqual([["inlined", 30], ["caller", 10]]);
    const work = p.function.find((f) => str(f.name) === "work")!;
    expect([str(work.systemName), str(work.filename), Number(work.startLine)]).toEqual(["sys.work", "app.go", 7]);
    expect(p.stringTable.strings).not.toContain("unused");
    expect(p.stringTable.strings).not.toContain("/unused.so");
    expect(p.function).toHaveLength(4);
    expect(collapsePprof(p)).toBe("caller;inlined 2\nmain;work 5\n");
  });

  it("gives a leaf-first location list for stacks thousands of frames deep", () => {
    const names = Array.from({ length: 5000 }, (_, i) => `f${i}`);
    const p = roundTrip(handMade([[names, 1]]), OPTS);
    expect(p.sample).toHaveLength(1);
    expect(collapsePprof(p)).toBe(`${names.join(";")} 1\n`);
  });
});

describe("toPprof truncation (maxNodes)", () => {
  const stacks: [string[], number][] = [
    [["a", "c", "e"], 5],
    [["a"], 3],
    [["a", "d"], 2],
    [["b"], 1],
  ];

  it("folds the subtrees below the maxNodes-th largest total into one 'other' per parent", () => {
    // Totals a 10, c 5, e 5, d 2, b 1: the cut is 5, so d folds under a and b under the root.
    const p = roundTrip(handMade(stacks), { ...OPTS, maxNodes: 3 });
    expect(collapsePprof(p)).toBe("a 3\na;c;e 5\na;other 2\nother 1\n");
    const others = p.function.filter((f) => p.stringTable.strings[Number(f.name)] === "other");
    expect(others).toHaveLength(1);
    expect(p.location.filter((l) => Number(l.line[0]?.functionId) === Number(others[0].id))).toHaveLength(1);
  });

  it("leaves a profile with at most maxNodes live nodes alone", () => {
    const all = collapsePprof(roundTrip(handMade(stacks), OPTS));
    expect(collapsePprof(roundTrip(handMade(stacks), { ...OPTS, maxNodes: 5 }))).toBe(all);
    expect(all).toBe("a 3\na;c;e 5\na;d 2\nb 1\n");
  });

  it("keeps the total of a large corpus profile and about maxNodes distinct nodes", async () => {
    const { builder, opts } = await ingestType(CORPUS.find((c) => c.file === "profile_java")!);
    const full = roundTrip(builder, opts);
    const maxNodes = 3;
    const p = roundTrip(builder, { ...opts, maxNodes });
    expect(total(p)).toBe(total(full));
    expect(p.sample.length).toBeLessThan(full.sample.length);

    const otherLoc = p.location.find((l) => p.stringTable.strings[Number(p.function[Number(l.line[0]?.functionId) - 1]?.name)] === "other");
    expect(otherLoc).toBeDefined();
    const otherId = Number(otherLoc!.id);
    expect(p.sample.some((s) => Number(s.locationId[0]) === otherId)).toBe(true);
    // Distinct stack nodes emitted, "other" leaves aside: root-first location paths.
    const nodes = new Set<string>();
    for (const s of p.sample) {
      const path = s.locationId.map(Number).filter((id) => id !== otherId).reverse();
      for (let d = 1; d <= path.length; d++) nodes.add(path.slice(0, d).join(","));
    }
    expect(nodes.size).toBeGreaterThan(0);
    expect(nodes.size).toBeLessThanOrEqual(2 * maxNodes);
  });
});

describe("toPprof empty input", () => {
  for (const [name, b] of [["null", null], ["an empty builder", new BlockBuilder()]] as const) {
    it(`${name} gives an empty pprof that still names its sample type`, () => {
      const p = roundTrip(b, OPTS);
      expect([p.sample.length, p.location.length, p.function.length, p.mapping.length]).toEqual([0, 0, 0, 0]);
      const str = p.stringTable.strings;
      expect(str[0]).toBe("");
      expect(p.sampleType.map((t) => [str[Number(t.type)], str[Number(t.unit)]])).toEqual([["cpu", "nanoseconds"]]);
      expect(Number(p.timeNanos)).toBe(Number(OPTS.timeNanos));
    });
  }
});
