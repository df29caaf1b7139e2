// Constant pools. Events refer to stack traces, methods, classes, symbols and thread states by
// key; the values live in checkpoint events (type id 1), chained from the chunk header by relative
// offsets. One pass over the chain records where each wanted constant's value starts, nothing
// more: values are decoded only when an event needs them (and then cached by the caller), so a
// recording's constants are never materialized as objects.

import type { ChunkHeader } from "./chunk";
import type { Metadata } from "./metadata";
import { type JfrReader, malformed } from "./reader";
import { type Layouts, skipValue } from "./values";

const CHECKPOINT_EVENT = 1;

/** Per wanted class id: constant key → byte offset of its value. */
export type PoolIndex = Map<number, Map<number, number>>;

/**
 * Walks the chunk's checkpoint chain and indexes the pools of the `wanted` class ids. A pool of a
 * type the metadata does not define makes the recording malformed: its values cannot be skipped.
 */
export function indexConstantPools(r: JfrReader, chunk: ChunkHeader, metadata: Metadata, layouts: Layouts, wanted: Iterable<number>): PoolIndex {
  const index: PoolIndex = new Map();
  for (const id of wanted) index.set(id, new Map());
  const seen = new Set<number>();
  let at = chunk.constantPool;
  for (;;) {
    // Offsets chain backwards; a repeated one would loop forever.
    if (seen.has(at)) throw malformed(`checkpoint chain of chunk at byte ${chunk.start} loops back to byte ${at}`);
    seen.add(at);
    r.at(at, chunk.end);
    const size = r.size();
    if (size <= 0 || size > chunk.end - at) throw malformed(`checkpoint at byte ${at} declares ${size} bytes; the chunk has ${chunk.end - at} left`);
    r.end = at + size;
    if (r.number() !== CHECKPOINT_EVENT) throw malformed(`the constant pool chain reaches byte ${at}, which is not a checkpoint event`);
    r.long(); // start time
    r.long(); // duration
    r.long(); // offset of the next checkpoint in the chain, signed; 0 ends it
    const delta = r.hi > 0x7fffffff ? (r.hi - 4294967296) * 4294967296 + r.lo : r.hi * 4294967296 + r.lo;
    r.u8(); // checkpoint kind (flush, chunk header, statics, thread)
    const pools = r.count("constant pool", 2);
    for (let p = 0; p < pools; p++) {
      const poolAt = r.pos;
      const type = r.key();
      const cls = metadata.classes.get(type);
      if (!cls) throw malformed(`constant pool at byte ${poolAt} has type id ${type}, which the metadata does not define`);
      const layout = layouts.of(cls);
      const entries = index.get(type);
      const n = r.count(`${cls.name} constant`, 1 + layout.minBytes);
      for (let i = 0; i < n; i++) {
        const key = r.key();
        entries?.set(key, r.pos);
        skipValue(r, layout);
      }
    }
    if (r.pos !== r.end) throw malformed(`checkpoint at byte ${at} declares ${size} bytes but its pools take ${r.pos - at}`);
    if (delta === 0) return index;
    at += delta;
    if (at < chunk.start || at >= chunk.end) throw malformed(`checkpoint chain of chunk at byte ${chunk.start} leaves the chunk (byte ${at})`);
  }
}
