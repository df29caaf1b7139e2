// DOT call graphs (spec API.md §3.5 PROFILE_FORMAT_DOT, §5.1 `format=dot`): the pure renderer on
// small trees that exercise recursion and dropped nodes, then both endpoints on a real Go heap profile,
// whose every function's flat and cumulative value and every caller → callee edge must equal the
// ones computed here from the uploaded pprof's stacks.

import { exports } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { SelectMergeStacktracesRequestSchema, SelectMergeStacktracesResponseSchema, ProfileFormat } from "../workers/gen/querier/v1/querier_pb";
import { FrameTree } from "../workers/query/tree";
import { formatValue, toDot } from "../workers/render/dot";
import { ingestProfile, pprofStacks, rpcJson, rpcProto } from "./setup/query";
import { upload } from "./setup/points";

interface Graph {
  /** By function name. */
  nodes: Map<string, { flat: number; cum: number }>;
  /** "caller -> callee" → value and whether the edge skips dropped functions. */
  edges: Map<string, { value: number; dotted: boolean }>;
  legend: string;
}

const unescape = (s: string) => s.replace(/\\(.)/g, "$1");

/** The graph a DOT text draws, read back from its node tooltips, labels and edges (count units). */
function parseDot(text: string): Graph {
  const nodes = new Map<string, { flat: number; cum: number }>();
  const byId = new Map<string, string>();
  const edges = new Map<string, { value: number; dotted: boolean }>();
  const q = '"((?:[^"\\\\]|\\\\.)*)"';
  let legend = "";
  for (const line of text.split("\n")) {
    const l = line.match(new RegExp(`^subgraph cluster_L \\{ "legend" \\[shape=box fontsize=16 label=${q}`));
    if (l) legend = l[1];
    const n = line.match(new RegExp(`^N(\\d+) \\[label=${q} .*tooltip=${q}`));
    if (n) {
      const name = unescape(n[3]).replace(/ \([^()]*\)$/, "");
      const lines = n[2].split("\\n");
      const value = (s: string) => Number(s.replace(/^of /, "").split(" ")[0]);
      const last = lines[lines.length - 1];
      const flat = last.startsWith("of ") ? value(lines[lines.length - 2]) : value(last);
      nodes.set(name, { flat, cum: value(last) });
      byId.set(n[1], name);
    }
    const e = line.match(new RegExp(`^N(\\d+) -> N(\\d+) \\[label=${q}`));
    if (e) edges.set(`${byId.get(e[1])} -> ${byId.get(e[2])}`, { value: Number(e[3].trim()), dotted: line.includes("style=dotted") });
  }
  return { nodes, edges, legend };
}

/** Flat, cumulative and edge values from root-first stacks, each function and edge once per stack. */
function expectedGraph(stacks: Map<string, number>): Graph {
  const nodes = new Map<string, { flat: number; cum: number }>();
  const edges = new Map<string, { value: number; dotted: boolean }>();
  const node = (f: string) => nodes.get(f) ?? nodes.set(f, { flat: 0, cum: 0 }).get(f)!;
  for (const [key, v] of stacks) {
    if (v === 0) continue;
    const frames = key.split(";");
    node(frames[frames.length - 1]).flat += v;
    for (const f of new Set(frames)) node(f).cum += v;
    const pairs = new Set(frames.slice(1).map((f, i) => `${frames[i]} -> ${f}`));
    for (const p of pairs) edges.set(p, { value: (edges.get(p)?.value ?? 0) + v, dotted: false });
  }
  return { nodes, edges, legend: "" };
}

function treeOf(stacks: Record<string, number>): FrameTree {
  const t = new FrameTree();
  for (const [k, v] of Object.entries(stacks)) t.insert(k.split(";"), v);
  return t;
}

describe("toDot", () => {
  const opts = { maxNodes: 100, unit: "count", title: "process_cpu:samples:count:cpu:nanoseconds" };

  it("counts a recursive function and edge once per stack", () => {
    const stacks = { "a;b;a;b;c": 5, "a;c": 2 };
    const g = parseDot(toDot(treeOf(stacks), opts)!);
    expect(g).toEqual({ ...expectedGraph(new Map(Object.entries(stacks))), legend: g.legend });
    expect(g.nodes.get("a")).toEqual({ flat: 0, cum: 7 });
    expect(g.edges.get("a -> b")).toEqual({ value: 5, dotted: false });
  });

  it("keeps the functions of greatest cumulative value, joining them over dropped ones with dotted edges", () => {
    const g = parseDot(toDot(treeOf({ "main;mid;leaf": 10, "main;other": 1 }), { ...opts, maxNodes: 2 })!);
    // mid and leaf tie at 10; leaf's flat value ranks it first.
    expect([...g.nodes.keys()]).toEqual(["main", "leaf"]);
    expect([...g.edges]).toEqual([["main -> leaf", { value: 10, dotted: true }]]);
    expect(g.legend).toContain("Showing nodes accounting for 10, 90.91% of 11 total");
    expect(g.legend).toContain("Dropped 2 nodes (cum <= 10)");
  });

  it("draws a frame with an empty name like any other", () => {
    const stacks = { "main;;leaf": 2, "main;other": 19 };
    const g = parseDot(toDot(treeOf(stacks), opts)!);
    expect(g).toEqual({ ...expectedGraph(new Map(Object.entries(stacks))), legend: g.legend });
    expect(g.legend).toContain("Showing nodes accounting for 21, 100.00% of 21 total");
  });

  it("draws nothing for an empty tree, and escapes names", () => {
    expect(toDot(new FrameTree(), opts)).toBeNull();
    const dot = toDot(treeOf({ 'say "hi"\\now': 3 }), opts)!;
    expect(dot).toContain('tooltip="say \\"hi\\"\\\\now (3)"');
    expect(parseDot(dot).nodes.get('say "hi"\\now')).toEqual({ flat: 3, cum: 3 });
  });

  it("writes values as pprof does", () => {
    expect(formatValue(1_500_000_000, "nanoseconds")).toBe("1.5s");
    expect(formatValue(10_000_000, "nanoseconds")).toBe("10ms");
    expect(formatValue(90e9, "nanoseconds")).toBe("1.5mins");
    expect(formatValue(3 * 2 ** 20, "bytes")).toBe("3MB");
    expect(formatValue(512, "bytes")).toBe("512B");
    expect(formatValue(1234, "count")).toBe("1234");
  });
});

describe("DOT over the query API", () => {
  const SERVICE = "dot-graph";
  /** heap.pb.gz's alloc_objects/count type (507 functions): exact integers in every label. */
  const TYPE = "memory:alloc_objects:count:space:bytes";
  const now = Date.now();
  const range = { start: now - 3_600_000, end: now + 600_000 };
  let expected: Graph;

  async function connectDot(labelSelector: string, maxNodes?: number): Promise<string | undefined> {
    const res = await rpcProto(
      "SelectMergeStacktraces",
      SelectMergeStacktracesRequestSchema,
      { profileTypeID: TYPE, labelSelector, start: BigInt(range.start), end: BigInt(range.end), format: ProfileFormat.DOT, maxNodes: maxNodes === undefined ? undefined : BigInt(maxNodes) },
      SelectMergeStacktracesResponseSchema,
    );
    return res.dot;
  }

  beforeAll(async () => {
    const bytes = await upload("pprof/heap.pb.gz", now, 1);
    await ingestProfile(bytes, { name: SERVICE });
    expected = expectedGraph(pprofStacks(bytes, 0));
    expect(expected.nodes.size).toBeGreaterThan(100);
  });

  it("draws every function and call of the profile with the values of its stacks", async () => {
    const g = parseDot((await connectDot(`{service_name="${SERVICE}"}`, 100_000))!);
    expect(g.nodes).toEqual(expected.nodes);
    expect(g.edges).toEqual(expected.edges);
  });

  it("keeps 100 functions by default, those of greatest cumulative value", async () => {
    const g = parseDot((await connectDot(`{service_name="${SERVICE}"}`))!);
    expect(g.nodes.size).toBe(100);
    const kept = [...g.nodes.keys()];
    for (const f of kept) expect(g.nodes.get(f)).toEqual(expected.nodes.get(f));
    const leastKept = Math.min(...kept.map((f) => expected.nodes.get(f)!.cum));
    const dropped = [...expected.nodes].filter(([f]) => !g.nodes.has(f));
    expect(Math.max(...dropped.map(([, n]) => n.cum))).toBeLessThanOrEqual(leastKept);
    expect(g.legend).toContain(`Dropped ${dropped.length} nodes`);
    // Solid edges are direct calls only; dotted ones also carry paths through dropped functions.
    const dotted = [...g.edges].filter(([, e]) => e.dotted);
    expect(dotted.length).toBeGreaterThan(0);
    for (const [edge, e] of g.edges) {
      if (e.dotted) expect(e.value).toBeGreaterThan(expected.edges.get(edge)?.value ?? 0);
      else expect(e.value).toBe(expected.edges.get(edge)?.value);
    }
  });

  it("answers the legacy render with the same graph as text, and empty selections with nothing", async () => {
    const q = (query: string) => new URLSearchParams({ query, from: String(range.start), until: String(range.end), format: "dot", maxNodes: "40" });
    const res = await exports.default.fetch(`http://localhost/pyroscope/render?${q(`${TYPE}{service_name="${SERVICE}"}`)}`);
    expect(res.status).toBe(200);
    expect(res.headers.get("Content-Type")).toMatch(/^text\/plain/);
    expect(await res.text()).toBe(await connectDot(`{service_name="${SERVICE}"}`, 40));

    const none = await exports.default.fetch(`http://localhost/pyroscope/render?${q(`${TYPE}{service_name="no-such-service"}`)}`);
    expect([none.status, await none.text()]).toEqual([200, ""]);
    // proto3 cannot tell an unset string from an empty one; JSON leaves the field out.
    expect(await connectDot('{service_name="no-such-service"}')).toBe("");
    const json = await rpcJson("SelectMergeStacktraces", { profileTypeID: TYPE, labelSelector: '{service_name="no-such-service"}', ...range, format: "PROFILE_FORMAT_DOT" });
    expect([json.status, json.json]).toEqual([200, {}]);
  });
});
