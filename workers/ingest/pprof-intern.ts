// Interns one pprof's symbols into one BlockBuilder on demand: only what the written samples
// reach is copied, each string/function/location/stack once per builder, however many sample
// types and label groups share it.

import type { BlockBuilder } from "../block/builder";
import type { PprofTables } from "./pprof-tables";

export class PprofInterner {
  private readonly stringIds: Int32Array;
  private readonly mappingIds: Int32Array;
  private readonly functionIds: Int32Array;
  private readonly locationIds: Int32Array;
  private readonly nodes: Int32Array;
  /** The last stack built: its sample and its node at each depth, root first. */
  private lastStack = -1;
  private readonly lastPath: Int32Array;
  private readonly lineFns: Int32Array;
  private readonly lineNos: Float64Array;

  constructor(
    readonly builder: BlockBuilder,
    private readonly t: PprofTables,
  ) {
    // 0 means "not interned yet": builder ids of real entries start at 1 (string "" is 0 in both).
    this.stringIds = new Int32Array(t.strings.length);
    this.mappingIds = new Int32Array(t.mappingFile.length);
    this.functionIds = new Int32Array(t.functionName.length);
    this.locationIds = new Int32Array(t.locationMapping.length);
    this.nodes = new Int32Array(t.sampleLocationStart.length - 1).fill(-1);
    this.lastPath = new Int32Array(t.maxStackDepth);
    this.lineFns = new Int32Array(t.maxLinesPerLocation);
    this.lineNos = new Float64Array(t.maxLinesPerLocation);
  }

  /** The builder's index of pprof string `i`. */
  string(i: number): number {
    if (i === 0) return 0;
    let id = this.stringIds[i];
    if (id === 0) id = this.stringIds[i] = this.builder.string(this.t.strings[i]);
    return id;
  }

  /** The builder's stack node of pprof sample `s`. */
  stack(s: number): number {
    let node = this.nodes[s];
    if (node >= 0) return node;
    const { sampleLocationStart, sampleStackStart, sampleLocations: locations } = this.t;
    // pprof lists the leaf first; the builder's stacks grow from the root.
    const root = sampleLocationStart[s + 1] - 1;
    const depth = root + 1 - sampleStackStart[s];
    // Neighbouring samples often share most of their stack: the part equal to the last stack
    // built needs no lookups.
    let d = 0;
    node = 0;
    if (this.lastStack >= 0) {
      const lastRoot = sampleLocationStart[this.lastStack + 1] - 1;
      const shared = Math.min(depth, lastRoot + 1 - sampleStackStart[this.lastStack]);
      while (d < shared && locations[root - d] === locations[lastRoot - d]) d++;
      if (d > 0) node = this.lastPath[d - 1];
    }
    for (; d < depth; d++) {
      node = this.builder.stackNode(node, this.location(locations[root - d]));
      this.lastPath[d] = node;
    }
    this.lastStack = s;
    return (this.nodes[s] = node);
  }

  private location(i: number): number {
    let id = this.locationIds[i];
    if (id !== 0) return id;
    const t = this.t;
    const start = t.locationLineStart[i];
    const count = t.locationLineStart[i + 1] - start;
    for (let k = 0; k < count; k++) {
      this.lineFns[k] = this.function(t.lineFunction[start + k]);
      this.lineNos[k] = t.lineNumber[start + k];
    }
    const mapping = t.locationMapping[i] < 0 ? 0 : this.mapping(t.locationMapping[i]);
    id = this.builder.location(mapping, t.locationAddress[i], this.lineFns, this.lineNos, count);
    return (this.locationIds[i] = id);
  }

  private function(i: number): number {
    let id = this.functionIds[i];
    if (id === 0) {
      const t = this.t;
      id = this.functionIds[i] = this.builder.func(
        this.string(t.functionName[i]),
        this.string(t.functionSystemName[i]),
        this.string(t.functionFile[i]),
        t.functionStartLine[i],
      );
    }
    return id;
  }

  private mapping(i: number): number {
    let id = this.mappingIds[i];
    if (id === 0) {
      const t = this.t;
      id = this.mappingIds[i] = this.builder.mapping({
        memoryStart: t.mappingStart[i],
        memoryLimit: t.mappingLimit[i],
        fileOffset: t.mappingOffset[i],
        filename: t.strings[t.mappingFile[i]],
        buildId: t.strings[t.mappingBuildId[i]],
        flags: t.mappingFlags[i],
      });
    }
    return id;
  }
}
