// The ingest workload: real profiles from the shared test corpus, turned into a deterministic,
// endlessly repeatable sequence of /ingest requests.
//
//   pprof/**            raw bodies, POST /ingest?name=bench-<n>{pod=..,env=bench}&format=pprof
//   sdk-nodejs/v0.6.4-*/  the @pyroscope/nodejs 0.6.4 bodies, POST /ingest?<rawQuery> as recorded

import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { gunzipSync } from "node:zlib";
import { benchError } from "./server.mjs";

/** Files of pprof/ that are known to be refused (see testdata/MANIFEST.md) and not worth sending. */
export const EXCLUDED = new Set(["invalid_utf8.pb.gz", "dotnet-pprof-3.pb.gz"]);
export const SERVICES = 4;
export const PODS = 8;

const isGzip = (b) => b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b;

function walkFiles(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walkFiles(p));
    else out.push(p);
  }
  return out;
}

/**
 * The distinct profiles of the workload. Each item: { id, kind: "pprof" | "sdk", body (Buffer),
 * rawBytes (uncompressed pprof size), gzip, query? (sdk only), contentType }.
 */
export function loadProfiles(testdataDir) {
  const pprofDir = path.join(testdataDir, "pprof");
  const sdkDir = path.join(testdataDir, "sdk-nodejs");
  for (const d of [pprofDir, sdkDir]) {
    try {
      statSync(d);
    } catch {
      throw benchError(`test data not found at ${d}: set TESTDATA_DIR to the shared testdata folder`);
    }
  }
  const items = [];
  const add = (id, kind, body, extra) => {
    const gzip = isGzip(body);
    items.push({ id, kind, body, gzip, rawBytes: gzip ? gunzipSync(body).length : body.length, ...extra });
  };

  for (const file of walkFiles(pprofDir)) {
    const base = path.basename(file);
    if (base.endsWith(".json") || EXCLUDED.has(base)) continue;
    add(`pprof/${path.relative(pprofDir, file)}`, "pprof", readFileSync(file), { contentType: "application/octet-stream" });
  }

  for (const u of sdkRecordings(sdkDir)) add(`sdk-nodejs/${u.id}`, "sdk", u.body, { query: u.query, contentType: u.contentType });
  return items;
}

/** The recorded @pyroscope/nodejs 0.6.4 uploads under `sdkDir`: { id, body, query, contentType }. */
export function sdkRecordings(sdkDir) {
  const out = [];
  for (const scenario of readdirSync(sdkDir).filter((d) => d.startsWith("v0.6.4-")).sort()) {
    const dir = path.join(sdkDir, scenario);
    for (const name of readdirSync(dir).filter((f) => f.endsWith(".json")).sort()) {
      const meta = JSON.parse(readFileSync(path.join(dir, name), "utf8"));
      if (!meta.bodyFile?.endsWith(".pprof.gz")) continue;
      const header = (meta.headers ?? []).find(([k]) => k.toLowerCase() === "content-type");
      const body = readFileSync(path.join(dir, meta.bodyFile));
      out.push({ id: `${scenario}/${meta.bodyFile}`, body, query: meta.rawQuery, contentType: header?.[1] ?? "application/octet-stream" });
    }
  }
  return out;
}

/**
 * Request number `i` of the workload over `items`: the items in a fixed interleaved order, with
 * pprof files spread over SERVICES services (so several ingesters get traffic) and a `pod` label
 * cycling over PODS values. Same `i` → same request, for every target.
 */
export function requestAt(items, i) {
  const item = items[i % items.length];
  const round = Math.floor(i / items.length);
  let path;
  if (item.kind === "sdk") {
    path = `/ingest?${item.query}`;
  } else {
    const service = (i + round) % SERVICES;
    const pod = (i + 3 * round) % PODS;
    const name = `bench-${service}{pod=pod-${pod},env=bench}`;
    path = `/ingest?name=${encodeURIComponent(name)}&format=pprof`;
  }
  return { i, item, path, body: item.body, rawBytes: item.rawBytes, contentType: item.contentType };
}

/** A deterministic interleaving of the items (so big and small profiles alternate). */
export function interleave(items) {
  const sorted = [...items].sort((a, b) => a.rawBytes - b.rawBytes);
  const out = [];
  for (let lo = 0, hi = sorted.length - 1; lo <= hi; lo++, hi--) {
    out.push(sorted[hi]);
    if (lo !== hi) out.push(sorted[lo]);
  }
  return out;
}
