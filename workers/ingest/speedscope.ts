// speedscope JSON uploads (spec API.md §1.5.8): sampled and evented profiles, each stored as one
// legacy put (§1.6.3) labelled `profile_name`. Profiles with equal name, type, unit and start
// value are merged first; when more than one remains, the app name gets the unit as its suffix,
// which then picks the profile type (`foo.seconds` → wall, `foo.bytes` → memory).
//
// Where this differs from Pyroscope, on purpose: values are scaled before rounding (Pyroscope
// truncates each weight first, losing what the ×100 was meant to keep); time before an "open"
// event is scaled like all other time (Pyroscope forgets to); merged evented profiles are replayed
// one after the other (Pyroscope concatenates their events, which then fail as out of order); and
// nanoseconds are stored as they are (Pyroscope's 32-bit rate overflows and stores zeros).

import type { AssembledProfile } from "./assemble";
import { invalid } from "./errors";
import { DEFAULT_SAMPLE_RATE, legacyProfile, type LegacyMeta } from "./legacy-labels";
import { StackTree, type StackLimits } from "./stack-tree";

const SCHEMA = "https://www.speedscope.app/file-format-schema.json";

interface UnitRule {
  /** Applied to weights and durations before rounding to integers. */
  multiplier: number;
  /** Replaces a sampleRate of 100 (the default, which is assumed unset): values × multiplier at this rate are samples. */
  sampleRate: number;
}

const UNITS: ReadonlyMap<string, UnitRule> = new Map([
  ["none", { multiplier: 100, sampleRate: 10_000 }],
  ["nanoseconds", { multiplier: 1, sampleRate: 1_000_000_000 }],
  ["microseconds", { multiplier: 100, sampleRate: 100_000_000 }],
  ["milliseconds", { multiplier: 100, sampleRate: 100_000 }],
  ["seconds", { multiplier: 100, sampleRate: 100 }],
  ["bytes", { multiplier: 1, sampleRate: 0 }],
]);

/** Profiles that merge into one put. */
interface Group {
  name: string;
  type: string;
  unit: string;
  startValue: number;
  members: Record<string, unknown>[];
}

/**
 * Every profile is parsed before any is labelled, so a broken one refuses the whole file (422)
 * before an unknown profile type (400) can; nothing is stored either way.
 */
export function decodeSpeedscope(body: Uint8Array, meta: LegacyMeta, limits: StackLimits): AssembledProfile[] {
  const file = object(parseJson(body, limits.MAX_PROFILE_SIZE_BYTES), "the file");
  if (file.$schema !== SCHEMA) throw malformed(`Unknown schema: ${shown(file.$schema ?? "")}`);
  const shared = file.shared == null ? {} : object(file.shared, "shared");
  const frameNames = array(shared.frames ?? [], "shared.frames").map((f, i) => text(object(f, `frame ${i}`).name, `frame ${i} name`));

  const groups = mergeGroups(array(file.profiles ?? [], "profiles"));
  const parsed = groups.map((g) => {
    const rule = UNITS.get(g.unit);
    if (rule === undefined) throw malformed(`invalid profile unit: unknown unit ${g.unit}`);
    const stacks = new StackTree(limits);
    for (const p of g.members) {
      if (g.type === "evented") readEvented(p, g.startValue, frameNames, stacks);
      else if (g.type === "sampled") readSampled(p, frameNames, stacks);
      else throw malformed(`Profile type ${g.type} not supported`);
    }
    stacks.mapValues((w) => Math.round(w * rule.multiplier));
    return { g, rule, stacks };
  });

  const multi = groups.length > 1;
  return parsed.flatMap(({ g, rule, stacks }) =>
    legacyProfile(
      stacks,
      {
        ...meta,
        appName: multi ? `${meta.appName}.${g.unit}` : meta.appName,
        sampleRate: meta.sampleRate === DEFAULT_SAMPLE_RATE ? rule.sampleRate : meta.sampleRate,
      },
      [["profile_name", g.name]],
    ),
  );
}

/**
 * A parsed JSON document takes several times its text's memory, so the text is held to the
 * profile size limit before it is parsed. V8's JSON.parse does not recurse, so nesting depth
 * costs nothing, and nothing below walks the document beyond the schema's fixed levels.
 */
function parseJson(body: Uint8Array, maxBytes: number): unknown {
  if (maxBytes > 0 && body.length > maxBytes) {
    throw invalid("profile_size_limit", `speedscope: the file is ${body.length} bytes, over max_profile_size_bytes (${maxBytes})`);
  }
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(body));
  } catch (e) {
    throw malformed(`not a speedscope JSON file: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** Groups in first-seen order, then stably by start value (Pyroscope sorts by start value). */
function mergeGroups(profiles: unknown[]): Group[] {
  const groups = new Map<string, Group>();
  profiles.forEach((raw, i) => {
    const p = object(raw, `profile ${i}`);
    const g: Group = {
      name: text(p.name, `profile ${i} name`),
      type: text(p.type, `profile ${i} type`),
      unit: text(p.unit, `profile ${i} unit`),
      startValue: num(p.startValue ?? 0, `profile ${i} startValue`),
      members: [p],
    };
    const key = JSON.stringify([g.name, g.type, g.unit, g.startValue]);
    const seen = groups.get(key);
    if (seen) seen.members.push(p);
    else groups.set(key, g);
  });
  return [...groups.values()].sort((a, b) => a.startValue - b.startValue);
}

/** Time between consecutive events goes to the stack open at the time. */
function readEvented(p: Record<string, unknown>, startValue: number, frameNames: string[], into: StackTree): void {
  let last = startValue;
  const open: number[] = [];
  let node = StackTree.ROOT;
  for (const raw of array(p.events ?? [], "events")) {
    const ev = object(raw, "event");
    const at = num(ev.at ?? 0, "event at");
    if (at < last) throw malformed(`Events out of order, ${at} < ${last}`);
    const frame = frameIndex(ev.frame ?? 0, frameNames);
    if (ev.type === "C") {
      if (open.length === 0) throw malformed(`No stack to close at ${at}`);
      // Frames with equal names are the same frame.
      if (frameNames[open[open.length - 1]] !== frameNames[frame]) throw malformed(`Closing non-open frame ${String(ev.frame)}`);
      add(into, node, at - last);
      open.pop();
      node = into.parentOf(node);
    } else if (ev.type === "O") {
      if (open.length > 0) add(into, node, at - last);
      open.push(frame);
      node = into.child(node, frameNames[frame]);
    } else {
      throw malformed(`Unknown event type ${shown(ev.type)}`);
    }
    last = at;
  }
}

function readSampled(p: Record<string, unknown>, frameNames: string[], into: StackTree): void {
  const samples = array(p.samples ?? [], "samples");
  const weights = array(p.weights ?? [], "weights");
  if (samples.length !== weights.length) {
    throw malformed(`Unequal lengths of samples and weights: ${samples.length} != ${weights.length}`);
  }
  samples.forEach((sample, i) => {
    const weight = num(weights[i], "weight");
    if (weight < 0) throw malformed(`Negative weight ${weight}`);
    let node = StackTree.ROOT;
    for (const f of array(sample, "sample")) node = into.child(node, frameNames[frameIndex(f, frameNames)]);
    add(into, node, weight);
  });
}

/** An empty stack (the root) counts nothing. */
function add(into: StackTree, node: number, weight: number): void {
  if (node !== StackTree.ROOT && weight !== 0) into.add(node, weight);
}

function frameIndex(v: unknown, frameNames: string[]): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v >= frameNames.length) {
    throw malformed(`Invalid frame ${typeof v === "string" ? JSON.stringify(v) : shown(v)}`);
  }
  return v;
}

function object(v: unknown, what: string): Record<string, unknown> {
  if (v === null || typeof v !== "object" || Array.isArray(v)) throw malformed(`${what} is not a JSON object`);
  return v as Record<string, unknown>;
}

function array(v: unknown, what: string): unknown[] {
  if (!Array.isArray(v)) throw malformed(`${what} is not a JSON array`);
  return v;
}

function num(v: unknown, what: string): number {
  if (typeof v !== "number" || !Number.isFinite(v)) throw malformed(`${what} is not a number`);
  return v;
}

/** A JSON string field; absent or null means "", as Go's decoder leaves it. */
function text(v: unknown, what: string): string {
  if (v == null) return "";
  if (typeof v !== "string") throw malformed(`${what} is not a string`);
  return v;
}

function malformed(message: string) {
  return invalid("malformed_profile", `speedscope: ${message}`);
}

/**
 * A value for a message: a scalar as itself, anything else by its kind. String() and
 * JSON.stringify() of a deeply nested array recurse past the stack.
 */
function shown(v: unknown): string {
  if (v === null || typeof v !== "object") return String(v);
  return `a JSON ${Array.isArray(v) ? "array" : "object"}`;
}
