// Builds the decoded-pprof tables (PprofProfile) from stacks of frame names, so that every
// non-pprof format (folded text, trie/tree, speedscope, JFR, OTLP) ends in the same pipeline as
// pprof: validation, the sample-label split, profile type ids and storage (normalizePprof).
// As Pyroscope's converters do (spec API.md §1.5.3), each distinct frame gets one function and one
// location with a single line; there is no mapping.

import type { Labels } from "./labels";
import type { PprofProfile, ValueTypeRef } from "./pprof-decode";

export type ValueTypeName = readonly [type: string, unit: string];

/**
 * What every non-pprof decoder returns: profiles ready for normalizePprof in "push" mode, each
 * with the series labels its path defines (`__name__`, `service_name`, `pyroscope_spy`, …).
 */
export interface AssembledProfile {
  labels: Labels;
  profile: PprofProfile;
}

export interface AssemblerOptions {
  sampleTypes: readonly ValueTypeName[];
  periodType?: ValueTypeName;
  timeNanos: bigint;
  durationNanos?: bigint;
}

export class PprofAssembler {
  private readonly strings: string[] = [""];
  private readonly stringIds = new Map<string, number>([["", 0]]);
  private readonly sampleTypes: ValueTypeRef[];
  private readonly periodType: ValueTypeRef | undefined;
  private readonly valuesPerSample: number;

  // Functions and locations are 1-based ids; function i and location i describe frame i.
  private readonly frameOf = new Map<string, number>();
  private readonly frameName: number[] = [];
  private readonly frameFile: number[] = [];

  private readonly sampleLocationStart: number[] = [0];
  private readonly sampleLocations: number[] = [];
  private readonly sampleValues: number[] = [];
  private readonly sampleLabelStart: number[] = [0];
  private readonly labelKey: number[] = [];
  private readonly labelStr: number[] = [];

  constructor(private readonly opts: AssemblerOptions) {
    const ref = ([type, unit]: ValueTypeName): ValueTypeRef => ({ type: this.string(type), unit: this.string(unit) });
    this.sampleTypes = opts.sampleTypes.map(ref);
    this.periodType = opts.periodType ? ref(opts.periodType) : undefined;
    this.valuesPerSample = opts.sampleTypes.length;
  }

  get sampleCount(): number {
    return this.sampleLocationStart.length - 1;
  }

  string(s: string): number {
    let id = this.stringIds.get(s);
    if (id === undefined) {
      id = this.strings.length;
      this.strings.push(s);
      this.stringIds.set(s, id);
    }
    return id;
  }

  /** The location position of a frame, created on first use; `file` tells apart equal names. */
  frame(name: string, file = ""): number {
    const key = file === "" ? name : `${name}\u0000${file}`;
    let pos = this.frameOf.get(key);
    if (pos === undefined) {
      pos = this.frameName.length;
      this.frameName.push(this.string(name));
      this.frameFile.push(this.string(file));
      this.frameOf.set(key, pos);
    }
    return pos;
  }

  /**
   * One sample: `frames` are location positions from `frame()`, leaf first as in pprof; `values`
   * has one value per sample type; `labels` become pprof sample labels.
   */
  sample(frames: ArrayLike<number>, values: ArrayLike<number>, labels: Labels = []): void {
    if (values.length !== this.valuesPerSample) {
      throw new Error(`PprofAssembler: ${values.length} values for ${this.valuesPerSample} sample types`);
    }
    for (let i = 0; i < frames.length; i++) this.sampleLocations.push(frames[i]);
    this.sampleLocationStart.push(this.sampleLocations.length);
    for (let i = 0; i < values.length; i++) this.sampleValues.push(values[i]);
    for (const [k, v] of labels) {
      this.labelKey.push(this.string(k));
      this.labelStr.push(this.string(v));
    }
    this.sampleLabelStart.push(this.labelKey.length);
  }

  /** A sample from frame names, root first (the folded-text order). */
  stack(rootFirst: readonly string[], values: ArrayLike<number>, labels?: Labels): void {
    const frames = new Int32Array(rootFirst.length);
    for (let i = 0; i < rootFirst.length; i++) frames[rootFirst.length - 1 - i] = this.frame(rootFirst[i]);
    this.sample(frames, values, labels);
  }

  finish(): PprofProfile {
    const n = this.frameName.length;
    const ids = Float64Array.from({ length: n }, (_, i) => i + 1);
    const valueStart = Int32Array.from({ length: this.sampleCount + 1 }, (_, i) => i * this.valuesPerSample);
    return {
      strings: this.strings,
      invalidUtf8: undefined,
      sampleTypes: this.sampleTypes,
      periodType: this.periodType,
      timeNanos: this.opts.timeNanos,
      durationNanos: this.opts.durationNanos ?? 0n,
      sampleLocationStart: Int32Array.from(this.sampleLocationStart),
      sampleLocations: Int32Array.from(this.sampleLocations),
      sampleValueStart: valueStart,
      sampleValues: Float64Array.from(this.sampleValues),
      sampleLabelStart: Int32Array.from(this.sampleLabelStart),
      labelKey: Int32Array.from(this.labelKey),
      labelStr: Int32Array.from(this.labelStr),
      labelNumUnit: new Int32Array(this.labelKey.length),
      mappingId: new Float64Array(0),
      mappingStart: new BigUint64Array(0),
      mappingLimit: new BigUint64Array(0),
      mappingOffset: new BigUint64Array(0),
      mappingFile: new Int32Array(0),
      mappingBuildId: new Int32Array(0),
      mappingFlags: new Int32Array(0),
      locationId: ids,
      locationMappingId: new Float64Array(n),
      locationAddress: new BigUint64Array(n),
      locationLineStart: Int32Array.from({ length: n + 1 }, (_, i) => i),
      lineFunctionId: ids,
      lineNumber: new Float64Array(n),
      functionId: ids,
      functionName: Int32Array.from(this.frameName),
      functionSystemName: Int32Array.from(this.frameName),
      functionFile: Int32Array.from(this.frameFile),
      functionStartLine: new Float64Array(n),
    };
  }
}
