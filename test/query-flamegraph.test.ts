import { describe, expect, it } from "vitest";
import { collapsedOf, toFlameGraph, toFlameGraphDiff, toTreeBytes } from "../workers/query/flamegraph";
import { FrameTree, type FrameTreeColumns } from "../workers/query/tree";
import {
  type DecodedNode,
  decodeFlameGraph,
  decodeFlameGraphDiff,
  diffCollapsed,
  flameGraphCollapsed,
  formatCollapsed,
  parseCollapsed,
  parseTreeBytes,
} from "./setup/flamegraph";
import { testdataList, testdataPlain } from "./setup/testdata";

type Stack = [frames: string[], value: number];

function treeOf(stacks: Stack[]): FrameTree {
  const t = new FrameTree();
  for (const [frames, v] of stacks) t.insert(frames, v);
  return t;
}

/** The collapsed text of stacks summed directly, without a tree. */
function directSum(stacks: Stack[]): string {
  const sums = new Map<string, number>();
  for (const [frames, v] of stacks) sums.set(frames.join(";"), (sums.get(frames.join(";")) ?? 0) + v);
  return formatCollapsed(sums);
}

function mulberry32(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Names whose UTF-16 order differs from their UTF-8 byte order (U+FFFD vs an astral emoji).
const FRAMES = ["main", "run", "a", "B", "é", "\uFFFD", "😀", "x y", "pkg.(*T).m", "z"];

function randomStacks(seed: number, count: number, maxDepth: number, frames = FRAMES): Stack[] {
  const rnd = mulberry32(seed);
  const out: Stack[] = [];
  for (let i = 0; i < count; i++) {
    const depth = 1 + Math.floor(rnd() * maxDepth);
    const stack = Array.from({ length: depth }, () => frames[Math.floor(rnd() * frames.length)]);
    out.push([stack, 1 + Math.floor(rnd() * 1000)]);
  }
  return out;
}

/** Total per name path ("a;b") of a tree, computed from its columns. */
function pathTotals(tree: FrameTree): Map<string, { total: number; parent: string | null }> {
  const { names, parent, name } = tree.columns();
  const totals = tree.totals();
  const paths: string[] = [""];
  const out = new Map<string, { total: number; parent: string | null }>();
  for (let id = 1; id < parent.length; id++) {
    const p = parent[id];
    paths[id] = p === 0 ? names[name[id]] : `${paths[p]};${names[name[id]]}`;
    out.set(paths[id], { total: totals[id], parent: p === 0 ? null : paths[p] });
  }
  return out;
}

const isOther = (n: DecodedNode) => n.name === "other";

// API.md §3.15.1 worked example.
const EXAMPLE: Stack[] = [
  [["a", "b"], 3],
  [["a", "c"], 2],
  [["a"], 1],
  [["d"], 4],
];

describe("FrameTree", () => {
  it("child() gets or creates by (parent, name); parents precede children", () => {
    const t = new FrameTree();
    const a = t.child(0, t.intern("a"));
    const b = t.child(a, t.intern("b"));
    expect(t.child(0, t.intern("a"))).toBe(a);
    expect(t.child(a, t.intern("b"))).toBe(b);
    expect(t.child(b, t.intern("a"))).toBe(3);
    expect(t.size).toBe(4);
    expect([t.nameOf(0), t.parentOf(0), t.nameOf(b), t.parentOf(b)]).toEqual(["", -1, "b", a]);
    expect(() => t.child(4, 0)).toThrow(RangeError);
    expect(() => t.child(0, 99)).toThrow(RangeError);
    expect(() => t.addSelf(-1, 1)).toThrow(RangeError);
  });

  it("insert ignores zero values and empty stacks; values above 2^31 stay exact", () => {
    const t = treeOf([
      [["a"], 0],
      [[], 5],
      [["a", "b"], 2 ** 40 + 1],
      [["a", "b"], 2 ** 33],
    ]);
    expect(t.size).toBe(3);
    expect(t.selfOf(2)).toBe(2 ** 40 + 1 + 2 ** 33);
    expect(Array.from(t.totals())).toEqual([2 ** 40 + 1 + 2 ** 33, 2 ** 40 + 1 + 2 ** 33, 2 ** 40 + 1 + 2 ** 33]);
  });

  it("mergeFrom gives exactly the sum of the stacks of both trees", () => {
    const stacks = randomStacks(1, 4000, 12);
    const left = treeOf(stacks.slice(0, 1500));
    const right = treeOf(stacks.slice(1500));
    left.mergeFrom(right);
    expect(left.size).toBeGreaterThan(1000);
    expect(collapsedOf(left)).toBe(directSum(stacks));
    expect(collapsedOf(left)).toBe(collapsedOf(treeOf(stacks)));
    // Merging into an empty tree copies; merging a tree into itself doubles.
    const copy = new FrameTree();
    copy.mergeFrom(right);
    expect(collapsedOf(copy)).toBe(collapsedOf(right));
    copy.mergeFrom(copy);
    expect(collapsedOf(copy)).toBe(directSum([...stacks.slice(1500), ...stacks.slice(1500)]));
  });

  it("collapsedOf sorts lines by UTF-8 bytes, not UTF-16 units", () => {
    const t = treeOf([
      [["😀"], 1],
      [["\uFFFD"], 2],
      [["a", "b"], 3],
      [["a"], 4],
    ]);
    expect(collapsedOf(t)).toBe("a 4\na;b 3\n\uFFFD 2\n😀 1\n");
    expect(collapsedOf(new FrameTree())).toBe("");
  });

  it("columns round-trip through structured clone and fromColumns, with a working child index", () => {
    const stacks = randomStacks(2, 2000, 10);
    const t = treeOf(stacks);
    const cols = structuredClone(t.columns());
    expect(cols.parent).toBeInstanceOf(Int32Array);
    expect(cols.parent.length).toBe(t.size);
    const back = FrameTree.fromColumns(cols);
    expect(back.size).toBe(t.size);
    expect(collapsedOf(back)).toBe(collapsedOf(t));
    // Inserting the same stacks again must find the existing nodes, not add new ones.
    for (const [frames, v] of stacks) back.insert(frames, v);
    expect(back.size).toBe(t.size);
    expect(collapsedOf(back)).toBe(directSum([...stacks, ...stacks]));
  });

  it("fromColumns rejects invalid columns", () => {
    const valid = (): FrameTreeColumns => treeOf(EXAMPLE).columns();
    const broken: [string, (c: FrameTreeColumns) => void][] = [
      ["empty", (c) => Object.assign(c, { parent: new Int32Array(0), name: new Int32Array(0), self: new Float64Array(0) })],
      ["length mismatch", (c) => (c.self = c.self.slice(1))],
      ["root has a parent", (c) => (c.parent[0] = 0)],
      ["root name", (c) => (c.names[0] = "x")],
      ["parent after child", (c) => (c.parent[1] = 3)],
      ["parent is self", (c) => (c.parent[2] = 2)],
      ["negative parent", (c) => (c.parent[2] = -1)],
      ["name out of range", (c) => (c.name[2] = c.names.length)],
      ["negative name", (c) => (c.name[2] = -1)],
      ["duplicate name", (c) => c.names.push(c.names[1])],
      ["duplicate sibling", (c) => (c.name[3] = c.name[2])],
      ["NaN self", (c) => (c.self[1] = NaN)],
    ];
    expect(() => FrameTree.fromColumns(valid())).not.toThrow();
    for (const [what, breakIt] of broken) {
      const c = valid();
      breakIt(c);
      expect(() => FrameTree.fromColumns(c), what).toThrow(RangeError);
    }
  });
});

describe("toFlameGraph", () => {
  it("encodes the worked example of API.md §3.15.1", () => {
    const fg = toFlameGraph(treeOf(EXAMPLE), 0);
    // Names in pre-order, leftmost first (the reference's order differs; consumers must not care).
    expect(fg).toEqual({
      names: ["total", "a", "b", "c", "d"],
      levels: [
        [0, 10, 0, 0],
        [0, 6, 1, 1, 0, 4, 4, 4],
        [1, 3, 3, 2, 0, 2, 2, 3],
      ],
      total: 10,
      maxSelf: 4,
    });
    const reference = {
      names: ["total", "d", "a", "c", "b"],
      levels: [
        [0, 10, 0, 0],
        [0, 6, 1, 2, 0, 4, 4, 1],
        [1, 3, 3, 4, 0, 2, 2, 3],
      ],
    };
    expect(flameGraphCollapsed(fg)).toBe("a 1\na;b 3\na;c 2\nd 4\n");
    expect(flameGraphCollapsed(reference)).toBe(flameGraphCollapsed(fg));
  });

  it("an empty tree is the bare root", () => {
    const empty = { names: ["total"], levels: [[0, 0, 0, 0]], total: 0, maxSelf: 0 };
    expect(toFlameGraph(new FrameTree(), 0)).toEqual(empty);
    expect(toFlameGraph(new FrameTree(), 8192)).toEqual(empty);
  });

  it("orders siblings by UTF-8 bytes and de-duplicates names", () => {
    const fg = toFlameGraph(
      treeOf([
        [["😀", "z"], 1],
        [["\uFFFD", "z"], 1],
        [["z"], 1],
        [["B"], 1],
      ]),
      0,
    );
    expect(fg.names).toEqual(["total", "B", "z", "\uFFFD", "😀"]);
    expect(fg.levels[1]).toEqual([0, 1, 1, 1, 0, 1, 1, 2, 0, 1, 0, 3, 0, 1, 0, 4]);
    expect(fg.levels[2]).toEqual([2, 1, 1, 2, 0, 1, 1, 2]);
  });

  it("draws every stack when nothing is truncated", () => {
    const t = treeOf(randomStacks(3, 3000, 15));
    const want = collapsedOf(t);
    for (const maxNodes of [0, -1, t.size - 1, 1_000_000]) {
      const fg = toFlameGraph(t, maxNodes);
      expect(flameGraphCollapsed(fg)).toBe(want);
      expect(fg.total).toBe(t.totals()[0]);
      const nodes = decodeFlameGraph(fg);
      expect(nodes.length).toBe(t.size);
      expect(fg.maxSelf).toBe(Math.max(...nodes.map((n) => n.self[0])));
    }
  });

  it("walks deep stacks without recursion", () => {
    const frames = Array.from({ length: 5000 }, (_, i) => `f${i % 7}`);
    const t = treeOf([
      [frames, 3],
      [frames.slice(0, 2500), 2],
    ]);
    const fg = toFlameGraph(t, 0);
    expect(fg.levels.length).toBe(5001);
    expect(flameGraphCollapsed(fg)).toBe(collapsedOf(t));
    expect(parseTreeBytes(toTreeBytes(t, 0)).collapsed).toBe(collapsedOf(t));
  });

  it("truncates to the max_nodes largest totals, folding the rest into one 'other' per parent", () => {
    const t = treeOf(randomStacks(4, 3000, 12));
    const original = pathTotals(t);
    const maxNodes = 100;
    const sorted = [...original.values()].map((n) => n.total).sort((a, b) => b - a);
    const cut = sorted[maxNodes - 1];
    const fg = toFlameGraph(t, maxNodes);
    const nodes = decodeFlameGraph(fg);
    expect(fg.total).toBe(t.totals()[0]);
    expect(nodes[0].total[0]).toBe(fg.total);
    expect(fg.maxSelf).toBe(Math.max(...nodes.map((n) => n.self[0])));

    const real = nodes.slice(1).filter((n) => !isOther(n));
    expect(real.length).toBe(sorted.filter((v) => v >= cut).length);
    for (const n of real) expect(n.total[0]).toBe(original.get(n.path)!.total);

    // Each parent's folded children add up to exactly its "other".
    const folded = new Map<string, number>();
    for (const [path, n] of original) {
      const parent = n.parent ?? "";
      const parentKept = n.parent === null || original.get(n.parent)!.total >= cut;
      if (parentKept && n.total < cut) folded.set(parent, (folded.get(parent) ?? 0) + n.total);
      expect(path).not.toMatch(/(^|;)other$/);
    }
    const others = nodes.filter(isOther);
    expect(others.length).toBe(folded.size);
    expect(others.length).toBeGreaterThan(0);
    for (const n of others) {
      expect(n.self[0]).toBe(n.total[0]);
      expect(n.total[0]).toBe(folded.get(nodes[n.parent].path));
    }
    expect(nodes.length - 1).toBeLessThanOrEqual(maxNodes + others.length);
  });

  it("folds a real frame named 'other' only when truncating", () => {
    const t = treeOf([
      [["a"], 10],
      [["b"], 5],
      [["other"], 3],
      [["c"], 1],
    ]);
    expect(toFlameGraph(t, 2)).toEqual({
      names: ["total", "a", "b", "other"],
      levels: [
        [0, 19, 0, 0],
        [0, 10, 10, 1, 0, 5, 5, 2, 0, 4, 4, 3],
      ],
      total: 19,
      maxSelf: 10,
    });
    expect(toFlameGraph(t, 0).levels[1]).toEqual([0, 10, 10, 1, 0, 5, 5, 2, 0, 1, 1, 3, 0, 3, 3, 4]);
  });

  it("converts a tree of 100k+ nodes with max_nodes 8192", () => {
    const frames = Array.from({ length: 60 }, (_, i) => `pkg${i % 7}.fn${i}`);
    const t = treeOf(randomStacks(5, 8000, 40, frames));
    expect(t.size).toBeGreaterThan(100_000);
    const fg = toFlameGraph(t, 8192);
    const nodes = decodeFlameGraph(fg);
    expect(fg.total).toBe(t.totals()[0]);
    const totals = t.totals().slice(1).sort().reverse();
    const kept = totals.filter((v) => v >= totals[8191]).length;
    expect(nodes.filter((n) => !isOther(n)).length - 1).toBe(kept);
  });
});

describe("toFlameGraphDiff", () => {
  it("of a tree with itself: both sides equal the single flame graph", () => {
    const t = treeOf(randomStacks(6, 2000, 10));
    const single = toFlameGraph(t, 0);
    const diff = toFlameGraphDiff(t, t, 0);
    const total = t.totals()[0];
    expect([diff.leftTicks, diff.rightTicks, diff.total, diff.maxSelf]).toEqual([total, total, 2 * total, single.maxSelf]);
    expect(diff.names).toEqual(single.names);
    const interleaved = single.levels.map((level) => {
      const out: number[] = [];
      for (let i = 0; i < level.length; i += 4) out.push(...level.slice(i, i + 3), ...level.slice(i, i + 4));
      return out;
    });
    expect(diff.levels).toEqual(interleaved);
    expect(diffCollapsed(diff)).toEqual({ left: collapsedOf(t), right: collapsedOf(t) });
  });

  it("against an empty tree: one side holds everything, the other zeros", () => {
    const t = treeOf(randomStacks(7, 500, 8));
    const total = t.totals()[0];
    const right = toFlameGraphDiff(t, new FrameTree(), 0);
    expect([right.leftTicks, right.rightTicks, right.total]).toEqual([total, 0, total]);
    expect(diffCollapsed(right)).toEqual({ left: collapsedOf(t), right: "" });
    const left = toFlameGraphDiff(new FrameTree(), t, 0);
    expect(diffCollapsed(left)).toEqual({ left: "", right: collapsedOf(t) });
    expect(toFlameGraphDiff(new FrameTree(), new FrameTree(), 0)).toEqual({
      names: ["total"],
      levels: [[0, 0, 0, 0, 0, 0, 0]],
      total: 0,
      maxSelf: 0,
      leftTicks: 0,
      rightTicks: 0,
    });
  });

  it("aligns different trees by name path", () => {
    const l = randomStacks(8, 1500, 10);
    const r = randomStacks(9, 1500, 10);
    const diff = toFlameGraphDiff(treeOf(l), treeOf(r), 0);
    expect(diffCollapsed(diff)).toEqual({ left: directSum(l), right: directSum(r) });
    const union = treeOf(l);
    union.mergeFrom(treeOf(r));
    expect(decodeFlameGraphDiff(diff).length).toBe(union.size);
  });

  it("truncates on the larger side's total", () => {
    const left = treeOf([
      [["a"], 10],
      [["b"], 1],
    ]);
    const right = treeOf([
      [["b"], 8],
      [["c"], 2],
    ]);
    expect(toFlameGraphDiff(left, right, 2)).toEqual({
      names: ["total", "a", "b", "other"],
      levels: [
        [0, 11, 0, 0, 10, 0, 0],
        [0, 10, 10, 0, 0, 0, 1, 0, 1, 1, 0, 8, 8, 2, 0, 0, 0, 0, 2, 2, 3],
      ],
      total: 21,
      maxSelf: 10,
      leftTicks: 11,
      rightTicks: 10,
    });
  });

  it("keeps both sides' totals when truncating random trees", () => {
    const l = treeOf(randomStacks(10, 2000, 10));
    const r = treeOf(randomStacks(11, 2000, 10));
    const diff = toFlameGraphDiff(l, r, 150);
    const nodes = decodeFlameGraphDiff(diff);
    expect(nodes[0].total).toEqual([l.totals()[0], r.totals()[0]]);
    expect(nodes.some(isOther)).toBe(true);
    const lt = pathTotals(l);
    const rt = pathTotals(r);
    for (const n of nodes.slice(1).filter((n) => !isOther(n))) {
      expect(n.total).toEqual([lt.get(n.path)?.total ?? 0, rt.get(n.path)?.total ?? 0]);
    }
  });
});

describe("toTreeBytes", () => {
  it("writes pre-order nodes from a virtual root", () => {
    const t = treeOf([
      [["a", "b"], 3],
      [["a"], 2 ** 35],
    ]);
    const big = [0x80, 0x80, 0x80, 0x80, 0x80, 0x01]; // 2^35
    expect(Array.from(toTreeBytes(t, 0))).toEqual([0, 0, 1, 1, 0x61, ...big, 1, 1, 0x62, 3, 0]);
    expect(toTreeBytes(new FrameTree(), 0).length).toBe(0);
  });

  it("round-trips through a reader that inserts by name", () => {
    const t = treeOf(randomStacks(12, 3000, 12));
    const parsed = parseTreeBytes(toTreeBytes(t, 0));
    expect(parsed.collapsed).toBe(collapsedOf(t));
    expect(parsed.nodes).toBe(t.size - 1);
  });

  it("truncates like the flame graph", () => {
    const t = treeOf(randomStacks(13, 3000, 12));
    const parsed = parseTreeBytes(toTreeBytes(t, 64));
    expect(parsed.collapsed).toBe(flameGraphCollapsed(toFlameGraph(t, 64)));
    expect(parsed.nodes).toBe(decodeFlameGraph(toFlameGraph(t, 64)).length - 1);
  });
});

describe("corpus goldens", () => {
  it("every golden loaded into a FrameTree is drawn back exactly", async () => {
    let checked = 0;
    for (const name of await testdataList("expected")) {
      if (!/\.collapsed(\.gz)?$/.test(name)) continue;
      const golden = new TextDecoder().decode(await testdataPlain(`expected/${name}`));
      const t = treeOf(parseCollapsed(golden));
      expect(collapsedOf(t), name).toBe(golden);
      expect(flameGraphCollapsed(toFlameGraph(t, 0)), name).toBe(golden);
      if (t.size - 1 <= 8192) expect(flameGraphCollapsed(toFlameGraph(t, 8192)), name).toBe(golden);
      expect(parseTreeBytes(toTreeBytes(t, 0)).collapsed, name).toBe(golden);
      const diff = diffCollapsed(toFlameGraphDiff(t, t, 0));
      expect(diff, name).toEqual({ left: golden, right: golden });
      checked++;
    }
    expect(checked).toBeGreaterThanOrEqual(30);
  });
});
