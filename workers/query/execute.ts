// Runs one query task: plan from the catalog, ask the ingesters for what is not flushed yet, then
// fan the flushed blocks out over the merger Durable Objects and collect their partial results.
// The ingesters answer before the catalog is read: a flush that commits in between is then seen
// by the catalog read, and the ingesters name the block their answer already covers.
// (Results cross Durable Object RPC, whose types widen tuples to arrays: hence the casts back.)

import type { Config } from "../config";
import type { Env } from "../env";
import { fnv1a32 } from "../route/hash";
import { ingesterName } from "../route/shard";
import { blocksFor, type BlockRef, ingestersOf, matchingServices, seriesFor } from "./plan";
import { compileMatcher, matchesLabels } from "./selector";
import { addStats, emptyStats, type Partial, type QuerySpec, type ReadStats, type Task } from "./spec";

export interface QueryOutcome {
  partials: Partial[];
  stats: ReadStats;
  /** The flushed blocks the query read (after planning), for AnalyzeQuery. */
  blocks: BlockRef[];
  ingesters: number;
}

export async function execute(env: Env, config: Config, spec: QuerySpec, task: Task): Promise<QueryOutcome> {
  const matchers = spec.matchers.map((m) => compileMatcher(m.name, m.op, m.value));
  const stats = emptyStats();
  const services = await matchingServices(env.DB, spec.tenant, matchers);
  if (services !== null && services.length === 0) return { partials: [], stats, blocks: [], ingesters: 0 };

  const refs = await ingestersOf(env.DB, spec.tenant, services);
  const buffered = await Promise.all(
    refs.map((r) => env.INGESTER.get(env.INGESTER.idFromName(ingesterName(spec.tenant, r.service, r.shard))).query(spec, task)),
  );
  const partials: Partial[] = [];
  const covered = new Set<string>();
  for (const b of buffered) {
    partials.push(b.partial as Partial);
    addStats(stats, b.stats);
    if (b.covered) covered.add(b.covered);
  }

  if (task.kind === "labels") {
    const flushed = await seriesFor(env.DB, spec.tenant, services, spec.startMs, spec.endMs);
    const series = flushed.filter((e) => {
      if (spec.profileType !== null && e.profileType !== spec.profileType) return false;
      return matchesLabels(matchers, (name) => e.labels.find(([n]) => n === name)?.[1]);
    });
    partials.push({ kind: "labels", series });
    return { partials, stats, blocks: [], ingesters: refs.length };
  }

  // Stepped tasks bucket the SelectSeries way, whose first bucket starts one step before the start.
  const readStart = "stepMs" in task ? spec.startMs - task.stepMs : spec.startMs;
  const blocks = await blocksFor(env.DB, spec.tenant, spec.profileType, services, readStart, spec.endMs, covered);
  const groups = new Map<number, BlockRef[]>();
  const fanout = Math.max(1, Math.floor(config.MERGE_FANOUT));
  for (const b of blocks) {
    const slot = fnv1a32(b.id) % fanout;
    const g = groups.get(slot);
    if (g) g.push(b);
    else groups.set(slot, [b]);
  }
  const merged = await Promise.all(
    [...groups].map(([slot, group]) => env.MERGER.get(env.MERGER.idFromName(`${spec.tenant}/${slot}`)).run(spec, task, group)),
  );
  for (const m of merged) {
    partials.push(m.partial as Partial);
    addStats(stats, m.stats);
  }
  return { partials, stats, blocks, ingesters: refs.length };
}

/** The flushed blocks a selection would read (AnalyzeQuery): planning only, nothing is read. */
export async function planBlocks(env: Env, spec: QuerySpec): Promise<BlockRef[]> {
  const matchers = spec.matchers.map((m) => compileMatcher(m.name, m.op, m.value));
  const services = await matchingServices(env.DB, spec.tenant, matchers);
  if (services !== null && services.length === 0) return [];
  return blocksFor(env.DB, spec.tenant, spec.profileType, services, spec.startMs, spec.endMs, new Set());
}
