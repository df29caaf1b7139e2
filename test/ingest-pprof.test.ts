import {
  emptyTableToken,
  Function as PprofFunction,
  Label,
  Line,
  Location,
  Profile,
  Sample,
  StringTable,
  ValueType,
} from "pprof-format";
import { describe, expect, it } from "vitest";
import { BlockBuilder, type Labels } from "../workers/block/builder";
import { DEFAULTS, type Config } from "../workers/config";
import { decodePprof, normalizePprof, type NormalizeStats, type SampleTypeConfig } from "../workers/ingest/pprof";
import { bySampleType, collapsed } from "./setup/collapsed";
import { testdataList, testdataPlain, testdataText } from "./setup/testdata";
import { refusal } from "./setup/refusal";
import { typeTotals } from "./setup/storage";

// The corpus holds profiles from 2021 onwards: accept any age unless a test says otherwise.
const CONFIG: Config = { ...DEFAULTS, RETENTION_SECONDS: 0 };
// Pyroscope's own validation tests use this instant; synthetic profiles are stamped with it.
const NOW = Date.UTC(2023, 1, 17, 12, 13, 14);


interface Run {
  builder: BlockBuilder;
  stats: NormalizeStats;
  sinkCalls: number;
}

/** Sink calls over the whole file: a refusal must come before the first one. */
let sinkCallsEver = 0;

interface IngestOptions {
  spyName?: string;
  sampleTypeConfig?: SampleTypeConfig;
  nameLabels?: Labels;
  config?: Partial<Config>;
  nowMs?: number;
  fromMs?: number;
}

function ingest(bytes: Uint8Array, o: IngestOptions = {}): Run {
  const builder = new BlockBuilder();
  let sinkCalls = 0;
  const stats = normalizePprof(
    decodePprof(bytes),
    {
      mode: "ingest",
      appName: "testapp",
      nameLabels: o.nameLabels ?? [],
      spyName: o.spyName ?? "unknown",
      sampleTypeConfig: o.sampleTypeConfig,
      fromMs: o.fromMs ?? o.nowMs ?? Date.now(),
      nowMs: o.nowMs ?? Date.now(),
      config: { ...CONFIG, ...o.config },
    },
    () => (sinkCalls++, sinkCallsEver++, builder),
  );
  return { builder, stats, sinkCalls };
}

function push(bytes: Uint8Array, seriesLabels: Labels, o: { config?: Partial<Config>; nowMs?: number } = {}): Run {
  const builder = new BlockBuilder();
  let sinkCalls = 0;
  const stats = normalizePprof(
    decodePprof(bytes),
    { mode: "push", seriesLabels, nowMs: o.nowMs ?? Date.now(), config: { ...CONFIG, ...o.config } },
    () => (sinkCalls++, sinkCallsEver++, builder),
  );
  return { builder, stats, sinkCalls };
}

/** Σ values per profile type id over every stored profile, as a plain object. */
function totalsByType(b: BlockBuilder): Record<string, number> {
  return Object.fromEntries(typeTotals(b));
}

function allSeriesLabels(b: BlockBuilder): Labels[] {
  return Array.from({ length: b.seriesCount }, (_, s) => b.seriesLabelsOf(s));
}

/** Series labels a user set: without `__*`, service_name and pyroscope_spy. */
function userLabels(labels: Labels): Record<string, string> {
  return Object.fromEntries(labels.filter(([n]) => !n.startsWith("__") && n !== "service_name" && n !== "pyroscope_spy"));
}

interface Accepted {
  file: string;
  st?: string;
  spy?: string;
  name: string;
  types: Record<string, number>;
}

const GO_HEAP_TYPES = {
  "memory:alloc_objects:count:space:bytes": 196_607_841,
  "memory:alloc_space:bytes:space:bytes": 13_434_386_318,
  "memory:inuse_objects:count:space:bytes": 22_156_072,
  "memory:inuse_space:bytes:space:bytes": 1_602_645_059,
};

// MANIFEST.md "pprof": every upload marked "/ingest: 200", with its config, spy and types.
const ACCEPTED: Accepted[] = [
  {
    file: "cpu.pb.gz",
    spy: "foo239",
    name: "process_cpu",
    types: { "process_cpu:samples:count:cpu:nanoseconds": 47, "process_cpu:cpu:nanoseconds:cpu:nanoseconds": 470_000_000 },
  },
  {
    file: "cpu-exemplars.pb.gz",
    name: "process_cpu",
    types: { "process_cpu:samples:count:cpu:nanoseconds": 873, "process_cpu:cpu:nanoseconds:cpu:nanoseconds": 8_730_000_000 },
  },
  {
    file: "cpu-js.pb.gz",
    name: "wall",
    types: { "wall:sample:count:wall:microseconds": 8849, "wall:wall:microseconds:wall:microseconds": 8_849_000 },
  },
  {
    file: "dotnet-pprof-211.pb.gz",
    st: "dotnet-pprof-211.st.json",
    spy: "dotnetspy",
    name: "process_cpu",
    types: {
      "process_cpu:cpu:nanoseconds::nanoseconds": 3_213_000_000,
      "process_cpu:alloc_samples:count::nanoseconds": 1750,
      "process_cpu:alloc_size:bytes::nanoseconds": 56064,
    },
  },
  {
    file: "dotnet-pprof-3.pb.gz",
    st: "dotnet-pprof-3.st.json",
    spy: "dotnetspy",
    name: "process_cpu",
    types: { "process_cpu:cpu:nanoseconds::nanoseconds": 5_653_000_000 },
  },
  {
    file: "heap-js.pprof",
    name: "memory",
    types: { "memory:objects:count:space:bytes": 66148, "memory:space:bytes:space:bytes": 6_388_384 },
  },
  { file: "heap.pb", name: "memory", types: GO_HEAP_TYPES },
  { file: "heap.pb.gz", name: "memory", types: GO_HEAP_TYPES },
  {
    file: "nodejs-heap.pb.gz",
    name: "memory",
    types: {
      "memory:inuse_objects:count:inuse_space:bytes": 100498,
      "memory:inuse_space:bytes:inuse_space:bytes": 8_357_762,
    },
  },
  {
    file: "pyspy-1.pb.gz",
    spy: "scripting",
    name: "process_cpu",
    types: { "process_cpu:samples:count::milliseconds": 781 },
  },
  {
    file: "req_2.pprof",
    st: "req_2.st.json",
    name: "goroutines",
    types: { "goroutines:goroutine:count:goroutine:count": 10 },
  },
  {
    file: "req_3.pprof",
    st: "req_3.st.json",
    name: "block",
    types: { "block:contentions:count:contentions:count": 43, "block:delay:nanoseconds:contentions:count": 22_674_240_703 },
  },
  {
    file: "req_5.pprof",
    st: "req_5.st.json",
    name: "memory",
    types: { "memory:alloc_objects:count:space:bytes": 12, "memory:alloc_space:bytes:space:bytes": 3_360_919 },
  },
  {
    file: "heap",
    name: "memory",
    types: {
      "memory:alloc_objects:count:space:bytes": 18_245_264_435,
      "memory:alloc_space:bytes:space:bytes": 2_180_208_886_994,
      "memory:inuse_objects:count:space:bytes": 1_911_643,
      "memory:inuse_space:bytes:space:bytes": 541_672_846,
    },
  },
  {
    file: "profile_java",
    name: "process_cpu",
    types: { "process_cpu:cpu:nanoseconds:cpu:nanoseconds": 5_020_648_123 },
  },
];

async function ingestCorpus(file: string, o: IngestOptions = {}): Promise<Run> {
  const entry = ACCEPTED.find((a) => a.file === file);
  const sampleTypeConfig = entry?.st
    ? (JSON.parse(await testdataText(`pprof/${entry.st}`)) as SampleTypeConfig)
    : undefined;
  return ingest(await testdataPlain(`pprof/${file}`), { spyName: entry?.spy, sampleTypeConfig, ...o });
}

describe("accepted /ingest uploads (MANIFEST)", () => {
  for (const a of ACCEPTED) {
    it(`${a.file} → ${a.name}, exact types and totals`, async () => {
      const { builder, stats } = await ingestCorpus(a.file);
      expect(totalsByType(builder)).toEqual(a.types);
      for (const labels of allSeriesLabels(builder)) {
        expect(labels.find(([n]) => n === "__name__")?.[1]).toBe(a.name);
        expect(labels.find(([n]) => n === "service_name")?.[1]).toBe("testapp");
      }
      expect(stats.serviceName).toBe("testapp");
      expect(stats.profiles).toBe(builder.profileCount);
      expect(stats.samples).toBe(builder.sampleCount);
    });
  }
});

describe("goldens (expected/*.collapsed)", () => {
  it("every golden equals the collapsed stacks of its pprof and sample type", async () => {
    let checked = 0;
    for (const dir of ["", "malformed/", "phlaredb/"]) {
      for (const name of await testdataList(`expected/${dir}`)) {
        // <file>.<type>.<unit>[.spy-<spyName>].collapsed[.gz]
        if (!/\.collapsed(\.gz)?$/.test(name)) continue;
        const parts = name.replace(/\.collapsed(\.gz)?$/, "").split(".");
        const spy = parts[parts.length - 1].startsWith("spy-") ? parts.pop()!.slice("spy-".length) : undefined;
        const unit = parts.pop()!;
        const type = parts.pop()!;
        const file = parts.join(".");
        const golden = new TextDecoder().decode(await testdataPlain(`expected/${dir}${name}`));
        const { builder } = await ingestCorpus(`${dir}${file}`, spy ? { spyName: spy } : {});
        expect(collapsed(builder, bySampleType(type, unit)), `${dir}${name}`).toBe(golden);
        checked++;
      }
    }
    expect(checked).toBe(35);
  });
});

describe("label split", () => {
  it("cpu-exemplars.pb.gz: three series, profile_id kept as span ids on samples", async () => {
    const { builder } = await ingestCorpus("cpu-exemplars.pb.gz");
    const groups = (type: string, unit: string) => {
      const out: Record<string, number> = {};
      for (let p = 0; p < builder.profileCount; p++) {
        const series = builder.profileSeries.get(p);
        if (!bySampleType(type, unit)(builder.strings[builder.seriesProfileType.get(series)], series)) continue;
        out[JSON.stringify(userLabels(builder.seriesLabelsOf(series)))] = builder.profileTotal(p);
      }
      return out;
    };
    expect(groups("cpu", "nanoseconds")).toEqual({
      '{"foo":"bar"}': 490_000_000,
      '{"foo":"bar","function":"slow"}': 6_740_000_000,
      '{"foo":"bar","function":"fast"}': 1_500_000_000,
    });
    expect(groups("samples", "count")).toEqual({
      '{"foo":"bar"}': 49,
      '{"foo":"bar","function":"slow"}': 674,
      '{"foo":"bar","function":"fast"}': 150,
    });
    for (const labels of allSeriesLabels(builder)) {
      expect(labels.map(([n]) => n)).not.toContain("profile_id");
      expect(labels.map(([n]) => n)).not.toContain("span_id");
    }
    const spans = new Set<string>();
    for (let i = 0; i < builder.sampleCount; i++) {
      const span = builder.sampleSpan.get(i);
      if (span !== 0) spans.add(builder.strings[span]);
    }
    expect(spans.size).toBe(432);
    for (const s of spans) expect(s).toMatch(/^[0-9a-f]{16}$/);
  });

  it("single_group_with_optional_span_id.pb.gz: one group", async () => {
    const { builder } = await ingestCorpus("single_group_with_optional_span_id.pb.gz");
    const series = allSeriesLabels(builder);
    expect(series).toHaveLength(2);
    for (const labels of series) expect(userLabels(labels)).toEqual({ asdasd: "zxczxc", function: "slow", qwe: "asd" });
  });

  it("dotnet.labels.pprof: one group with pod and qweqwe", async () => {
    const { builder } = await ingestCorpus("dotnet.labels.pprof");
    for (const labels of allSeriesLabels(builder)) expect(userLabels(labels)).toEqual({ pod: "4242239", qweqwe: "asd" });
  });

  it("routes each series through the sink and interns symbols into every builder it touches", async () => {
    const bytes = await testdataPlain("pprof/cpu-exemplars.pb.gz");
    const builders = new Map<string, BlockBuilder>();
    normalizePprof(
      decodePprof(bytes),
      { mode: "ingest", appName: "svc", nameLabels: [], spyName: "gospy", fromMs: Date.now(), nowMs: Date.now(), config: CONFIG },
      (service, labels) => {
        expect(service).toBe("svc");
        const key = JSON.stringify(userLabels(labels));
        let b = builders.get(key);
        if (!b) builders.set(key, (b = new BlockBuilder()));
        return b;
      },
    );
    expect(builders.size).toBe(3);
    const slow = builders.get('{"foo":"bar","function":"slow"}')!;
    expect(totalsByType(slow)).toEqual({
      "process_cpu:samples:count:cpu:nanoseconds": 674,
      "process_cpu:cpu:nanoseconds:cpu:nanoseconds": 6_740_000_000,
    });
    expect(collapsed(slow).length).toBeGreaterThan(0);
  });
});

describe("spy fixes and normalisation", () => {
  it("pyspy-1.pb.gz with spyName=scripting: qualified names, 1970 time replaced by from", async () => {
    const fromMs = Date.now() - 5000;
    const { builder, stats } = await ingestCorpus("pyspy-1.pb.gz", { fromMs });
    expect(builder.strings).toContain("main.py work");
    expect(stats.timeMs).toBe(fromMs);
    expect(builder.profileTime.get(0)).toBe(fromMs);
    const golden = await testdataText("expected/pyspy-1.pb.gz.samples.count.spy-scripting.collapsed");
    expect(collapsed(builder, bySampleType("samples", "count"))).toBe(golden);
  });

  it("pyspy keeps absolute file names unqualified", () => {
    const bytes = synth({ samples: [{ stack: ["main"], values: [1] }], file: "/abs/main.py" });
    const { builder } = ingest(bytes, { spyName: "pyspy" });
    expect(collapsed(builder)).toBe("main 1\n");
    const scripting = ingest(synth({ samples: [{ stack: ["main"], values: [1] }], file: "/abs/main.py" }), {
      spyName: "rbspy",
    });
    expect(collapsed(scripting.builder)).toBe("/abs/main.py main 1\n");
  });

  it("malformed/no_addr_no_line.pb.gz drops the sample using an empty location", async () => {
    const { builder } = await ingestCorpus("malformed/no_addr_no_line.pb.gz");
    expect(totalsByType(builder)).toEqual({ "process_cpu:cpu:nanoseconds:cpu:nanoseconds": 52_631_578 });
  });

  it("dotnet-pprof-3.pb.gz: repaired on /ingest with dotnetspy, refused over Push", async () => {
    const { builder } = await ingestCorpus("dotnet-pprof-3.pb.gz");
    expect(totalsByType(builder)).toEqual({ "process_cpu:cpu:nanoseconds::nanoseconds": 5_653_000_000 });
    const bytes = await testdataPlain("pprof/dotnet-pprof-3.pb.gz");
    const e = refusal(() => push(bytes, [["__name__", "process_cpu"], ["service_name", "dotnet"]]));
    expect([e.kind, e.reason, e.message]).toEqual(["invalid", "malformed_profile", "function id is 0"]);
  });

  it("invalid_utf8.pb.gz is refused on both paths and nothing is written", async () => {
    const bytes = await testdataPlain("pprof/invalid_utf8.pb.gz");
    for (const run of [() => ingest(bytes), () => push(bytes, [["__name__", "process_cpu"]])]) {
      const e = refusal(run);
      expect(e.reason).toBe("malformed_profile");
      expect(e.message).toMatch(/^invalid utf8 string hex: 000102030405/);
    }
  });

  it("stores the type labels, drops __delta__, reserved name labels and the session id", async () => {
    const { builder } = ingest(await testdataPlain("pprof/cpu.pb.gz"), {
      spyName: "gospy",
      nameLabels: [
        ["env", "prod"],
        ["__session_id__", "0123456789abcdef"],
        ["__secret", "x"],
      ],
    });
    expect(allSeriesLabels(builder)).toContainEqual([
      ["__name__", "process_cpu"],
      ["__period_type__", "cpu"],
      ["__period_unit__", "nanoseconds"],
      ["__profile_type__", "process_cpu:cpu:nanoseconds:cpu:nanoseconds"],
      ["__type__", "cpu"],
      ["__unit__", "nanoseconds"],
      ["env", "prod"],
      ["pyroscope_spy", "gospy"],
      ["service_name", "testapp"],
    ]);
  });

  it("keeps a service_name given in `name` instead of the app name", () => {
    const { stats } = ingest(synth({ samples: [{ stack: ["a"], values: [1] }] }), {
      nameLabels: [["service_name", "given"]],
    });
    expect(stats.serviceName).toBe("given");
  });

  it("Push: service_name defaults to unknown_service, godeltaprof_ names are relabelled", () => {
    const { builder, stats } = push(synth({ samples: [{ stack: ["a"], values: [1] }], types: [["alloc_space", "bytes"]] }), [
      ["__name__", "godeltaprof_memory"],
    ]);
    expect(stats.serviceName).toBe("unknown_service");
    expect(allSeriesLabels(builder)).toEqual([
      [
        ["__name__", "memory"],
        ["__name_replaced__", "godeltaprof_memory"],
        ["__profile_type__", "memory:alloc_space:bytes::"],
        ["__type__", "alloc_space"],
        ["__unit__", "bytes"],
        ["service_name", "unknown_service"],
      ],
    ]);
  });

  it("Push: a wall profile labelled __type__=cpu is relabelled to process_cpu", () => {
    const { builder } = push(synth({ samples: [{ stack: ["a"], values: [1] }] }), [
      ["__name__", "wall"],
      ["__type__", "cpu"],
      ["service_name", "svc"],
    ]);
    const [labels] = allSeriesLabels(builder);
    expect(labels).toContainEqual(["__name__", "process_cpu"]);
    expect(labels).toContainEqual(["__name_replaced__", "wall"]);
    expect(builder.strings[builder.seriesProfileType.get(0)]).toBe("process_cpu:cpu:nanoseconds::");
  });

  it("keeps trace_id and span_id on samples, never as series labels", () => {
    const span = "0123456789abcdef";
    const trace = "0123456789abcdef0123456789abcdef";
    const { builder } = push(
      synth({ samples: [{ stack: ["a"], values: [1], labels: [["span_id", span], ["trace_id", trace], ["k", "v"]] }] }),
      [["__name__", "process_cpu"]],
    );
    expect(userLabels(builder.seriesLabelsOf(0))).toEqual({ k: "v" });
    expect(builder.strings[builder.sampleSpan.get(0)]).toBe(span);
    expect(builder.strings[builder.sampleTrace.get(0)]).toBe(trace);
  });

  it("series labels win over sample labels of the same name", () => {
    const { builder } = push(synth({ samples: [{ stack: ["a"], values: [1], labels: [["env", "sample"]] }] }), [
      ["__name__", "process_cpu"],
      ["env", "series"],
    ]);
    expect(userLabels(builder.seriesLabelsOf(0))).toEqual({ env: "series" });
  });

  it("time_nanos 0 becomes now", () => {
    const { stats } = push(synth({ samples: [{ stack: ["a"], values: [1] }], timeNanos: 0n }), [["__name__", "x"]], {
      nowMs: NOW,
    });
    expect(stats.timeMs).toBe(NOW);
  });

  it("truncates deep stacks at the leaf and long symbols at the front", () => {
    const { builder } = push(
      synth({ samples: [{ stack: ["root", "mid", "leaf", "deeper"], values: [1] }, { stack: ["aé€"], values: [2] }] }),
      [["__name__", "process_cpu"]],
      { config: { MAX_PROFILE_STACKTRACE_DEPTH: 2, MAX_PROFILE_SYMBOL_VALUE_LENGTH: 4 } },
    );
    expect(collapsed(builder)).toBe("root;mid 1\n€ 2\n");
  });

  it("writes nothing for a sample type whose values are all zero", () => {
    const run = push(
      synth({ samples: [{ stack: ["a"], values: [1, 0] }], types: [["cpu", "nanoseconds"], ["alloc", "bytes"]] }),
      [["__name__", "process_cpu"]],
    );
    expect(Object.keys(totalsByType(run.builder))).toEqual(["process_cpu:cpu:nanoseconds::"]);
    expect(run.sinkCalls).toBe(1);
  });
});

describe("refusals", () => {
  const series: Labels = [
    ["__name__", "process_cpu"],
    ["service_name", "svc"],
  ];
  const shown = '{__name__="process_cpu", service_name="svc"}';
  const ok = () => synth({ samples: [{ stack: ["a"], values: [1] }] });

  const cases: { name: string; run: () => Run; reason: string; message: string | RegExp }[] = [
    {
      name: "too many series labels",
      run: () => push(ok(), [...series, ...Array.from({ length: 29 }, (_, i): [string, string] => [`l${i}`, "v"])]),
      reason: "max_label_names_per_series",
      message: / has 31 label names; limit 30$/,
    },
    {
      name: "label value too long",
      run: () => push(ok(), [...series, ["big", "v".repeat(2049)]]),
      reason: "label_value_too_long",
      message: / has label value too long: 'v{2049}'$/,
    },
    {
      name: "label name too long",
      run: () => push(ok(), [...series, ["n".repeat(1025), "v"]]),
      reason: "label_name_too_long",
      message: / has label name too long: 'n{1025}'$/,
    },
    {
      name: "sample label value too long once it is a series label",
      run: () => push(synth({ samples: [{ stack: ["a"], values: [1], labels: [["big", "v".repeat(2049)]] }] }), series),
      reason: "label_value_too_long",
      message: / has label value too long: 'v{2049}'$/,
    },
    {
      name: "/ingest name label value too long",
      run: () => ingest(ok(), { nameLabels: [["big", "v".repeat(2049)]] }),
      reason: "label_value_too_long",
      message: / has label value too long: 'v{2049}'$/,
    },
    {
      name: "empty __name__",
      run: () => push(ok(), [["__name__", ""], ["service_name", "svc"]]),
      reason: "invalid_labels",
      message: `invalid labels '{service_name="svc"}' with error: invalid metric name`,
    },
    {
      // Pyroscope appends service_name=unknown_service, then its label builder drops every
      // service_name label because one is empty (spec §2.2 step 4 expects a duplicate instead).
      name: "empty service_name on Push",
      run: () => push(ok(), [["__name__", "process_cpu"], ["service_name", ""]]),
      reason: "missing_labels",
      message: `invalid labels '{__name__="process_cpu"}' with error: service name is not provided`,
    },
    {
      name: "duplicate label names",
      run: () => push(ok(), [...series, ["dup", "a"], ["dup", "b"]]),
      reason: "duplicate_label_names",
      message: `profile with labels '{__name__="process_cpu", dup="a", dup="b", service_name="svc"}' has duplicate label name: 'dup'`,
    },
    {
      name: "too many samples",
      run: () =>
        push(synth({ samples: ["a", "b", "c"].map((f) => ({ stack: [f], values: [1] })) }), series, {
          config: { MAX_PROFILE_STACKTRACE_SAMPLES: 2 },
        }),
      reason: "samples_limit",
      message: `the profile with labels '${shown}' exceeds the samples count limit (max_profile_stacktrace_samples, actual: 3, limit: 2)`,
    },
    {
      name: "too many labels on a sample",
      run: () =>
        push(synth({ samples: [{ stack: ["a"], values: [1], labels: [["x", "1"], ["y", "2"]] }] }), series, {
          config: { MAX_PROFILE_STACKTRACE_SAMPLE_LABELS: 1 },
        }),
      reason: "sample_labels_limit",
      message: `the profile with labels '${shown}' exceeds the sample labels limit (max_profile_stacktrace_sample_labels, actual: 2, limit: 1)`,
    },
    {
      name: "profile too large",
      run: () => push(ok(), series, { config: { MAX_PROFILE_SIZE_BYTES: 10 } }),
      reason: "profile_size_limit",
      message: new RegExp(`^the profile with labels '.*' exceeds the size limit \\(max_profile_size_byte, actual: \\d+, limit: 10\\)$`),
    },
    {
      name: "older than the ingestion window",
      run: () =>
        push(synth({ samples: [{ stack: ["a"], values: [1] }], timeNanos: BigInt(NOW - 61 * 60_000) * 1_000_000n }), series, {
          config: { RETENTION_SECONDS: 3600, REJECT_NEWER_THAN_SECONDS: 0 },
          nowMs: NOW,
        }),
      reason: "not_in_ingestion_window",
      message: `profile with labels '${shown}' is outside of ingestion window (profile timestamp: 2023-02-17 11:12:14 +0000 UTC, the ingestion window starts at 2023-02-17 11:13:14 +0000 UTC)`,
    },
    {
      name: "newer than the ingestion window",
      run: () =>
        push(synth({ samples: [{ stack: ["a"], values: [1] }], timeNanos: BigInt(NOW + 3_600_000) * 1_000_000n }), series, {
          nowMs: NOW,
        }),
      reason: "not_in_ingestion_window",
      message: `profile with labels '${shown}' is outside of ingestion window (profile timestamp: 2023-02-17 13:13:14 +0000 UTC, the ingestion window ends at 2023-02-17 12:23:14 +0000 UTC)`,
    },
    {
      name: "outside both edges of the window",
      run: () =>
        push(synth({ samples: [{ stack: ["a"], values: [1] }], timeNanos: BigInt(NOW + 3_600_500) * 1_000_000n }), series, {
          config: { RETENTION_SECONDS: 3600 },
          nowMs: NOW,
        }),
      reason: "not_in_ingestion_window",
      message: `profile with labels '${shown}' is outside of ingestion window (profile timestamp: 2023-02-17 13:13:14.5 +0000 UTC, the ingestion window starts at 2023-02-17 11:13:14 +0000 UTC and ends at 2023-02-17 12:23:14 +0000 UTC)`,
    },
    {
      name: "no sample types",
      run: () => push(synth({ samples: [], types: [] }), series),
      reason: "malformed_profile",
      message: "empty profile",
    },
    {
      name: "value count differs from sample type count",
      run: () => push(synth({ samples: [{ stack: ["a"], values: [1, 2] }] }), series),
      reason: "malformed_profile",
      message: "sample value length mismatch",
    },
    {
      name: "sample type with a dash (Push has no .NET repair)",
      run: () => push(synth({ samples: [{ stack: ["a"], values: [1] }], types: [["alloc-size", "bytes"]] }), series),
      reason: "malformed_profile",
      message: "sample type contains -",
    },
    {
      name: "string 0 not empty",
      run: () => push(synth({ samples: [{ stack: ["a"], values: [1] }], firstString: "oops" }), series),
      reason: "malformed_profile",
      message: "string 0 should be empty string",
    },
    {
      name: "string index out of range",
      run: () => push(synth({ samples: [{ stack: ["a"], values: [1] }], badLabelKey: true }), series),
      reason: "malformed_profile",
      message: "sample label string index out of range",
    },
    {
      name: "location id 0",
      run: () => push(synth({ samples: [{ stack: ["a"], values: [1] }], zeroLocationId: true }), series),
      reason: "malformed_profile",
      message: "location id is 0",
    },
  ];

  for (const c of cases) {
    it(`${c.name} → ${c.reason}`, () => {
      const before = sinkCallsEver;
      const e = refusal(c.run);
      expect(sinkCallsEver).toBe(before);
      expect(e.kind).toBe("invalid");
      expect(e.reason).toBe(c.reason);
      if (typeof c.message === "string") expect(e.message).toBe(c.message);
      else expect(e.message).toMatch(c.message);
    });
  }

  it("undecodable bytes → malformed_profile", () => {
    const e = refusal(() => decodePprof(new Uint8Array([0x0f, 0xff, 0xff])));
    expect(e.reason).toBe("malformed_profile");
  });
});

interface SynthSample {
  /** Function names, root first. */
  stack: string[];
  values: number[];
  labels?: [string, string][];
}

/** A small pprof built with pprof-format; one function and location per distinct frame name. */
function synth(o: {
  samples: SynthSample[];
  types?: [string, string][];
  timeNanos?: bigint;
  file?: string;
  firstString?: string;
  badLabelKey?: boolean;
  zeroLocationId?: boolean;
}): Uint8Array {
  const st = o.firstString === undefined ? new StringTable() : new StringTable(emptyTableToken);
  if (o.firstString !== undefined) st.dedup(o.firstString);
  const file = st.dedup(o.file ?? "main.go");
  const locations = new Map<string, number>();
  const functions: PprofFunction[] = [];
  const locs: Location[] = [];
  const loc = (name: string) => {
    let id = locations.get(name);
    if (id === undefined) {
      id = locations.size + 1;
      locations.set(name, id);
      functions.push(new PprofFunction({ id, name: st.dedup(name), filename: file }));
      locs.push(new Location({ id: o.zeroLocationId ? 0 : id, line: [new Line({ functionId: id, line: 1 })] }));
    }
    return id;
  };
  const samples = o.samples.map(
    (s) =>
      new Sample({
        locationId: [...s.stack].reverse().map(loc),
        value: s.values,
        label: (s.labels ?? []).map(([k, v]) => new Label({ key: st.dedup(k), str: st.dedup(v) })),
      }),
  );
  if (o.badLabelKey) samples[0].label.push(new Label({ key: 10_000, str: st.dedup("v") }));
  return new Profile({
    sampleType: (o.types ?? [["cpu", "nanoseconds"]]).map(([t, u]) => new ValueType({ type: st.dedup(t), unit: st.dedup(u) })),
    sample: samples,
    location: locs,
    function: functions,
    stringTable: st,
    timeNanos: o.timeNanos ?? BigInt(NOW) * 1_000_000n,
  }).encode();
}

describe("source-code links (spec §2.2 step 9)", () => {
  it("puts the repository, ref and root path into every mapping's build id", async () => {
    const bytes = await testdataPlain("pprof/cpu.pb.gz");
    const original = Profile.decode(bytes);
    const buildIds = original.mapping.map((m) => String(original.stringTable.strings[Number(m.buildId)]));
    expect(buildIds.length).toBeGreaterThan(0);
    const { builder } = ingest(bytes, {
      nameLabels: [
        ["service_git_ref", "v1.2.3"],
        ["service_repository", "https://github.com/grafana/pyroscope"],
      ],
    });
    const stored: string[] = [];
    for (let m = 1; m < builder.mappingCount; m++) stored.push(builder.strings[builder.mappingBuildId.get(m)]);
    expect(stored.map((s) => JSON.parse(s))).toEqual(
      buildIds.map((id) => ({ repository: "https://github.com/grafana/pyroscope", git_ref: "v1.2.3", build_id: id, root_path: "" })),
    );
  });

  it("leaves build ids alone without those labels", async () => {
    const bytes = await testdataPlain("pprof/cpu.pb.gz");
    const original = Profile.decode(bytes);
    const { builder } = ingest(bytes);
    expect(builder.strings[builder.mappingBuildId.get(1)]).toBe(String(original.stringTable.strings[Number(original.mapping[0].buildId)]));
  });
});
