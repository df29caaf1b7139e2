// The fuzz cases: case `index` of run `seed` is a pure function of (seed, index, corpus, limits),
// so any case can be regenerated and printed alone, here and in workerd (test/fuzz-regressions).
// No Node APIs: bytes are Uint8Arrays, gzip is fflate.
//
// Each format starts from a valid request built from a corpus file, kept in layers (a payload —
// the pprof, JFR recording, OTLP message, JSON or text — and the wrapping that makes it a body:
// gzip, multipart, a Push message), so a mutation can aim at the payload's structure (lie in one
// of its protobuf length fields, nest its JSON deeply) or at the body as sent (gzip or multipart
// framing). Rounds go over every (format, mutation class) pair in a fixed order, so even a short
// run covers each pair; the PRNG decides the details.

import { Gzip, gunzipSync, gzipSync, zlibSync } from "fflate";
import { concat, lengthFields, lenField, varint, varintField, varintFields, withLength } from "./proto.mjs";
import { Rng } from "./prng.mjs";

/** Corpus files the cases are made from (paths under the shared testdata folder). */
export const FILES = [
  "pprof/cpu.pb.gz",
  "pprof/cpu-exemplars.pb.gz",
  "pprof/cpu-js.pb.gz",
  "pprof/cpu-unknown.pb.gz",
  "pprof/heap-js.pprof",
  "pprof/heap.pb.gz",
  "pprof/nodejs-heap.pb.gz",
  "pprof/pyspy-1.pb.gz",
  "pprof/req_2.pprof",
  "pprof/req_2.st.json",
  "pprof/req_3.pprof",
  "pprof/req_3.st.json",
  "pprof/req_5.pprof",
  "pprof/req_5.st.json",
  "pprof/profile_java",
  "pprof/profile_rust",
  "pprof/single_group_with_optional_span_id.pb.gz",
  "pprof/malformed/no_addr_no_line.pb.gz",
  "pprof/phlaredb/profile_python",
  "pprof/dotnet-pprof-211.pb.gz",
  "pprof/dotnet-pprof-211.st.json",
  "jfr/cortex-dev-01__kafka-0__cpu__0.jfr.gz",
  "jfr/cortex-dev-01__kafka-0__cpu_lock_alloc__1.jfr.gz",
  "jfr/dump2.jfr.gz",
  "jfr/dump2.labels.pb.gz",
  "otlp/otel-ebpf-profile.pb.bin",
  "otlp/otel-ebpf-profile.pb.json",
  "speedscope/simple.speedscope.json",
  "speedscope/two-sampled.speedscope.json",
  "speedscope/two-sampled-bytes.speedscope.json",
  "folded/dump2.wall.folded",
  "folded/dump2.wall.pool-2-thread-1.folded",
  "folded/cortex-dev-01__kafka-0__cpu_lock0_alloc0__0.lock_duration.folded",
  "folded/stacktraces-2.folded",
];

export const MUTATIONS = [
  "none",
  "bitflip",
  "insert",
  "delete",
  "truncate",
  "length-lie",
  "deep-nesting",
  "deep-stack",
  "content-length",
  "gzip-bomb",
  "oversized",
  "bad-labels",
  "tenant",
  "encoding",
];

const ALL = MUTATIONS.filter((m) => m !== "deep-nesting" && m !== "deep-stack");
const JSONISH = [...ALL, "deep-nesting"];
const STACKS = [...ALL, "deep-stack"];

/** Formats and the mutation classes that apply to each. */
export const FORMATS = {
  "pprof-raw": [...ALL, "deep-stack"],
  "pprof-multipart": [...ALL, "deep-nesting"],
  "jfr-raw": ALL,
  "jfr-multipart": ALL,
  "otlp-proto": [...ALL, "deep-nesting"],
  "otlp-json": JSONISH,
  speedscope: [...JSONISH, "deep-stack"],
  folded: STACKS,
  lines: STACKS,
  tree: STACKS,
  trie: STACKS,
  "push-proto": [...ALL, "deep-stack"],
  "push-json": JSONISH,
};

/** Every (format, mutation) pair in the order rounds visit them. */
export const PAIRS = Object.entries(FORMATS).flatMap(([format, ms]) => MUTATIONS.filter((m) => ms.includes(m)).map((m) => [format, m]));

const enc = new TextEncoder();
const dec = new TextDecoder();
const isGzip = (b) => b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b;
const plain = (b) => (isGzip(b) ? gunzipSync(b) : b);
const gz = (b) => gzipSync(b, { level: 6, mtime: 0 });

/** Memoised per corpus object: decoded forms of its files. */
const derived = new WeakMap();
function memo(corpus, key, make) {
  let m = derived.get(corpus);
  if (!m) derived.set(corpus, (m = new Map()));
  if (!m.has(key)) m.set(key, make());
  return m.get(key);
}
function file(corpus, rel) {
  const b = corpus.get(rel);
  if (!b) throw new Error(`fuzz corpus: ${rel} was not loaded`);
  return b;
}
const plainFile = (corpus, rel) => memo(corpus, `plain:${rel}`, () => plain(file(corpus, rel)));

const PPROFS = FILES.filter((f) => f.startsWith("pprof/") && !f.endsWith(".json"));
const JFRS = FILES.filter((f) => f.endsWith(".jfr.gz"));
const SPEEDSCOPES = FILES.filter((f) => f.startsWith("speedscope/"));
const FOLDEDS = FILES.filter((f) => f.startsWith("folded/"));

// ---------------------------------------------------------------------------------------------
// Bodies: a request is { path, headers, layers } where layers.payload is the innermost bytes and
// layers.wrap(payload) makes the body; mutations at "payload" level re-wrap, at "body" level not.

function multipartBody(parts, boundary) {
  const chunks = [];
  for (const p of parts) {
    const filename = p.filename ? `; filename="${p.filename}"` : "";
    chunks.push(enc.encode(`--${boundary}\r\nContent-Disposition: form-data; name="${p.name}"${filename}\r\nContent-Type: application/octet-stream\r\n\r\n`));
    chunks.push(p.data, enc.encode("\r\n"));
  }
  chunks.push(enc.encode(`--${boundary}--\r\n`));
  return concat(chunks);
}

function pushProto(series) {
  return concat(
    series.map((s) =>
      lenField(
        1,
        concat([
          ...s.labels.map(([n, v]) => lenField(1, concat([lenField(1, n), lenField(2, v)]))),
          ...s.samples.map((raw) => lenField(2, lenField(1, raw))),
        ]),
      ),
    ),
  );
}

function base64(bytes) {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

function pushJson(series) {
  return JSON.stringify({
    series: series.map((s) => ({
      labels: s.labels.map(([name, value]) => ({ name, value })),
      samples: s.samples.map((raw) => ({ rawProfile: base64(raw) })),
    })),
  });
}

const pushLabels = (service) => [
  ["__name__", "process_cpu"],
  ["service_name", service],
  ["pyroscope_spy", "gospy"],
];

/** Stacks of a folded corpus file as [frames[], count]. */
function foldedStacks(corpus, rel) {
  return memo(corpus, `stacks:${rel}`, () =>
    dec
      .decode(file(corpus, rel))
      .split("\n")
      .filter((l) => l.trim())
      .map((l) => {
        const at = l.lastIndexOf(" ");
        return [l.slice(0, at).split(";"), Number(l.slice(at + 1)) || 1];
      }),
  );
}

/** A varint writer that records where each varint went, so that lies can be told about them. */
class Writer {
  constructor() {
    this.chunks = [];
    this.size = 0;
    this.varints = [];
  }
  uv(v) {
    const b = varint(v);
    this.varints.push([this.size, b.length]);
    this.push(b);
  }
  push(b) {
    this.chunks.push(b);
    this.size += b.length;
  }
  str(s) {
    const b = enc.encode(s);
    this.uv(b.length);
    this.push(b);
  }
  done() {
    return { bytes: concat(this.chunks), varints: this.varints };
  }
}

/** A frame tree of stacks: nested Maps name → { self, children }. */
function stackTree(stacks) {
  const root = { self: 0, children: new Map() };
  for (const [frames, count] of stacks) {
    let n = root;
    for (const f of frames) {
      let c = n.children.get(f);
      if (!c) n.children.set(f, (c = { self: 0, children: new Map() }));
      n = c;
    }
    n.self += count;
  }
  return root;
}

/** The "tree" binary format (pre-order: name, self, child count) of a frame tree, iteratively. */
function encodeTree(root) {
  const w = new Writer();
  const todo = [["", root]];
  while (todo.length) {
    const [name, node] = todo.pop();
    w.str(name);
    w.uv(node.self);
    w.uv(node.children.size);
    todo.push(...[...node.children].reverse());
  }
  return w.done();
}

/** The "trie" binary format of a frame tree: chunks of `;`-joined keys, one chunk per frame. */
function encodeTrie(root) {
  const w = new Writer();
  const todo = [["", root, 0]];
  while (todo.length) {
    const [chunk, node, depth] = todo.pop();
    w.str(chunk);
    w.uv(node.self);
    w.uv(node.children.size);
    todo.push(...[...node.children].map(([n, c]) => [depth === 0 ? n : `;${n}`, c, depth + 1]).reverse());
  }
  return w.done();
}

function foldedText(stacks, withCounts) {
  return enc.encode(stacks.map(([frames, count]) => (withCounts ? `${frames.join(";")} ${count}` : frames.join(";"))).join("\n") + "\n");
}

function speedscopeSampled(frameNames, samples, weights, unit = "none") {
  return JSON.stringify({
    $schema: "https://www.speedscope.app/file-format-schema.json",
    shared: { frames: frameNames.map((name) => ({ name })) },
    profiles: [{ type: "sampled", name: "fuzz", unit, startValue: 0, endValue: weights.reduce((a, b) => a + b, 0), samples, weights }],
  });
}

/** A synthetic pprof: one sample whose stack is `depth` locations deep over `functions` names. */
function deepPprof(depth, functions) {
  const strings = ["", "samples", "count", "cpu", "nanoseconds", ...Array.from({ length: functions }, (_, i) => `fn_${i}`)];
  const parts = [
    lenField(1, concat([varintField(1, 3), varintField(2, 4)])),
    lenField(2, concat([lenField(1, concat(Array.from({ length: depth }, (_, i) => varint(i + 1)))), lenField(2, varint(10_000_000))])),
  ];
  for (let i = 0; i < depth; i++) parts.push(lenField(4, concat([varintField(1, i + 1), lenField(4, concat([varintField(1, (i % functions) + 1)]))])));
  for (let i = 0; i < functions; i++) parts.push(lenField(5, concat([varintField(1, i + 1), varintField(2, i + 5)])));
  for (const s of strings) parts.push(lenField(6, s));
  parts.push(lenField(11, concat([varintField(1, 3), varintField(2, 4)])), varintField(12, 10_000_000));
  return concat(parts);
}

/** The valid request of `format` that mutations start from. */
function baseRequest(format, rng, corpus) {
  const svc = `fuzz-${format}`;
  const octet = { "Content-Type": "application/octet-stream" };
  switch (format) {
    case "pprof-raw": {
      const rel = rng.pick(PPROFS);
      const zipped = isGzip(file(corpus, rel));
      return {
        detail: rel,
        path: `/ingest?name=${svc}&format=pprof&spyName=gospy`,
        headers: octet,
        layers: { kind: "proto", payload: plainFile(corpus, rel), wrap: (p) => (zipped ? gz(p) : p) },
      };
    }
    case "pprof-multipart": {
      const rel = rng.pick(PPROFS);
      const zipped = isGzip(file(corpus, rel));
      const st = rel.replace(/\.(pprof|pb\.gz)$/, ".st.json");
      const config = FILES.includes(st) ? file(corpus, st) : undefined;
      const boundary = `fuzz${rng.u32().toString(16)}`;
      const wrap = (p, stc = config) =>
        multipartBody([{ name: "profile", filename: "profile.pprof", data: zipped ? gz(p) : p }, ...(stc ? [{ name: "sample_type_config", filename: "config.json", data: stc }] : [])], boundary);
      return {
        detail: rel + (config ? " + sample_type_config" : ""),
        path: `/ingest?name=${svc}&spyName=gospy`,
        headers: { "Content-Type": `multipart/form-data; boundary=${boundary}` },
        layers: { kind: "proto", payload: plainFile(corpus, rel), wrap, config },
      };
    }
    case "jfr-raw": {
      const rel = rng.pick(JFRS);
      return {
        detail: rel,
        path: `/ingest?name=${svc}&format=jfr&spyName=javaspy`,
        headers: octet,
        layers: { kind: "jfr", payload: plainFile(corpus, rel), wrap: (p) => gz(p) },
      };
    }
    case "jfr-multipart": {
      const rel = rng.pick(JFRS);
      const labels = rel.startsWith("jfr/dump2") ? file(corpus, "jfr/dump2.labels.pb.gz") : undefined;
      const boundary = `fuzz${rng.u32().toString(16)}`;
      const onLabels = labels !== undefined && rng.chance(0.3);
      const jfr = plainFile(corpus, rel);
      // The payload is the part a mutation aims at: the recording, or (sometimes) the labels message.
      const wrap = (p) =>
        multipartBody(
          [
            { name: "jfr", filename: "jfr", data: gz(onLabels ? jfr : p) },
            ...(labels ? [{ name: "labels", filename: "labels", data: onLabels ? gz(p) : labels }] : []),
          ],
          boundary,
        );
      return {
        detail: rel + (labels ? " + labels" : "") + (onLabels ? " (mutating labels)" : ""),
        path: `/ingest?name=${svc}&format=jfr&spyName=javaspy`,
        headers: { "Content-Type": `multipart/form-data; boundary=${boundary}` },
        layers: { kind: onLabels ? "proto" : "jfr", payload: onLabels ? plain(labels) : jfr, wrap },
      };
    }
    case "otlp-proto": {
      const zipped = rng.chance(0.3);
      return {
        detail: `otlp/otel-ebpf-profile.pb.bin${zipped ? " (gzip)" : ""}`,
        path: "/v1development/profiles",
        headers: { "Content-Type": "application/x-protobuf", ...(zipped ? { "Content-Encoding": "gzip" } : {}) },
        layers: { kind: "proto", otlp: true, payload: file(corpus, "otlp/otel-ebpf-profile.pb.bin"), wrap: (p) => (zipped ? gz(p) : p) },
      };
    }
    case "otlp-json": {
      const zipped = rng.chance(0.3);
      return {
        detail: `otlp/otel-ebpf-profile.pb.json${zipped ? " (gzip)" : ""}`,
        path: "/v1development/profiles",
        headers: { "Content-Type": "application/json", ...(zipped ? { "Content-Encoding": "gzip" } : {}) },
        layers: { kind: "json", otlp: true, payload: file(corpus, "otlp/otel-ebpf-profile.pb.json"), wrap: (p) => (zipped ? gz(p) : p) },
      };
    }
    case "speedscope": {
      const rel = rng.pick(SPEEDSCOPES);
      return {
        detail: rel,
        path: `/ingest?name=${svc}&format=speedscope`,
        headers: { "Content-Type": "application/json" },
        layers: { kind: "json", payload: file(corpus, rel), wrap: (p) => p },
      };
    }
    case "folded":
    case "lines": {
      const rel = rng.pick(FOLDEDS);
      const stacks = foldedStacks(corpus, rel);
      return {
        detail: rel,
        path: `/ingest?name=${svc}${format === "lines" ? "&format=lines" : ""}`,
        headers: { "Content-Type": "text/plain" },
        layers: { kind: "text", payload: foldedText(stacks, format === "folded"), wrap: (p) => p },
      };
    }
    case "tree":
    case "trie": {
      const rel = rng.pick(FOLDEDS);
      const stacks = foldedStacks(corpus, rel);
      const { bytes, varints } = memo(corpus, `${format}:${rel}`, () => (format === "tree" ? encodeTree(stackTree(stacks)) : encodeTrie(stackTree(stacks))));
      return {
        detail: `${rel} as ${format}`,
        path: `/ingest?name=${svc}&format=${format}`,
        headers: octet,
        layers: { kind: "binary", varints, payload: bytes, wrap: (p) => p },
      };
    }
    case "push-proto":
    case "push-json": {
      const rel = rng.pick(PPROFS);
      const zipped = isGzip(file(corpus, rel));
      const json = format === "push-json";
      const wrap = (p, labels = pushLabels(svc)) => {
        const series = [{ labels, samples: [zipped ? gz(p) : p] }];
        return json ? enc.encode(pushJson(series)) : pushProto(series);
      };
      return {
        detail: rel,
        path: "/push.v1.PusherService/Push",
        headers: { "Content-Type": json ? "application/json" : "application/proto", "Connect-Protocol-Version": "1" },
        layers: { kind: "proto", payload: plainFile(corpus, rel), wrap, push: json ? "json" : "proto" },
      };
    }
    default:
      throw new Error(`unknown format ${format}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Mutations. Each returns { detail, body?, headers?, path?, transport? }.

function bitflip(rng, b) {
  const out = b.slice();
  const n = rng.logRange(1, 64);
  for (let i = 0; i < n && out.length; i++) out[rng.int(out.length)] ^= 1 << rng.int(8);
  return [out, `${n} bit flips`];
}

const INTERESTING = [0x00, 0xff, 0x7f, 0x80, 0x0a, 0x3b, 0x7b, 0x5b, 0x22, 0x1f, 0x8b];

function insert(rng, b) {
  const at = rng.int(b.length + 1);
  const n = rng.logRange(1, 4096);
  const fill = rng.chance(0.5) ? rng.bytes(n) : new Uint8Array(n).fill(rng.pick(INTERESTING));
  return [concat([b.subarray(0, at), fill, b.subarray(at)]), `${n} bytes inserted at ${at}`];
}

function del(rng, b) {
  const at = rng.int(b.length);
  const n = Math.min(b.length - at, rng.logRange(1, Math.max(1, b.length >> 1)));
  return [concat([b.subarray(0, at), b.subarray(at + n)]), `${n} bytes deleted at ${at}`];
}

function truncate(rng, b) {
  const at = rng.chance(0.2) ? rng.int(16) : rng.int(b.length);
  return [b.slice(0, at), `truncated to ${at} of ${b.length} bytes`];
}

const HUGE = [2n ** 31n - 1n, 2n ** 31n, 2n ** 32n - 1n, 2n ** 32n + 7n, 2n ** 53n + 1n, 2n ** 63n - 1n, 2n ** 64n - 1n];

/** A lie in a protobuf: a length-delimited field claims more (or fewer) bytes, or a varint value is huge. */
function protoLie(rng, b) {
  if (rng.chance(0.75)) {
    const lfs = lengthFields(b);
    if (lfs.length) {
      const f = rng.pick(lfs);
      const len = f.end - f.dataStart;
      const claim = rng.pick([() => len + 1, () => len + rng.logRange(2, 1 << 20), () => rng.pick(HUGE), () => Math.max(0, len - rng.range(1, len || 1)), () => b.length * 2]);
      const value = claim();
      return [withLength(b, f, value), `field ${f.field} at depth ${f.depth} (offset ${f.start}) claims ${value} bytes, has ${len}`];
    }
  }
  const vfs = varintFields(b);
  if (!vfs.length) return bitflip(rng, b);
  const f = rng.pick(vfs);
  const value = rng.pick(HUGE);
  const end = f.end;
  return [concat([b.subarray(0, f.valueStart), varint(value), b.subarray(end)]), `varint field ${f.field} (offset ${f.start}) set to ${value}`];
}

/** JFR: the chunk header's sizes and offsets (big-endian int64s at 8, 16, 24), or one LEB128 varint inside. */
function jfrLie(rng, b) {
  const out = b.slice();
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  if (out.length >= 32 && rng.chance(0.5)) {
    const field = rng.pick([
      [8, "chunk size"],
      [16, "constant pool offset"],
      [24, "metadata offset"],
    ]);
    const value = rng.pick([BigInt(out.length) * 2n, BigInt(out.length) + 1n, 2n ** 62n, 0n, 1n, BigInt(rng.int(out.length)), 2n ** 64n - 1n]);
    view.setBigUint64(field[0], BigInt.asUintN(64, value));
    return [out, `JFR header ${field[1]} set to ${value}`];
  }
  // A run of continuation bytes: a varint (a size, a count or an id) told to be enormous.
  for (let tries = 0; tries < 64; tries++) {
    const at = rng.int(Math.max(1, out.length - 9));
    if (out[at] >= 0x80) {
      const v = varint(rng.pick(HUGE));
      const len = Math.min(v.length, out.length - at);
      out.set(v.subarray(0, len), at);
      return [out, `JFR varint at ${at} set to ${len} bytes of a huge value`];
    }
  }
  return bitflip(rng, b);
}

/** Tree/trie: one of the recorded length or count varints set to a huge or off-by-some value. */
function binaryLie(rng, b, varints) {
  const [at, len] = rng.pick(varints);
  const value = rng.pick([...HUGE, 1000n, 65536n, BigInt(b.length)]);
  return [concat([b.subarray(0, at), varint(value), b.subarray(at + len)]), `varint at ${at} set to ${value}`];
}

/** JSON: a number replaced by a huge, negative or fractional one. */
function jsonLie(rng, b) {
  const text = dec.decode(b);
  const numbers = [...text.matchAll(/(?<=[:\[,]\s*)"?-?\d+"?(?=\s*[,\]}])/g)];
  if (!numbers.length) return bitflip(rng, b);
  const m = rng.pick(numbers);
  const value = rng.pick(["1e308", "-1", "2147483648", "9007199254740993", "18446744073709551616", '"99999999999999999999"', "-9223372036854775809", "0.5", "NaN", "1e-400"]);
  return [enc.encode(text.slice(0, m.index) + value + text.slice(m.index + m[0].length)), `number at ${m.index} (${m[0]}) replaced by ${value}`];
}

/** Text: a count replaced by a huge or invalid one, or a line without a count. */
function textLie(rng, b) {
  const text = dec.decode(b);
  const counts = [...text.matchAll(/ (\d+)$/gm)];
  if (!counts.length) return insert(rng, b);
  const m = rng.pick(counts);
  const value = rng.pick(["99999999999999999999", "18446744073709551616", "-5", "1e9", "0x10", "", " ", "9007199254740993"]);
  return [enc.encode(text.slice(0, m.index) + " " + value + text.slice(m.index + m[0].length)), `count at ${m.index} set to "${value}"`];
}

function nested(depth, kind) {
  if (kind === "array") return "[".repeat(depth) + "]".repeat(depth);
  if (kind === "object") return '{"a":'.repeat(depth) + "1" + "}".repeat(depth);
  return '{"values":['.repeat(depth) + "]}".repeat(depth);
}

/** JSON nested `depth` deep, put in place of one value of the document (or of a field it reads). */
function deepJson(rng, b, layers) {
  const depth = rng.logRange(1000, 100_000);
  const kind = rng.pick(["array", "object", "mixed"]);
  const deep = nested(depth, kind);
  const text = dec.decode(b);
  if (layers.otlp && rng.chance(0.5)) {
    // A resource attribute whose AnyValue nests arrays: the one recursive message OTLP has.
    const value = '{"arrayValue":{"values":['.repeat(depth) + '{"stringValue":"x"}' + "]}}".repeat(depth);
    const at = text.indexOf('"attributes":[') + '"attributes":['.length;
    return [enc.encode(text.slice(0, at) + `{"key":"deep","value":${value}},` + text.slice(at)), `resource attribute AnyValue nested ${depth} deep`];
  }
  const values = [...text.matchAll(/(?<=:\s*)(\[|\{|"[^"]*"|-?\d[\d.eE+-]*)/g)];
  if (!values.length) return [enc.encode(deep), `the whole body: ${kind} nested ${depth} deep`];
  const m = rng.pick(values);
  // Replace the whole value: for an opening bracket, up to its matching close.
  let end = m.index + m[0].length;
  if (m[0] === "[" || m[0] === "{") {
    let level = 0;
    let inString = false;
    for (let i = m.index; i < text.length; i++) {
      const c = text[i];
      if (inString) {
        if (c === "\\") i++;
        else if (c === '"') inString = false;
      } else if (c === '"') inString = true;
      else if (c === "[" || c === "{") level++;
      else if ((c === "]" || c === "}") && --level === 0) {
        end = i + 1;
        break;
      }
    }
  }
  return [enc.encode(text.slice(0, m.index) + deep + text.slice(end)), `value at ${m.index} replaced by ${kind} nested ${depth} deep`];
}

/** OTLP protobuf: an extra ResourceProfiles whose resource has an attribute nested `depth` deep. */
function deepOtlpProto(rng, b) {
  const depth = rng.logRange(1000, 100_000);
  const viaList = rng.chance(0.5);
  // AnyValue{array_value: ArrayValue{values: AnyValue{...}}} (or kvlist_value: KeyValueList{values:
  // KeyValue{key, value: AnyValue{...}}}), written from the inside out, backwards into one buffer.
  const buf = new Uint8Array(depth * 20 + 64);
  let pos = buf.length;
  const prepend = (bytes) => {
    pos -= bytes.length;
    buf.set(bytes, pos);
  };
  const size = () => buf.length - pos;
  prepend(lenField(1, "leaf"));
  for (let i = 0; i < depth; i++) {
    if (viaList) {
      prepend(varint(size()));
      prepend([0x12]);
      prepend([0x0a, 0x01, 0x6b]);
      prepend(varint(size()));
      prepend([0x0a]);
      prepend(varint(size()));
      prepend([0x32]);
    } else {
      prepend(varint(size()));
      prepend([0x0a]);
      prepend(varint(size()));
      prepend([0x2a]);
    }
  }
  const attr = lenField(1, concat([lenField(1, "deep"), lenField(2, buf.subarray(pos))]));
  return [concat([lenField(1, lenField(1, attr)), b]), `resource attribute AnyValue nested ${depth} deep (${viaList ? "kvlist" : "array"})`];
}

/**
 * Stacks 1,000 to 32,000 frames deep, in one of three shapes: one chain; the chain with a value
 * at every level (every prefix is a stack: what makes a decoder that builds each stack's key
 * from scratch quadratic); or many stacks sharing all but their leaf.
 */
function deepStacks(rng) {
  const depth = rng.logRange(1000, 32_000);
  const shape = rng.pick(["chain", "every-level", "many-deep"]);
  const names = rng.pick(["short", "long", "recursive"]);
  const name = (i) => (names === "short" ? `f${i}` : names === "long" ? `com.example.deep.Frame${i}.method$lambda$${i}` : `rec`);
  const frames = Array.from({ length: depth }, (_, i) => name(i));
  const leaves = shape === "many-deep" ? rng.range(2, Math.max(2, Math.floor(200_000 / depth))) : 1;
  const count = shape === "every-level" ? depth : leaves;
  /** The frame tree, built directly (every-level as stacks would be quadratic here too). */
  const tree = () => {
    const root = { self: 0, children: new Map() };
    let n = root;
    for (let i = 0; i < depth - (shape === "many-deep" ? 1 : 0); i++) {
      const c = { self: shape === "every-level" || (shape === "chain" && i === depth - 1) ? 1 : 0, children: new Map() };
      // Recursive names repeat: each level is still its own node, under a distinct key.
      n.children.set(frames[i], c);
      n = c;
    }
    for (let k = 0; k < (shape === "many-deep" ? leaves : 0); k++) n.children.set(`leaf${k}`, { self: 1, children: new Map() });
    return root;
  };
  /** As [frames, count] stacks, as many as fit in about `budget` bytes of text. */
  const stacks = (budget) => {
    const per = frames.reduce((n, f) => n + f.length + 1, 0);
    const fit = Math.max(1, Math.min(count, Math.floor(budget / per)));
    if (shape === "chain") return [[frames, 1]];
    if (shape === "many-deep") return Array.from({ length: fit }, (_, k) => [[...frames.slice(0, depth - 1), `leaf${k}`], 1]);
    // The deepest prefixes: the largest keys.
    return Array.from({ length: fit }, (_, k) => [frames.slice(0, depth - k), 1]);
  };
  return { depth, frames, tree, stacks, detail: `${count} stack(s) ${depth} frames deep (${shape}, ${names} names)` };
}

function deepStackBody(rng, format) {
  const { depth, frames, tree, stacks, detail } = deepStacks(rng);
  // Text bodies stay well inside the 16 MiB request limit (an oversized body is another class).
  const budget = 8e6;
  switch (format) {
    case "folded":
      return [foldedText(stacks(budget), true), detail];
    case "lines":
      return [foldedText(stacks(budget), false), detail];
    case "tree":
      return [encodeTree(tree()).bytes, detail];
    case "trie":
      return [encodeTrie(tree()).bytes, detail];
    case "speedscope": {
      if (rng.chance(0.5)) {
        const s = stacks(budget / 2);
        const ids = new Map();
        const samples = s.map(([fs]) => fs.map((f) => (ids.has(f) ? ids.get(f) : (ids.set(f, ids.size), ids.size - 1))));
        return [enc.encode(speedscopeSampled([...ids.keys()], samples, samples.map(() => 1))), `sampled: ${detail}`];
      }
      // Evented: open every frame, then close them all.
      const events = [];
      frames.forEach((_, i) => events.push({ type: "O", at: i, frame: i }));
      for (let i = depth - 1; i >= 0; i--) events.push({ type: "C", at: 2 * depth - i, frame: i });
      const doc = {
        $schema: "https://www.speedscope.app/file-format-schema.json",
        shared: { frames: frames.map((name) => ({ name })) },
        profiles: [{ type: "evented", name: "fuzz", unit: "none", startValue: 0, endValue: 2 * depth + 1, events }],
      };
      return [enc.encode(JSON.stringify(doc)), `evented: one stack ${depth} frames deep`];
    }
    default: {
      const fns = rng.pick([1, 16, depth]);
      return [deepPprof(depth, fns), `pprof: one sample ${depth} locations deep over ${fns} function(s)`];
    }
  }
}

/** A gzip stream of `size` bytes of `fill`, built chunk by chunk (never holding `size` bytes). */
function gzipBomb(size, fill = 0) {
  const out = [];
  const g = new Gzip({ level: 9, mtime: 0 }, (chunk) => out.push(chunk));
  const chunk = new Uint8Array(1 << 20).fill(fill);
  for (let left = size; left > 0; left -= chunk.length) g.push(left > chunk.length ? chunk : chunk.subarray(0, left), left <= chunk.length);
  return concat(out);
}
const bombs = new Map();
function bomb(size, fill) {
  const key = `${size}:${fill}`;
  if (!bombs.has(key)) bombs.set(key, gzipBomb(size, fill));
  return bombs.get(key);
}

/** The payload repeated to just under `limit` bytes: a protobuf's repeated fields add up. */
function repeatTo(p, limit) {
  const n = Math.max(1, Math.floor((limit - 1) / Math.max(1, p.length)));
  const out = new Uint8Array(n * p.length);
  for (let i = 0; i < n; i++) out.set(p, i * p.length);
  return out;
}

const LABEL_JUNK = [
  "",
  "{",
  "app{",
  "app{a=b",
  "app{=v}",
  "app{a=}",
  "app{a==b}",
  "app{a=b,,c=d}",
  "app{a=b}}}}",
  "app{bad-key=v}",
  "app{1abc=v}",
  "app{__name__=evil}",
  "app{service_name=}",
  "äpp{ключ=значение}",
  "app{a=\u0000}",
  "app{a=\u{1F525}}",
  "app{a=\ud800}",
  "app\nname",
  "app{a=\"quoted\"}",
  "app{a=b c}",
  "..",
  "app/../../x",
];

/** Percent-encoding that keeps the name syntax readable and sends a lone surrogate as the invalid UTF-8 it would be. */
function urlEncode(s) {
  let out = "";
  for (const ch of s) {
    const cp = ch.codePointAt(0);
    if (cp >= 0xd800 && cp <= 0xdfff) out += "%ED%A0%80";
    else if (/[A-Za-z0-9\-_.~{}=,]/.test(ch)) out += ch;
    else out += encodeURIComponent(ch);
  }
  return out;
}

function badName(rng) {
  const kind = rng.int(6);
  if (kind === 0) return rng.pick(LABEL_JUNK);
  if (kind === 1) return `app{${Array.from({ length: rng.logRange(31, 5000) }, (_, i) => `l${i}=v`).join(",")}}`;
  if (kind === 2) return `app{${"k".repeat(rng.logRange(1025, 200_000))}=v}`;
  if (kind === 3) return `app{k=${"v".repeat(rng.logRange(2049, 200_000))}}`;
  if (kind === 4) return "a".repeat(rng.logRange(1000, 200_000));
  return "app" + "{".repeat(rng.logRange(2, 10_000));
}

function badPushLabels(rng, svc) {
  const kind = rng.int(7);
  const long = (n) => "x".repeat(n);
  if (kind === 0) return [["service_name", svc]];
  if (kind === 1) return [...pushLabels(svc), ["bad-key", "v"]];
  if (kind === 2) return [...pushLabels(svc), ["k", long(rng.logRange(2049, 200_000))]];
  if (kind === 3) return [...pushLabels(svc), [long(rng.logRange(1025, 200_000)), "v"]];
  if (kind === 4) return [...pushLabels(svc), ...Array.from({ length: rng.logRange(31, 5000) }, (_, i) => [`l${i}`, "v"])];
  if (kind === 5) return [...pushLabels(svc), ["service_name", "twice"], ["", ""]];
  return [["__name__", rng.pick(["", "a b", "process_cpu\u0000", "💥"])], ["service_name", rng.pick(["", "\u0000", long(3000)])]];
}

function otlpBadResource(rng, b) {
  const kind = rng.int(3);
  const attrs =
    kind === 0
      ? [["service.name", "x".repeat(rng.logRange(2049, 200_000))]]
      : kind === 1
        ? Array.from({ length: rng.logRange(31, 5000) }, (_, i) => [`attr.${i}`, "v"])
        : [[rng.pick(["", "bad-key", "\u0000", "x".repeat(5000)]), rng.pick(["", "\u0000", "💥"])]];
  return { attrs, detail: kind === 0 ? "service.name over 2048 characters" : kind === 1 ? `${attrs.length} resource attributes` : `attribute ${JSON.stringify(attrs[0]).slice(0, 60)}` };
}

const TENANTS = ["", "a|b|c", "../../etc/passwd", "tenant with spaces", "ténant", "\t", "x".repeat(5000), "%00", "anonymous|anonymous", "fuzz-unknown-tenant"];

// ---------------------------------------------------------------------------------------------

function mutate(mutation, rng, format, base, limits) {
  const { layers } = base;
  const svc = `fuzz-${format}`;
  const onPayload = (fn) => {
    if (rng.chance(0.6)) {
      const [p, detail] = fn(layers.payload);
      return { body: layers.wrap(p), detail: `payload: ${detail}` };
    }
    const [b, detail] = fn(layers.wrap(layers.payload));
    return { body: b, detail: `body: ${detail}` };
  };
  switch (mutation) {
    case "none":
      return { body: layers.wrap(layers.payload), detail: "unchanged" };
    case "bitflip":
      return onPayload((b) => bitflip(rng, b));
    case "insert":
      return onPayload((b) => insert(rng, b));
    case "delete":
      return onPayload((b) => del(rng, b));
    case "truncate":
      return onPayload((b) => truncate(rng, b));
    case "length-lie": {
      if (layers.push === "proto" && rng.chance(0.4)) {
        const [b, detail] = protoLie(rng, layers.wrap(layers.payload));
        return { body: b, detail: `Push message: ${detail}` };
      }
      const lie = { proto: protoLie, jfr: jfrLie, json: jsonLie, text: textLie, binary: (r, b) => binaryLie(r, b, layers.varints) }[layers.kind];
      const [p, detail] = lie(rng, layers.payload);
      return { body: layers.wrap(p), detail: `payload: ${detail}` };
    }
    case "deep-nesting": {
      if (format === "pprof-multipart") {
        const depth = rng.logRange(1000, 100_000);
        return { body: layers.wrap(layers.payload, enc.encode(nested(depth, rng.pick(["array", "object"])))), detail: `sample_type_config nested ${depth} deep` };
      }
      const [p, detail] = format === "otlp-proto" ? deepOtlpProto(rng, layers.payload) : deepJson(rng, layers.payload, layers);
      return { body: layers.wrap(p), detail };
    }
    case "deep-stack": {
      const [p, detail] = deepStackBody(rng, format);
      return { body: format.startsWith("push") ? layers.wrap(p) : p, detail };
    }
    case "content-length": {
      const body = layers.wrap(layers.payload);
      if (rng.chance(0.5)) {
        const declared = rng.int(body.length);
        return { body, transport: { kind: "understate", declared }, detail: `Content-Length ${declared} for a ${body.length}-byte body` };
      }
      const sent = rng.int(body.length);
      return { body, transport: { kind: "truncate", sent }, detail: `Content-Length ${body.length}, only ${sent} bytes sent, then the client closes its side` };
    }
    case "gzip-bomb": {
      const size = rng.pick([16, 64, 256]) * 1024 * 1024;
      const fill = rng.pick([0, 0x0a]);
      const detail = `${size >> 20} MiB of 0x${fill.toString(16)} gzipped`;
      if (rng.chance(0.25)) {
        // A valid payload repeated to just under the decompressed limit: the largest real input.
        const p = repeatTo(layers.payload, limits.MAX_PROFILE_SIZE_BYTES);
        return { body: layers.push || layers.kind === "jfr" || format.startsWith("pprof") ? layers.wrap(p) : gz(p), headers: layers.otlp ? { "Content-Encoding": "gzip" } : {}, detail: `payload repeated to ${p.length} bytes (limit ${limits.MAX_PROFILE_SIZE_BYTES})` };
      }
      const b = bomb(size, fill);
      if (layers.push) {
        if (rng.chance(0.5)) return { body: b, headers: { "Content-Encoding": "gzip" }, detail: `Push body with Content-Encoding gzip: ${detail}` };
        return { body: layers.push === "json" ? enc.encode(pushJson([{ labels: pushLabels(svc), samples: [b] }])) : pushProto([{ labels: pushLabels(svc), samples: [b] }]), detail: `raw_profile: ${detail}` };
      }
      if (format === "pprof-multipart" || format === "jfr-multipart") {
        const boundary = base.headers["Content-Type"].split("boundary=")[1];
        return { body: multipartBody([{ name: format === "jfr-multipart" ? "jfr" : "profile", data: b }], boundary), detail: `multipart part: ${detail}` };
      }
      return { body: b, headers: layers.otlp ? { "Content-Encoding": "gzip" } : {}, detail };
    }
    case "oversized": {
      const size = limits.INGESTION_BODY_LIMIT_BYTES + rng.logRange(1, limits.INGESTION_BODY_LIMIT_BYTES);
      const p = layers.wrap(layers.payload);
      const body = new Uint8Array(size);
      for (let at = 0; at < size; at += p.length) body.set(p.subarray(0, Math.min(p.length, size - at)), at);
      const chunked = rng.chance(0.5);
      return { body, transport: chunked ? { kind: "chunked" } : undefined, detail: `${size} bytes (limit ${limits.INGESTION_BODY_LIMIT_BYTES})${chunked ? ", chunked, no Content-Length" : ""}` };
    }
    case "bad-labels": {
      if (layers.push) {
        const labels = badPushLabels(rng, svc);
        return { body: layers.wrap(layers.payload, labels), detail: `labels ${JSON.stringify(labels).slice(0, 120)}` };
      }
      if (layers.otlp) {
        const { attrs, detail } = otlpBadResource(rng);
        if (layers.kind === "json") {
          const text = dec.decode(layers.payload);
          const at = text.indexOf('"attributes":[') + '"attributes":['.length;
          const extra = attrs.map(([key, v]) => JSON.stringify({ key, value: { stringValue: v } }) + ",").join("");
          return { body: layers.wrap(enc.encode(text.slice(0, at) + extra + text.slice(at))), detail };
        }
        const resource = concat(attrs.map(([k, v]) => lenField(1, concat([lenField(1, k), lenField(2, lenField(1, v))]))));
        // Repeated fields concatenate: the first ResourceProfiles gets these resource attributes too.
        const lfs = lengthFields(layers.payload, { maxDepth: 1 });
        const first = lfs.find((f) => f.field === 1);
        const p = first ? concat([layers.payload.subarray(0, first.start), lenField(1, concat([layers.payload.subarray(first.dataStart, first.end), lenField(1, resource)])), layers.payload.subarray(first.end)]) : layers.payload;
        return { body: layers.wrap(p), detail };
      }
      const name = badName(rng);
      const path = base.path.replace(/name=[^&]*/, `name=${urlEncode(name)}`);
      return { body: layers.wrap(layers.payload), path, detail: `name=${JSON.stringify(name.length > 80 ? name.slice(0, 60) + `... (${name.length} chars)` : name)}` };
    }
    case "tenant": {
      const orgId = rng.pick(TENANTS);
      const auth = rng.pick([undefined, "Bearer not-a-token", "Basic !!!notbase64", "Bearer " + "x".repeat(10_000), "Basic " + btoa("admin:wrong")]);
      const headers = { "X-Scope-OrgID": orgId, ...(auth ? { Authorization: auth } : {}) };
      return { body: layers.wrap(layers.payload), headers, detail: `X-Scope-OrgID ${JSON.stringify(orgId.slice(0, 40))}${auth ? `, Authorization ${auth.slice(0, 30)}` : ""}` };
    }
    case "encoding": {
      const p = layers.wrap(layers.payload);
      const variant = rng.pick(["br", "deflate", "zstd", "gzip-lie", "gzip-valid", "identity", "junk", "content-type"]);
      if (variant === "gzip-valid") return { body: gz(p), headers: { "Content-Encoding": "gzip" }, detail: "Content-Encoding gzip, gzipped" };
      if (variant === "deflate") return { body: zlibSync(p), headers: { "Content-Encoding": "deflate" }, detail: "Content-Encoding deflate (zlib stream)" };
      if (variant === "gzip-lie") return { body: p, headers: { "Content-Encoding": "gzip" }, detail: "Content-Encoding gzip, not gzipped" };
      if (variant === "content-type") {
        const ct = rng.pick(["application/grpc", "application/connect+proto", "application/proto", "application/json", "text/plain", "", "multipart/form-data", "multipart/form-data; boundary=", "binary/octet-stream+trie", "binary/octet-stream+tree", "application/x-protobuf; charset=utf-8"]);
        return { body: p, headers: { "Content-Type": ct }, detail: `Content-Type ${JSON.stringify(ct)}` };
      }
      const name = { br: "br", zstd: "zstd", identity: "identity", junk: "x-fuzz, gzip" }[variant];
      return { body: p, headers: { "Content-Encoding": name }, detail: `Content-Encoding ${name} (body not encoded)` };
    }
    default:
      throw new Error(`unknown mutation ${mutation}`);
  }
}

/**
 * Case `index` of run `seed`: { seed, index, format, mutation, detail, method, path, headers,
 * body, transport? }. `corpus` maps FILES to their bytes; `limits` holds the service's
 * INGESTION_BODY_LIMIT_BYTES and MAX_PROFILE_SIZE_BYTES (from GET /config).
 */
export function makeCase(seed, index, corpus, limits) {
  const [format, mutation] = PAIRS[index % PAIRS.length];
  const rng = new Rng(seed, index);
  const base = baseRequest(format, rng, corpus);
  const m = mutate(mutation, rng, format, base, limits);
  const headers = { ...base.headers, ...(m.headers ?? {}) };
  return {
    seed,
    index,
    format,
    mutation,
    detail: `${base.detail}; ${m.detail}`,
    method: "POST",
    path: m.path ?? base.path,
    headers,
    body: m.body,
    transport: m.transport,
  };
}
