// A merged BlockBuilder as one google.v1.Profile (API.md §3.7, §3.14): one sample per stack node
// with a non-zero sum, and only the symbols those samples reach, renumbered from 1. With
// maxNodes > 0 the light subtrees of each kept node fold into one "other" leaf below it (the
// §3.15.4 rule applied to stack nodes). Every walk is a forward or backward pass over the node
// columns, which works because parents precede children: stacks run to thousands of frames.

import { create } from "@bufbuild/protobuf";
import type { BlockBuilder } from "../block/builder";
import {
  type Function as PprofFunction,
  FunctionSchema,
  type Line,
  LineSchema,
  type Location,
  LocationSchema,
  type Mapping,
  MappingSchema,
  type Profile,
  ProfileSchema,
  type Sample,
  SampleSchema,
  type ValueType,
  ValueTypeSchema,
} from "../gen/google/v1/profile_pb";

export interface PprofOptions {
  sampleType: string;
  sampleUnit: string;
  periodType: string;
  periodUnit: string;
  /** 0n when unknown. */
  period: bigint;
  timeNanos: bigint;
  durationNanos: bigint;
  /**
   * 0 = no truncation; N > 0 keeps the N heaviest stack nodes (by total), the rest of each
   * parent's children folded into one location whose function is named "other".
   */
  maxNodes: number;
}

const OTHER = "other";

export function toPprof(b: BlockBuilder | null, opts: PprofOptions): Profile {
  const out = new ProfileWriter(b, opts);
  if (b === null) return out.finish();
  const self = selfValues(b);
  const parent = b.nodeParent.view();
  const n = parent.length;
  const { kept, other } = fold(parent, self, opts.maxNodes);
  // Node order: deterministic, and each "other" sample right after its parent's own.
  for (let node = 0; node < n; node++) {
    if (kept[node] === 0) continue;
    if (node !== 0 && self[node] !== 0) out.sample(node, -1, self[node]);
    if (other[node] !== 0) out.sample(node, out.otherLocation(), other[node]);
  }
  return out.finish();
}

/** Σ sample values per stack node, over every profile in the builder. */
function selfValues(b: BlockBuilder): Float64Array {
  const self = new Float64Array(b.stackNodeCount);
  const node = b.sampleNode.view();
  const value = b.sampleValue.view();
  for (let i = 0; i < node.length; i++) self[node[i]] += value[i];
  return self;
}

/**
 * Which nodes to emit (kept[n] = 1; the root always) and, per kept node, the value of its folded
 * children's subtrees. Without truncation every node is kept and nothing is folded.
 */
function fold(parent: Int32Array, self: Float64Array, maxNodes: number): { kept: Uint8Array; other: Float64Array } {
  const n = parent.length;
  const kept = new Uint8Array(n).fill(1);
  const other = new Float64Array(n);
  if (maxNodes <= 0) return { kept, other };

  // Children come after their parent, so one backward pass sums every subtree.
  const total = self.slice();
  for (let node = n - 1; node > 0; node--) total[parent[node]] += total[node];
  const live = new Float64Array(n);
  let count = 0;
  for (let node = 1; node < n; node++) if (total[node] !== 0) live[count++] = total[node];
  if (count <= maxNodes) return { kept, other };

  const cut = live.subarray(0, count).sort()[count - maxNodes];
  // A node below the cut takes its whole subtree into its parent's "other"; its descendants
  // are then skipped (their parent is not kept), so nothing is counted twice.
  for (let node = 1; node < n; node++) {
    const p = parent[node];
    if (kept[p] === 1 && total[node] >= cut) continue;
    kept[node] = 0;
    if (kept[p] === 1) other[p] += total[node];
  }
  return { kept, other };
}

/** Output tables, filled on first reference so that only what the samples reach is written. */
class ProfileWriter {
  private readonly strings: string[] = [""];
  private readonly stringIds = new Map<string, number>([["", 0]]);
  private readonly samples: Sample[] = [];
  private readonly mappings: Mapping[] = [];
  private readonly locations: Location[] = [];
  private readonly functions: PprofFunction[] = [];
  // Builder index → output id, 0 = not written yet (index 0 of each table is "none" on both sides).
  private readonly stringOut: Int32Array;
  private readonly mappingOut: Int32Array;
  private readonly functionOut: Int32Array;
  private readonly locationOut: Int32Array;
  private otherLoc = 0;
  private readonly sampleType: ValueType;
  private readonly periodType: ValueType;

  constructor(
    private readonly b: BlockBuilder | null,
    private readonly opts: PprofOptions,
  ) {
    // Interned before any symbol, so that the value types come right after "" in the string table.
    this.sampleType = this.valueType(opts.sampleType, opts.sampleUnit);
    this.periodType = this.valueType(opts.periodType, opts.periodUnit);
    this.stringOut = new Int32Array(b?.strings.length ?? 0);
    this.mappingOut = new Int32Array(b?.mappingCount ?? 0);
    this.functionOut = new Int32Array(b?.functionCount ?? 0);
    this.locationOut = new Int32Array(b?.locationCount ?? 0);
  }

  /** A sample of stack `node`, below it `leaf` (an output location id) unless -1. */
  sample(node: number, leaf: number, value: number): void {
    const b = this.b!;
    const ids: bigint[] = leaf === -1 ? [] : [BigInt(leaf)];
    for (let n = node; n > 0; n = b.nodeParent.get(n)) ids.push(BigInt(this.location(b.nodeLoc.get(n))));
    this.samples.push(create(SampleSchema, { locationId: ids, value: [int64(value)] }));
  }

  /** The shared location of folded subtrees: one line in a function named "other". */
  otherLocation(): number {
    if (this.otherLoc === 0) {
      const fn = this.functions.length + 1;
      this.functions.push(create(FunctionSchema, { id: BigInt(fn), name: BigInt(this.text(OTHER)) }));
      this.otherLoc = this.locations.length + 1;
      this.locations.push(create(LocationSchema, { id: BigInt(this.otherLoc), line: [create(LineSchema, { functionId: BigInt(fn) })] }));
    }
    return this.otherLoc;
  }

  finish(): Profile {
    const { opts } = this;
    return create(ProfileSchema, {
      sampleType: [this.sampleType],
      sample: this.samples,
      mapping: this.mappings,
      location: this.locations,
      function: this.functions,
      stringTable: this.strings,
      timeNanos: opts.timeNanos,
      durationNanos: opts.durationNanos,
      periodType: this.periodType,
      period: opts.period,
    });
  }

  private location(loc: number): number {
    let id = this.locationOut[loc];
    if (id !== 0) return id;
    const b = this.b!;
    const [start, end] = b.locationLines(loc);
    const line: Line[] = [];
    for (let k = start; k < end; k++) {
      line.push(create(LineSchema, { functionId: BigInt(this.function(b.lineFn.get(k))), line: int64(b.lineNo.get(k)) }));
    }
    id = this.locationOut[loc] = this.locations.length + 1;
    this.locations.push(
      create(LocationSchema, { id: BigInt(id), mappingId: BigInt(this.mapping(b.locMapping.get(loc))), address: b.locAddress.get(loc), line }),
    );
    return id;
  }

  private function(fn: number): number {
    let id = this.functionOut[fn];
    if (id !== 0 || fn === 0) return id;
    const b = this.b!;
    id = this.functionOut[fn] = this.functions.length + 1;
    this.functions.push(
      create(FunctionSchema, {
        id: BigInt(id),
        name: this.builderString(b.fnName.get(fn)),
        systemName: this.builderString(b.fnSystemName.get(fn)),
        filename: this.builderString(b.fnFile.get(fn)),
        startLine: int64(b.fnStartLine.get(fn)),
      }),
    );
    return id;
  }

  private mapping(m: number): number {
    let id = this.mappingOut[m];
    if (id !== 0 || m === 0) return id;
    const b = this.b!;
    const flags = b.mappingFlags.get(m);
    id = this.mappingOut[m] = this.mappings.length + 1;
    this.mappings.push(
      create(MappingSchema, {
        id: BigInt(id),
        memoryStart: b.mappingStart.get(m),
        memoryLimit: b.mappingLimit.get(m),
        fileOffset: b.mappingOffset.get(m),
        filename: this.builderString(b.mappingFile.get(m)),
        buildId: this.builderString(b.mappingBuildId.get(m)),
        hasFunctions: (flags & 1) !== 0,
        hasFilenames: (flags & 2) !== 0,
        hasLineNumbers: (flags & 4) !== 0,
        hasInlineFrames: (flags & 8) !== 0,
      }),
    );
    return id;
  }

  private valueType(type: string, unit: string): ValueType {
    return create(ValueTypeSchema, { type: BigInt(this.text(type)), unit: BigInt(this.text(unit)) });
  }

  /** The output string-table index of builder string `s`. */
  private builderString(s: number): bigint {
    if (this.stringOut[s] === 0 && s !== 0) this.stringOut[s] = this.text(this.b!.strings[s]);
    return BigInt(this.stringOut[s]);
  }

  /** The output string-table index of `s`, added when new. */
  private text(s: string): number {
    let i = this.stringIds.get(s);
    if (i === undefined) {
      i = this.strings.length;
      this.strings.push(s);
      this.stringIds.set(s, i);
    }
    return i;
  }
}

/** pprof numbers are int64; the builder keeps doubles (fractional values come from other formats). */
function int64(v: number): bigint {
  return BigInt(Math.round(v));
}
