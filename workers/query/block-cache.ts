// Decoded block sections kept for repeated queries, least recently used first. One cache per
// isolate, shared by every Merger object the isolate hosts (the runtime may place several in one
// isolate), so QUERY_CACHE_BYTES bounds the isolate's memory rather than each object's. Blocks are
// immutable: an entry is never stale, and a deleted object simply misses.

import type { BlockView, Depth } from "./view";
import { depthCovers } from "./view";

export class BlockCache {
  /** Map keeps insertion order: the first entry is the least recently used. */
  private readonly entries = new Map<string, { view: BlockView; depth: Depth }>();
  private held = 0;

  /** Bytes the cache holds now. */
  get bytes(): number {
    return this.held;
  }

  /** The view of `key` if one at least as deep as `depth` is cached. */
  get(key: string, depth: Depth): BlockView | null {
    const hit = this.entries.get(key);
    if (!hit || !depthCovers(hit.depth, depth)) return null;
    this.entries.delete(key);
    this.entries.set(key, hit);
    return hit.view;
  }

  /** Caches a view unless it would take more than half of `limit`; says whether it did. */
  put(key: string, view: BlockView, depth: Depth, limit: number): boolean {
    if (view.memoryBytes > limit / 2) return false;
    const old = this.entries.get(key);
    if (old) {
      this.held -= old.view.memoryBytes;
      this.entries.delete(key);
    }
    this.entries.set(key, { view, depth });
    this.held += view.memoryBytes;
    for (const [k, v] of this.entries) {
      if (this.held <= limit) break;
      this.entries.delete(k);
      this.held -= v.view.memoryBytes;
    }
    return this.entries.has(key);
  }
}
