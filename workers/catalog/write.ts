// Writes the catalog rows of one flush as a single D1 batch: one transaction whose block row is the
// commit point. Multi-row statements are cut so that none binds more than D1's 100 parameters.

import { eq, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import { drizzle } from "drizzle-orm/d1";
import type { FlushStats } from "../flush/stats";
import { blocks, blockTypes, labelStats, series, services } from "./schema";

export const D1_MAX_PARAMS = 100;

export interface BlockRecord {
  id: string;
  tenant: string;
  service: string;
  shard: number;
  objectKey: string;
  sizeBytes: number;
  createdAt: number;
}

/** Splits rows so that each statement binds at most D1_MAX_PARAMS values. */
export function chunk<T>(rows: T[], paramsPerRow: number): T[][] {
  const per = Math.max(1, Math.floor(D1_MAX_PARAMS / paramsPerRow));
  const out: T[][] = [];
  for (let i = 0; i < rows.length; i += per) out.push(rows.slice(i, i + per));
  return out;
}

const union = (column: string, incoming: string) =>
  sql.raw(
    `(SELECT json_group_array(value) FROM (SELECT value FROM json_each(${column}) UNION SELECT value FROM json_each(${incoming}) ORDER BY value))`,
  );

export function catalogStatements(d1: D1Database, block: BlockRecord, stats: FlushStats): BatchItem<"sqlite">[] {
  const db = drizzle(d1);
  const { tenant, service } = block;
  const types = [...stats.types.values()];
  const stmts: BatchItem<"sqlite">[] = [
    db
      .insert(blocks)
      .values({
        ...block,
        minTime: stats.minTime,
        maxTime: stats.maxTime,
        profileTypes: JSON.stringify(types.map((t) => t.profileType).sort()),
        level: 0,
        series: stats.series.size,
        profiles: stats.profiles,
        samples: stats.samples,
      })
      .onConflictDoNothing(),
  ];
  for (const rows of chunk(types, 9)) {
    stmts.push(
      db
        .insert(blockTypes)
        .values(rows.map((t) => ({ blockId: block.id, tenant, service, ...t })))
        .onConflictDoNothing(),
    );
  }
  for (const rows of chunk([...stats.series.values()], 7)) {
    stmts.push(
      db
        .insert(series)
        .values(
          rows.map((s) => ({
            tenant,
            service,
            fingerprint: s.fingerprint,
            profileType: s.profileType,
            labels: JSON.stringify(s.labels),
            firstSeen: s.firstSeen,
            lastSeen: s.lastSeen,
          })),
        )
        .onConflictDoUpdate({
          target: [series.tenant, series.fingerprint],
          set: {
            firstSeen: sql`min(${series.firstSeen}, excluded.first_seen)`,
            lastSeen: sql`max(${series.lastSeen}, excluded.last_seen)`,
          },
        }),
    );
  }
  for (const rows of chunk([...stats.labels.values()], 8)) {
    stmts.push(
      db
        .insert(labelStats)
        .values(rows.map((l) => ({ tenant, service, ...l })))
        .onConflictDoUpdate({
          target: [labelStats.tenant, labelStats.service, labelStats.name, labelStats.value, labelStats.hour],
          set: {
            profiles: sql`${labelStats.profiles} + excluded.profiles`,
            samples: sql`${labelStats.samples} + excluded.samples`,
            bytes: sql`${labelStats.bytes} + excluded.bytes`,
          },
        }),
    );
  }
  const svc = stats.service;
  stmts.push(
    db
      .insert(services)
      .values({
        tenant,
        service,
        firstSeen: svc.firstSeen,
        lastSeen: svc.lastSeen,
        profileTypes: JSON.stringify(svc.profileTypes),
        spyNames: JSON.stringify(svc.spyNames),
        sdkVersions: JSON.stringify(svc.sdkVersions),
        profiles: svc.profiles,
        ingestedBytes: svc.ingestedBytes,
      })
      .onConflictDoUpdate({
        target: [services.tenant, services.service],
        set: {
          firstSeen: sql`min(${services.firstSeen}, excluded.first_seen)`,
          lastSeen: sql`max(${services.lastSeen}, excluded.last_seen)`,
          profileTypes: union(`"services"."profile_types"`, "excluded.profile_types"),
          spyNames: union(`"services"."spy_names"`, "excluded.spy_names"),
          sdkVersions: union(`"services"."sdk_versions"`, "excluded.sdk_versions"),
          profiles: sql`${services.profiles} + excluded.profiles`,
          ingestedBytes: sql`${services.ingestedBytes} + excluded.ingested_bytes`,
        },
      }),
  );
  return stmts;
}

/** Commits a flush. Returns false when the block was already committed (a retried flush). */
export async function commitFlush(d1: D1Database, block: BlockRecord, stats: FlushStats): Promise<boolean> {
  const db = drizzle(d1);
  const existing = await db.select({ id: blocks.id }).from(blocks).where(eq(blocks.id, block.id)).get();
  if (existing) return false;
  const stmts = catalogStatements(d1, block, stats);
  await db.batch(stmts as [BatchItem<"sqlite">, ...BatchItem<"sqlite">[]]);
  return true;
}
