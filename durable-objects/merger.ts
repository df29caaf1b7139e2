// A query sub-invocation: merges a group of flushed blocks into one compact partial result. The
// query Worker spreads a query's blocks over MERGE_FANOUT of these objects by a hash of the block
// id, so each runs with its own CPU budget in parallel, and the same block always lands on the
// same object: its decoded sections stay cached in that object's isolate (block-cache.ts, bounded
// by QUERY_CACHE_BYTES per isolate) and a repeated query skips R2, inflating and decoding.

import { DurableObject } from "cloudflare:workers";
import { type Config, loadConfig } from "../workers/config";
import type { Env } from "../workers/env";
import { accumulatorFor } from "../workers/query/evaluate";
import type { BlockRef } from "../workers/query/plan";
import type { PartialResult, QuerySpec, Task } from "../workers/query/spec";
import { BlockCache } from "../workers/query/block-cache";
import { type BlockView, type Depth, viewOfObject } from "../workers/query/view";

const cache = new BlockCache();

/**
 * Blocks being read and decoded in this isolate, by key and depth: concurrent queries over the
 * same blocks (a dashboard's panels, a burst) share one read and one decoded copy instead of each
 * decoding its own before the first reaches the cache.
 */
const loading = new Map<string, Promise<Loaded | null>>();

/** Blocks fetched ahead of the one being merged: hides R2 latency, bounds memory. */
const PREFETCH = 4;

/**
 * Runs merging at once in this isolate, whichever objects and queries they belong to; the others
 * wait their turn holding only their request. What a run holds (its partial result and up to
 * PREFETCH decoded blocks) then adds up to this many times that at most, however many queries
 * arrive from however many Worker isolates; the CPU is one thread either way.
 */
const ACTIVE_RUNS = 4;
let active = 0;
const waiting: (() => void)[] = [];

async function turn(): Promise<void> {
  if (active < ACTIVE_RUNS) {
    active++;
    return;
  }
  // The finishing run hands its place over (active stays the same).
  await new Promise<void>((resolve) => waiting.push(resolve));
}

function endTurn(): void {
  const next = waiting.shift();
  if (next) next();
  else active--;
}

interface Loaded {
  view: BlockView;
  /** Whether the cache holds it (its memory is then counted there). */
  cached: boolean;
}

export class Merger extends DurableObject<Env> {
  private readonly config: Config;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.config = loadConfig(env);
  }

  async run(spec: QuerySpec, task: Task, blocks: BlockRef[]): Promise<PartialResult> {
    await turn();
    try {
      return await this.merge(spec, task, blocks);
    } finally {
      endTurn();
    }
  }

  private async merge(spec: QuerySpec, task: Task, blocks: BlockRef[]): Promise<PartialResult> {
    const acc = accumulatorFor(task, spec);
    const pending: Promise<Loaded | null>[] = [];
    let next = 0;
    const fill = () => {
      while (next < blocks.length && pending.length < PREFETCH) pending.push(this.view(blocks[next++], acc.depth, acc.stats));
    };
    fill();
    let peak = 0;
    while (pending.length > 0) {
      const loaded = await pending.shift()!;
      fill();
      if (!loaded) continue;
      acc.add(loaded.view);
      acc.stats.blocks++;
      peak = Math.max(peak, cache.bytes + (loaded.cached ? 0 : loaded.view.memoryBytes) + acc.memoryBytes());
    }
    acc.stats.invocations = 1;
    acc.stats.peakBytes = peak;
    return { partial: acc.result(), stats: acc.stats };
  }

  private async view(b: BlockRef, depth: Depth, stats: { bytesRead: number }): Promise<Loaded | null> {
    const hit = cache.get(b.objectKey, depth);
    if (hit) return { view: hit, cached: true };
    const key = `${depth}\u0000${b.objectKey}`;
    const pending = loading.get(key);
    // Shared with the run that reads it, which counts its bytes. A failed read (a transient R2
    // error) fails only the run that made it: the others read the block again themselves.
    if (pending) return pending.catch(() => this.view(b, depth, stats));
    const load = this.load(b, depth, stats);
    loading.set(key, load);
    try {
      return await load;
    } finally {
      loading.delete(key);
    }
  }

  private async load(b: BlockRef, depth: Depth, stats: { bytesRead: number }): Promise<Loaded | null> {
    const view = await viewOfObject(this.env.BLOCKS, b.objectKey, b.service, depth);
    if (!view) {
      console.warn(`merger: block ${b.id} (${b.objectKey}) is in the catalog but not in R2; skipped`);
      return null;
    }
    stats.bytesRead += view.bytesRead;
    return { view, cached: cache.put(b.objectKey, view, depth, this.config.QUERY_CACHE_BYTES) };
  }
}
