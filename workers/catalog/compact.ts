// The catalog side of compaction: which level-0 blocks a shard has, and the one D1 batch that
// swaps a group of them for the block they were merged into.

import { and, eq, inArray, lt } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import { drizzle } from "drizzle-orm/d1";
import type { CompactionCandidate } from "../compact/plan";
import type { FlushStats } from "../flush/stats";
import { blocks, blockTypes, compactedBlocks } from "./schema";
import { type BlockRecord, blockStatements, chunk, columnCount, commitBatch } from "./write";

export interface ShardRef {
  tenant: string;
  service: string;
  shard: number;
}

/** Level-0 blocks of one shard, oldest profiles first, at most `limit` of them. */
export async function level0Blocks(d1: D1Database, s: ShardRef, limit: number): Promise<CompactionCandidate[]> {
  return drizzle(d1)
    .select({
      id: blocks.id,
      objectKey: blocks.objectKey,
      minTime: blocks.minTime,
      maxTime: blocks.maxTime,
      sizeBytes: blocks.sizeBytes,
      createdAt: blocks.createdAt,
    })
    .from(blocks)
    .where(and(eq(blocks.tenant, s.tenant), eq(blocks.service, s.service), eq(blocks.shard, s.shard), eq(blocks.level, 0)))
    .orderBy(blocks.minTime)
    .limit(limit)
    .all();
}

/**
 * Commits a compaction in one transaction: the merged block and its type rows appear, the
 * sources' rows disappear and leave tombstones, and tombstones older than `tombstoneCutoffMs` go.
 * The block row is a plain insert, so a repeated commit rolls back whole; returns whether this
 * call committed it.
 */
export async function commitCompaction(
  d1: D1Database,
  block: BlockRecord,
  stats: FlushStats,
  sources: readonly CompactionCandidate[],
  tombstoneCutoffMs: number,
): Promise<boolean> {
  const db = drizzle(d1);
  const { tenant, service, shard } = block;
  const stmts: BatchItem<"sqlite">[] = blockStatements(d1, block, stats, 1);
  for (const rows of chunk([...sources], columnCount(compactedBlocks))) {
    stmts.push(
      db.insert(compactedBlocks).values(
        rows.map((b) => ({ id: b.id, tenant, service, shard, objectKey: b.objectKey, into: block.id, compactedAt: block.createdAt })),
      ),
    );
  }
  for (const rows of chunk([...sources], 1)) {
    const ids = rows.map((b) => b.id);
    stmts.push(db.delete(blockTypes).where(inArray(blockTypes.blockId, ids)));
    stmts.push(db.delete(blocks).where(inArray(blocks.id, ids)));
  }
  stmts.push(
    db
      .delete(compactedBlocks)
      .where(
        and(
          eq(compactedBlocks.tenant, tenant),
          eq(compactedBlocks.service, service),
          eq(compactedBlocks.shard, shard),
          lt(compactedBlocks.compactedAt, tombstoneCutoffMs),
        ),
      ),
  );
  return commitBatch(d1, block, stmts);
}
