// Calls the query API the way real clients do: Connect JSON (Pyroscope UI, Perses, Drilldown),
// Connect binary protobuf (Grafana) and the legacy GET routes.

import { create, fromBinary, toBinary, type DescMessage, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
import { env, exports } from "cloudflare:workers";
import { expect } from "vitest";
import { Profile, type Sample } from "pprof-format";
import { formatCollapsed } from "./flamegraph";
import { multipart } from "./storage";
import { testdata, testdataList, testdataText } from "./testdata";

const BASE = "http://localhost";

export async function rpcJson(method: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: any }> {
  const res = await exports.default.fetch(`${BASE}/querier.v1.QuerierService/${method}`, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : {} };
}

/** Binary protobuf with the headers Grafana's connect-go client sends (spec §9.1). */
export async function rpcProto<I extends DescMessage, O extends DescMessage>(
  method: string,
  input: I,
  req: MessageInitShape<I>,
  output: O,
): Promise<MessageShape<O>> {
  const res = await exports.default.fetch(`${BASE}/querier.v1.QuerierService/${method}`, {
    method: "POST",
    headers: { "Content-Type": "application/proto", "Connect-Protocol-Version": "1", "Accept-Encoding": "gzip", "User-Agent": "connect-go/1.19.2 (go1.24.1)" },
    body: toBinary(input, create(input, req)),
  });
  if (res.status !== 200) throw new Error(`${method}: HTTP ${res.status}: ${await res.text()}`);
  expect(res.headers.get("Content-Type")).toBe("application/proto");
  return fromBinary(output, await responseBytes(res));
}

/**
 * A response body as an HTTP client reads it: the runtime undoes the gzip Content-Encoding. A body
 * still gzipped after that was compressed twice, which real clients cannot read.
 */
export async function responseBytes(res: Response): Promise<Uint8Array> {
  const body = new Uint8Array(await res.arrayBuffer());
  expect(body[0] === 0x1f && body[1] === 0x8b, "response body gzipped twice").toBe(false);
  return body;
}

export async function getJson(path: string): Promise<{ status: number; json: any }> {
  const res = await exports.default.fetch(`${BASE}${path}`);
  const text = await res.text();
  let json: unknown = text;
  try {
    json = JSON.parse(text);
  } catch {
    // left as text: the caller asserts on the status
  }
  return { status: res.status, json };
}

/** A service's first and last stored profile time from the catalog (after a flush). */
export async function storedTimeRange(service: string): Promise<{ start: number; end: number }> {
  const row = await env.DB.prepare("SELECT min(first_seen) AS start, max(last_seen) AS end FROM series WHERE service = ?")
    .bind(service)
    .first<{ start: number; end: number }>();
  if (!row || row.start === null) throw new Error(`no series stored for ${service}`);
  return row;
}

export interface Golden {
  /** Path under testdata. */
  path: string;
  /** The pprof under testdata/pprof. */
  file: string;
  type: string;
  unit: string;
  spyName?: string;
}

/** Every golden collapsed file: `<file>.<type>.<unit>[.spy-<spyName>].collapsed[.gz]`. */
export async function goldens(): Promise<Golden[]> {
  const out: Golden[] = [];
  for (const dir of ["", "malformed/", "phlaredb/"]) {
    for (const name of await testdataList(`expected/${dir}`)) {
      if (!/\.collapsed(\.gz)?$/.test(name)) continue;
      const parts = name.replace(/\.collapsed(\.gz)?$/, "").split(".");
      const spyName = parts[parts.length - 1].startsWith("spy-") ? parts.pop()!.slice("spy-".length) : undefined;
      const unit = parts.pop()!;
      const type = parts.pop()!;
      out.push({ path: `expected/${dir}${name}`, file: `${dir}${parts.join(".")}`, type, unit, spyName });
    }
  }
  return out;
}

/**
 * A pprof's stacks for sample type `typeIndex`, collapsed the way the goldens are written
 * (MANIFEST "Golden collapsed files"): root first, inlined lines caller first, locations without
 * lines as their hex address.
 */
export function collapsePprof(bytes: Uint8Array, typeIndex: number): string {
  return formatCollapsed(pprofStacks(bytes, typeIndex));
}

export function pprofStacks(bytes: Uint8Array, typeIndex: number, into = new Map<string, number>()): Map<string, number> {
  const p = Profile.decode(bytes);
  const str = (i: number | bigint) => String(p.stringTable.strings[Number(i)]);
  const fns = new Map(p.function.map((f) => [String(f.id), f]));
  const locs = new Map(p.location.map((l) => [String(l.id), l]));
  for (const s of p.sample) {
    const frames: string[] = [];
    for (const id of [...s.locationId].reverse()) {
      const loc = locs.get(String(id))!;
      if (loc.line.length === 0) frames.push(BigInt(loc.address).toString(16));
      for (const line of [...loc.line].reverse()) frames.push(str(fns.get(String(line.functionId))!.name));
    }
    const key = frames.join(";");
    into.set(key, (into.get(key) ?? 0) + Number(s.value[typeIndex]));
  }
  return into;
}

/**
 * A binary protobuf request with Grafana's headers (spec §9.1), answered as the raw Response: for
 * the error paths, whose bodies are JSON even for proto requests (spec §4.3).
 */
export async function rpcProtoResponse<I extends DescMessage>(method: string, input: I, req: MessageInitShape<I>): Promise<Response> {
  return exports.default.fetch(`${BASE}/querier.v1.QuerierService/${method}`, {
    method: "POST",
    headers: { "Content-Type": "application/proto", "Connect-Protocol-Version": "1", "Accept-Encoding": "gzip", "User-Agent": "connect-go/1.19.2 (go1.24.1)" },
    body: toBinary(input, create(input, req)),
  });
}

/** FlameGraph / FlameGraphDiff levels of a decoded protobuf message as plain numbers. */
export function protoLevels(levels: readonly { values: readonly bigint[] }[]): number[][] {
  return levels.map((l) => l.values.map(Number));
}

/** Uploads one profile as the SDKs' multipart form (field `profile`) to /ingest; asserts 200. */
export async function ingestProfile(bytes: Uint8Array, params: Record<string, string>): Promise<void> {
  const { body, contentType } = multipart([{ name: "profile", data: bytes }]);
  const res = await exports.default.fetch(`${BASE}/ingest?${new URLSearchParams(params)}`, {
    method: "POST",
    body,
    headers: { "Content-Type": contentType },
  });
  expect([params.name, res.status, res.status === 200 ? "" : await res.text()]).toEqual([params.name, 200, ""]);
}

/** One recorded @pyroscope/nodejs upload (../shared/testdata/sdk-nodejs/<scenario>/NNN-<kind>.json). */
export interface SdkCapture {
  scenario: string;
  bodyFile: string;
  method: string;
  path: string;
  rawQuery: string;
  headers: [string, string][];
  pprof: {
    sampleType: { type: string; unit: string }[];
    periodType: { type: string; unit: string };
    /** Decimal string. */
    timeNanos: string;
    valueTotals: Record<string, string>;
  };
}

const SKIP_REPLAY_HEADERS = new Set(["host", "content-length", "transfer-encoding", "connection"]);

/**
 * Replays every recorded @pyroscope/nodejs request against /ingest byte for byte (each must answer
 * 200) and returns them. Unless `keepTenant`, the recordings' own X-Scope-OrgID (the 0.6.4
 * scenarios set `tenantID`) is left out, so that all of them land in the default tenant the query
 * tests read.
 */
export async function replaySdkNodejs({ keepTenant = false } = {}): Promise<SdkCapture[]> {
  const captures: SdkCapture[] = [];
  for (const dir of await testdataList("sdk-nodejs")) {
    if (!/^v\d/.test(dir)) continue;
    for (const file of await testdataList(`sdk-nodejs/${dir}`)) {
      if (!file.endsWith(".json")) continue;
      const c = JSON.parse(await testdataText(`sdk-nodejs/${dir}/${file}`)) as SdkCapture;
      const headers = new Headers();
      for (const [k, v] of c.headers) {
        if (!SKIP_REPLAY_HEADERS.has(k.toLowerCase()) && (keepTenant || k.toLowerCase() !== "x-scope-orgid")) headers.append(k, v);
      }
      const res = await exports.default.fetch(`${BASE}${c.path}?${c.rawQuery}`, {
        method: c.method,
        headers,
        body: await testdata(`sdk-nodejs/${dir}/${c.bodyFile}`),
      });
      expect([file, res.status]).toEqual([file, 200]);
      captures.push(c);
    }
  }
  return captures;
}

/** A capture's profile time in unix ms, as stored (time_nanos truncated to ms). */
export function captureTimeMs(c: SdkCapture): number {
  return Number(BigInt(c.pprof.timeNanos) / 1_000_000n);
}

/** A sample's string label `key`, or undefined. */
export function sampleLabel(p: Profile, s: Sample, key: string): string | undefined {
  const l = s.label.find((x) => p.stringTable.strings[Number(x.key)] === key);
  return l === undefined ? undefined : p.stringTable.strings[Number(l.str)];
}
