// Bad query requests get clear errors, never a 500: malformed selectors, profile type ids, time
// ranges, max_nodes and steps are refused as `invalid_argument` with Pyroscope's messages (spec
// API.md §3.0, §7.5) over Connect JSON and binary protobuf alike (binary errors are JSON too, §4.3),
// transport mistakes get their HTTP status (§4.1), and the legacy routes answer 400 (§5). The
// service keeps answering valid queries afterwards.

import type { DescMessage, MessageInitShape } from "@bufbuild/protobuf";
import { exports } from "cloudflare:workers";
import { Profile } from "pprof-format";
import { beforeAll, describe, expect, it } from "vitest";
import {
  SelectMergeStacktracesRequestSchema,
  SelectMergeStacktracesResponseSchema,
  SelectSeriesRequestSchema,
} from "../workers/gen/querier/v1/querier_pb";
import { LabelNamesRequestSchema, LabelValuesRequestSchema } from "../workers/gen/types/v1/types_pb";
import { ingestProfile, protoLevels, rpcJson, rpcProto, rpcProtoResponse } from "./setup/query";
import { plain, testdata } from "./setup/testdata";

const HOUR_MS = 3_600_000;
const SERVICE = "errors/cpu-exemplars";
const CPU = "process_cpu:cpu:nanoseconds:cpu:nanoseconds";
const CPU_TOTAL = 8_730_000_000; // MANIFEST.md, cpu-exemplars.pb.gz
const SELECTOR = `{service_name="${SERVICE}"}`;
const MAX_NODES_MAX = 1_048_576;
const TYPE_FORM = "profile-type selection must be of the form <name>:<sample-type>:<sample-unit>:<period-type>:<period-unit>(:delta)";
const TEN_YEARS_MS = 10 * 365 * 24 * HOUR_MS;
const RPC = "http://localhost/querier.v1.QuerierService";

interface Case {
  name: string;
  send: () => Promise<Response>;
  status: number;
  /** The Connect code of the JSON error body; "invalid_argument" unless given. */
  code?: string;
  /** Exact message, or a pattern it must match. */
  message: string | RegExp;
}

// The profile's time, set before any request is sent (cases are built before beforeAll runs).
let timeMs = 0;
const range = () => ({ start: timeMs - HOUR_MS, end: timeMs + HOUR_MS });
const selection = () => ({ profileTypeID: CPU, labelSelector: SELECTOR, ...range() });

/**
 * A Connect JSON request as the Pyroscope UI and Perses send it; a string body is sent as it is.
 * The body is built when the request is sent, after beforeAll has read the profile's time.
 */
function json(method: string, body: () => unknown): () => Promise<Response> {
  return () => {
    const b = body();
    return exports.default.fetch(`${RPC}/${method}`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: typeof b === "string" ? b : JSON.stringify(b),
    });
  };
}

/** A binary protobuf request as Grafana sends it, built when sent. */
function proto<I extends DescMessage>(method: string, schema: I, req: () => MessageInitShape<I>): () => Promise<Response> {
  return () => rpcProtoResponse(method, schema, req());
}

const get = (path: string) => () => exports.default.fetch(`http://localhost${path}`);
const big = (r: { start: number; end: number }) => ({ start: BigInt(r.start), end: BigInt(r.end) });

/** The fields of a SelectMergeStacktraces request the cases vary, with int64s as JSON numbers. */
interface Selection {
  profileTypeID: string;
  labelSelector: string;
  start: number;
  end: number;
  maxNodes?: number;
  spanSelector?: string[];
  traceIdSelector?: string[];
}

/** A refusal as `invalid_argument` (HTTP 400), the code of every validation failure. */
const refused = (name: string, send: () => Promise<Response>, message: string | RegExp): Case => ({ name, send, status: 400, message });

/** The same refusal over Connect JSON and binary protobuf (SelectMergeStacktraces). */
function bothCodecs(name: string, req: () => Selection, message: string | RegExp): Case[] {
  const binary = (): MessageInitShape<typeof SelectMergeStacktracesRequestSchema> => {
    const r = req();
    return { ...r, ...big(r), maxNodes: r.maxNodes === undefined ? undefined : BigInt(r.maxNodes) };
  };
  return [
    refused(`${name} (JSON)`, json("SelectMergeStacktraces", req), message),
    refused(`${name} (binary)`, proto("SelectMergeStacktraces", SelectMergeStacktracesRequestSchema, binary), message),
  ];
}

/** SelectSeries over the profile's range with this step, in JSON and in binary. */
const seriesJson = (step: number | string) => json("SelectSeries", () => ({ ...selection(), step }));
const seriesProto = (step: number) => proto("SelectSeries", SelectSeriesRequestSchema, () => ({ ...selection(), ...big(range()), step }));

const legacy = (route: string, params: Record<string, string>) => get(`/pyroscope/${route}?${new URLSearchParams(params)}`);

const SELECTORS: [selector: string, message: RegExp][] = [
  ["{", /^parse error at char 2: unexpected end of input in label matching, expected label name$/],
  ["{a=}", /^parse error at char 4: unexpected "}" in label matching, expected string$/],
  ['{a=~"("}', /invalid regular expression "\(" for label "a"/],
  ["", /empty selector/],
  ['{a~"b"}', /unexpected "~" in label matching, expected label matching operator/],
  // RE2 syntax (spec §3.0): what JavaScript's engine would accept, said to be unsupported.
  ['{a=~"(x)\\\\1"}', /invalid regular expression .* for label "a": invalid escape sequence: `\\1` \(backreferences are not supported/],
  ['{a=~"(?=x)x"}', /\(lookahead and lookbehind are not supported/],
  [`{${Array.from({ length: 101 }, (_, i) => `l${i}="v"`).join(",")}}`, /^too many matchers in the selector: the limit is 100 \(MAX_QUERY_MATCHERS\)$/],
];

const STEP = "step must be >= 1ms";
const MISSING_RANGE = "missing time range in the query";
const START_AFTER_END = "query start time is after end time";

const cases: Case[] = [
  ...SELECTORS.flatMap(([labelSelector, message]): Case[] => [
    ...bothCodecs(`selector ${JSON.stringify(labelSelector)}`, () => ({ ...selection(), labelSelector }), message),
    refused(
      `selector ${JSON.stringify(labelSelector)} in LabelValues matchers`,
      json("LabelValues", () => ({ name: "function", matchers: [labelSelector], start: 1, end: 2 })),
      message,
    ),
  ]),
  ...bothCodecs(
    "profile type id of 4 parts",
    () => ({ ...selection(), profileTypeID: "process_cpu:cpu:nanoseconds:cpu" }),
    `${TYPE_FORM}, got(4): "process_cpu:cpu:nanoseconds:cpu"`,
  ),
  ...bothCodecs("profile type id of 7 parts", () => ({ ...selection(), profileTypeID: `${CPU}:delta:x` }), `${TYPE_FORM}, got(7): "${CPU}:delta:x"`),
  ...bothCodecs("start 0", () => ({ ...selection(), start: 0 }), MISSING_RANGE),
  ...bothCodecs("end 0", () => ({ ...selection(), end: 0 }), MISSING_RANGE),
  ...bothCodecs("start after end", () => ({ ...selection(), start: range().end, end: range().start }), START_AFTER_END),
  ...bothCodecs(
    "a 10-year range",
    () => ({ ...selection(), start: timeMs - TEN_YEARS_MS }),
    /^the query time range exceeds the limit \(max_query_length, actual: .+, limit: 31d\)$/,
  ),
  ...bothCodecs("max_nodes -1", () => ({ ...selection(), maxNodes: -1 }), `max flamegraph nodes limit must be set (max allowed ${MAX_NODES_MAX})`),
  ...bothCodecs(
    "max_nodes 2_000_000",
    () => ({ ...selection(), maxNodes: 2_000_000 }),
    `max flamegraph nodes limit 2000000 is greater than allowed ${MAX_NODES_MAX}`,
  ),
  ...bothCodecs(
    "span and trace id selectors together",
    () => ({ ...selection(), spanSelector: ["f9666c0d6bffec33"], traceIdSelector: ["0123456789abcdef0123456789abcdef"] }),
    "span_selector and trace_id_selector cannot be combined",
  ),
  refused("SelectSeries step 0 (JSON)", seriesJson(0), STEP),
  refused("SelectSeries step 0 (binary)", seriesProto(0), STEP),
  refused("SelectSeries step 0.5 ms", seriesJson(0.0005), STEP),
  // An infinite step is no step either: it must not reach the bucketing (0·∞ is NaN).
  refused("SelectSeries step Infinity (JSON)", seriesJson("Infinity"), /step/),
  refused("SelectSeries step Infinity (binary)", seriesProto(Infinity), /step/),
  refused("SelectSeries start 0", json("SelectSeries", () => ({ ...selection(), step: 15, start: 0 })), MISSING_RANGE),
  refused(
    "LabelNames start after end (binary)",
    proto("LabelNames", LabelNamesRequestSchema, () => ({ matchers: ["{}"], start: 2000n, end: 1000n })),
    START_AFTER_END,
  ),
  refused(
    "LabelValues without a name (binary)",
    proto("LabelValues", LabelValuesRequestSchema, () => ({ matchers: ["{}"], ...big(range()) })),
    "name is required",
  ),

  // Transport (§4.1): only POST, only the two codecs, and bodies that decode.
  {
    name: "GET on an RPC path",
    send: get("/querier.v1.QuerierService/SelectMergeStacktraces"),
    status: 405,
    code: "unimplemented",
    message: /only accepts POST/,
  },
  { name: "an unknown RPC method", send: json("NoSuchMethod", () => ({})), status: 404, code: "unimplemented", message: /not found/ },
  refused("an empty JSON body", json("SelectMergeStacktraces", () => ""), /from JSON/),
  refused("a truncated JSON body", json("SelectMergeStacktraces", () => "{"), /from JSON/),
  refused(
    "bytes that are no protobuf message",
    () =>
      exports.default.fetch(`${RPC}/SelectMergeStacktraces`, {
        method: "POST",
        headers: { "Content-Type": "application/proto" },
        body: new Uint8Array([0xff, 0xff, 0xff]),
      }),
    /^request is not a valid protobuf message/,
  ),
  // An empty proto body is the empty message (§4.1), whose profile type id is "".
  refused("an empty binary body", proto("SelectMergeStacktraces", SelectMergeStacktracesRequestSchema, () => ({})), `${TYPE_FORM}, got(1): ""`),

  // Legacy routes (§5).
  refused("render without query", get("/pyroscope/render"), '"query" is required'),
  refused(
    "render with a 3-part profile type id",
    legacy("render", { query: `process_cpu:cpu:nanoseconds${SELECTOR}` }),
    `${TYPE_FORM}, got(3): "process_cpu:cpu:nanoseconds"`,
  ),
  refused("render without a profile type", legacy("render", { query: SELECTOR }), '"query" must contain a profile-type selection'),
  refused("render with a malformed selector", legacy("render", { query: `${CPU}{a=}` }), /expected string/),
  refused("render with from after until", legacy("render", { query: CPU + SELECTOR, from: "now", until: "now-1h" }), START_AFTER_END),
  refused("render-diff without rightQuery", legacy("render-diff", { leftQuery: CPU + SELECTOR }), '"rightQuery" is required'),
];

describe("query errors", () => {
  beforeAll(async () => {
    const bytes = await testdata("pprof/cpu-exemplars.pb.gz");
    timeMs = Number(BigInt(Profile.decode(plain(bytes)).timeNanos) / 1_000_000n);
    await ingestProfile(bytes, { name: SERVICE });
  });

  it.each(cases)("$name → $status", async (c) => {
    const res = await c.send();
    const text = await res.text();
    expect(res.status, text).not.toBe(500);
    expect(res.status, text).toBe(c.status);
    // Connect error bodies are JSON whatever the request codec (§4.3), and so are the legacy routes'.
    expect(res.headers.get("Content-Type")).toBe("application/json");
    const err = JSON.parse(text) as { code: string; message: string };
    expect(err.code).toBe(c.code ?? "invalid_argument");
    if (typeof c.message === "string") expect(err.message).toBe(c.message);
    else expect(err.message).toMatch(c.message);
  });

  it("answers an unsupported content type with 415 and the accepted ones", async () => {
    const res = await exports.default.fetch(`${RPC}/SelectMergeStacktraces`, {
      method: "POST",
      headers: { "Content-Type": "text/plain" },
      body: JSON.stringify(selection()),
    });
    expect(res.status).toBe(415);
    // connect-go names what it accepts (§4.1).
    expect(res.headers.get("Accept-Post") ?? "").toMatch(/application\/json/);
    expect(res.headers.get("Accept-Post") ?? "").toMatch(/application\/proto/);
  });

  it("answers a well-formed but unknown profile type with the empty flame graph (§3.5)", async () => {
    const unknown = { ...selection(), profileTypeID: "no_such:type:count:none:count" };
    // protojson leaves out the zero total and max_self (§4.5).
    const viaJson = await rpcJson("SelectMergeStacktraces", unknown);
    expect([viaJson.status, viaJson.json]).toEqual([200, { flamegraph: { names: ["total"], levels: [{ values: ["0", "0", "0", "0"] }] } }]);
    const viaProto = await rpcProto(
      "SelectMergeStacktraces",
      SelectMergeStacktracesRequestSchema,
      { ...unknown, ...big(range()) },
      SelectMergeStacktracesResponseSchema,
    );
    const fg = viaProto.flamegraph!;
    expect([fg.names, protoLevels(fg.levels), fg.total, fg.maxSelf]).toEqual([["total"], [[0, 0, 0, 0]], 0n, 0n]);
  });

  it("still answers valid queries after all of the above", async () => {
    const res = await rpcProto(
      "SelectMergeStacktraces",
      SelectMergeStacktracesRequestSchema,
      { ...selection(), ...big(range()) },
      SelectMergeStacktracesResponseSchema,
    );
    expect(res.flamegraph!.total).toBe(BigInt(CPU_TOTAL));
  });
});
