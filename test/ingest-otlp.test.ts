// OTLP profiles ingestion (spec OTLP.md): the OpenTelemetry eBPF profiler capture sent over
// OTLP/HTTP (protobuf, gzipped protobuf, JSON) and Connect, each under its own `test_run_no`
// scope attribute, queried back and compared with Pyroscope's expected answers (§5.2); the
// converter's unit cases of otlp/unit (§5.4); the worked example (§5.5); refusals that leave
// storage unchanged.

import { create, fromBinary, toBinary, type MessageInitShape } from "@bufbuild/protobuf";
import { env, exports } from "cloudflare:workers";
import { gzipSync } from "fflate";
import { beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../workers/config";
import { ProfileSchema, type Profile as PprofMessage } from "../workers/gen/google/v1/profile_pb";
import {
  ExportProfilesServiceRequestSchema,
  ExportProfilesServiceResponseSchema,
  type ExportProfilesServiceRequest,
} from "../workers/gen/opentelemetry/proto/collector/profiles/v1development/profiles_service_pb";
import { InstrumentationScopeSchema, KeyValueSchema } from "../workers/gen/opentelemetry/proto/common/v1/common_pb";
import { SelectMergeProfileRequestSchema } from "../workers/gen/querier/v1/querier_pb";
import { convertExport } from "../workers/ingest/otlp";
import { decodeOtlpRequest } from "../workers/ingest/otlp-decode";
import type { PprofProfile } from "../workers/ingest/pprof-decode";
import { flameGraphCollapsed, formatCollapsed } from "./setup/flamegraph";
import { rpcJson, rpcProto } from "./setup/query";
import { flushAll, storageSnapshot } from "./setup/storage";
import { testdata, testdataText } from "./setup/testdata";

const OTLP_PATH = "http://localhost/v1development/profiles";
const CONNECT_PATH = "http://localhost/opentelemetry.proto.collector.profiles.v1development.ProfilesService/Export";
const CPU = "process_cpu:cpu:nanoseconds:cpu:nanoseconds";
const OFF_CPU = "off_cpu:off_cpu:nanoseconds::";
// Every profile of the capture has this time (OTLP.md §5.1); queries look one hour either side.
const CAPTURE_MS = 1774910497545;
const RANGE = { start: CAPTURE_MS - 3_600_000, end: CAPTURE_MS + 3_600_000 };
const NO_LIMITS = { MAX_PROFILE_SIZE_BYTES: 0 };
const config = loadConfig(env);
// OTLP label names have dots: the label APIs show them only to clients that accept UTF-8 names.
const UTF8_NAMES = { Accept: "application/json; allow-utf8-labelnames=true" };

function post(url: string, body: BodyInit, headers: Record<string, string>): Promise<Response> {
  return exports.default.fetch(url, { method: "POST", body, headers });
}

// ---- compact strprofile (MANIFEST.md "OTLP profiles"), rendered from both pprof forms ----

interface StrSample {
  locations: { address: string; lines?: string[]; mapping?: string }[];
  values: string;
  labels?: string;
}

interface StrProfile {
  sample_types: { type: string; unit: string }[];
  samples: StrSample[];
  time_nanos: string;
  duration_nanos: string;
  period: string;
}

const hex = (v: bigint | number) => `0x${v.toString(16)}`;

/** A query answer (google.v1.Profile) as compact strprofile. */
function strprofileOfMessage(p: PprofMessage): StrProfile {
  const str = (i: bigint) => p.stringTable[Number(i)];
  const fns = new Map(p.function.map((f) => [f.id, f]));
  const maps = new Map(p.mapping.map((m) => [m.id, m]));
  const locs = new Map(p.location.map((l) => [l.id, l]));
  return {
    sample_types: p.sampleType.map((st) => ({ type: str(st.type), unit: str(st.unit) })),
    samples: p.sample.map((s) => {
      const out: StrSample = {
        locations: s.locationId.map((id) => {
          const l = locs.get(id)!;
          const loc: StrSample["locations"][number] = { address: hex(l.address) };
          if (l.line.length > 0) {
            loc.lines = l.line.map((ln) => {
              const f = fns.get(ln.functionId)!;
              return `${str(f.name)}[${str(f.systemName)}]@${str(f.filename)}:${ln.line}`;
            });
          }
          const m = maps.get(l.mappingId);
          if (l.mappingId !== 0n && m) {
            loc.mapping = `${hex(m.memoryStart)}-${hex(m.memoryLimit)}@${hex(m.fileOffset)} ${str(m.filename)}(${str(m.buildId)})`;
          }
          return loc;
        }),
        values: s.value.join(","),
      };
      const labels = s.label.map((l) => `${str(l.key)}=${str(l.str)}`).sort();
      if (labels.length > 0) out.labels = labels.join(",");
      return out;
    }),
    time_nanos: String(p.timeNanos),
    duration_nanos: String(p.durationNanos),
    period: String(p.period),
  };
}

/**
 * A converted profile (PprofProfile) as compact strprofile. The tables carry no period (storage
 * derives it from the profile name), so the caller gives the one the converter copies (§4.6).
 */
function strprofileOfTables(p: PprofProfile, period: bigint): StrProfile {
  const s = p.strings;
  const byId = (ids: Float64Array, id: number) => ids.indexOf(id);
  const samples: StrSample[] = [];
  for (let i = 0; i + 1 < p.sampleLocationStart.length; i++) {
    const locations = [...p.sampleLocations.subarray(p.sampleLocationStart[i], p.sampleLocationStart[i + 1])].map((pos) => {
      const loc: StrSample["locations"][number] = { address: hex(p.locationAddress[pos]) };
      const lines: string[] = [];
      for (let k = p.locationLineStart[pos]; k < p.locationLineStart[pos + 1]; k++) {
        const f = byId(p.functionId, p.lineFunctionId[k]);
        lines.push(`${s[p.functionName[f]]}[${s[p.functionSystemName[f]]}]@${s[p.functionFile[f]]}:${p.lineNumber[k]}`);
      }
      if (lines.length > 0) loc.lines = lines;
      if (p.locationMappingId[pos] !== 0) {
        const m = byId(p.mappingId, p.locationMappingId[pos]);
        loc.mapping = `${hex(p.mappingStart[m])}-${hex(p.mappingLimit[m])}@${hex(p.mappingOffset[m])} ${s[p.mappingFile[m]]}(${s[p.mappingBuildId[m]]})`;
      }
      return loc;
    });
    const sample: StrSample = { locations, values: [...p.sampleValues.subarray(p.sampleValueStart[i], p.sampleValueStart[i + 1])].join(",") };
    const labels: string[] = [];
    for (let l = p.sampleLabelStart[i]; l < p.sampleLabelStart[i + 1]; l++) labels.push(`${s[p.labelKey[l]]}=${s[p.labelStr[l]]}`);
    if (labels.length > 0) sample.labels = labels.sort().join(",");
    samples.push(sample);
  }
  return {
    sample_types: p.sampleTypes.map((vt) => ({ type: s[vt.type], unit: s[vt.unit] })),
    samples,
    time_nanos: String(p.timeNanos),
    duration_nanos: String(p.durationNanos),
    period: String(period),
  };
}

/** Samples as a sorted list of their JSON: the tests compare samples as a multiset. */
const sampleSet = (p: StrProfile) => p.samples.map((s) => JSON.stringify(s)).sort();
const total = (p: StrProfile) => p.samples.reduce((n, s) => n + Number(s.values), 0);

/** Collapsed stacks of a strprofile: function names root first, inlined lines caller first. */
function collapsedOf(p: StrProfile): string {
  const sums = new Map<string, number>();
  for (const s of p.samples) {
    const frames = s.locations
      .toReversed()
      .flatMap((l) => (l.lines ?? [l.address]).toReversed().map((line) => line.replace(/\[[^\]]*\]@.*$/, "")));
    const key = frames.join(";");
    sums.set(key, (sums.get(key) ?? 0) + Number(s.values));
  }
  return formatCollapsed(sums);
}

// ---- the eBPF capture ----

const RUN_ATTRIBUTE = "test_run_no";

/** The capture with scope attribute test_run_no=<runNo> on every scope (OTLP.md §5.2). */
async function captureRequest(runNo: string): Promise<ExportProfilesServiceRequest> {
  const req = fromBinary(ExportProfilesServiceRequestSchema, await testdata("otlp/otel-ebpf-profile.pb.bin"));
  for (const rp of req.resourceProfiles) {
    for (const sp of rp.scopeProfiles) {
      sp.scope ??= create(InstrumentationScopeSchema);
      sp.scope.attributes.push(create(KeyValueSchema, { key: RUN_ATTRIBUTE, value: { value: { case: "stringValue", value: runNo } } }));
    }
  }
  return req;
}

/** The JSON rendering of the capture, edited as JSON so that what is sent is its own text. */
async function captureJson(runNo: string): Promise<string> {
  const json = JSON.parse(await testdataText("otlp/otel-ebpf-profile.pb.json"));
  for (const rp of json.resourceProfiles) {
    for (const sp of rp.scopeProfiles) {
      sp.scope ??= {};
      sp.scope.attributes ??= [];
      sp.scope.attributes.push({ key: RUN_ATTRIBUTE, value: { stringValue: runNo } });
    }
  }
  return JSON.stringify(json);
}

interface Transport {
  name: string;
  send(runNo: string): Promise<Response>;
  /** The Content-Type of the success answer and its body, decoded. */
  answer: { contentType: string; body: (bytes: Uint8Array) => unknown; expected: unknown };
}

const EMPTY_PROTO = { contentType: "application/x-protobuf", body: (b: Uint8Array) => b.length, expected: 0 };

const TRANSPORTS: Transport[] = [
  {
    name: "OTLP/HTTP protobuf",
    send: async (n) => post(OTLP_PATH, toBinary(ExportProfilesServiceRequestSchema, await captureRequest(n)), { "Content-Type": "application/x-protobuf" }),
    answer: EMPTY_PROTO,
  },
  {
    name: "OTLP/HTTP protobuf, gzip",
    send: async (n) =>
      post(OTLP_PATH, gzipSync(toBinary(ExportProfilesServiceRequestSchema, await captureRequest(n))), {
        "Content-Type": "application/x-protobuf",
        "Content-Encoding": "gzip",
      }),
    answer: EMPTY_PROTO,
  },
  {
    name: "OTLP/HTTP JSON",
    send: async (n) => post(OTLP_PATH, await captureJson(n), { "Content-Type": "application/json" }),
    answer: { contentType: "application/json", body: (b) => JSON.parse(new TextDecoder().decode(b)), expected: {} },
  },
  {
    name: "Connect binary",
    send: async (n) =>
      post(CONNECT_PATH, toBinary(ExportProfilesServiceRequestSchema, await captureRequest(n)), {
        "Content-Type": "application/proto",
        "Connect-Protocol-Version": "1",
      }),
    answer: {
      contentType: "application/proto",
      body: (b) => fromBinary(ExportProfilesServiceResponseSchema, b).partialSuccess,
      expected: undefined,
    },
  },
];

describe("the eBPF profiler capture", () => {
  const runNo = new Map<string, string>();
  const expected = new Map<string, StrProfile>();

  beforeAll(async () => {
    expected.set(CPU, JSON.parse(await testdataText("otlp/otel-ebpf-profile-cpu.out.json")));
    expected.set(OFF_CPU, JSON.parse(await testdataText("otlp/otel-ebpf-profile-offcpu.out.json")));
    for (const t of TRANSPORTS) {
      const n = `${t.name.replace(/\W+/g, "-")}-${crypto.randomUUID()}`;
      runNo.set(t.name, n);
      const res = await t.send(n);
      const body = new Uint8Array(await res.arrayBuffer());
      expect([t.name, res.status, res.status === 200 ? "" : new TextDecoder().decode(body)]).toEqual([t.name, 200, ""]);
      expect(res.headers.get("Content-Type")).toBe(t.answer.contentType);
      expect(t.answer.body(body)).toEqual(t.answer.expected);
    }
  });

  // Pyroscope's integration test: the same answers whichever way the request came (§5.2).
  describe.each(TRANSPORTS.map((t) => t.name))("sent as %s", (name) => {
    const selector = () => `{service_name="unknown_service", ${RUN_ATTRIBUTE}="${runNo.get(name)}"}`;

    it.each([CPU, OFF_CPU])("SelectMergeProfile %s is Pyroscope's answer", async (profileType) => {
      const want = expected.get(profileType)!;
      const res = await rpcProto(
        "SelectMergeProfile",
        SelectMergeProfileRequestSchema,
        { profileTypeID: profileType, labelSelector: selector(), start: BigInt(RANGE.start), end: BigInt(RANGE.end) },
        ProfileSchema,
      );
      const got = strprofileOfMessage(res);
      expect(got.sample_types).toEqual(want.sample_types);
      // Not compared: `period`, which Pyroscope's query sets from the profile name (OTLP.md §5.2)
      // and the query path here leaves 0; it is not ingested data.
      expect(got.samples.length).toBe(want.samples.length);
      expect(total(got)).toBe(total(want));
      // Every stack, value, address, line and mapping (build id included), as a multiset.
      expect(sampleSet(got)).toEqual(sampleSet(want));
      for (const table of [res.function, res.mapping, res.location]) expect(table.length).toBeGreaterThan(0);
    });

    it.each([CPU, OFF_CPU])("SelectMergeStacktraces %s draws the same stacks", async (profileType) => {
      const { status, json } = await rpcJson("SelectMergeStacktraces", {
        profileTypeID: profileType,
        labelSelector: selector(),
        ...RANGE,
        maxNodes: 1048576,
      });
      expect(status).toBe(200);
      const levels = (json.flamegraph.levels as { values?: string[] }[]).map((l) => (l.values ?? []).map(Number));
      expect(flameGraphCollapsed({ names: json.flamegraph.names, levels })).toBe(collapsedOf(expected.get(profileType)!));
    });

    it("names services from process.executable.name (§4.3)", async () => {
      const { status, json } = await rpcJson("LabelValues", {
        name: "service_name",
        matchers: [`{${RUN_ATTRIBUTE}="${runNo.get(name)}"}`],
        ...RANGE,
      });
      expect(status).toBe(200);
      expect(json.names).toEqual([
        "unknown_service",
        "unknown_service:containerd",
        "unknown_service:kwin_wayland",
        "unknown_service:xdg-desktop-portal",
      ]);
    });
  });

  it("keeps sample attributes as series labels after the split, not the scope name (§4.14)", async () => {
    const { status, json } = await rpcJson(
      "LabelNames",
      { matchers: [`{${RUN_ATTRIBUTE}="${runNo.get(TRANSPORTS[0].name)}"}`], ...RANGE },
      UTF8_NAMES,
    );
    expect(status).toBe(200);
    expect(json.names).toEqual(expect.arrayContaining(["__otel__", "process.pid", "thread.name", "thread.id", "cpu.logical_number"]));
    expect(json.names).not.toContain("__delta__");
  });
});

// ---- the converter's unit cases (OTLP.md §5.4) ----

type RequestInit = MessageInitShape<typeof ExportProfilesServiceRequestSchema>;
type DictionaryInit = NonNullable<RequestInit["dictionary"]>;
type ProfileInit = NonNullable<NonNullable<NonNullable<RequestInit["resourceProfiles"]>[number]["scopeProfiles"]>[number]["profiles"]>[number];

/** One resource and one scope without attributes, one profile at time 239 (the unit tests' shape). */
function unitRequest(dictionary: DictionaryInit, profile: ProfileInit): ExportProfilesServiceRequest {
  return create(ExportProfilesServiceRequestSchema, {
    resourceProfiles: [{ resource: {}, scopeProfiles: [{ scope: {}, profiles: [{ timeUnixNano: 239n, ...profile }] }] }],
    dictionary,
  });
}

const FILE1_LOCATIONS = [
  { mappingIndex: 0, address: 0x1e0n },
  { mappingIndex: 0, address: 0x2f0n },
  { mappingIndex: 0, address: 0x3f0n },
];

/** The off-CPU case's dictionary and samples; `period` adds a period type (strings 3 and 4). */
function offCpuCase(strings: string[], period?: bigint): ExportProfilesServiceRequest {
  return unitRequest(
    {
      stringTable: strings,
      mappingTable: [{ memoryStart: 0x1000n, memoryLimit: 0x1000n, filenameStrindex: 2 }],
      locationTable: FILE1_LOCATIONS,
      stackTable: [{ locationIndices: [0, 1] }, { locationIndices: [2] }],
    },
    {
      sampleType: { typeStrindex: 0, unitStrindex: 1 },
      samples: [
        { stackIndex: 0, values: [239n] },
        { stackIndex: 1, values: [1n, 2n, 3n, 4n, 5n, 6n] },
      ],
      ...(period !== undefined && { periodType: { typeStrindex: 3, unitStrindex: 4 }, period }),
    },
  );
}

const symbolizedFunctionNames = () =>
  unitRequest(
    {
      stringTable: ["file1.so", "samples", "ms"],
      mappingTable: [{ memoryStart: 0x1000n, memoryLimit: 0x1000n, filenameStrindex: 0 }],
      locationTable: FILE1_LOCATIONS.slice(0, 2),
      stackTable: [{ locationIndices: [0, 1] }],
    },
    { sampleType: { typeStrindex: 1, unitStrindex: 2 }, samples: [{ stackIndex: 0, values: [239n] }] },
  );

const mismatch = () =>
  offCpuCase(["wrote_type", "wrong_unit", "file1.so", "period_type", "period_unit"], 100n);

function sampleAttributes(wrap: (v: { case: "stringValue"; value: string } | { case: "intValue"; value: bigint }) => unknown) {
  const attr = (key: number, v: { case: "stringValue"; value: string } | { case: "intValue"; value: bigint }) => ({
    keyStrindex: key,
    value: wrap(v) as { value: typeof v },
  });
  return unitRequest(
    {
      stringTable: ["firefox.so", "chrome.so", "process", "cpu.logical_number", "samples", "ms"],
      mappingTable: [
        { memoryStart: 0x1000n, memoryLimit: 0x1000n, filenameStrindex: 0 },
        { memoryStart: 0x1000n, memoryLimit: 0x1000n, filenameStrindex: 1 },
      ],
      locationTable: [
        { mappingIndex: 0, address: 0x1en },
        { mappingIndex: 0, address: 0x2en },
        { mappingIndex: 1, address: 0x3en },
        { mappingIndex: 1, address: 0x4en },
      ],
      stackTable: [{ locationIndices: [0, 1] }, { locationIndices: [2, 3] }],
      attributeTable: [
        attr(2, { case: "stringValue", value: "firefox" }),
        attr(2, { case: "stringValue", value: "chrome" }),
        attr(3, { case: "intValue", value: 0n }),
        attr(3, { case: "intValue", value: 7n }),
      ],
    },
    {
      sampleType: { typeStrindex: 4, unitStrindex: 5 },
      samples: [
        { stackIndex: 0, values: [239n], attributeIndices: [0, 2] },
        { stackIndex: 1, values: [61423n], attributeIndices: [1, 3] },
      ],
    },
  );
}

/** The converted pprof of the first series, before the push pipeline, as strprofile. */
function firstConverted(req: ExportProfilesServiceRequest): StrProfile {
  const [first] = convertExport(req, NO_LIMITS);
  return strprofileOfTables(first.profile, req.resourceProfiles[0].scopeProfiles[0].profiles[0].period);
}

async function unitExpected(name: string): Promise<StrProfile> {
  return JSON.parse(await testdataText(`otlp/unit/${name}.json`));
}

describe("conversion (OTLP.md §5.4)", () => {
  it("TestSymbolizedFunctionNames: native frames keep their addresses and mapping", async () => {
    expect(firstConverted(symbolizedFunctionNames())).toEqual(await unitExpected("TestSymbolizedFunctionNames"));
  });

  it("TestConversionOffCpu: off-CPU values are summed per sample", async () => {
    expect(firstConverted(offCpuCase(["off_cpu", "nanoseconds", "file1.so"]))).toEqual(await unitExpected("TestConversionOffCpu"));
  });

  it("refuses several values per sample when the profile has a period", () => {
    expect(() => convertExport(mismatch(), NO_LIMITS)).toThrow(/^failed to convert otel profile: sample values length mismatch 6 1$/);
  });

  it.each([
    ["plain values", (v: unknown) => ({ value: v })],
    ["one-element arrays", (v: unknown) => ({ value: { case: "arrayValue", value: { values: [{ value: v }] } } })],
  ])("TestSampleAttributes (%s): sample attributes become sample labels, not series labels", async (_, wrap) => {
    const converted = convertExport(sampleAttributes(wrap), NO_LIMITS);
    expect(converted.length).toBe(1);
    const names = converted[0].labels.map(([n]) => n);
    expect(names).not.toContain("process");
    expect(names).not.toContain("service.name");
    expect(strprofileOfTables(converted[0].profile, 0n)).toEqual(await unitExpected("TestSampleAttributes"));
  });

  it("gives the capture's series Pyroscope's labels (§4.10, §5.1)", async () => {
    const converted = convertExport(await captureRequest("x"), NO_LIMITS);
    const byService = new Map<string, number>();
    for (const { labels } of converted) {
      const l = Object.fromEntries(labels);
      expect([l.__delta__, l.__otel__, l.test_run_no, typeof l["process.pid"]]).toEqual(["false", "true", "x", "string"]);
      const key = `${l.service_name} ${l.__name__}`;
      byService.set(key, (byService.get(key) ?? 0) + 1);
    }
    expect(Object.fromEntries(byService)).toEqual({
      "unknown_service off_cpu": 74,
      "unknown_service process_cpu": 5,
      "unknown_service:containerd off_cpu": 1,
      "unknown_service:kwin_wayland off_cpu": 1,
      "unknown_service:xdg-desktop-portal off_cpu": 1,
    });
  });

  it("refuses a converted profile over max_profile_size_bytes while building it", async () => {
    expect(() => convertExport(symbolizedFunctionNames(), { MAX_PROFILE_SIZE_BYTES: 10 })).toThrow(/exceeds the size limit \(max_profile_size_byte/);
  });

  it("reads OTLP/JSON trace and span ids as hex, and base64 as protobuf JSON writes them (§3)", () => {
    const json = (traceId: string, spanId: string) =>
      new TextEncoder().encode(JSON.stringify({ dictionary: { linkTable: [{}, { traceId, spanId }] } }));
    const traceHex = "5b8efff798038103d269b633813fc60c";
    const spanHex = "eee19b7ec3c1b174";
    const bytesOf = (h: string) => Uint8Array.from(h.match(/../g)!.map((b) => parseInt(b, 16)));
    const b64 = (h: string) => btoa(String.fromCharCode(...bytesOf(h)));
    for (const [trace, span] of [
      [traceHex, spanHex],
      [traceHex.toUpperCase(), spanHex.toUpperCase()],
      [b64(traceHex), b64(spanHex)],
    ]) {
      const link = decodeOtlpRequest(json(trace, span), "json").dictionary!.linkTable[1];
      expect([link.traceId, link.spanId]).toEqual([bytesOf(traceHex), bytesOf(spanHex)]);
    }
  });
});

// ---- the worked example (OTLP.md §5.5) ----

describe("the worked example", () => {
  it("stores one CPU series with the resource and scope attributes as labels", async () => {
    const nowNs = BigInt(Date.now()) * 1_000_000n;
    const envLabel = `example-${crypto.randomUUID()}`;
    const body = {
      resourceProfiles: [
        {
          resource: { attributes: [{ key: "service.name", value: { stringValue: "checkout" } }] },
          scopeProfiles: [
            {
              scope: { name: "my-profiler", attributes: [{ key: "env", value: { stringValue: envLabel } }] },
              profiles: [
                {
                  sampleType: { typeStrindex: 1, unitStrindex: 2 },
                  periodType: { typeStrindex: 3, unitStrindex: 4 },
                  period: "10000000",
                  timeUnixNano: String(nowNs),
                  durationNano: "10000000000",
                  samples: [
                    { stackIndex: 1, attributeIndices: [1], values: ["3"] },
                    { stackIndex: 2, timestampsUnixNano: [String(nowNs + 1n), String(nowNs + 2n)] },
                  ],
                },
              ],
            },
          ],
        },
      ],
      dictionary: {
        mappingTable: [{}, { memoryStart: "4096", memoryLimit: "65536", filenameStrindex: 7 }],
        locationTable: [
          {},
          { mappingIndex: 1, address: "4352", lines: [{ functionIndex: 2, line: "12" }] },
          { mappingIndex: 1, address: "4608", lines: [{ functionIndex: 1, line: "3" }] },
        ],
        functionTable: [{}, { nameStrindex: 5, filenameStrindex: 10 }, { nameStrindex: 6, filenameStrindex: 10 }],
        linkTable: [{}],
        stringTable: ["", "samples", "count", "cpu", "nanoseconds", "main", "work", "app", "thread.name", "worker-1", "main.go"],
        attributeTable: [{}, { keyStrindex: 8, value: { stringValue: "worker-1" } }],
        stackTable: [{}, { locationIndices: [1, 2] }, { locationIndices: [2] }],
      },
    };
    const res = await post(OTLP_PATH, JSON.stringify(body), { "Content-Type": "application/json" });
    expect([res.status, await res.text()]).toEqual([200, "{}"]);

    const range = { start: Date.now() - 3_600_000, end: Date.now() + 3_600_000 };
    const merged = await rpcProto(
      "SelectMergeProfile",
      SelectMergeProfileRequestSchema,
      { profileTypeID: CPU, labelSelector: `{service_name="checkout", env="${envLabel}"}`, start: BigInt(range.start), end: BigInt(range.end) },
      ProfileSchema,
    );
    expect(sampleSet(strprofileOfMessage(merged))).toEqual(
      [
        { locations: [{ address: "0x0", lines: ["work[]@main.go:12"], mapping: "0x0-0x0@0x0 app()" }, { address: "0x0", lines: ["main[]@main.go:3"], mapping: "0x0-0x0@0x0 app()" }], values: "30000000" },
        { locations: [{ address: "0x0", lines: ["main[]@main.go:3"], mapping: "0x0-0x0@0x0 app()" }], values: "20000000" },
      ]
        .map((s) => JSON.stringify(s))
        .sort(),
    );

    const { json } = await rpcJson("Series", { matchers: [`{env="${envLabel}"}`], labelNames: [], ...range }, UTF8_NAMES);
    const sets = (json.labelsSet as { labels: { name: string; value: string }[] }[]).map((s) =>
      Object.fromEntries(s.labels.map((l) => [l.name, l.value])),
    );
    expect(sets.length).toBe(2);
    for (const set of sets) {
      expect(set).toMatchObject({ __name__: "process_cpu", __otel__: "true", "service.name": "checkout", service_name: "checkout", env: envLabel });
      expect(set.__profile_type__).toBe(CPU);
    }
    expect(sets.map((s) => s["thread.name"] ?? "").sort()).toEqual(["", "worker-1"]);
  });
});

// ---- refusals ----

describe("refused requests", () => {
  it("answer 4xx with a reason and store nothing", async () => {
    const capture = toBinary(ExportProfilesServiceRequestSchema, await captureRequest("refused"));
    const flipped = capture.slice();
    flipped[0] ^= 0xff;
    const proto = (body: BodyInit, headers: Record<string, string> = {}) =>
      post(OTLP_PATH, body, { "Content-Type": "application/x-protobuf", ...headers });
    const json = (body: string) => post(OTLP_PATH, body, { "Content-Type": "application/json" });
    // A storable off-CPU profile followed by a refused one: the request is refused whole.
    const strings = ["off_cpu", "nanoseconds", "file1.so", "period_type", "period_unit"];
    const partlyBad = offCpuCase(strings);
    partlyBad.resourceProfiles.push(offCpuCase(strings, 100n).resourceProfiles[0]);
    const cases: [string, () => Promise<Response>, number, RegExp][] = [
      ["first byte flipped", () => proto(flipped), 400, /^Failed to parse protobuf request/],
      ["truncated", () => proto(capture.subarray(0, capture.length >> 1)), 400, /^Failed to parse protobuf request/],
      ["gzip, truncated", () => proto(gzipSync(capture).subarray(0, 2000), { "Content-Encoding": "gzip" }), 400, /gzip/],
      [
        "gzip inflating past the body limit",
        () => proto(gzipSync(new Uint8Array(config.INGESTION_BODY_LIMIT_BYTES + 1)), { "Content-Encoding": "gzip" }),
        413,
        /^uncompressed profile payload size exceeds limit of /,
      ],
      ["JSON garbage", () => json('{"resourceProfiles": [{'), 400, /^Failed to parse JSON request/],
      ["JSON of the wrong shape", () => json('{"resourceProfiles": 5}'), 400, /^Failed to parse JSON request/],
      ["no dictionary", () => json('{"resourceProfiles": [{}]}'), 400, /missing profile metadata dictionary/],
      ["no resource profiles", () => json('{"dictionary": {}}'), 400, /missing resource profiles/],
      ["sample values length mismatch", () => proto(toBinary(ExportProfilesServiceRequestSchema, mismatch())), 400, /sample values length mismatch 6 1/],
      ["one bad profile of two", () => proto(toBinary(ExportProfilesServiceRequestSchema, partlyBad)), 400, /sample values length mismatch/],
      ["no __name__ (samples/ms without a period)", () => proto(toBinary(ExportProfilesServiceRequestSchema, symbolizedFunctionNames())), 400, /invalid metric name/],
      ["unsupported Content-Type", () => post(OTLP_PATH, capture, { "Content-Type": "application/octet-stream" }), 415, /^Unsupported Content-Type: application\/octet-stream\n$/],
      [
        "Connect, first byte flipped",
        () => post(CONNECT_PATH, flipped, { "Content-Type": "application/proto", "Connect-Protocol-Version": "1" }),
        400,
        /protobuf/,
      ],
      [
        "Connect, sample values length mismatch",
        () =>
          post(CONNECT_PATH, toBinary(ExportProfilesServiceRequestSchema, mismatch()), {
            "Content-Type": "application/proto",
            "Connect-Protocol-Version": "1",
          }),
        400,
        /sample values length mismatch/,
      ],
    ];
    await flushAll();
    const before = await storageSnapshot();
    for (const [what, send, status, message] of cases) {
      const res = await send();
      const body = await res.text();
      expect([what, res.status]).toEqual([what, status]);
      expect([what, body]).toEqual([what, expect.stringMatching(message)]);
    }
    await flushAll();
    expect(await storageSnapshot()).toEqual(before);
  });

  it("only accepts POST", async () => {
    const res = await exports.default.fetch(OTLP_PATH);
    expect([res.status, res.headers.get("Allow")]).toEqual([405, "POST"]);
  });
});
