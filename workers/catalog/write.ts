// Writes the catalog rows of one flush as a single D1 batch: one transaction whose block row is the
// commit point. Multi-row statements are cut so that none binds more than D1's 100 parameters.

import { eq, getTableColumns, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import { drizzle } from "drizzle-orm/d1";
import type { FlushStats } from "../flush/stats";
import { toHex } from "../util/hex";
import { blocks, blockTypes, compactedBlocks, ingesters, labelStats, series, services } from "./schema";

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

/** The block row and its per-type rows: everything a planner reads about one block. */
export function blockStatements(d1: D1Database, block: BlockRecord, stats: FlushStats, level: number): BatchItem<"sqlite">[] {
  const db = drizzle(d1);
  const { tenant, service } = block;
  const types = [...stats.types.values()];
  const stmts: BatchItem<"sqlite">[] = [
    db.insert(blocks).values({
      ...block,
      minTime: stats.minTime,
      maxTime: stats.maxTime,
      profileTypes: JSON.stringify(types.map((t) => t.profileType).sort()),
      level,
      series: stats.series.size,
      profiles: stats.profiles,
      samples: stats.samples,
    }),
  ];
  for (const rows of chunk(types, columnCount(blockTypes))) {
    stmts.push(
      db
        .insert(blockTypes)
        .values(rows.map((t) => ({ blockId: block.id, tenant, service, ...t })))
        .onConflictDoNothing(),
    );
  }
  return stmts;
}

/**
 * Series and label-stat rows go in bound as one JSON array per statement, not as multi-row inserts:
 * 100 bound parameters allow 14 series rows per statement, so a flush of 20,000 series took 3,100
 * statements in one transaction. Locally that transaction ran for 2–6 s on the runtime's only
 * thread, and a stall of 5 s makes workerd drop the requests it has not read yet. Each array stays
 * well under D1's 2 MB per value.
 */
export const JSON_ROWS_BYTES = 256 * 1024;

/** `rows` as JSON arrays of at most JSON_ROWS_BYTES each (a larger single row gets its own). */
export function jsonChunks(rows: unknown[][]): string[] {
  const out: string[] = [];
  let parts: string[] = [];
  let size = 0;
  for (const row of rows) {
    const json = JSON.stringify(row);
    if (parts.length > 0 && size + json.length + 1 > JSON_ROWS_BYTES) {
      out.push(`[${parts.join(",")}]`);
      parts = [];
      size = 0;
    }
    parts.push(json);
    size += json.length + 1;
  }
  if (parts.length > 0) out.push(`[${parts.join(",")}]`);
  return out;
}

async function catalogStatements(d1: D1Database, block: BlockRecord, stats: FlushStats): Promise<BatchItem<"sqlite">[]> {
  const db = drizzle(d1);
  const seriesRows = await Promise.all(
    [...stats.series.entries()].map(async ([key, row]) => [
      await fingerprint(key),
      row.profileType,
      JSON.stringify(row.labels),
      row.firstSeen,
      row.lastSeen,
    ]),
  );
  const { tenant, service } = block;
  const stmts = blockStatements(d1, block, stats, 0);
  const col = (i: number) => sql.raw(`json_extract(value, '$[${i}]')`);
  // Selected in the tables' column order. `WHERE true` keeps SQLite from reading ON CONFLICT as a
  // join constraint of the SELECT.
  for (const rows of jsonChunks(seriesRows)) {
    stmts.push(
      db
        .insert(series)
        .select(sql`SELECT ${tenant}, ${col(0)}, ${service}, ${col(1)}, ${col(2)}, ${col(3)}, ${col(4)} FROM json_each(${rows}) WHERE true`)
        .onConflictDoUpdate({
          target: [series.tenant, series.fingerprint],
          set: {
            firstSeen: sql`min(${series.firstSeen}, excluded.first_seen)`,
            lastSeen: sql`max(${series.lastSeen}, excluded.last_seen)`,
          },
        }),
    );
  }
  const labelRows = [...stats.labels.values()].map((l) => [l.name, l.value, l.hour, l.profiles, l.samples, l.bytes]);
  for (const rows of jsonChunks(labelRows)) {
    stmts.push(
      db
        .insert(labelStats)
        .select(sql`SELECT ${tenant}, ${service}, ${col(0)}, ${col(1)}, ${col(2)}, ${col(3)}, ${col(4)}, ${col(5)} FROM json_each(${rows}) WHERE true`)
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
        firstSeen: stats.minTime,
        lastSeen: stats.maxTime,
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

/**
 * Whether block `id` is committed, including into a compacted block since. A committed row for
 * another object means two ingesters chose the same id, which must stop the flush rather than
 * drop its data.
 */
export async function isCommitted(d1: D1Database, id: string, objectKey: string): Promise<boolean> {
  const db = drizzle(d1);
  const row =
    (await db.select({ objectKey: blocks.objectKey }).from(blocks).where(eq(blocks.id, id)).get()) ??
    (await db.select({ objectKey: compactedBlocks.objectKey }).from(compactedBlocks).where(eq(compactedBlocks.id, id)).get());
  if (row && row.objectKey !== objectKey) {
    throw new Error(`block id ${id} is already committed for ${row.objectKey}, not ${objectKey}`);
  }
  return row !== undefined;
}

/**
 * Commits a flush in one transaction. The block row is a plain insert, so if a concurrent attempt
 * committed first the whole batch rolls back (no statistic counted twice) and this returns false.
 */
export async function commitFlush(d1: D1Database, block: BlockRecord, stats: FlushStats): Promise<boolean> {
  return commitBatch(d1, block, await catalogStatements(d1, block, stats));
}

/** Runs a batch whose first statement inserts `block`'s row; false when that row already existed. */
export async function commitBatch(d1: D1Database, block: BlockRecord, stmts: BatchItem<"sqlite">[]): Promise<boolean> {
  try {
    await drizzle(d1).batch(stmts as [BatchItem<"sqlite">, ...BatchItem<"sqlite">[]]);
    return true;
  } catch (err) {
    if (/UNIQUE constraint failed: blocks\.id/.test(String((err as { cause?: unknown }).cause ?? err))) {
      return !(await isCommitted(d1, block.id, block.objectKey));
    }
    throw err;
  }
}

/** Bound parameters one row of `table` takes in a multi-row insert. */
export function columnCount(table: Parameters<typeof getTableColumns>[0]): number {
  return Object.keys(getTableColumns(table)).length;
}

/** A stable 64-bit fingerprint of a series: the first 16 hex digits of SHA-256 over its key. */
async function fingerprint(key: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(key)));
  return toHex(digest.subarray(0, 8));
}

/** Records an ingester once, before its first push is acknowledged (idempotent). */
export async function registerIngester(d1: D1Database, tenant: string, service: string, shard: number): Promise<void> {
  await drizzle(d1).insert(ingesters).values({ tenant, service, shard, createdAt: Date.now() }).onConflictDoNothing();
}
