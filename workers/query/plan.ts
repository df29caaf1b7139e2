// Planning from the D1 catalog: which services a selector can match, which ingesters may hold
// unflushed data, which blocks overlap the range and hold the profile type, and which series a
// label query sees. Only `service_name` matchers narrow the plan here; every other matcher is
// applied to the series inside each block (their label sets live there, not in D1).

import { and, eq, gte, inArray, lte, type SQL } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { D1_MAX_PARAMS } from "../catalog/write";
import { blocks, blockTypes, ingesters, series } from "../catalog/schema";
import { matchesLabels, type Matcher } from "./selector";
import type { LabelPairs, SeriesEntry } from "./spec";

export interface BlockRef {
  id: string;
  objectKey: string;
  service: string;
  sizeBytes: number;
  /** Profiles and samples of the queried type (of all types for label queries). */
  profiles: number;
  samples: number;
}

export interface IngesterRef {
  service: string;
  shard: number;
}

/** Room left for the IN list after the other bound parameters of a statement. */
const IN_CHUNK = D1_MAX_PARAMS - 10;

async function inChunks<T>(values: string[] | null, run: (filter: string[] | null) => Promise<T[]>): Promise<T[]> {
  if (values === null) return run(null);
  const out: T[] = [];
  for (let i = 0; i < values.length; i += IN_CHUNK) out.push(...(await run(values.slice(i, i + IN_CHUNK))));
  return out;
}

/**
 * The services a selector's `service_name` matchers admit, or null when it has none (every
 * service). Candidates come from the ingester registry, which holds every service ever pushed.
 */
export async function matchingServices(d1: D1Database, tenant: string, matchers: readonly Matcher[]): Promise<string[] | null> {
  const own = matchers.filter((m) => m.name === "service_name");
  if (own.length === 0) return null;
  const eqm = own.find((m) => m.op === "=");
  if (eqm) return matchesLabels(own, () => eqm.value) ? [eqm.value] : [];
  const rows = await drizzle(d1).selectDistinct({ service: ingesters.service }).from(ingesters).where(eq(ingesters.tenant, tenant)).all();
  return rows.map((r) => r.service).filter((s) => matchesLabels(own, () => s));
}

export async function ingestersOf(d1: D1Database, tenant: string, services: string[] | null): Promise<IngesterRef[]> {
  const db = drizzle(d1);
  return inChunks(services, (filter) =>
    db
      .select({ service: ingesters.service, shard: ingesters.shard })
      .from(ingesters)
      .where(and(eq(ingesters.tenant, tenant), filter ? inArray(ingesters.service, filter) : undefined))
      .all(),
  );
}

/** Blocks overlapping [startMs, endMs] holding `profileType` (any type when null), minus `exclude`. */
export async function blocksFor(
  d1: D1Database,
  tenant: string,
  profileType: string | null,
  services: string[] | null,
  startMs: number,
  endMs: number,
  exclude: ReadonlySet<string>,
): Promise<BlockRef[]> {
  const db = drizzle(d1);
  const rows = await inChunks(services, (filter) => {
    if (profileType === null) {
      const where: (SQL | undefined)[] = [eq(blocks.tenant, tenant), lte(blocks.minTime, endMs), gte(blocks.maxTime, startMs)];
      if (filter) where.push(inArray(blocks.service, filter));
      return db
        .select({
          id: blocks.id,
          objectKey: blocks.objectKey,
          service: blocks.service,
          sizeBytes: blocks.sizeBytes,
          profiles: blocks.profiles,
          samples: blocks.samples,
        })
        .from(blocks)
        .where(and(...where))
        .all();
    }
    const where: (SQL | undefined)[] = [
      eq(blockTypes.tenant, tenant),
      eq(blockTypes.profileType, profileType),
      lte(blockTypes.minTime, endMs),
      gte(blockTypes.maxTime, startMs),
    ];
    if (filter) where.push(inArray(blockTypes.service, filter));
    return db
      .select({
        id: blocks.id,
        objectKey: blocks.objectKey,
        service: blocks.service,
        sizeBytes: blocks.sizeBytes,
        profiles: blockTypes.profiles,
        samples: blockTypes.samples,
      })
      .from(blockTypes)
      .innerJoin(blocks, eq(blocks.id, blockTypes.blockId))
      .where(and(...where))
      .all();
  });
  return rows.filter((r) => !exclude.has(r.id));
}

/** Flushed series whose first..last profile time overlaps the range (label APIs answer from D1). */
export async function seriesFor(
  d1: D1Database,
  tenant: string,
  services: string[] | null,
  startMs: number,
  endMs: number,
): Promise<SeriesEntry[]> {
  const db = drizzle(d1);
  const rows = await inChunks(services, (filter) =>
    db
      .select({ profileType: series.profileType, labels: series.labels, firstSeen: series.firstSeen, lastSeen: series.lastSeen })
      .from(series)
      .where(
        and(
          eq(series.tenant, tenant),
          lte(series.firstSeen, endMs),
          gte(series.lastSeen, startMs),
          filter ? inArray(series.service, filter) : undefined,
        ),
      )
      .all(),
  );
  return rows.map((r) => ({
    profileType: r.profileType,
    labels: JSON.parse(r.labels) as LabelPairs,
    minTimeMs: r.firstSeen,
    maxTimeMs: r.lastSeen,
  }));
}
