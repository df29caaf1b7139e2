// A merged call tree as a Graphviz call graph (spec API.md §3.5 PROFILE_FORMAT_DOT, §5.1
// `format=dot`), in the shape `go tool pprof -dot` draws: one box per function with its flat and
// cumulative value, one edge per caller → callee pair, the `maxNodes` functions of greatest
// cumulative value kept. A kept function whose callers were dropped is joined to its nearest kept
// caller by an edge, so the graph stays connected; as in pprof, an edge that carries any such
// path is dotted (residual). Values are counted once per stack, so recursion does not inflate a
// function's or an edge's cumulative value. Pure.

import { childLists, type FrameTree } from "../query/tree";

export interface DotOptions {
  /** Functions to keep, greatest cumulative value first. */
  maxNodes: number;
  /** The sample unit (third part of the profile type id): picks how values are written. */
  unit: string;
  /** Names the graph and its legend (the profile type id). */
  title: string;
}

/** The graph of `tree`; null when the tree holds no value (the caller answers without a graph). */
export function toDot(tree: FrameTree, opts: DotOptions): string | null {
  const c = tree.columns();
  const n = c.parent.length;
  const totals = tree.totals();
  const total = totals[0];
  if (n <= 1 || total === 0) return null;
  const children = childLists(c.parent);
  const names = c.names.length;

  // Flat and cumulative value per function name; a function counts at its outermost frame only.
  const flat = new Float64Array(names);
  const cum = new Float64Array(names);
  const onPath = new Int32Array(names);
  walk(children, (v) => {
    const nm = c.name[v];
    flat[nm] += c.self[v];
    if (onPath[nm]++ === 0) cum[nm] += totals[v];
  }, (v) => void onPath[c.name[v]]--);

  // Every name a frame carries, "" included: the root shares that name's index but is never a frame.
  const used = new Uint8Array(names);
  for (let v = 1; v < n; v++) used[c.name[v]] = 1;
  const ranked: number[] = [];
  for (let nm = 0; nm < names; nm++) if (used[nm] === 1 && (cum[nm] !== 0 || flat[nm] !== 0)) ranked.push(nm);
  ranked.sort((a, b) => cum[b] - cum[a] || flat[b] - flat[a] || (c.names[a] < c.names[b] ? -1 : 1));
  const keptNames = ranked.slice(0, Math.max(1, opts.maxNodes));
  const dropped = ranked.slice(keptNames.length);
  // 1-based graph node per kept name; 0 = dropped.
  const nodeOf = new Int32Array(names);
  keptNames.forEach((nm, i) => (nodeOf[nm] = i + 1));

  // The nearest kept frame above each node (parents precede children), then one edge per pair of
  // kept functions, its value counted once per stack like `cum`.
  const nearest = new Int32Array(n).fill(-1);
  for (let v = 1; v < n; v++) nearest[v] = nodeOf[c.name[v]] !== 0 ? c.name[v] : nearest[c.parent[v]];
  const edges = new Map<number, { from: number; to: number; value: number; residual: boolean }>();
  const edgeOnPath = new Map<number, number>();
  const edgeKey = (v: number): number => nearest[c.parent[v]] * names + c.name[v];
  const hasEdge = (v: number): boolean => nodeOf[c.name[v]] !== 0 && nearest[c.parent[v]] !== -1;
  walk(children, (v) => {
    if (!hasEdge(v)) return;
    const key = edgeKey(v);
    const depth = edgeOnPath.get(key) ?? 0;
    edgeOnPath.set(key, depth + 1);
    if (depth > 0 || totals[v] === 0) return;
    let e = edges.get(key);
    if (!e) edges.set(key, (e = { from: nearest[c.parent[v]], to: c.name[v], value: 0, residual: false }));
    e.value += totals[v];
    if (nodeOf[c.name[c.parent[v]]] === 0) e.residual = true;
  }, (v) => {
    if (hasEdge(v)) edgeOnPath.set(edgeKey(v), edgeOnPath.get(edgeKey(v))! - 1);
  });

  const fmt = (v: number) => formatValue(v, opts.unit);
  const pct = (v: number) => `${((100 * v) / total).toFixed(2)}%`;
  const shown = keptNames.reduce((a, nm) => a + flat[nm], 0);
  const maxFlat = Math.max(...keptNames.map((nm) => Math.abs(flat[nm])), 1);
  const legend = [`Type: ${opts.title}`, `Showing nodes accounting for ${fmt(shown)}, ${pct(shown)} of ${fmt(total)} total`];
  if (dropped.length > 0) legend.push(`Dropped ${dropped.length} nodes (cum <= ${fmt(cum[dropped[0]])})`);

  const out = [`digraph ${quote(opts.title)} {`, `node [style=filled fillcolor="#f8f8f8"]`];
  out.push(`subgraph cluster_L { "legend" [shape=box fontsize=16 label=${lines(legend, "\\l")} tooltip=${quote(opts.title)}] }`);
  for (const nm of keptNames) {
    const name = c.names[nm];
    const values = [`${fmt(flat[nm])} (${pct(flat[nm])})`];
    if (flat[nm] !== cum[nm]) values.push(`of ${fmt(cum[nm])} (${pct(cum[nm])})`);
    const heat = Math.min(1, Math.abs(cum[nm]) / total);
    const attrs = [
      `label=${lines([...labelLines(name), ...values], "\\n")}`,
      `id="node${nodeOf[nm]}"`,
      `fontsize=${8 + Math.round((22 * Math.abs(flat[nm])) / maxFlat)}`,
      "shape=box",
      `tooltip=${quote(`${name} (${fmt(cum[nm])})`)}`,
      `color="${shade(178, 178, 0, heat)}"`,
      `fillcolor="${shade(237, 237, 213, heat)}"`,
    ];
    out.push(`N${nodeOf[nm]} [${attrs.join(" ")}]`);
  }
  const sorted = [...edges.values()].sort((a, b) => b.value - a.value || nodeOf[a.from] - nodeOf[b.from] || nodeOf[a.to] - nodeOf[b.to]);
  for (const e of sorted) {
    const share = Math.min(1, Math.abs(e.value) / total);
    const tip = quote(`${c.names[e.from]} -> ${c.names[e.to]} (${fmt(e.value)})`);
    const attrs = [
      `label=${quote(` ${fmt(e.value)}`)}`,
      `weight=${Math.max(1, Math.round(100 * share))}`,
      `penwidth=${(1 + 5 * share).toFixed(2)}`,
      `color="${shade(178, 178, 0, share)}"`,
      `tooltip=${tip}`,
      `labeltooltip=${tip}`,
      ...(e.residual ? ["style=dotted"] : []),
    ];
    out.push(`N${nodeOf[e.from]} -> N${nodeOf[e.to]} [${attrs.join(" ")}]`);
  }
  out.push("}");
  return `${out.join("\n")}\n`;
}

/** Depth-first over every node but the root, without recursion (stacks can be thousands deep). */
function walk(children: { start: Int32Array; list: Int32Array }, enter: (v: number) => void, exit: (v: number) => void): void {
  const { start, list } = children;
  // A node is pushed as v to enter it and as ~v to leave it once its subtree is done.
  const stack: number[] = [];
  for (let i = start[1] - 1; i >= start[0]; i--) stack.push(list[i]);
  while (stack.length > 0) {
    const v = stack.pop()!;
    if (v < 0) {
      exit(~v);
      continue;
    }
    enter(v);
    stack.push(~v);
    for (let i = start[v + 1] - 1; i >= start[v]; i--) stack.push(list[i]);
  }
}

/** pprof's two label lines for `pkg.func`: the package, then the rest; other names stay whole. */
function labelLines(name: string): string[] {
  const base = name.slice(name.lastIndexOf("/") + 1);
  const dot = base.indexOf(".");
  if (dot <= 0 || dot === base.length - 1 || base.includes(" ")) return [name];
  return [name.slice(0, name.length - base.length + dot), base.slice(dot + 1)];
}

/** A colour from grey (share 0) towards red (share 1): red fixed, green and blue from `gb0` to `gb1`. */
function shade(red: number, gb0: number, gb1: number, share: number): string {
  const gb = Math.round(gb0 + (gb1 - gb0) * share);
  const hex = (x: number) => x.toString(16).padStart(2, "0");
  return `#${hex(red)}${hex(gb)}${hex(gb)}`;
}

function escape(s: string): string {
  return s.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function quote(s: string): string {
  return `"${escape(s)}"`;
}

/** Lines as one DOT label: `\n` centres them; `\l` left-aligns the line it ends, so it ends the last one too. */
function lines(texts: readonly string[], separator: "\\n" | "\\l"): string {
  return `"${texts.map(escape).join(separator)}${separator === "\\l" ? separator : ""}"`;
}

const DURATIONS: readonly [number, string][] = [
  [3600e9, "hrs"],
  [60e9, "mins"],
  [1e9, "s"],
  [1e6, "ms"],
  [1e3, "us"],
];
const SIZES: readonly [number, string][] = [
  [2 ** 40, "TB"],
  [2 ** 30, "GB"],
  [2 ** 20, "MB"],
  [2 ** 10, "kB"],
];

/** A value as pprof writes it: scaled durations and sizes, counts as they are. */
export function formatValue(v: number, unit: string): string {
  const scaled = (ladder: readonly [number, string][], base: string) => {
    for (const [size, suffix] of ladder) if (Math.abs(v) >= size) return `${trim(v / size)}${suffix}`;
    return `${trim(v)}${base}`;
  };
  if (unit === "nanoseconds") return scaled(DURATIONS, "ns");
  if (unit === "bytes") return scaled(SIZES, "B");
  return trim(v);
}

function trim(x: number): string {
  return Number.isInteger(x) ? String(x) : x.toFixed(2).replace(/\.?0+$/, "");
}
