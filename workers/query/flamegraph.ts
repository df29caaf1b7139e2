// Wire encodings of a FrameTree (API.md §3.15): FlameGraph levels, FlameGraphDiff levels, tree
// bytes and collapsed text, with max-nodes truncation (§3.15.4). Every walk uses an explicit stack:
// real stacks run to thousands of frames.

import { ByteWriter, encodeUtf8 } from "../block/varint";
import { childLists, FrameTree, type FrameTreeColumns } from "./tree";

export interface FlameGraphData {
  names: string[];
  /** Per depth, 4 numbers per node: [x delta, total, self, name index]. */
  levels: number[][];
  total: number;
  maxSelf: number;
}

export interface FlameGraphDiffData {
  names: string[];
  /** Per depth, 7 numbers per node: left [x delta, total, self], right [x delta, total, self], name index. */
  levels: number[][];
  total: number;
  maxSelf: number;
  leftTicks: number;
  rightTicks: number;
}

const OTHER = "other";

/** One value column over the tree's shape: the single graph has one, a diff two. */
interface Side {
  self: Float64Array;
  total: Float64Array;
}

/** §3.15.1; `total` is the root's total. An empty tree gives the bare root (§3.5). */
export function toFlameGraph(tree: FrameTree, maxNodes: number): FlameGraphData {
  const cols = tree.columns();
  const total = tree.totals();
  const { names, levels, maxSelf } = layout(cols, [{ self: cols.self, total }], total, maxNodes);
  return { names, levels, total: total[0], maxSelf };
}

/** §3.15.2: both trees laid over the union of their name paths, zeros where a side lacks a node. */
export function toFlameGraphDiff(left: FrameTree, right: FrameTree, maxNodes: number): FlameGraphDiffData {
  const union = new FrameTree();
  const leftIds = alignInto(union, left);
  const rightIds = alignInto(union, right);
  const sides = [sideOf(union, left, leftIds), sideOf(union, right, rightIds)];
  const [l, r] = sides;
  const key = new Float64Array(union.size);
  for (let i = 0; i < key.length; i++) key[i] = Math.max(l.total[i], r.total[i]);
  const { names, levels, maxSelf } = layout(union.columns(), sides, key, maxNodes);
  const leftTicks = l.total[0];
  const rightTicks = r.total[0];
  return { names, levels, total: leftTicks + rightTicks, maxSelf, leftTicks, rightTicks };
}

/**
 * §3.15.3: pre-order nodes `uvarint(len(name)) name uvarint(self) uvarint(childCount)` from a
 * virtual root named "", siblings in name order with any folded "other" last; empty tree → no
 * bytes. Values must be non-negative integers (ByteWriter throws otherwise).
 */
export function toTreeBytes(tree: FrameTree, maxNodes: number): Uint8Array {
  const cols = tree.columns();
  const side = { self: cols.self, total: tree.totals() };
  if (side.total[0] === 0) return new Uint8Array(0);
  const pick = new Children(cols, [side], side.total, maxNodes);
  const folded = pick.folded;
  const out = new ByteWriter();
  // Names repeat across the tree, and encoding each occurrence would cost more than the walk.
  const encoded: (Uint8Array | undefined)[] = [];
  const writeName = (index: number): void => {
    const bytes = (encoded[index] ??= encodeUtf8(cols.names[index]));
    out.uvarint(bytes.length);
    out.bytes(bytes);
  };
  // Pairs (node, value): node -1 is a folded "other" leaf worth `value`.
  const stack = [0, 0];
  while (stack.length > 0) {
    const value = stack.pop()!;
    const node = stack.pop()!;
    if (node < 0) {
      out.string(OTHER);
      out.uvarint(value);
      out.uvarint(0);
      continue;
    }
    writeName(cols.name[node]);
    out.uvarint(cols.self[node]);
    const n = pick.of(node);
    const other = folded[0];
    out.uvarint(other !== 0 ? n + 1 : n);
    if (other !== 0) stack.push(-1, other);
    for (let i = n - 1; i >= 0; i--) stack.push(pick.ids[i], 0);
  }
  return out.finish();
}

/**
 * `root;…;leaf value` lines for every node with a non-zero self, sorted by UTF-8 bytes, each ending
 * in "\n": the format of the corpus goldens (testdata/MANIFEST.md "Golden collapsed files"). The
 * root has no stack, so a value added to it directly is left out.
 */
export function collapsedOf(tree: FrameTree): string {
  const { names, parent, name, self } = tree.columns();
  // Concatenation makes rope strings sharing the parent's path, so this stays linear in memory.
  const paths: string[] = new Array<string>(parent.length);
  const lines: string[] = [];
  for (let id = 1; id < parent.length; id++) {
    const p = parent[id];
    paths[id] = p === 0 ? names[name[id]] : `${paths[p]};${names[name[id]]}`;
    if (self[id] !== 0) lines.push(`${paths[id]} ${self[id]}`);
  }
  lines.sort(compareUtf8);
  return lines.map((l) => `${l}\n`).join("");
}

/** Node ids of `side` mapped to the nodes with the same name paths in `union`, created as needed. */
function alignInto(union: FrameTree, side: FrameTree): Int32Array {
  const ids = new Int32Array(side.size);
  for (let id = 1; id < ids.length; id++) {
    ids[id] = union.child(ids[side.parentOf(id)], union.intern(side.nameOf(id)));
  }
  return ids;
}

function sideOf(union: FrameTree, side: FrameTree, ids: Int32Array): Side {
  const self = new Float64Array(union.size);
  for (let id = 0; id < ids.length; id++) self[ids[id]] += side.selfOf(id);
  return { self, total: union.totals(self) };
}

/**
 * Levels of a FlameGraph (one side) or FlameGraphDiff (two sides). A pre-order walk that pops the
 * leftmost child first produces every level in ascending x, so levels are delta-encoded as they
 * grow. A node's self takes the left of its span; its children follow, then the folded "other".
 */
function layout(
  cols: FrameTreeColumns,
  sides: Side[],
  key: Float64Array,
  maxNodes: number,
): { names: string[]; levels: number[][]; maxSelf: number } {
  const k = sides.length;
  const pick = new Children(cols, sides, key, maxNodes);
  const folded = pick.folded;
  const names = ["total"];
  const nameIds = new Map([["total", 0]]);
  const levels: number[][] = [];
  const prevEnd: number[] = []; // [depth * k + side]: where the last node of the level ends
  let maxSelf = 0;
  const x = new Float64Array(k);
  const value = new Float64Array(k);
  const end = new Float64Array(k);
  // Frames of 2 + 2k numbers: node (-1 = folded "other"), depth, x per side, "other" value per side.
  const frame = 2 + 2 * k;
  const stack = new Array<number>(frame).fill(0);
  while (stack.length > 0) {
    const base = stack.length - frame;
    const node = stack[base];
    const depth = stack[base + 1];
    for (let s = 0; s < k; s++) {
      x[s] = stack[base + 2 + s];
      value[s] = stack[base + 2 + k + s];
    }
    stack.length = base;

    if (depth === levels.length) {
      levels.push([]);
      for (let s = 0; s < k; s++) prevEnd.push(0);
    }
    const level = levels[depth];
    for (let s = 0; s < k; s++) {
      const total = node < 0 ? value[s] : sides[s].total[node];
      const self = node < 0 ? value[s] : sides[s].self[node];
      level.push(x[s] - prevEnd[depth * k + s], total, self);
      prevEnd[depth * k + s] = x[s] + total;
      if (self > maxSelf) maxSelf = self;
    }
    const name = node < 0 ? OTHER : node === 0 ? "total" : cols.names[cols.name[node]];
    let nameId = nameIds.get(name);
    if (nameId === undefined) {
      nameId = names.length;
      names.push(name);
      nameIds.set(name, nameId);
    }
    level.push(nameId);
    if (node < 0) continue;

    // Push right to left so the leftmost child is popped first: x positions come from the end.
    const n = pick.of(node);
    let other = false;
    for (let s = 0; s < k; s++) {
      end[s] = x[s] + sides[s].self[node];
      for (let i = 0; i < n; i++) end[s] += sides[s].total[pick.ids[i]];
      if (folded[s] !== 0) other = true;
    }
    if (other) {
      stack.push(-1, depth + 1);
      for (let s = 0; s < k; s++) stack.push(end[s]);
      for (let s = 0; s < k; s++) stack.push(folded[s]);
    }
    for (let i = n - 1; i >= 0; i--) {
      const c = pick.ids[i];
      stack.push(c, depth + 1);
      for (let s = 0; s < k; s++) stack.push((end[s] -= sides[s].total[c]));
      for (let s = 0; s < k; s++) stack.push(0);
    }
  }
  return { names, levels, maxSelf };
}

/**
 * Picks the children of a node to draw (§3.15.4). When the tree has more than maxNodes nodes
 * (root excluded, maxNodes > 0), children whose key is below the maxNodes-th largest key, and
 * real frames named "other", are folded: their totals per side add up in `folded`. Children with
 * key 0 are dropped, having no width.
 */
class Children {
  /** After of(node): the kept children in [0, n), sorted by UTF-8 name. */
  readonly ids: Int32Array;
  readonly folded: Float64Array;
  private readonly start: Int32Array;
  private readonly list: Int32Array;
  private readonly cut: number;
  private readonly byName: (a: number, b: number) => number;

  constructor(
    private readonly cols: FrameTreeColumns,
    private readonly sides: Side[],
    private readonly key: Float64Array,
    maxNodes: number,
  ) {
    const { names, parent, name } = cols;
    const n = parent.length;
    ({ start: this.start, list: this.list } = childLists(parent));

    const count = n - 1;
    this.cut = maxNodes > 0 && count > maxNodes ? key.slice(1, n).sort()[count - maxNodes] : -Infinity;
    this.ids = new Int32Array(n);
    this.folded = new Float64Array(sides.length);
    this.byName = (a, b) => compareUtf8(names[name[a]], names[name[b]]);
  }

  of(node: number): number {
    const { names, name } = this.cols;
    const truncating = this.cut !== -Infinity;
    this.folded.fill(0);
    let n = 0;
    for (let i = this.start[node]; i < this.start[node + 1]; i++) {
      const c = this.list[i];
      const v = this.key[c];
      if (v === 0) continue;
      if (v < this.cut || (truncating && names[name[c]] === OTHER)) {
        for (let s = 0; s < this.sides.length; s++) this.folded[s] += this.sides[s].total[c];
      } else {
        this.ids[n++] = c;
      }
    }
    if (n > 1) this.ids.subarray(0, n).sort(this.byName);
    return n;
  }
}

/**
 * Orders strings by their UTF-8 bytes, which is code point order. UTF-16 code units agree with it
 * except that surrogates (code points above U+FFFF) must sort after U+E000–U+FFFF.
 */
function compareUtf8(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return utf8Rank(x) - utf8Rank(y);
  }
  return a.length - b.length;
}

function utf8Rank(unit: number): number {
  if (unit < 0xd800) return unit;
  return unit >= 0xe000 ? unit - 0x800 : unit + 0x2000;
}
