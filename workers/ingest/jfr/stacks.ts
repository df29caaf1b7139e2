// Stack traces: constant pool keys → interned stacks of frame names. A chunk's keys mean nothing
// outside it, so each chunk gets a StackResolver with its own caches, while the FrameTable that
// interns frame names and stacks spans the whole recording: equal stacks from different chunks
// become one stack. Each key is decoded once, on the first event that refers to it.

import type { Metadata } from "./metadata";
import type { PoolIndex } from "./constants";
import { frameName } from "./names";
import { type JfrReader, malformed } from "./reader";
import { type Layout, type Layouts, Kind, Plan, skipField } from "./values";

export const CLASS = "java.lang.Class";
export const METHOD = "jdk.types.Method";
export const STACK_TRACE = "jdk.types.StackTrace";
export const STRING = "java.lang.String";
export const SYMBOL = "jdk.types.Symbol";
export const THREAD_STATE = "jdk.types.ThreadState";

/** Interned frame names and stacks (frame ids, leaf first) of one recording. */
export class FrameTable {
  readonly names: string[] = [];
  readonly stacks: Int32Array[] = [];
  private readonly nameIds = new Map<string, number>();
  /** Stack hash → the newest stack with that hash; older ones chain through `sameHash`. */
  private readonly stackIds = new Map<number, number>();
  private readonly sameHash: number[] = [];

  frame(name: string): number {
    let id = this.nameIds.get(name);
    if (id === undefined) {
      id = this.names.length;
      this.names.push(name);
      this.nameIds.set(name, id);
    }
    return id;
  }

  stack(frames: Int32Array): number {
    // FNV-1a over the frame ids: cheaper than a string key, and collisions are compared away.
    let hash = 0x811c9dc5;
    for (let i = 0; i < frames.length; i++) hash = Math.imul(hash ^ frames[i], 0x01000193);
    const newest = this.stackIds.get(hash) ?? -1;
    for (let id = newest; id >= 0; id = this.sameHash[id]) {
      if (sameFrames(this.stacks[id], frames)) return id;
    }
    const id = this.stacks.length;
    this.stacks.push(frames.slice());
    this.sameHash.push(newest);
    this.stackIds.set(hash, id);
    return id;
  }
}

function sameFrames(a: Int32Array, b: Int32Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Thread states as the profile mapping needs them. */
export const enum ThreadState {
  /** The key is not in the pool: Pyroscope then records no CPU sample. */
  Unknown,
  Sleeping,
  Runnable,
  Other,
}

const NO_FRAME = -1;
/** A stack key that is not in the pool: the event is dropped, as Pyroscope drops it. */
export const NO_STACK = -1;

/** Resolves one chunk's stack trace and thread state keys. */
export class StackResolver {
  private readonly stacksByKey = new Map<number, number>();
  private readonly framesByMethod = new Map<number, number>();
  private readonly symbols = new Map<number, string>();
  private readonly states = new Map<number, ThreadState>();
  private readonly method: Plan | undefined;
  private readonly cls: Plan | undefined;
  private readonly symbol: Plan | undefined;
  private readonly state: Plan | undefined;
  private readonly stackTrace: Layout | undefined;
  private stackFrame: Plan | undefined;
  private readonly strings: Map<number, number> | undefined;
  /** Method keys of the stack being resolved, then its frame ids. */
  private methodKeys = new Float64Array(64);
  private frameIds = new Int32Array(64);

  constructor(
    /** A reader of its own: resolution happens while the event reader is mid-event. */
    private readonly r: JfrReader,
    private readonly end: number,
    metadata: Metadata,
    layouts: Layouts,
    private readonly pools: PoolIndex,
    private readonly table: FrameTable,
  ) {
    const layout = (name: string) => {
      const c = metadata.byName.get(name);
      return c && layouts.of(c);
    };
    const plan = (name: string, integers: Record<string, number>, strings?: Record<string, number>) => {
      const l = layout(name);
      return l && new Plan(l, integers, strings);
    };
    this.method = plan(METHOD, { type: 0, name: 1 });
    this.cls = plan(CLASS, { name: 0 });
    this.symbol = plan(SYMBOL, {}, { string: 0 });
    this.state = plan(THREAD_STATE, {}, { name: 0 });
    this.stackTrace = layout(STACK_TRACE);
    const stringClass = metadata.byName.get(STRING);
    this.strings = stringClass && pools.get(stringClass.id);
  }

  /** The FrameTable stack of a stack trace key, or NO_STACK. */
  stack(key: number): number {
    let id = this.stacksByKey.get(key);
    if (id === undefined) {
      id = this.decodeStack(key);
      this.stacksByKey.set(key, id);
    }
    return id;
  }

  threadState(key: number): ThreadState {
    let s = this.states.get(key);
    if (s === undefined) {
      s = ThreadState.Unknown;
      if (this.state && this.seek(this.state.layout, key)) {
        this.state.read(this.r, this.pooledString);
        const name = this.state.str[0];
        s = name === "STATE_SLEEPING" ? ThreadState.Sleeping : name === "STATE_RUNNABLE" ? ThreadState.Runnable : ThreadState.Other;
      }
      this.states.set(key, s);
    }
    return s;
  }

  /** Positions the pool reader at the value of `key` in the pool of the layout's class. */
  private seek(layout: Layout, key: number): boolean {
    const at = this.pools.get(layout.cls.id)?.get(key);
    if (at === undefined) return false;
    this.r.at(at, this.end);
    return true;
  }

  private decodeStack(key: number): number {
    const layout = this.stackTrace;
    if (!layout || !this.seek(layout, key)) return NO_STACK;
    const r = this.r;
    let depth = 0;
    for (const f of layout.fields) {
      if (f.name !== "frames" || !f.array || f.kind !== Kind.Struct) {
        skipField(r, f);
        continue;
      }
      const n = r.count("stack frame", Math.max(1, f.minBytes));
      if (depth + n > this.methodKeys.length) {
        const grown = new Float64Array(depth + n);
        grown.set(this.methodKeys.subarray(0, depth));
        this.methodKeys = grown;
      }
      const frame = this.framePlan(f.struct!);
      for (let i = 0; i < n; i++) {
        frame.read(r, this.pooledString);
        this.methodKeys[depth++] = r.keyOf(frame.hi[0], frame.lo[0]);
      }
    }
    // Frames whose method or class is unknown are left out, as Pyroscope leaves them out.
    if (depth > this.frameIds.length) this.frameIds = new Int32Array(depth);
    let kept = 0;
    for (let i = 0; i < depth; i++) {
      const id = this.frame(this.methodKeys[i]);
      if (id !== NO_FRAME) this.frameIds[kept++] = id;
    }
    return this.table.stack(this.frameIds.subarray(0, kept));
  }

  /**
   * The plan that reads a stack frame's method key into slot 0 (a frame class without `method`
   * reads as key 0, which writers never give a method, and the frame is left out).
   */
  private framePlan(layout: Layout): Plan {
    if (this.stackFrame?.layout !== layout) this.stackFrame = new Plan(layout, { method: 0 });
    return this.stackFrame;
  }

  private frame(methodKey: number): number {
    let id = this.framesByMethod.get(methodKey);
    if (id !== undefined) return id;
    id = NO_FRAME;
    const method = this.method;
    const cls = this.cls;
    if (method && cls && this.seek(method.layout, methodKey)) {
      method.read(this.r, this.pooledString);
      const classKey = this.r.keyOf(method.hi[0], method.lo[0]);
      const nameKey = this.r.keyOf(method.hi[1], method.lo[1]);
      if (this.seek(cls.layout, classKey)) {
        cls.read(this.r, this.pooledString);
        const classSymbol = this.symbolString(this.r.keyOf(cls.hi[0], cls.lo[0]));
        id = this.table.frame(frameName(classSymbol, this.symbolString(nameKey)));
      }
    }
    this.framesByMethod.set(methodKey, id);
    return id;
  }

  /** A symbol's text; "" for a key that is not in the pool. */
  private symbolString(key: number): string {
    let s = this.symbols.get(key);
    if (s === undefined) {
      s = "";
      if (this.symbol && this.seek(this.symbol.layout, key)) {
        this.symbol.read(this.r, this.pooledString);
        s = this.symbol.str[0];
      }
      this.symbols.set(key, s);
    }
    return s;
  }

  /**
   * Resolves references to the string constant pool, for any reader: a pooled string may not refer
   * to the pool again.
   */
  readonly pooledString = (key: number): string => {
    const at = this.strings?.get(key);
    if (at === undefined) return "";
    const r = this.r;
    const saved = r.pos;
    r.at(at, this.end);
    const s = r.string(() => {
      throw malformed(`string constant ${key} refers to another string constant`);
    });
    r.pos = saved;
    return s;
  };
}
