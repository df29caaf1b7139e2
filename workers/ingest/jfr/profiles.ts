// JFR events → one pprof per kind of profile (spec API.md §1.5.7 table, §1.6.2 labels), as
// Pyroscope's jfr-parser builds them. Samples are summed per (stack, label set) while events
// stream in; the pprof tables are built once at the end, from interned stacks and label sets.

import { PprofAssembler, type AssembledProfile, type ValueTypeName } from "../assemble";
import { type Labels, METRIC_NAME, SERVICE_NAME, SESSION_ID } from "../labels";
import { type EventSink, EventType, type JfrEvent } from "./events";
import type { LabelSets } from "./labels";
import { type FrameTable, ThreadState } from "./stacks";

const enum Profile {
  Cpu,
  Wall,
  AllocInNewTlab,
  AllocOutsideTlab,
  AllocSample,
  Lock,
  ThreadPark,
  Live,
  Malloc,
}

interface ProfileSpec {
  metric: string;
  sampleTypes: ValueTypeName[];
  periodType?: ValueTypeName;
  /** Values are sample counts until the chunk ends, each then worth the chunk's sampling period. */
  sampled?: boolean;
}

const SPECS: Record<Profile, ProfileSpec> = {
  [Profile.Cpu]: { metric: "process_cpu", sampleTypes: [["cpu", "nanoseconds"]], periodType: ["cpu", "nanoseconds"], sampled: true },
  [Profile.Wall]: { metric: "wall", sampleTypes: [["wall", "nanoseconds"]], periodType: ["wall", "nanoseconds"], sampled: true },
  [Profile.AllocInNewTlab]: {
    metric: "memory",
    sampleTypes: [["alloc_in_new_tlab_objects", "count"], ["alloc_in_new_tlab_bytes", "bytes"]],
    periodType: ["space", "bytes"],
  },
  [Profile.AllocOutsideTlab]: {
    metric: "memory",
    sampleTypes: [["alloc_outside_tlab_objects", "count"], ["alloc_outside_tlab_bytes", "bytes"]],
    periodType: ["space", "bytes"],
  },
  [Profile.AllocSample]: {
    metric: "memory",
    sampleTypes: [["alloc_sample_objects", "count"], ["alloc_sample_bytes", "bytes"]],
    periodType: ["space", "bytes"],
  },
  [Profile.Lock]: { metric: "mutex", sampleTypes: [["contentions", "count"], ["delay", "nanoseconds"]], periodType: ["mutex", "count"] },
  [Profile.ThreadPark]: { metric: "block", sampleTypes: [["contentions", "count"], ["delay", "nanoseconds"]], periodType: ["block", "count"] },
  [Profile.Live]: { metric: "memory", sampleTypes: [["live", "count"]], periodType: ["objects", "count"] },
  [Profile.Malloc]: { metric: "memory", sampleTypes: [["malloc_objects", "count"], ["malloc_bytes", "bytes"]] },
};

/** Event type → the profile its (count, value) pair goes to, for the events that map one to one. */
const COUNTED: Partial<Record<EventType, Profile>> = {
  [EventType.AllocInNewTlab]: Profile.AllocInNewTlab,
  [EventType.AllocOutsideTlab]: Profile.AllocOutsideTlab,
  [EventType.AllocSample]: Profile.AllocSample,
  [EventType.MonitorEnter]: Profile.Lock,
  [EventType.ThreadPark]: Profile.ThreadPark,
  [EventType.Malloc]: Profile.Malloc,
};

/** The `event` setting that makes execution samples wall-clock samples. */
const WALL_EVENT = "wall";
/** Profiling modes whose sampling `interval` is a time in nanoseconds. */
const TIMED_EVENTS = new Set(["cpu", "itimer", "wall"]);
/** Pyroscope's default sampleRate (100 Hz) as a period. */
const DEFAULT_PERIOD_NANOS = 10_000_000;
/** Nanoseconds per unit of the JDK's timespan settings ("10 ms", "20ms", "1 s"). */
const TIMESPAN_UNITS: Record<string, number> = { ns: 1, us: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9, d: 86400e9 };
const TIMESPAN = /^\s*(\d+)\s*(ns|us|ms|s|m|h|d)\s*$/;

/** A JDK timespan setting in nanoseconds; 0 when it is no positive timespan ("off", "0 ms"). */
function timespanNanos(text: string): number {
  const m = TIMESPAN.exec(text);
  if (!m) return 0;
  const n = Number(m[1]) * TIMESPAN_UNITS[m[2]];
  return Number.isSafeInteger(n) ? n : 0;
}

/** Summed samples of one profile: one per (stack, label set), values in a growable column. */
class Samples {
  readonly stacks: number[] = [];
  readonly labelSets: number[] = [];
  values: Float64Array;
  /** Per label set: stack → sample index. */
  private readonly index: Map<number, number>[] = [];

  constructor(readonly spec: ProfileSpec) {
    this.values = new Float64Array(64 * spec.sampleTypes.length);
  }

  add(stack: number, labelSet: number, v0: number, v1: number): void {
    const width = this.spec.sampleTypes.length;
    const byStack = (this.index[labelSet] ??= new Map());
    let i = byStack.get(stack);
    if (i === undefined) {
      i = this.stacks.length;
      byStack.set(stack, i);
      this.stacks.push(stack);
      this.labelSets.push(labelSet);
      if ((i + 1) * width > this.values.length) {
        const grown = new Float64Array(this.values.length * 2);
        grown.set(this.values);
        this.values = grown;
      }
    }
    this.values[i * width] += v0;
    if (width > 1) this.values[i * width + 1] += v1;
  }
}

/** What the upload's request says about its profiles. */
export interface UploadContext {
  appName: string;
  nameLabels: Labels;
  spyName: string;
  timeNanos: bigint;
  durationNanos: bigint;
}

export class JfrProfiles implements EventSink {
  /** The recording's `event` setting (cpu, itimer, wall, alloc, lock…), as last set. */
  private event = "";
  /** The execution samples' `interval` setting, nanoseconds in the timed modes; 0 = default. */
  private interval = 0;
  /** The execution samples' `period` setting (HotSpot's own recorder) in nanoseconds; 0 = none. */
  private jdkPeriod = 0;
  private readonly profiles: (Samples | undefined)[] = [];
  /** The current chunk's CPU and wall samples as counts, until endChunk() knows their worth. */
  private readonly counted: (Samples | undefined)[] = [];

  constructor(
    private readonly frames: FrameTable,
    private readonly labelSets: LabelSets,
  ) {}

  setting(of: EventType | undefined, name: string, value: string): void {
    if (name === "event") this.event = value;
    else if (of !== EventType.ExecutionSample) return;
    else if (name === "interval") {
      const n = Number(value);
      this.interval = Number.isSafeInteger(n) && n > 0 ? n : 0;
    } else if (name === "period") this.jdkPeriod = timespanNanos(value);
  }

  /**
   * Nanoseconds one CPU or wall sample stands for. Pyroscope takes 1e9/sampleRate from the query
   * string (default 100 Hz). JfrInput carries no rate, but the Java agent sends the rate of the
   * interval it gives async-profiler (1e9/interval, integer division), so that interval gives the
   * same period. HotSpot's own recorder samples every `period` ("10 ms" in its profile settings,
   * "20 ms" in its default ones), and each of its samples stands for that. Without either, the
   * default rate.
   */
  private period(): number {
    const hertz = this.interval > 0 && TIMED_EVENTS.has(this.event) ? Math.floor(1e9 / this.interval) : 0;
    if (hertz > 0) return Math.floor(1e9 / hertz);
    return this.jdkPeriod > 0 ? this.jdkPeriod : DEFAULT_PERIOD_NANOS;
  }

  sample(e: JfrEvent): void {
    switch (e.type) {
      case EventType.ExecutionSample:
        if (e.state !== ThreadState.Unknown && e.state !== ThreadState.Sleeping) this.add(Profile.Cpu, e, 1, 0);
        if (this.event === WALL_EVENT) this.add(Profile.Wall, e, 1, 0);
        return;
      case EventType.WallClockSample:
        if (e.state === ThreadState.Runnable && this.event === WALL_EVENT) this.add(Profile.Cpu, e, e.value, 0);
        this.add(Profile.Wall, e, e.value, 0);
        return;
      case EventType.LiveObject:
        this.add(Profile.Live, e, 1, 0);
        return;
      default:
        this.add(COUNTED[e.type]!, e, 1, e.value);
    }
  }

  private add(profile: Profile, e: JfrEvent, v0: number, v1: number): void {
    const spec = SPECS[profile];
    const samples = spec.sampled ? (this.counted[profile] ??= new Samples(spec)) : (this.profiles[profile] ??= new Samples(spec));
    samples.add(e.stack, e.labels, v0, v1);
  }

  /**
   * Values the chunk's sample counts at its sampling period. A chunk's settings hold for all of
   * its events, wherever they lie in it (threads flush their buffers in any order), and carry on
   * into the next chunks until those set them anew.
   */
  endChunk(): void {
    const period = this.period();
    for (let p = 0; p < this.counted.length; p++) {
      const counts = this.counted[p];
      if (!counts) continue;
      const into = (this.profiles[p] ??= new Samples(counts.spec));
      for (let i = 0; i < counts.stacks.length; i++) into.add(counts.stacks[i], counts.labelSets[i], counts.values[i] * period, 0);
    }
    this.counted.length = 0;
  }

  /** One profile per kind that got samples, with its series labels. */
  finish(ctx: UploadContext): AssembledProfile[] {
    const out: AssembledProfile[] = [];
    for (const samples of this.profiles) {
      if (!samples) continue;
      out.push({ labels: this.seriesLabels(ctx, samples.spec.metric), profile: this.assemble(samples, ctx) });
    }
    return out;
  }

  private assemble(samples: Samples, ctx: UploadContext) {
    const { spec } = samples;
    const a = new PprofAssembler({ sampleTypes: spec.sampleTypes, periodType: spec.periodType, timeNanos: ctx.timeNanos, durationNanos: ctx.durationNanos });
    // FrameTable frame id → the assembler's location position, filled on first use.
    const locations = new Int32Array(this.frames.names.length).fill(-1);
    const width = spec.sampleTypes.length;
    let frames = new Int32Array(64);
    for (let i = 0; i < samples.stacks.length; i++) {
      const stack = this.frames.stacks[samples.stacks[i]];
      if (stack.length > frames.length) frames = new Int32Array(stack.length);
      for (let f = 0; f < stack.length; f++) {
        let loc = locations[stack[f]];
        if (loc < 0) loc = locations[stack[f]] = a.frame(this.frames.names[stack[f]]);
        frames[f] = loc;
      }
      a.sample(frames.subarray(0, stack.length), samples.values.subarray(i * width, (i + 1) * width), this.labelSets.sets[samples.labelSets[i]]);
    }
    return a.finish();
  }

  /** §1.6.2: `name` labels (no reserved ones), spy, JFR event, metric and service. */
  private seriesLabels(ctx: UploadContext, metric: string): Labels {
    const labels: Labels = ctx.nameLabels.filter(([n]) => !n.startsWith("__") || n === SESSION_ID);
    const hasService = labels.some(([n]) => n === SERVICE_NAME);
    labels.push(["pyroscope_spy", ctx.spyName], [METRIC_NAME, metric], [hasService ? "app_name" : SERVICE_NAME, ctx.appName]);
    if (this.event !== "") labels.push(["jfr_event", this.event]);
    return labels;
  }
}
