// Per-sample labels of a JFR upload (spec API.md §1.5.7): the event's contextId selects a context
// of the LabelsSnapshot the agent uploads next to the recording, whose string-id pairs become
// sample labels; a span id adds `profile_id` (16 hex digits) and a span name `span_name`. Label
// sets are interned: events refer to one by index, and each distinct set is built once.

import { create, fromBinary } from "@bufbuild/protobuf";
import { type LabelsSnapshot, LabelsSnapshotSchema } from "../../gen/jfr/v1/labels_pb";
import { invalid } from "../errors";
import type { Labels } from "../labels";

const PROFILE_ID = "profile_id";
const SPAN_NAME = "span_name";
/** High halves below 2^21 keep hi·2^32 + lo an exact double. */
const SAFE_HI = 0x200000;

/**
 * The snapshot of an upload; without one, an empty snapshot (as Pyroscope does: span ids still
 * become labels then).
 */
export function decodeLabelsSnapshot(bytes: Uint8Array | undefined): LabelsSnapshot {
  if (bytes === undefined) return create(LabelsSnapshotSchema);
  try {
    return fromBinary(LabelsSnapshotSchema, bytes);
  } catch (err) {
    throw invalid("malformed_profile", `invalid JFR labels: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** The correlation fields of one event, as 32-bit halves (zero when the event has none). */
export interface Correlation {
  contextHi: number;
  contextLo: number;
  spanHi: number;
  spanLo: number;
  spanNameHi: number;
  spanNameLo: number;
}

export class LabelSets {
  /** Index → sample labels; index 0 is the empty set. */
  readonly sets: Labels[] = [[]];
  private readonly ids = new Map<number | string, number>();

  constructor(private readonly snapshot: LabelsSnapshot) {}

  /** The index of an event's label set. */
  intern(c: Correlation): number {
    const plain = c.spanHi === 0 && c.spanLo === 0 && c.spanNameHi === 0 && c.spanNameLo === 0;
    const key =
      plain && c.contextHi < SAFE_HI
        ? c.contextHi * 4294967296 + c.contextLo
        : `${c.contextHi}:${c.contextLo}:${c.spanHi}:${c.spanLo}:${c.spanNameHi}:${c.spanNameLo}`;
    let id = this.ids.get(key);
    if (id === undefined) {
      const labels = this.build(this.snapshot, c);
      id = labels.length === 0 ? 0 : this.sets.push(labels) - 1;
      this.ids.set(key, id);
    }
    return id;
  }

  private build(snapshot: LabelsSnapshot, c: Correlation): Labels {
    const labels: Labels = [];
    const str = (id: bigint | string) => snapshot.strings[id.toString()] ?? "";
    const context = snapshot.contexts[int64(c.contextHi, c.contextLo)];
    if (context) for (const [k, v] of Object.entries(context.labels)) labels.push([str(k), str(v)]);
    if (c.spanHi !== 0 || c.spanLo !== 0) labels.push([PROFILE_ID, hex32(c.spanHi) + hex32(c.spanLo)]);
    if (c.spanNameHi !== 0 || c.spanNameLo !== 0) {
      const name = str(int64(c.spanNameHi, c.spanNameLo));
      if (name !== "") labels.push([SPAN_NAME, name]);
    }
    return labels;
  }
}

/** A 64-bit value as the decimal map key protobuf uses for an int64. */
function int64(hi: number, lo: number): string {
  if (hi < SAFE_HI) return String(hi * 4294967296 + lo);
  return BigInt.asIntN(64, (BigInt(hi) << 32n) | BigInt(lo)).toString();
}

const hex32 = (n: number) => n.toString(16).padStart(8, "0");
