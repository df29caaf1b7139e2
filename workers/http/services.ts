// GET /api/services, the dashboard's start page: every service of the caller's tenants with its
// profile types, spy names and SDKs, first and last seen, totals and the bytes ingested per hour
// over the last day (a sparkline), without reading any profile. Flushed figures come from the D1
// catalog; what is not flushed yet comes from each ingester's in-memory summary of its buffer, so
// a service shows its types and counts as soon as its first push is acknowledged.

import { and, eq, gte, inArray } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import { drizzle } from "drizzle-orm/d1";
import { blocks, compactedBlocks, ingesters, labelStats, services } from "../catalog/schema";
import { type IngesterAnswer, ingestersToAsk, lastDayHours, mergeServices } from "../catalog/services";
import { chunk } from "../catalog/write";
import type { Config } from "../config";
import type { Env } from "../env";
import { ingesterName } from "../route/shard";

export async function handleServices(env: Env, config: Config, tenants: string[], nowMs: number): Promise<Response> {
  const db = drizzle(env.DB);
  const hours = lastDayHours(nowMs);
  const registered = await db
    .select({ tenant: ingesters.tenant, service: ingesters.service, shard: ingesters.shard, createdAt: ingesters.createdAt, lastSeen: services.lastSeen })
    .from(ingesters)
    .leftJoin(services, and(eq(services.tenant, ingesters.tenant), eq(services.service, ingesters.service)))
    .where(inArray(ingesters.tenant, tenants))
    .all();

  // The ingesters answer before the catalog is read (as in a query): a flush committing in
  // between is then in the catalog, and its generation is recognised by its block id.
  const asked = ingestersToAsk(registered, config.SERVICES_MAX_INGESTER_CALLS);
  const settled = await Promise.allSettled(
    asked.map((r) => env.INGESTER.get(env.INGESTER.idFromName(ingesterName(r.tenant, r.service, r.shard))).summary()),
  );
  const answers: IngesterAnswer[] = asked.map((r, i) => {
    const s = settled[i];
    if (s.status === "rejected") console.warn(`services: ingester ${ingesterName(r.tenant, r.service, r.shard)} did not answer:`, s.reason);
    return { tenant: r.tenant, service: r.service, generations: s.status === "fulfilled" ? s.value : null };
  });
  const blockIds = answers.flatMap((a) => a.generations?.map((g) => g.blockId) ?? []);

  // One batch is one transaction: the figures and the commit checks see the same catalog.
  const committedQueries = chunk(blockIds, 1).flatMap((ids) => [
    db.select({ id: blocks.id }).from(blocks).where(inArray(blocks.id, ids)),
    db.select({ id: compactedBlocks.id }).from(compactedBlocks).where(inArray(compactedBlocks.id, ids)),
  ]);
  const [flushedRows, hourly, ...committedRows] = (await db.batch([
    db.select().from(services).where(inArray(services.tenant, tenants)),
    db
      .select({ tenant: labelStats.tenant, service: labelStats.service, hour: labelStats.hour, bytes: labelStats.bytes })
      .from(labelStats)
      .where(and(inArray(labelStats.tenant, tenants), eq(labelStats.name, "service_name"), gte(labelStats.hour, hours[0]))),
    ...committedQueries,
  ] as [BatchItem<"sqlite">, ...BatchItem<"sqlite">[]])) as [
    (typeof services.$inferSelect)[],
    { tenant: string; service: string; hour: number; bytes: number }[],
    ...{ id: string }[][],
  ];

  const list = mergeServices({
    hours,
    flushed: flushedRows.map((r) => ({
      ...r,
      profileTypes: JSON.parse(r.profileTypes) as string[],
      spyNames: JSON.parse(r.spyNames) as string[],
      sdkVersions: JSON.parse(r.sdkVersions) as string[],
    })),
    hourly,
    registered,
    answers,
    committed: new Set(committedRows.flat().map((r) => r.id)),
  });
  return Response.json({ services: list, ingesters: { registered: registered.length, asked: asked.length, answered: answers.filter((a) => a.generations).length } });
}
