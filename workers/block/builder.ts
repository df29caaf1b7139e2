// The normalized in-memory form of profiles for one tenant and service: deduplicated symbols, a
// parent-pointer stack tree and columnar samples. Ingest decoders write into it, the ingester
// buffers its encoding, and a flush merges buffered builders into one block. Index 0 of every
// table is a null entry so that 0 means "none", as in pprof.

import { type Column, F64Column, I32Column, type TypedArray, U64Column } from "./columns";
import { finish, IdTable, mix } from "./id-table";
import { checkColumns } from "./invariants";

export type Labels = [name: string, value: string][];

export interface MappingInput {
  memoryStart: bigint;
  memoryLimit: bigint;
  fileOffset: bigint;
  filename: string;
  buildId: string;
  /** Bit 0 has_functions, 1 has_filenames, 2 has_line_numbers, 3 has_inline_frames. */
  flags: number;
}

/**
 * Every column of a builder as plain typed arrays, laid out exactly like the builder's columns
 * (null rows included), for rebuilding a builder from a decoded block.
 */
export interface BuilderColumns {
  strings: string[];
  mappingStart: BigUint64Array;
  mappingLimit: BigUint64Array;
  mappingOffset: BigUint64Array;
  mappingFile: Int32Array;
  mappingBuildId: Int32Array;
  mappingFlags: Int32Array;
  fnName: Int32Array;
  fnSystemName: Int32Array;
  fnFile: Int32Array;
  fnStartLine: Float64Array;
  locMapping: Int32Array;
  locAddress: BigUint64Array;
  locLineStart: Int32Array;
  lineFn: Int32Array;
  lineNo: Float64Array;
  nodeParent: Int32Array;
  nodeLoc: Int32Array;
  seriesLabelStart: Int32Array;
  seriesLabels: Int32Array;
  seriesProfileType: Int32Array;
  profileSeries: Int32Array;
  profileTime: Float64Array;
  profileDuration: Float64Array;
  profileSampleStart: Int32Array;
  sampleNode: Int32Array;
  sampleValue: Float64Array;
  sampleSpan: Int32Array;
  sampleTrace: Int32Array;
}

export type ColumnName = Exclude<keyof BuilderColumns, "strings">;
export type ColumnKind = "u64" | "i32" | "f64";

/**
 * Every numeric column of BuilderColumns: its element type, and whether its row 0 is the null
 * entry that every builder starts with.
 */
export const COLUMN_LAYOUT: Record<ColumnName, readonly [kind: ColumnKind, hasNullRow: boolean]> = {
  mappingStart: ["u64", true],
  mappingLimit: ["u64", true],
  mappingOffset: ["u64", true],
  mappingFile: ["i32", true],
  mappingBuildId: ["i32", true],
  mappingFlags: ["i32", true],
  fnName: ["i32", true],
  fnSystemName: ["i32", true],
  fnFile: ["i32", true],
  fnStartLine: ["f64", true],
  locMapping: ["i32", true],
  locAddress: ["u64", true],
  locLineStart: ["i32", true],
  lineFn: ["i32", false],
  lineNo: ["f64", false],
  nodeParent: ["i32", true],
  nodeLoc: ["i32", true],
  seriesLabelStart: ["i32", true],
  seriesLabels: ["i32", false],
  seriesProfileType: ["i32", false],
  profileSeries: ["i32", false],
  profileTime: ["f64", false],
  profileDuration: ["f64", false],
  profileSampleStart: ["i32", true],
  sampleNode: ["i32", false],
  sampleValue: ["f64", false],
  sampleSpan: ["i32", false],
  sampleTrace: ["i32", false],
};
const COLUMN_ENTRIES = Object.entries(COLUMN_LAYOUT) as [ColumnName, (typeof COLUMN_LAYOUT)[ColumnName]][];

/** The mapping columns, shared with the pprof decoder's tables that feed them. */
export type MappingColumns = Pick<
  BuilderColumns,
  "mappingStart" | "mappingLimit" | "mappingOffset" | "mappingFile" | "mappingBuildId" | "mappingFlags"
>;

// Interning keys, shared by the interning methods and by fromColumns' index rebuild.
function mappingKey(start: bigint, limit: bigint, offset: bigint, file: number, build: number, flags: number): string {
  return `${start}|${limit}|${offset}|${file}|${build}|${flags}`;
}
function funcHash(name: number, systemName: number, filename: number, startLine: number): number {
  return finish(mix(mix(mix(mix(0, name), systemName), filename), startLine));
}
function locationHash(mapping: number, address: bigint, fns: ArrayLike<number>, lines: ArrayLike<number>, start: number, end: number): number {
  let h = mix(mix(mix(0, mapping), Number(BigInt.asUintN(32, address))), Number(address >> 32n));
  for (let k = start; k < end; k++) h = mix(mix(h, fns[k]), lines[k]);
  return finish(h);
}
function nodeHash(parent: number, loc: number): number {
  return finish(mix(mix(0, parent), loc));
}
/** The identity of a series: its profile type and sorted labels. */
export function seriesKey(labels: Labels, profileType: string): string {
  let key = profileType;
  for (const [n, v] of labels) key += `\u0000${n}\u0001${v}`;
  return key;
}

/** fromColumns' token for a read-only builder: it adopts every column whole, null rows included. */
const ADOPTING: unique symbol = Symbol("adopting");

function readOnlyError(method: string): Error {
  return new Error(`BlockBuilder.${method}: this builder is read-only (decoded without indexes)`);
}

export class BlockBuilder {
  // Strings; 0 is "".
  readonly strings: string[] = [""];
  private readonly stringIndex = new Map<string, number>([["", 0]]);

  // Mappings (0 = none).
  readonly mappingStart = new U64Column();
  readonly mappingLimit = new U64Column();
  readonly mappingOffset = new U64Column();
  readonly mappingFile = new I32Column();
  readonly mappingBuildId = new I32Column();
  readonly mappingFlags = new I32Column();
  private readonly mappingIndex = new Map<string, number>();

  // Functions (0 = none): string indices and start line.
  readonly fnName = new I32Column();
  readonly fnSystemName = new I32Column();
  readonly fnFile = new I32Column();
  readonly fnStartLine = new F64Column();
  private readonly fnIndex = new IdTable((i) =>
    funcHash(this.fnName.get(i), this.fnSystemName.get(i), this.fnFile.get(i), this.fnStartLine.get(i)),
  );

  // Locations (0 = none): mapping, address, lines [lineStart[i], lineStart[i+1]) innermost first.
  readonly locMapping = new I32Column();
  readonly locAddress = new U64Column();
  readonly locLineStart = new I32Column();
  readonly lineFn = new I32Column();
  readonly lineNo = new F64Column();
  private readonly locIndex = new IdTable((i) => {
    const [start, end] = this.locationLines(i);
    return locationHash(this.locMapping.get(i), this.locAddress.get(i), this.lineFnView(), this.lineNoView(), start, end);
  });

  // Stack tree: node 0 is the root; node i is location nodeLoc[i] called from nodeParent[i].
  readonly nodeParent = new I32Column(256);
  readonly nodeLoc = new I32Column(256);
  private readonly nodeIndex = new IdTable((n) => nodeHash(this.nodeParent.get(n), this.nodeLoc.get(n)));

  // Series: sorted label pairs (string indices, flattened) and the profile type id.
  readonly seriesLabelStart = new I32Column();
  readonly seriesLabels = new I32Column();
  readonly seriesProfileType = new I32Column();
  private readonly seriesIndex = new Map<string, number>();

  // Profiles: one row per (series, timestamp) upload; samples [sampleStart[i], sampleStart[i+1]).
  readonly profileSeries = new I32Column();
  readonly profileTime = new F64Column(); // unix ms
  readonly profileDuration = new F64Column(); // ns
  readonly profileSampleStart = new I32Column();

  // Samples, columnar.
  readonly sampleNode = new I32Column(256);
  readonly sampleValue = new F64Column(256);
  readonly sampleSpan = new I32Column(256); // string index of span_id, 0 = none
  readonly sampleTrace = new I32Column(256); // string index of trace_id, 0 = none

  private openProfile = -1;
  /** Built without interning indexes (fromColumns): adding to it would duplicate rows. */
  private readOnly = false;
  // endProfile's per-node merge slots (see there).
  private dedupStamp = 0;
  private dedupSeen = new Int32Array(0);
  private dedupAt = new Int32Array(0);

  constructor(adopting?: typeof ADOPTING) {
    if (adopting === ADOPTING) return;
    this.mappingStart.push(0n);
    this.mappingLimit.push(0n);
    this.mappingOffset.push(0n);
    this.mappingFile.push(0);
    this.mappingBuildId.push(0);
    this.mappingFlags.push(0);
    this.fnName.push(0);
    this.fnSystemName.push(0);
    this.fnFile.push(0);
    this.fnStartLine.push(0);
    this.locMapping.push(0);
    this.locAddress.push(0n);
    this.locLineStart.push(0);
    this.nodeParent.push(-1);
    this.nodeLoc.push(0);
    this.seriesLabelStart.push(0);
    this.profileSampleStart.push(0);
  }

  get stackNodeCount(): number {
    return this.nodeParent.length;
  }
  get seriesCount(): number {
    return this.seriesProfileType.length;
  }
  get profileCount(): number {
    return this.profileSeries.length;
  }
  get sampleCount(): number {
    return this.sampleNode.length;
  }
  get locationCount(): number {
    return this.locMapping.length;
  }
  get functionCount(): number {
    return this.fnName.length;
  }
  get mappingCount(): number {
    return this.mappingFile.length;
  }

  string(s: string): number {
    if (this.readOnly) throw readOnlyError("string");
    let i = this.stringIndex.get(s);
    if (i === undefined) {
      i = this.strings.length;
      this.strings.push(s);
      this.stringIndex.set(s, i);
    }
    return i;
  }

  mapping(m: MappingInput): number {
    if (this.readOnly) throw readOnlyError("mapping");
    const file = this.string(m.filename);
    const build = this.string(m.buildId);
    const key = mappingKey(m.memoryStart, m.memoryLimit, m.fileOffset, file, build, m.flags);
    let i = this.mappingIndex.get(key);
    if (i === undefined) {
      i = this.mappingStart.push(m.memoryStart);
      this.mappingLimit.push(m.memoryLimit);
      this.mappingOffset.push(m.fileOffset);
      this.mappingFile.push(file);
      this.mappingBuildId.push(build);
      this.mappingFlags.push(m.flags);
      this.mappingIndex.set(key, i);
    }
    return i;
  }

  /** Interns a function by string indices (see `string`). */
  func(name: number, systemName: number, filename: number, startLine: number): number {
    if (this.readOnly) throw readOnlyError("func");
    const t = this.fnIndex;
    let slot = t.first(funcHash(name, systemName, filename, startLine));
    for (let i = t.at(slot); i !== -1; i = t.at((slot = t.next(slot)))) {
      if (
        this.fnName.get(i) === name &&
        this.fnSystemName.get(i) === systemName &&
        this.fnFile.get(i) === filename &&
        this.fnStartLine.get(i) === startLine
      ) {
        return i;
      }
    }
    const i = this.fnName.push(name);
    this.fnSystemName.push(systemName);
    this.fnFile.push(filename);
    this.fnStartLine.push(startLine);
    t.put(slot, i);
    return i;
  }

  /**
   * Interns a location. `fns` and `lines` hold its lines innermost first, as pprof stores them;
   * `count` of them are used.
   */
  location(mapping: number, address: bigint, fns: ArrayLike<number>, lines: ArrayLike<number>, count: number): number {
    if (this.readOnly) throw readOnlyError("location");
    const t = this.locIndex;
    let slot = t.first(locationHash(mapping, address, fns, lines, 0, count));
    for (let i = t.at(slot); i !== -1; i = t.at((slot = t.next(slot)))) {
      if (this.sameLocation(i, mapping, address, fns, lines, 0, count)) return i;
    }
    const i = this.locMapping.push(mapping);
    this.locAddress.push(address);
    for (let k = 0; k < count; k++) {
      this.lineFn.push(fns[k]);
      this.lineNo.push(lines[k]);
    }
    this.locLineStart.push(this.lineFn.length - count);
    t.put(slot, i);
    return i;
  }

  private sameLocation(
    i: number,
    mapping: number,
    address: bigint,
    fns: ArrayLike<number>,
    lines: ArrayLike<number>,
    start: number,
    end: number,
  ): boolean {
    if (this.locMapping.get(i) !== mapping || this.locAddress.get(i) !== address) return false;
    const [s, e] = this.locationLines(i);
    if (e - s !== end - start) return false;
    for (let k = 0; k < end - start; k++) {
      if (this.lineFn.get(s + k) !== fns[start + k] || this.lineNo.get(s + k) !== lines[start + k]) return false;
    }
    return true;
  }

  private lineFnView(): Int32Array {
    return this.lineFn.view();
  }
  private lineNoView(): Float64Array {
    return this.lineNo.view();
  }

  /** Lines of location `loc` as [start, end) into lineFn/lineNo. */
  locationLines(loc: number): [number, number] {
    const start = this.locLineStart.get(loc);
    const end = loc + 1 < this.locLineStart.length ? this.locLineStart.get(loc + 1) : this.lineFn.length;
    return [start, end];
  }

  /** The stack node for `loc` called from `parent` (0 = root), created when new. */
  stackNode(parent: number, loc: number): number {
    if (this.readOnly) throw readOnlyError("stackNode");
    const t = this.nodeIndex;
    let slot = t.first(nodeHash(parent, loc));
    for (let n = t.at(slot); n !== -1; n = t.at((slot = t.next(slot)))) {
      if (this.nodeParent.get(n) === parent && this.nodeLoc.get(n) === loc) return n;
    }
    const node = this.nodeParent.push(parent);
    this.nodeLoc.push(loc);
    t.put(slot, node);
    return node;
  }

  /**
   * A builder holding exactly the given columns. Throws if any reference is out of range, so a
   * corrupt block cannot yield a builder that later reads past its tables. With `appendable`, its
   * interning indexes are rebuilt so that more data can be added (a flush's target); without, it
   * is read-only and building it skips that work (a flush's sources, a query's blocks).
   */
  static fromColumns(c: BuilderColumns, appendable = true): BlockBuilder {
    checkColumns(c);
    const b = new BlockBuilder(appendable ? undefined : ADOPTING);
    for (let i = 1; i < c.strings.length; i++) b.strings.push(c.strings[i]);
    for (const [name, [, hasNullRow]] of COLUMN_ENTRIES) {
      const column = b[name] as Column<TypedArray, unknown>;
      // A read-only builder never writes to its columns, so it can use the given arrays as they are.
      if (appendable) column.append(c[name], hasNullRow ? 1 : 0);
      else column.adopt(c[name]);
    }
    if (appendable) b.rebuildIndexes(c);
    else b.readOnly = true;
    return b;
  }

  /** Indexes every row of `c` (already appended), keeping the first of equal rows. */
  private rebuildIndexes(c: BuilderColumns): void {
    for (let i = 1; i < c.strings.length; i++) {
      if (!this.stringIndex.has(c.strings[i])) this.stringIndex.set(c.strings[i], i);
    }
    for (let i = 1; i < c.mappingFile.length; i++) {
      const key = mappingKey(c.mappingStart[i], c.mappingLimit[i], c.mappingOffset[i], c.mappingFile[i], c.mappingBuildId[i], c.mappingFlags[i]);
      if (!this.mappingIndex.has(key)) this.mappingIndex.set(key, i);
    }
    for (let i = 1; i < c.fnName.length; i++) {
      this.fnIndex.add(funcHash(c.fnName[i], c.fnSystemName[i], c.fnFile[i], c.fnStartLine[i]), i, (o) =>
        c.fnName[o] === c.fnName[i] &&
        c.fnSystemName[o] === c.fnSystemName[i] &&
        c.fnFile[o] === c.fnFile[i] &&
        c.fnStartLine[o] === c.fnStartLine[i],
      );
    }
    for (let i = 1; i < c.locMapping.length; i++) {
      const [start, end] = this.locationLines(i);
      const hash = locationHash(c.locMapping[i], c.locAddress[i], c.lineFn, c.lineNo, start, end);
      this.locIndex.add(hash, i, (o) => this.sameLocation(o, c.locMapping[i], c.locAddress[i], c.lineFn, c.lineNo, start, end));
    }
    for (let n = 1; n < c.nodeParent.length; n++) {
      this.nodeIndex.add(nodeHash(c.nodeParent[n], c.nodeLoc[n]), n, (o) => c.nodeParent[o] === c.nodeParent[n] && c.nodeLoc[o] === c.nodeLoc[n]);
    }
    for (let i = 0; i < c.seriesProfileType.length; i++) {
      const key = seriesKey(this.seriesLabelsOf(i), this.strings[c.seriesProfileType[i]]);
      if (!this.seriesIndex.has(key)) this.seriesIndex.set(key, i);
    }
  }

  /** Interns a series: `labels` must be sorted by name; `profileType` is its profile type id. */
  series(labels: Labels, profileType: string): number {
    if (this.readOnly) throw readOnlyError("series");
    const key = seriesKey(labels, profileType);
    let i = this.seriesIndex.get(key);
    if (i === undefined) {
      i = this.seriesProfileType.push(this.string(profileType));
      for (const [n, v] of labels) {
        this.seriesLabels.push(this.string(n));
        this.seriesLabels.push(this.string(v));
      }
      this.seriesLabelStart.push(this.seriesLabels.length);
      this.seriesIndex.set(key, i);
    }
    return i;
  }

  seriesLabelsOf(series: number): Labels {
    const out: Labels = [];
    const end = this.seriesLabelStart.get(series + 1);
    for (let k = this.seriesLabelStart.get(series); k < end; k += 2) {
      out.push([this.strings[this.seriesLabels.get(k)], this.strings[this.seriesLabels.get(k + 1)]]);
    }
    return out;
  }

  beginProfile(series: number, timeMs: number, durationNs: number): number {
    if (this.readOnly) throw readOnlyError("beginProfile");
    if (this.openProfile !== -1) throw new Error("beginProfile: the previous profile is still open");
    this.openProfile = this.profileSeries.push(series);
    this.profileTime.push(timeMs);
    this.profileDuration.push(durationNs);
    return this.openProfile;
  }

  addSample(node: number, value: number, span = 0, trace = 0): void {
    this.sampleNode.push(node);
    this.sampleValue.push(value);
    this.sampleSpan.push(span);
    this.sampleTrace.push(trace);
  }

  /**
   * Closes the open profile: drops zero values and merges samples with the same stack, span and
   * trace (Pyroscope's normalisation). A profile left with no samples is removed; returns whether
   * the profile was kept.
   */
  endProfile(): boolean {
    const p = this.openProfile;
    if (p === -1) throw new Error("endProfile: no open profile");
    this.openProfile = -1;
    const start = this.profileSampleStart.get(p);
    const end = this.sampleNode.length;
    // Samples without span or trace (nearly all) are merged through a per-node slot stamped with
    // the profile being closed, so no clearing and no key strings; the rest through a Map.
    const stamp = ++this.dedupStamp;
    if (this.dedupSeen.length < this.nodeParent.length) this.growDedup();
    const seen = this.dedupSeen;
    const at = this.dedupAt;
    let keyed: Map<string, number> | undefined;
    let w = start;
    for (let r = start; r < end; r++) {
      const value = this.sampleValue.get(r);
      const node = this.sampleNode.get(r);
      if (value === 0 || node === 0) continue;
      const span = this.sampleSpan.get(r);
      const trace = this.sampleTrace.get(r);
      let prev = -1;
      if (span === 0 && trace === 0) {
        if (seen[node] === stamp) prev = at[node];
        else {
          seen[node] = stamp;
          at[node] = w;
        }
      } else {
        keyed ??= new Map();
        const key = `${node}|${span}|${trace}`;
        prev = keyed.get(key) ?? -1;
        if (prev === -1) keyed.set(key, w);
      }
      if (prev !== -1) {
        this.sampleValue.set(prev, this.sampleValue.get(prev) + value);
        continue;
      }
      this.sampleNode.set(w, node);
      this.sampleValue.set(w, value);
      this.sampleSpan.set(w, span);
      this.sampleTrace.set(w, trace);
      w++;
    }
    this.sampleNode.truncate(w);
    this.sampleValue.truncate(w);
    this.sampleSpan.truncate(w);
    this.sampleTrace.truncate(w);
    if (w === start) {
      this.profileSeries.truncate(p);
      this.profileTime.truncate(p);
      this.profileDuration.truncate(p);
      return false;
    }
    this.profileSampleStart.push(w);
    return true;
  }

  private growDedup(): void {
    const size = Math.max(1024, this.nodeParent.length * 2);
    const seen = new Int32Array(size);
    seen.set(this.dedupSeen);
    const at = new Int32Array(size);
    at.set(this.dedupAt);
    this.dedupSeen = seen;
    this.dedupAt = at;
  }

  /** Sample range [start, end) of profile `p`. */
  profileSamples(p: number): [number, number] {
    return [this.profileSampleStart.get(p), this.profileSampleStart.get(p + 1)];
  }

  /** Σ values of profile `p`. */
  profileTotal(p: number): number {
    const [s, e] = this.profileSamples(p);
    let t = 0;
    for (let i = s; i < e; i++) t += this.sampleValue.get(i);
    return t;
  }

  /** Root-first location ids of a stack node. */
  stackLocations(node: number): number[] {
    const out: number[] = [];
    for (let n = node; n > 0; n = this.nodeParent.get(n)) out.push(this.nodeLoc.get(n));
    return out.reverse();
  }
}
