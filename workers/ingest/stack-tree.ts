// The stacks of a legacy upload (folded text, lines, trie, tree, speedscope) as a call tree: one
// node per distinct root→node path, held as parent pointers in typed arrays with an interned name
// per node. Memory and work grow with the number of frames in the body, not with the sum of the
// stack depths, so a stack thousands of frames deep costs what its bytes cost (a `;`-joined key
// per stack made a deep chain quadratic: 8,000 frames took 2.9 GB and 53 s).

import type { Config } from "../config";
import { badRequest, invalid } from "./errors";

export type StackLimits = Pick<
  Config,
  "MAX_PROFILE_STACKTRACE_DEPTH" | "MAX_PROFILE_STACKTRACE_SAMPLES" | "MAX_PROFILE_SIZE_BYTES"
>;

/** Node ids and name ids stay below this, so a (name, parent) pair packs into one exact double. */
const ID_SPACE = 2 ** 26;

export class StackTree {
  static readonly ROOT = 0;

  private parent = new Int32Array(1024);
  private nameOf = new Int32Array(1024);
  private depthOf = new Int32Array(1024);
  /** The node's ancestor (or itself) at depth min(depth, maxDepth): the last frame a stack keeps. */
  private capOf = new Int32Array(1024);
  private valueOf = new Float64Array(1024);
  private readonly childOf = new Map<number, number>();
  readonly names: string[] = [];
  private readonly nameIds = new Map<string, number>();
  /** Nodes created so far, the root included. */
  size = 1;

  /**
   * Call paths (nodes, the root aside) cost some 60 bytes each with their names, and a wide body
   * of distinct short stacks has millions (16 MB of them made 2.7 million, 500 MB), so there may
   * be one per four bytes of max_profile_size_bytes (a million at 4 MiB). Each path of a stored
   * stack is at least one location reference, of one to three bytes, in the profile the upload
   * becomes, so a profile near the size limit stays within it.
   */
  private readonly maxNodes: number;

  constructor(readonly limits: StackLimits) {
    this.parent[0] = -1;
    this.maxNodes = limits.MAX_PROFILE_SIZE_BYTES > 0 ? Math.floor(limits.MAX_PROFILE_SIZE_BYTES / 4) : Infinity;
  }

  /** The child of `parent` named `name`, created on first use: equal paths share one node. */
  child(parent: number, name: string): number {
    let nameId = this.nameIds.get(name);
    if (nameId === undefined) {
      nameId = this.names.length;
      if (nameId >= ID_SPACE) throw tooMany("distinct frame names");
      this.names.push(name);
      this.nameIds.set(name, nameId);
    }
    const key = nameId * ID_SPACE + parent;
    let node = this.childOf.get(key);
    if (node !== undefined) return node;
    node = this.size++;
    if (node > this.maxNodes) {
      throw badRequest(
        "profile_size_limit",
        `the stacks have more than ${this.maxNodes} distinct call paths; a profile within max_profile_size_bytes (${this.limits.MAX_PROFILE_SIZE_BYTES}) holds fewer`,
      );
    }
    if (node >= ID_SPACE) throw tooMany("distinct stacks");
    if (node === this.parent.length) this.grow();
    const depth = this.depthOf[parent] + 1;
    const maxDepth = this.limits.MAX_PROFILE_STACKTRACE_DEPTH;
    this.parent[node] = parent;
    this.nameOf[node] = nameId;
    this.depthOf[node] = depth;
    this.capOf[node] = maxDepth > 0 && depth > maxDepth ? this.capOf[parent] : node;
    this.childOf.set(key, node);
    return node;
  }

  /** The node of a root-first list of frame names. */
  path(rootFirst: Iterable<string>): number {
    let node = StackTree.ROOT;
    for (const name of rootFirst) node = this.child(node, name);
    return node;
  }

  parentOf(node: number): number {
    return this.parent[node];
  }

  add(node: number, value: number): void {
    this.valueOf[node] += value;
  }

  /** Replaces every value v by f(v) (speedscope's unit scaling and rounding). */
  mapValues(f: (v: number) => number): void {
    for (let n = 1; n < this.size; n++) if (this.valueOf[n] !== 0) this.valueOf[n] = f(this.valueOf[n]);
  }

  /**
   * Calls `sample` for each node whose value passes `keep`, in creation order, with the frames of
   * its stack leaf first (name ids) and its value. Stacks deeper than MAX_PROFILE_STACKTRACE_DEPTH
   * keep their root-most frames, as pprof truncation does; each such stack stays its own sample, so
   * the sample count is Pyroscope's. Checked first, as push-step refusals (400 on /ingest, where
   * Pyroscope converts and then pushes): the sample count (Pyroscope's samples_limit,
   * which `samplesRefusal` words) and the frames to write, which must fit MAX_PROFILE_SIZE_BYTES
   * (each is at least one byte of the profile the upload becomes), so the work is bounded before
   * any of it is done.
   */
  forEachStack(
    keep: (value: number) => boolean,
    samplesRefusal: (actual: number, limit: number) => Error,
    sample: (leafFirst: Int32Array, value: number) => void,
  ): void {
    let samples = 0;
    let frames = 0;
    let deepest = 0;
    for (let n = 1; n < this.size; n++) {
      if (!keep(this.valueOf[n])) continue;
      samples++;
      const depth = this.depthOf[this.capOf[n]];
      frames += depth;
      deepest = Math.max(deepest, depth);
    }
    const maxSamples = this.limits.MAX_PROFILE_STACKTRACE_SAMPLES;
    if (maxSamples > 0 && samples > maxSamples) throw samplesRefusal(samples, maxSamples);
    const maxFrames = this.limits.MAX_PROFILE_SIZE_BYTES;
    if (maxFrames > 0 && frames > maxFrames) {
      throw badRequest(
        "profile_size_limit",
        `the stacks hold ${frames} frames (after truncation to max_profile_stacktrace_depth), more than a profile within max_profile_size_bytes (${maxFrames}) can hold`,
      );
    }
    const scratch = new Int32Array(deepest);
    for (let n = 1; n < this.size; n++) {
      const value = this.valueOf[n];
      if (!keep(value)) continue;
      let at = this.capOf[n];
      const depth = this.depthOf[at];
      for (let i = 0; i < depth; i++, at = this.parent[at]) scratch[i] = this.nameOf[at];
      sample(scratch.subarray(0, depth), value);
    }
  }

  private grow(): void {
    const cap = this.parent.length * 2;
    const bigger = <T extends Int32Array | Float64Array>(a: T): T => {
      const b = new (a.constructor as { new (n: number): T })(cap);
      b.set(a);
      return b;
    };
    this.parent = bigger(this.parent);
    this.nameOf = bigger(this.nameOf);
    this.depthOf = bigger(this.depthOf);
    this.capOf = bigger(this.capOf);
    this.valueOf = bigger(this.valueOf);
  }
}

function tooMany(what: string) {
  return invalid("malformed_profile", `the upload has more than ${ID_SPACE} ${what}`);
}
