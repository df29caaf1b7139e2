// Readers of the flame graph encodings (API.md §3.15), written independently of the product code:
// FlameGraph / FlameGraphDiff levels decoded by containment as Grafana does (checking the layout
// rules on the way), tree bytes parsed by name path, and collapsed text in the golden format.

import { compareBytes } from "./collapsed";

export interface DecodedNode {
  name: string;
  /** Frame names from the outermost frame down to this node joined by ";"; "" for the root. */
  path: string;
  /** Index of the parent in the decoded list; -1 for the root. */
  parent: number;
  /** Per side (one for a FlameGraph, left and right for a diff): absolute x, total and self. */
  x: number[];
  total: number[];
  self: number[];
}

interface Levels {
  names: string[];
  levels: number[][];
}

/** Nodes of a FlameGraph (4 numbers per node), root first; throws where a layout rule is broken. */
export function decodeFlameGraph(fg: Levels): DecodedNode[] {
  return decodeLevels(fg, 1);
}

/** Nodes of a FlameGraphDiff (7 numbers per node), root first. */
export function decodeFlameGraphDiff(fg: Levels): DecodedNode[] {
  return decodeLevels(fg, 2);
}

/** The collapsed stacks a FlameGraph draws. */
export function flameGraphCollapsed(fg: Levels): string {
  return collapsedOfNodes(decodeFlameGraph(fg), 0);
}

/** The collapsed stacks of each side of a FlameGraphDiff. */
export function diffCollapsed(fg: Levels): { left: string; right: string } {
  const nodes = decodeFlameGraphDiff(fg);
  return { left: collapsedOfNodes(nodes, 0), right: collapsedOfNodes(nodes, 1) };
}

function decodeLevels({ names, levels }: Levels, sides: number): DecodedNode[] {
  const width = 3 * sides + 1;
  const fail = (why: string): never => {
    throw new Error(`flame graph: ${why}`);
  };
  if (names[0] !== "total") fail(`names[0] is ${JSON.stringify(names[0])}`);
  if (levels.length === 0 || levels[0].length !== width) fail("level 0 must hold exactly the root");
  const out: DecodedNode[] = [];
  let previous: DecodedNode[] = [];
  let previousStart = 0; // index in `out` of previous[0]
  // Per node of the previous level and side: totals of the children seen so far.
  let childSums: number[][] = [];
  for (let d = 0; d < levels.length; d++) {
    const level = levels[d];
    if (level.length % width !== 0) fail(`level ${d} has ${level.length} numbers`);
    const current: DecodedNode[] = [];
    const prevEnd = new Array<number>(sides).fill(0);
    const cursor = new Array<number>(sides).fill(0);
    for (let at = 0; at < level.length; at += width) {
      const node: DecodedNode = { name: "", path: "", parent: -1, x: [], total: [], self: [] };
      for (let s = 0; s < sides; s++) {
        const [delta, total, self] = level.slice(at + 3 * s, at + 3 * s + 3);
        if (delta < 0) fail(`level ${d}: node overlaps its left neighbour`);
        node.x.push(prevEnd[s] + delta);
        node.total.push(total);
        node.self.push(self);
        prevEnd[s] = node.x[s] + total;
      }
      const name = names[level[at + width - 1]];
      if (name === undefined) fail(`level ${d}: name index ${level[at + width - 1]} out of range`);
      node.name = name;
      if (d === 0) {
        if (level[at + width - 1] !== 0 || node.x.some((x) => x !== 0)) fail("root must be names[0] at x 0");
      } else {
        // The parent is the node of the level above whose span contains this one, on a side where
        // both have width; two-pointer walks work because each level is in ascending x.
        const s = node.total.findIndex((t) => t > 0);
        if (s < 0) fail(`level ${d}: node ${name} has no width`);
        while (
          cursor[s] < previous.length &&
          (previous[cursor[s]].total[s] === 0 || previous[cursor[s]].x[s] + previous[cursor[s]].total[s] <= node.x[s])
        ) {
          cursor[s]++;
        }
        const p = cursor[s];
        const parent = previous[p];
        for (let t = 0; t < sides; t++) {
          if (node.total[t] === 0) continue;
          const contained =
            parent !== undefined &&
            parent.x[t] + parent.self[t] <= node.x[t] &&
            node.x[t] + node.total[t] <= parent.x[t] + parent.total[t];
          if (!contained) fail(`level ${d}: node ${name} is not inside the children area of a parent`);
        }
        for (let t = 0; t < sides; t++) childSums[p][t] += node.total[t];
        node.parent = previousStart + p;
        node.path = d === 1 ? name : `${parent.path};${name}`;
      }
      current.push(node);
      out.push(node);
    }
    checkSums(previous, childSums, fail);
    previousStart = out.length - current.length;
    previous = current;
    childSums = current.map(() => new Array<number>(sides).fill(0));
  }
  checkSums(previous, childSums, fail);
  const siblings = new Set(out.map((n) => `${n.parent} ${n.name}`));
  if (siblings.size !== out.length) fail("two siblings share a name");
  return out;
}

function checkSums(nodes: DecodedNode[], childSums: number[][], fail: (why: string) => never): void {
  nodes.forEach((n, i) => {
    n.total.forEach((total, s) => {
      if (n.self[s] + childSums[i][s] !== total) fail(`${n.path}: self + children ≠ total`);
    });
  });
}

function collapsedOfNodes(nodes: DecodedNode[], side: number): string {
  const sums = new Map<string, number>();
  for (const n of nodes) {
    if (n.parent >= 0) addTo(sums, n.path, n.self[side]);
  }
  return formatCollapsed(sums);
}

/** Tree bytes (§3.15.3) as collapsed stacks, plus the node count without the virtual root. */
export function parseTreeBytes(bytes: Uint8Array): { collapsed: string; nodes: number } {
  if (bytes.length === 0) return { collapsed: "", nodes: 0 };
  let pos = 0;
  const uvarint = (): number => {
    let v = 0;
    for (let mul = 1; ; mul *= 128) {
      if (pos >= bytes.length) throw new Error("tree bytes: truncated");
      const b = bytes[pos++];
      v += (b & 0x7f) * mul;
      if (b < 0x80) return v;
    }
  };
  const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
  const node = () => {
    const len = uvarint();
    const name = decoder.decode(bytes.subarray(pos, (pos += len)));
    return { name, self: uvarint(), children: uvarint() };
  };
  const root = node();
  if (root.name !== "" || root.self !== 0) throw new Error("tree bytes: the virtual root must be empty");
  const sums = new Map<string, number>();
  const stack = [{ path: "", left: root.children }];
  let nodes = 0;
  while (stack.length > 0) {
    const top = stack[stack.length - 1];
    if (top.left === 0) {
      stack.pop();
      continue;
    }
    top.left--;
    const { name, self, children } = node();
    const path = stack.length === 1 ? name : `${top.path};${name}`;
    addTo(sums, path, self);
    stack.push({ path, left: children });
    nodes++;
  }
  if (pos !== bytes.length) throw new Error(`tree bytes: ${bytes.length - pos} trailing bytes`);
  return { collapsed: formatCollapsed(sums), nodes };
}

/** Lines `a;b;c 12` of collapsed text as [root-first frames, value]. */
export function parseCollapsed(text: string): [string[], number][] {
  return text
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => {
      const sp = line.lastIndexOf(" ");
      return [line.slice(0, sp).split(";"), Number(line.slice(sp + 1))];
    });
}

/** Stack → value in the golden format: zero values dropped, lines in UTF-8 byte order. */
export function formatCollapsed(sums: Map<string, number>): string {
  const lines = [...sums].filter(([, v]) => v !== 0).map(([stack, v]) => `${stack} ${v}`);
  return lines
    .sort(compareBytes)
    .map((l) => `${l}\n`)
    .join("");
}

function addTo(sums: Map<string, number>, key: string, v: number): void {
  sums.set(key, (sums.get(key) ?? 0) + v);
}

