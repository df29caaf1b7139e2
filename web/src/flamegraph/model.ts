// Decoded flame graphs as flat typed arrays (struct of arrays): a big profile is thousands of nodes, and the
// renderer, hit testing and aggregation all walk them per frame or per keystroke, so no per-node objects.

/** A single flame graph as the querier returns it (API.md §3.15.1), int64 strings already turned into numbers. */
export interface FlameGraphData {
  names: string[];
  /** levels[d] = 4 numbers per node: [x_delta, total, self, name_index]; levels[0] is the root "total". */
  levels: number[][];
  total: number;
  maxSelf: number;
}

/** A diff flame graph (API.md §3.15.2): 7 numbers per node, left (baseline) and right (comparison) sides. */
export interface FlameGraphDiffData extends FlameGraphData {
  leftTicks: number;
  rightTicks: number;
}

/** Per-node values of both sides of a diff. The layout arrays of the model hold their sums. */
export interface DiffSides {
  readonly leftTotal: Float64Array;
  readonly leftSelf: Float64Array;
  readonly rightTotal: Float64Array;
  readonly rightSelf: Float64Array;
  readonly leftTicks: number;
  readonly rightTicks: number;
}

/**
 * Nodes are numbered level by level and, within a level, in ascending `x` — the order of the encoding — so a
 * level is the index range [levelStart[d], levelStart[d+1]) and can be binary searched by x.
 */
export interface FlameModel {
  /** Distinct function names; `nameIdx` indexes this (duplicates in the input are folded). */
  readonly names: readonly string[];
  readonly nameIndex: ReadonlyMap<string, number>;
  readonly count: number;
  readonly depth: number;
  readonly levelStart: Int32Array;
  readonly level: Int32Array;
  /** Layout in ticks. For a diff this is left + right, as in Pyroscope's diff view (each side's x adds up). */
  readonly x: Float64Array;
  readonly total: Float64Array;
  readonly self: Float64Array;
  readonly nameIdx: Int32Array;
  /** Containing node one level up, or -1 for the root (and for malformed orphans). */
  readonly parent: Int32Array;
  /** Children are contiguous in the next level: [childStart[i], childEnd[i]). */
  readonly childStart: Int32Array;
  readonly childEnd: Int32Array;
  /** Total of the root node: the 100% of every percentage. */
  readonly rootTotal: number;
  readonly diff: DiffSides | null;
}

const SINGLE_STRIDE = 4;
const DIFF_STRIDE = 7;

function nodeCount(levels: number[][], stride: number): number {
  let n = 0;
  for (const level of levels) n += Math.floor(level.length / stride);
  return n;
}

/** Folds duplicate names so that "all frames of a function" is a comparison of indexes. */
function canonicalNames(raw: readonly string[]): { names: string[]; nameIndex: Map<string, number>; remap: Int32Array } {
  const names: string[] = [];
  const nameIndex = new Map<string, number>();
  const remap = new Int32Array(raw.length);
  for (let i = 0; i < raw.length; i++) {
    const name = raw[i];
    let idx = nameIndex.get(name);
    if (idx === undefined) {
      idx = names.length;
      names.push(name);
      nameIndex.set(name, idx);
    }
    remap[i] = idx;
  }
  return { names, nameIndex, remap };
}

/**
 * Links every node to its parent by containment (as Grafana does): within a level nodes do not overlap and are
 * sorted, so the parent is the last node of the level above starting at or before the child — a single merge-like
 * pass over both levels, which also yields each parent's contiguous child range.
 */
function linkLevels(
  levelStart: Int32Array,
  x: Float64Array,
  parent: Int32Array,
  childStart: Int32Array,
  childEnd: Int32Array,
): void {
  parent.fill(-1);
  const depth = levelStart.length - 1;
  for (let d = 1; d < depth; d++) {
    const pHi = levelStart[d];
    let p = levelStart[d - 1];
    for (let c = levelStart[d]; c < levelStart[d + 1]; c++) {
      while (p + 1 < pHi && x[p + 1] <= x[c]) p++;
      if (p >= pHi || x[p] > x[c]) continue;
      parent[c] = p;
      if (childEnd[p] === childStart[p]) childStart[p] = c;
      childEnd[p] = c + 1;
    }
  }
}

function decode(data: FlameGraphData, diff: FlameGraphDiffData | null): FlameModel {
  const stride = diff ? DIFF_STRIDE : SINGLE_STRIDE;
  const count = nodeCount(data.levels, stride);
  const depth = data.levels.length;
  const { names, nameIndex, remap } = canonicalNames(data.names);

  const levelStart = new Int32Array(depth + 1);
  const level = new Int32Array(count);
  const x = new Float64Array(count);
  const total = new Float64Array(count);
  const self = new Float64Array(count);
  const nameIdx = new Int32Array(count);
  const sides: DiffSides | null = diff
    ? {
        leftTotal: new Float64Array(count),
        leftSelf: new Float64Array(count),
        rightTotal: new Float64Array(count),
        rightSelf: new Float64Array(count),
        leftTicks: diff.leftTicks,
        rightTicks: diff.rightTicks,
      }
    : null;

  let i = 0;
  for (let d = 0; d < depth; d++) {
    levelStart[d] = i;
    const values = data.levels[d];
    // Delta decoding (§3.15.1): each x is relative to the end of the previous node of the same level; a diff
    // has two independent x streams, one per side.
    let prevEnd = 0;
    let prevRightEnd = 0;
    for (let j = 0; j + stride <= values.length; j += stride, i++) {
      level[i] = d;
      const lx = values[j] + prevEnd;
      prevEnd = lx + values[j + 1];
      const name = values[j + stride - 1];
      nameIdx[i] = name >= 0 && name < remap.length ? remap[name] : 0;
      if (sides) {
        const rx = values[j + 3] + prevRightEnd;
        prevRightEnd = rx + values[j + 4];
        sides.leftTotal[i] = values[j + 1];
        sides.leftSelf[i] = values[j + 2];
        sides.rightTotal[i] = values[j + 4];
        sides.rightSelf[i] = values[j + 5];
        x[i] = lx + rx;
        total[i] = values[j + 1] + values[j + 4];
        self[i] = values[j + 2] + values[j + 5];
      } else {
        x[i] = lx;
        total[i] = values[j + 1];
        self[i] = values[j + 2];
      }
    }
  }
  levelStart[depth] = i;

  const parent = new Int32Array(count);
  const childStart = new Int32Array(count);
  const childEnd = new Int32Array(count);
  linkLevels(levelStart, x, parent, childStart, childEnd);

  return {
    names,
    nameIndex,
    count,
    depth,
    levelStart,
    level,
    x,
    total,
    self,
    nameIdx,
    parent,
    childStart,
    childEnd,
    rootTotal: count > 0 ? total[0] : data.total,
    diff: sides,
  };
}

// The flame graph and the top table usually receive the same data object: decode it once for both.
const models = new WeakMap<FlameGraphData, FlameModel>();

/** Decodes (memoized per data object) a single or, with `diff`, a diff flame graph. */
export function getModel(data: FlameGraphData, diff: boolean): FlameModel {
  let model = models.get(data);
  if (!model || (model.diff !== null) !== diff) {
    model = decode(data, diff ? (data as FlameGraphDiffData) : null);
    models.set(data, model);
  }
  return model;
}

/** Per-name aggregates, indexed like `model.names`. */
export interface FunctionStats {
  /** Of the profile, or of a diff's comparison (right) side. */
  readonly self: Float64Array;
  readonly total: Float64Array;
  /** A diff's baseline (left) side, else null. */
  readonly baseline: { readonly self: Float64Array; readonly total: Float64Array } | null;
  /** Whether the name occurs below the root (the root "total" is not a function). */
  readonly present: Uint8Array;
}

const stats = new WeakMap<FlameModel, FunctionStats>();

/**
 * Sums per function name: self over all its nodes; total over its nodes that have no ancestor of the same name,
 * so a recursive function's inner calls (already inside the outer call's total) are not counted twice.
 */
export function functionStats(model: FlameModel): FunctionStats {
  const cached = stats.get(model);
  if (cached) return cached;
  const n = model.names.length;
  const sides = model.diff;
  const nodeSelf = sides ? sides.rightSelf : model.self;
  const nodeTotal = sides ? sides.rightTotal : model.total;
  const self = new Float64Array(n);
  const total = new Float64Array(n);
  const baseline = sides ? { self: new Float64Array(n), total: new Float64Array(n) } : null;
  const present = new Uint8Array(n);
  // How many nodes of each name are on the current DFS path.
  const onPath = new Int32Array(n);
  const stack = new Int32Array(model.depth + 1);
  const cursor = new Int32Array(model.count);
  const { nameIdx, childStart, childEnd, parent } = model;

  const enter = (node: number): void => {
    const name = nameIdx[node];
    present[name] = 1;
    self[name] += nodeSelf[node];
    if (baseline && sides) baseline.self[name] += sides.leftSelf[node];
    if (onPath[name] === 0) {
      total[name] += nodeTotal[node];
      if (baseline && sides) baseline.total[name] += sides.leftTotal[node];
    }
    onPath[name]++;
    cursor[node] = childStart[node];
  };

  const walk = (start: number): void => {
    let top = 0;
    stack[0] = start;
    enter(start);
    while (top >= 0) {
      const node = stack[top];
      if (cursor[node] < childEnd[node]) {
        const child = cursor[node]++;
        stack[++top] = child;
        enter(child);
      } else {
        onPath[nameIdx[node]]--;
        top--;
      }
    }
  };

  // The root level is the synthetic "total", not a function: walk from its children, plus any orphans of
  // malformed input, iteratively (deep stacks would overflow a recursive walk).
  const rootEnd = model.levelStart[Math.min(1, model.depth)];
  for (let node = 0; node < model.count; node++) {
    if (node < rootEnd) continue;
    const p = parent[node];
    if (p === -1 || p < rootEnd) walk(node);
  }

  const result: FunctionStats = { self, total, baseline, present };
  stats.set(model, result);
  return result;
}

/** Case-insensitive substring match of every name against `query`; null when there is no query. */
export function matchNames(model: FlameModel, query: string): Uint8Array | null {
  const needle = query.trim().toLowerCase();
  if (needle === "") return null;
  const matches = new Uint8Array(model.names.length);
  for (let i = 0; i < model.names.length; i++) {
    if (model.names[i].toLowerCase().includes(needle)) matches[i] = 1;
  }
  return matches;
}

/**
 * Relative change in percent of a node's share of its side's total, right vs left (Pyroscope's diff measure:
 * shares, not raw values, so profiles of different durations compare). `null` when it is absent on the left.
 */
export function relativeChange(sides: DiffSides, leftValue: number, rightValue: number): number | null {
  const l = sides.leftTicks > 0 ? leftValue / sides.leftTicks : 0;
  const r = sides.rightTicks > 0 ? rightValue / sides.rightTicks : 0;
  if (l === r) return 0;
  if (l === 0) return null;
  return ((r - l) / l) * 100;
}
