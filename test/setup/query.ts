// Calls the query API the way real clients do: Connect JSON (Pyroscope UI, Perses, Drilldown),
// Connect binary protobuf (Grafana) and the legacy GET routes.

import { create, fromBinary, toBinary, type DescMessage, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
import { env, exports } from "cloudflare:workers";
import { gunzipSync } from "fflate";
import { expect } from "vitest";
import { Profile } from "pprof-format";
import { formatCollapsed } from "./flamegraph";
import { testdataList } from "./testdata";

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
  let body = new Uint8Array(await res.arrayBuffer());
  // A direct call to the Worker does not undo Content-Encoding as an HTTP client would.
  if (res.headers.get("Content-Encoding") === "gzip") body = gunzipSync(body);
  return fromBinary(output, body);
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
