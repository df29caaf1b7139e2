// The event stream of one chunk. Every event is `size, type id, fields`; the events that become
// profiles (those Pyroscope's Java agent records, spec API.md §1.5.7) are read through plans that
// capture only their stack trace, thread state, value and correlation fields, and are handed on
// one at a time in a single reused record, so no event ever becomes an object of its own. All
// other events, and the metadata and checkpoint events, are skipped by their declared size.

import { CHUNK_HEADER_BYTES, type ChunkHeader } from "./chunk";
import type { LabelSets } from "./labels";
import type { Metadata } from "./metadata";
import { type JfrReader, malformed } from "./reader";
import { NO_STACK, type StackResolver, ThreadState } from "./stacks";
import { type Layouts, Plan } from "./values";

export const enum EventType {
  ExecutionSample,
  WallClockSample,
  AllocInNewTlab,
  AllocOutsideTlab,
  AllocSample,
  MonitorEnter,
  ThreadPark,
  LiveObject,
  Malloc,
}

/** Event class → its type and the field that carries its value (a count, size or duration). */
const SAMPLE_EVENTS: Record<string, [EventType, string]> = {
  "jdk.ExecutionSample": [EventType.ExecutionSample, ""],
  "profiler.WallClockSample": [EventType.WallClockSample, "samples"],
  "jdk.ObjectAllocationInNewTLAB": [EventType.AllocInNewTlab, "tlabSize"],
  "jdk.ObjectAllocationOutsideTLAB": [EventType.AllocOutsideTlab, "allocationSize"],
  "jdk.ObjectAllocationSample": [EventType.AllocSample, "weight"],
  "jdk.JavaMonitorEnter": [EventType.MonitorEnter, "duration"],
  "jdk.ThreadPark": [EventType.ThreadPark, "duration"],
  "profiler.LiveObject": [EventType.LiveObject, ""],
  "profiler.Malloc": [EventType.Malloc, "size"],
};
const ACTIVE_SETTING = "jdk.ActiveSetting";

// Capture slots.
const STACK = 0;
const STATE = 1;
const VALUE = 2;
const CONTEXT = 3;
const SPAN = 4;
const SPAN_NAME = 5;
const SETTING_EVENT = 0;
const SETTING_NAME = 0;
const SETTING_VALUE = 1;

/** One decoded sample event; the same object is refilled for every event. */
export interface JfrEvent {
  type: EventType;
  /** A FrameTable stack (never NO_STACK: events without a known stack are dropped). */
  stack: number;
  state: ThreadState;
  /** The value field (count, bytes or duration ticks); 0 when the event has none. */
  value: number;
  /** A LabelSets index. */
  labels: number;
}

export interface EventSink {
  sample(e: JfrEvent): void;
  /**
   * A jdk.ActiveSetting event, in recording order; `of` is the sample event type the setting
   * belongs to, if any (recording-wide settings belong to jdk.ActiveRecording).
   */
  setting(of: EventType | undefined, name: string, value: string): void;
}

interface SamplePlan {
  type: EventType;
  plan: Plan;
}

/** Reads every event of a chunk into `sink`. */
export function readEvents(
  r: JfrReader,
  chunk: ChunkHeader,
  metadata: Metadata,
  layouts: Layouts,
  stacks: StackResolver,
  labels: LabelSets,
  sink: EventSink,
): void {
  const plans = new Map<number, SamplePlan>();
  const typeOf = new Map<number, EventType>();
  for (const [name, [type, valueField]] of Object.entries(SAMPLE_EVENTS)) {
    const cls = metadata.byName.get(name);
    if (!cls) continue;
    const integers: Record<string, number> = { stackTrace: STACK, state: STATE, contextId: CONTEXT, spanId: SPAN, spanName: SPAN_NAME };
    if (valueField !== "") integers[valueField] = VALUE;
    plans.set(cls.id, { type, plan: new Plan(layouts.of(cls), integers) });
    typeOf.set(cls.id, type);
  }
  const settingClass = metadata.byName.get(ACTIVE_SETTING);
  const setting = settingClass && new Plan(layouts.of(settingClass), { id: SETTING_EVENT }, { name: SETTING_NAME, value: SETTING_VALUE });

  const event: JfrEvent = { type: EventType.ExecutionSample, stack: NO_STACK, state: ThreadState.Unknown, value: 0, labels: 0 };
  const correlation = { contextHi: 0, contextLo: 0, spanHi: 0, spanLo: 0, spanNameHi: 0, spanNameLo: 0 };

  for (let at = chunk.start + CHUNK_HEADER_BYTES; at < chunk.end; ) {
    r.at(at, chunk.end);
    const size = r.size();
    if (size <= 0 || size > chunk.end - at) throw malformed(`event at byte ${at} declares ${size} bytes; the chunk has ${chunk.end - at} left`);
    const start = at;
    const end = at + size;
    r.end = end;
    const type = r.key();
    at = end;

    const sample = plans.get(type);
    if (sample) {
      const p = sample.plan;
      p.read(r, stacks.pooledString);
      checkSize(r, start, size);
      const stack = stacks.stack(r.keyOf(p.hi[STACK], p.lo[STACK]));
      if (stack === NO_STACK) continue;
      event.type = sample.type;
      event.stack = stack;
      event.state = sample.type === EventType.ExecutionSample || sample.type === EventType.WallClockSample ? stacks.threadState(r.keyOf(p.hi[STATE], p.lo[STATE])) : ThreadState.Unknown;
      // Durations are in ticks of the chunk's clock. Pyroscope reports them as nanoseconds
      // unscaled (its expected outputs for recordings ticking at 2.8 GHz hold tick counts), and
      // so do we, so that both store the same values.
      event.value = p.number(VALUE);
      correlation.contextHi = p.hi[CONTEXT];
      correlation.contextLo = p.lo[CONTEXT];
      correlation.spanHi = p.hi[SPAN];
      correlation.spanLo = p.lo[SPAN];
      correlation.spanNameHi = p.hi[SPAN_NAME];
      correlation.spanNameLo = p.lo[SPAN_NAME];
      event.labels = labels.intern(correlation);
      sink.sample(event);
    } else if (setting && type === setting.layout.cls.id) {
      setting.read(r, stacks.pooledString);
      checkSize(r, start, size);
      const of = setting.hi[SETTING_EVENT] === 0 ? typeOf.get(setting.lo[SETTING_EVENT]) : undefined;
      sink.setting(of, setting.str[SETTING_NAME], setting.str[SETTING_VALUE]);
    }
  }
}

/** A decoded event must fill its declared size exactly: a mismatch means a lying size field. */
function checkSize(r: JfrReader, start: number, size: number): void {
  if (r.pos !== r.end) throw malformed(`event at byte ${start} declares ${size} bytes but its fields take ${r.pos - start}`);
}
