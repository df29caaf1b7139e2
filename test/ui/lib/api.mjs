// The service's query API as the UI tests and the UI bench call it from Node: Connect JSON calls
// of querier.v1, and the flame graph's level encoding decoded into nodes (spec §3.15.1), so that
// what the dashboard shows can be checked against what the API answers for the same selection.

import { gunzipSync } from "node:zlib";

const isGzip = (b) => b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b;

/** POST /querier.v1.QuerierService/<method> with a JSON body; the parsed answer, or a throw that says what failed. */
export async function rpc(baseUrl, method, body, { timeoutMs = 60_000 } = {}) {
  const res = await fetch(`${baseUrl}/querier.v1.QuerierService/${method}`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const bytes = Buffer.from(await res.arrayBuffer());
  // fetch has undone Content-Encoding; a body still gzipped was compressed twice by the service.
  const text = (isGzip(bytes) ? gunzipSync(bytes) : bytes).toString("utf8");
  if (res.status !== 200) throw new Error(`${method} ${JSON.stringify(body)} answered HTTP ${res.status}: ${text.slice(0, 500)}`);
  return JSON.parse(text);
}

/** GET a JSON document of the service. */
export async function getJson(baseUrl, urlPath) {
  const res = await fetch(baseUrl + urlPath, { signal: AbortSignal.timeout(30_000) });
  if (res.status !== 200) throw new Error(`GET ${urlPath} answered HTTP ${res.status}: ${(await res.text()).slice(0, 500)}`);
  return res.json();
}

/**
 * A flame graph (Connect JSON: int64s as strings, zero fields left out) as a flat list of nodes
 * { name, depth, x, total, self, parent }, root first. Parents are found by containment, as
 * Grafana decodes it: the node of the level above whose [x, x + total) holds the child's x.
 */
export function decodeFlamegraph(fg) {
  const names = fg?.names ?? [];
  const nodes = [];
  let above = [];
  for (const [depth, level] of (fg?.levels ?? []).entries()) {
    const v = (level.values ?? []).map(Number);
    const here = [];
    let prevEnd = 0;
    let p = 0;
    for (let i = 0; i + 3 < v.length; i += 4) {
      const x = prevEnd + v[i];
      const total = v[i + 1];
      prevEnd = x + total;
      while (p < above.length - 1 && above[p].x + above[p].total <= x) p++;
      const node = { name: names[v[i + 3]], depth, x, total, self: v[i + 2], parent: depth ? above[p] : null };
      here.push(node);
      nodes.push(node);
    }
    above = here;
  }
  return { total: Number(fg?.total ?? 0), maxSelf: Number(fg?.maxSelf ?? 0), nodes };
}

/**
 * Per-function figures of a decoded flame graph, as a top table shows them: self summed over
 * every node of the function; total summed over the nodes with no ancestor of the same name, so
 * that recursion does not count a stack twice. The root ("total") is not a function.
 */
export function functionTable(nodes) {
  const rows = new Map();
  for (const n of nodes) {
    if (n.depth === 0) continue;
    let row = rows.get(n.name);
    if (!row) rows.set(n.name, (row = { name: n.name, self: 0, total: 0 }));
    row.self += n.self;
    let a = n.parent;
    while (a && a.depth > 0 && a.name !== n.name) a = a.parent;
    if (!a || a.depth === 0) row.total += n.total;
  }
  return rows;
}

/** A time of the dashboard's URL (`from`/`until`) in unix ms: `now`, `now-<n><s|m|h|d|w>` or unix ms. */
export function resolveTime(value, nowMs = Date.now()) {
  const rel = /^now(?:-(\d+)([smhdw]))?$/.exec(value);
  if (rel) {
    const unitMs = { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3, w: 604800e3 };
    return rel[1] ? nowMs - Number(rel[1]) * unitMs[rel[2]] : nowMs;
  }
  if (/^\d+$/.test(value)) return Number(value);
  throw new Error(`cannot read the time "${value}" of the dashboard's URL (expected now, now-1h or unix ms)`);
}
