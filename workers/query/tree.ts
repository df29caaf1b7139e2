// A call tree keyed by frame name, stored column-wise: one typed-array slot per node and a string
// table for names, so merging millions of samples allocates nothing per node and the whole tree
// crosses Workers RPC as four plain arrays.

/** A FrameTree as plain data (structured-clonable). Node 0 is the virtual root. */
export interface FrameTreeColumns {
  /** String table; names[0] is "" (the root's name). */
  names: string[];
  /** Parent node id; -1 for the root, otherwise smaller than the node's own id. */
  parent: Int32Array;
  /** Index into names. */
  name: Int32Array;
  /** Value of the stacks ending exactly at this node. */
  self: Float64Array;
}

const ROOT = 0;
const INITIAL_CAPACITY = 64;

/** Children of every node as one id list grouped by parent (CSR): node p's are `list[start[p] … start[p+1])`, in id order. */
export function childLists(parent: Int32Array): { start: Int32Array; list: Int32Array } {
  const n = parent.length;
  const start = new Int32Array(n + 1);
  for (let id = 1; id < n; id++) start[parent[id] + 1]++;
  for (let p = 0; p < n; p++) start[p + 1] += start[p];
  const next = start.slice(0, n);
  const list = new Int32Array(Math.max(0, n - 1));
  for (let id = 1; id < n; id++) list[next[parent[id]]++] = id;
  return { start, list };
}

/** Slot of (parent, name) in a power-of-two hash table: multiplicative mix, then xor-shift. */
function slotOf(parent: number, name: number, mask: number): number {
  let h = Math.imul(parent, 0x9e3779b1) ^ name;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  return (h ^ (h >>> 13)) & mask;
}

export class FrameTree {
  private names: string[] = [""];
  private nameIds = new Map<string, number>([["", 0]]);
  private parentCol = new Int32Array(INITIAL_CAPACITY);
  private nameCol = new Int32Array(INITIAL_CAPACITY);
  private selfCol = new Float64Array(INITIAL_CAPACITY);
  private count = 1;
  // Open addressing with linear probing over node ids; 0 marks an empty slot because the root is
  // nobody's child. Kept at most half full.
  private slots = new Int32Array(INITIAL_CAPACITY * 2);

  constructor() {
    this.parentCol[ROOT] = -1;
  }

  /** Node count including the root. */
  get size(): number {
    return this.count;
  }

  intern(name: string): number {
    let id = this.nameIds.get(name);
    if (id === undefined) {
      id = this.names.length;
      this.names.push(name);
      this.nameIds.set(name, id);
    }
    return id;
  }

  /** The child of `parent` named names[nameIndex], created (with self 0) if missing. */
  child(parent: number, nameIndex: number): number {
    if (parent >>> 0 !== parent || parent >= this.count) throw new RangeError(`FrameTree: no node ${parent}`);
    if (nameIndex >>> 0 !== nameIndex || nameIndex >= this.names.length) {
      throw new RangeError(`FrameTree: no name ${nameIndex}`);
    }
    const mask = this.slots.length - 1;
    let s = slotOf(parent, nameIndex, mask);
    for (;;) {
      const id = this.slots[s];
      if (id === 0) break;
      if (this.parentCol[id] === parent && this.nameCol[id] === nameIndex) return id;
      s = (s + 1) & mask;
    }
    const id = this.count;
    if (id === this.parentCol.length) this.growColumns(id * 2);
    this.parentCol[id] = parent;
    this.nameCol[id] = nameIndex;
    this.count = id + 1;
    if (this.count * 2 > this.slots.length) this.rehash(this.slots.length * 2);
    else this.slots[s] = id;
    return id;
  }

  addSelf(node: number, value: number): void {
    if (node >>> 0 !== node || node >= this.count) throw new RangeError(`FrameTree: no node ${node}`);
    this.selfCol[node] += value;
  }

  /**
   * Adds `value` to the stack `rootFirstNames`. A zero value or an empty stack adds nothing: it
   * would only create zero-width nodes or attribute time to no frame at all.
   */
  insert(rootFirstNames: readonly string[], value: number): void {
    if (value === 0 || rootFirstNames.length === 0) return;
    let node = ROOT;
    for (const name of rootFirstNames) node = this.child(node, this.intern(name));
    this.selfCol[node] += value;
  }

  /** Adds every node's self of `other` to the node with the same name path here. */
  mergeFrom(other: FrameTree): void {
    const n = other.count;
    const map = new Int32Array(n);
    // Other's name index → ours, interned on first use so unused names are not copied.
    const names = new Int32Array(other.names.length).fill(-1);
    this.selfCol[ROOT] += other.selfCol[ROOT];
    for (let id = 1; id < n; id++) {
      const theirs = other.nameCol[id];
      let ours = names[theirs];
      if (ours < 0) ours = names[theirs] = this.intern(other.names[theirs]);
      const node = this.child(map[other.parentCol[id]], ours);
      map[id] = node;
      this.selfCol[node] += other.selfCol[id];
    }
  }

  /**
   * Self plus descendants for every node, in one pass from the last node back (children come
   * after their parents). `self` lays another value column over this tree's shape (a diff keeps
   * one per side); it must hold at least `size` values.
   */
  totals(self: Float64Array = this.selfCol): Float64Array {
    const n = this.count;
    const out = self.slice(0, n);
    for (let id = n - 1; id > 0; id--) out[this.parentCol[id]] += out[id];
    return out;
  }

  columns(): FrameTreeColumns {
    const n = this.count;
    return {
      names: this.names.slice(),
      parent: this.parentCol.slice(0, n),
      name: this.nameCol.slice(0, n),
      self: this.selfCol.slice(0, n),
    };
  }

  /** Rebuilds a tree from columns that may come from elsewhere: throws a RangeError unless valid. */
  static fromColumns(c: FrameTreeColumns): FrameTree {
    const n = c.parent.length;
    const bad = (why: string): never => {
      throw new RangeError(`FrameTree.fromColumns: ${why}`);
    };
    if (n === 0 || c.name.length !== n || c.self.length !== n) bad("columns must have equal, non-zero lengths");
    if (c.names[0] !== "") bad('names[0] must be ""');
    if (c.parent[ROOT] !== -1 || c.name[ROOT] !== 0) bad("node 0 must be the root (parent -1, name 0)");
    const t = new FrameTree();
    for (let i = 1; i < c.names.length; i++) {
      if (typeof c.names[i] !== "string") bad(`names[${i}] is not a string`);
      if (t.intern(c.names[i]) !== i) bad(`names[${i}] is a duplicate`);
    }
    t.growColumns(n);
    t.count = n;
    t.parentCol.set(c.parent);
    t.nameCol.set(c.name);
    t.selfCol.set(c.self);
    for (let id = 0; id < n; id++) {
      if (!Number.isFinite(c.self[id])) bad(`self[${id}] is not finite`);
      if (id === ROOT) continue;
      const p = c.parent[id];
      const name = c.name[id];
      if (p < 0 || p >= id) bad(`parent[${id}] = ${p} does not precede the node`);
      if (name < 0 || name >= c.names.length) bad(`name[${id}] = ${name} is out of range`);
    }
    let cap = t.slots.length;
    while (n * 2 > cap) cap *= 2;
    t.rehash(cap, (id) => bad(`node ${id} repeats a sibling's name`));
    return t;
  }

  nameOf(node: number): string {
    return this.names[this.nameCol[node]];
  }

  parentOf(node: number): number {
    return this.parentCol[node];
  }

  selfOf(node: number): number {
    return this.selfCol[node];
  }

  private growColumns(capacity: number): void {
    if (capacity <= this.parentCol.length) return;
    const parent = new Int32Array(capacity);
    const name = new Int32Array(capacity);
    const self = new Float64Array(capacity);
    parent.set(this.parentCol);
    name.set(this.nameCol);
    self.set(this.selfCol);
    this.parentCol = parent;
    this.nameCol = name;
    this.selfCol = self;
  }

  /** Rebuilds the child index with `capacity` slots; `onDuplicate` gets a node whose key is taken. */
  private rehash(capacity: number, onDuplicate?: (node: number) => void): void {
    const slots = new Int32Array(capacity);
    const mask = capacity - 1;
    for (let id = 1; id < this.count; id++) {
      const p = this.parentCol[id];
      const name = this.nameCol[id];
      let s = slotOf(p, name, mask);
      while (slots[s] !== 0) {
        const other = slots[s];
        if (onDuplicate && this.parentCol[other] === p && this.nameCol[other] === name) onDuplicate(id);
        s = (s + 1) & mask;
      }
      slots[s] = id;
    }
    this.slots = slots;
  }
}
