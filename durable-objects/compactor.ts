// The compactor of one tenant, service and shard (named like its ingester, which wakes it after a
// flush). From an alarm it merges the shard's level-0 blocks window by window (workers/compact/
// plan.ts) into level-1 blocks, so long ranges read a block per window instead of one per flush,
// then deletes the merged-away objects once queries planned before the merge have finished.
//
// Crash safety: before uploading, the object's key and its sources are recorded here. The D1
// batch that swaps the sources for the new block is the commit point. On the next run a recorded
// compaction that committed schedules its sources' deletion; one that did not has its object
// deleted (its group may differ by then, so the key would not be rewritten). A source is only ever
// deleted from R2 after the commit that replaced it, so no acknowledged profile is lost, and the
// swap is one transaction, so none is counted twice.

import { DurableObject } from "cloudflare:workers";
import { BlockBuilder } from "../workers/block/builder";
import { decodeBlock } from "../workers/block/decode";
import { encodeBlockAsync, nativeDeflate } from "../workers/block/encode";
import { mergeInto } from "../workers/block/merge";
import { commitCompaction, level0Blocks, type ShardRef } from "../workers/catalog/compact";
import { isCommitted } from "../workers/catalog/write";
import { type CompactionGroup, groupBlockId, planCompaction } from "../workers/compact/plan";
import { type Config, loadConfig } from "../workers/config";
import type { Env } from "../workers/env";
import { FlushStats } from "../workers/flush/stats";
import { blockObjectKey } from "../workers/flush/keys";

export interface CompactedBlock {
  blockId: string;
  sources: number;
  inputBytes: number;
  sizeBytes: number;
  profiles: number;
}

export interface CompactionRun {
  compacted: CompactedBlock[];
  /** Merged-away objects deleted from R2 in this run. */
  deleted: number;
  /** Groups left for the next run (the run's time budget ran out). */
  remaining: number;
}

interface Pending {
  blockId: string;
  objectKey: string;
  sources: string[];
}

/** Level-0 rows read per run: a backlog larger than this is worked off over several runs. */
const LIST_LIMIT = 5000;
/** A run stops starting new groups after this long and continues from a fresh alarm. */
const RUN_BUDGET_MS = 10_000;
const RETRY_MS = 60_000;
/** Tombstones outlive any flush retry (those give up backing off at 5 minutes) by far. */
const TOMBSTONE_TTL_MS = 7 * 24 * 3_600_000;
/** R2 deletes at most 1000 keys per call. */
const DELETE_BATCH = 1000;
/** What a merged block's statistics are computed with: only block-level figures are used. */
const NO_PUSH = { receivedAtMs: 0, bytes: 0, spyName: "", sdk: "" };

export class Compactor extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  private readonly config: Config;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.config = loadConfig(env);
    this.sql.exec("CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL)");
    this.sql.exec("CREATE TABLE IF NOT EXISTS doomed (object_key TEXT PRIMARY KEY, due INTEGER NOT NULL)");
  }

  /**
   * Called by the ingester after a flush: run once blocks become due at `dueMs`. The first call
   * runs at once instead, for blocks flushed before this compactor existed (compaction turned on
   * over stored data); from then on each run arms the next from the catalog.
   */
  async schedule(shard: ShardRef, dueMs: number): Promise<void> {
    if (!this.get<ShardRef>("shard")) {
      this.put("shard", shard);
      dueMs = Date.now();
    }
    await this.armAlarm(dueMs);
  }

  override async alarm(): Promise<void> {
    try {
      await this.compact();
    } catch (err) {
      console.error(`compactor ${this.describe()}: run failed, retrying in ${RETRY_MS / 1000}s:`, err);
      await this.armAlarm(Date.now() + RETRY_MS);
    }
  }

  /** One run: settle an interrupted compaction, delete due objects, merge every due group. */
  async compact(nowMs = Date.now()): Promise<CompactionRun> {
    const run: CompactionRun = { compacted: [], deleted: 0, remaining: 0 };
    const shard = this.get<ShardRef>("shard");
    if (!shard) return run;
    await this.settle();
    run.deleted = await this.deleteDue(nowMs);

    const candidates = await level0Blocks(this.env.DB, shard, LIST_LIMIT);
    const plan = planCompaction(candidates, nowMs, this.config);
    const started = Date.now();
    for (const group of plan.groups) {
      if (Date.now() - started >= RUN_BUDGET_MS) {
        run.remaining++;
        continue;
      }
      const done = await this.merge(shard, group, nowMs);
      if (done) run.compacted.push(done);
    }

    const next = [plan.nextDueMs, this.sql.exec<{ due: number | null }>("SELECT min(due) AS due FROM doomed").one().due];
    if (run.remaining > 0 || candidates.length === LIST_LIMIT) next.push(Date.now());
    const at = next.filter((t): t is number => t !== null);
    if (at.length > 0) await this.armAlarm(Math.min(...at));
    return run;
  }

  /** Merges one group into a level-1 block and commits it; null when it had nothing to merge. */
  private async merge(shard: ShardRef, group: CompactionGroup, nowMs: number): Promise<CompactedBlock | null> {
    const { tenant, service } = shard;
    const blockId = await groupBlockId(group);
    const objectKey = blockObjectKey(tenant, service, shard.shard, blockId);
    const pending: Pending = { blockId, objectKey, sources: group.blocks.map((b) => b.objectKey) };

    const target = new BlockBuilder();
    let inputBytes = 0;
    for (const b of group.blocks) {
      const obj = await this.env.BLOCKS.get(b.objectKey);
      // Queries already skip such a block; merging the rest drops only its catalog row.
      if (!obj) {
        console.warn(`compactor ${this.describe()}: block ${b.id} (${b.objectKey}) is in the catalog but not in R2`);
        continue;
      }
      const bytes = new Uint8Array(await obj.arrayBuffer());
      inputBytes += bytes.length;
      mergeInto(target, decodeBlock(bytes, service, false));
    }
    if (target.profileCount === 0) return null;
    const stats = new FlushStats();
    stats.addPush(target, NO_PUSH);
    const bytes = await encodeBlockAsync(target, { tenant, service, shard: shard.shard, blockId, createdAtMs: nowMs }, nativeDeflate);

    this.put("pending", pending);
    await this.env.BLOCKS.put(objectKey, bytes);
    const record = { id: blockId, tenant, service, shard: shard.shard, objectKey, sizeBytes: bytes.length, createdAt: nowMs };
    await commitCompaction(this.env.DB, record, stats, group.blocks, nowMs - TOMBSTONE_TTL_MS);
    this.retire(pending, nowMs);
    return { blockId, sources: group.blocks.length, inputBytes, sizeBytes: bytes.length, profiles: stats.profiles };
  }

  /** Finishes a compaction that a crash interrupted (see the top of this file). */
  private async settle(): Promise<void> {
    const pending = this.get<Pending>("pending");
    if (!pending) return;
    if (await isCommitted(this.env.DB, pending.blockId, pending.objectKey)) {
      this.retire(pending, Date.now());
    } else {
      await this.env.BLOCKS.delete(pending.objectKey);
      this.sql.exec("DELETE FROM meta WHERE k = 'pending'");
    }
  }

  /** After the commit: the sources' objects are deleted once the grace period has passed. */
  private retire(pending: Pending, nowMs: number): void {
    const due = nowMs + this.config.COMPACTION_DELETE_GRACE_MS;
    this.ctx.storage.transactionSync(() => {
      for (const key of pending.sources) {
        this.sql.exec("INSERT INTO doomed (object_key, due) VALUES (?, ?) ON CONFLICT (object_key) DO NOTHING", key, due);
      }
      this.sql.exec("DELETE FROM meta WHERE k = 'pending'");
    });
  }

  private async deleteDue(nowMs: number): Promise<number> {
    let deleted = 0;
    for (;;) {
      const keys = this.sql
        .exec<{ object_key: string }>(`SELECT object_key FROM doomed WHERE due <= ? LIMIT ${DELETE_BATCH}`, nowMs)
        .toArray()
        .map((r) => r.object_key);
      if (keys.length === 0) return deleted;
      await this.env.BLOCKS.delete(keys);
      this.ctx.storage.transactionSync(() => {
        for (const key of keys) this.sql.exec("DELETE FROM doomed WHERE object_key = ?", key);
      });
      deleted += keys.length;
    }
  }

  private async armAlarm(at: number): Promise<void> {
    const current = await this.ctx.storage.getAlarm();
    if (current === null || at < current) await this.ctx.storage.setAlarm(at);
  }

  private get<T>(k: string): T | null {
    const row = this.sql.exec<{ v: string }>("SELECT v FROM meta WHERE k = ?", k).toArray()[0];
    return row ? (JSON.parse(row.v) as T) : null;
  }

  private put(k: string, v: unknown): void {
    this.sql.exec("INSERT OR REPLACE INTO meta (k, v) VALUES (?, ?)", k, JSON.stringify(v));
  }

  private describe(): string {
    const s = this.get<ShardRef>("shard");
    return s ? `${s.tenant}/${s.service}/${s.shard}` : this.ctx.id.toString();
  }
}
