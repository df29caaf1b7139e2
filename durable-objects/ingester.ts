// The ingester of one tenant, service and shard. A push is durable in this object's SQLite storage
// before the call returns (the output gate holds the reply until the write is on disk); an alarm
// flushes the buffer to one R2 block and one D1 batch.
//
// Buffering is generational: pushes go to table `buf_<gen>`. A flush first freezes the active
// generation (new pushes go to the next one), then writes the block under a key derived from this
// object's epoch and the generation, commits the catalog and drops the frozen table. Every step is
// idempotent: a crash before the catalog commit re-runs the same flush, which writes the same bytes
// to the same key (no orphan); a crash after it finds the block committed before encoding anything
// and only drops the table (nothing uploaded or counted twice). Dropping a table instead of
// deleting rows keeps the billed row writes to one per push plus two per flush.

import { DurableObject } from "cloudflare:workers";
import { BlockBuilder } from "../workers/block/builder";
import { encodeBlockAsync, nativeDeflate } from "../workers/block/encode";
import { mergeInto } from "../workers/block/merge";
import { builderOfPush } from "../workers/block/push-frame";
import { commitFlush, isCommitted, registerIngester } from "../workers/catalog/write";
import { dueAt } from "../workers/compact/plan";
import { type Config, loadConfig } from "../workers/config";
import type { Env } from "../workers/env";
import { type BufferedGeneration, bufferedGeneration } from "../workers/flush/buffered";
import { FlushStats, type PushMeta } from "../workers/flush/stats";
import { blockObjectKey } from "../workers/flush/keys";
import { flushed, flushFailed, type MetricsDelta } from "../workers/ops/metrics";
import { accumulatorFor } from "../workers/query/evaluate";
import type { PartialResult, QuerySpec, Task } from "../workers/query/spec";
import { viewOfPush } from "../workers/query/view";
import { ingesterName } from "../workers/route/shard";
import { concatBytes } from "../workers/util/bytes";

export interface IngesterIdentity {
  tenant: string;
  service: string;
  shard: number;
}

interface State {
  identity: IngesterIdentity | null;
  /** A random UUID per object lifetime: block ids stay unique across objects and storage wipes. */
  epoch: string;
  active: number;
  /** The generation being flushed, or null. */
  frozen: number | null;
  /** When it was frozen: the block's creation time, so a retried flush writes the same bytes. */
  frozenAt: number | null;
}

export interface FlushResult {
  blockId: string;
  objectKey: string;
  profiles: number;
  samples: number;
  sizeBytes: number;
  /** The block's earliest profile (unix ms); 0 when this attempt did not write it. */
  minTime: number;
  createdAt: number;
  /** False when a previous attempt had already committed this block. */
  committed: boolean;
}

/** SQLite rows (and values) are limited to 2 MB: larger pushes are stored in parts. */
export const PART_BYTES = 1 << 20;
const RETRY_MS = 5_000;
/** A flush merges for this long before it lets waiting pushes and queries run. */
const FLUSH_SLICE_MS = 10;
/** Buffered rows a flush reads per statement: at most this many PART_BYTES in memory at once. */
export const FLUSH_READ_ROWS = 8;
const MAX_RETRY_MS = 300_000;

export class Ingester extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  private readonly config: Config;
  private state!: State;
  private bufferedBytes = 0;
  private oldestMs: number | null = null;
  /** The id of the next push in the active generation's table. */
  private nextPush = 1;
  private alarmAt: number | null = null;
  private flushing: Promise<FlushResult | null> | null = null;
  /** Consecutive failed flushes, for the retry back-off. */
  private failures = 0;
  /** When the compactor was last told to run (see wakeCompactor). */
  private compactorDueMs: number | null = null;
  /**
   * What each buffered generation will add to the catalog when it is flushed, computed as the
   * flush computes it; null until summary() is first called after a start, when it is rebuilt
   * from the buffer tables. Pushes keep it current from then on: until someone looks, a push pays
   * nothing for it, and a services page view decodes nothing.
   */
  private summaries: Map<number, FlushStats> | null = null;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.config = loadConfig(env);
    ctx.blockConcurrencyWhile(async () => this.load());
  }

  private async load(): Promise<void> {
    this.sql.exec("CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL)");
    const row = this.sql.exec<{ v: string }>("SELECT v FROM meta WHERE k = 'state'").toArray()[0];
    this.state = row
      ? (JSON.parse(row.v) as State)
      : { identity: null, epoch: crypto.randomUUID(), active: 1, frozen: null, frozenAt: null };
    this.ensureTable(this.state.active);
    const agg = this.sql
      .exec<{ bytes: number | null; oldest: number | null; last: number | null }>(
        `SELECT sum(length(data)) AS bytes, min(received) AS oldest, max(push) AS last FROM ${table(this.state.active)}`,
      )
      .one();
    this.bufferedBytes = agg.bytes ?? 0;
    this.oldestMs = agg.oldest;
    this.nextPush = (agg.last ?? 0) + 1;
    this.alarmAt = await this.ctx.storage.getAlarm();
  }

  private saveState(): void {
    this.sql.exec("INSERT OR REPLACE INTO meta (k, v) VALUES ('state', ?)", JSON.stringify(this.state));
  }

  private ensureTable(gen: number): void {
    this.sql.exec(
      `CREATE TABLE IF NOT EXISTS ${table(gen)} (push INTEGER NOT NULL, part INTEGER NOT NULL, received INTEGER NOT NULL, meta TEXT NOT NULL, data BLOB NOT NULL, PRIMARY KEY (push, part))`,
    );
  }

  /**
   * Stores one encoded batch of profiles; resolves once it is durable. Resolves to false, storing
   * nothing, while a flush keeps failing and INGESTER_MAX_BUFFERED_BYTES are already waiting: the
   * client is told to retry later rather than the buffer growing without bound.
   */
  async push(identity: IngesterIdentity, data: Uint8Array, meta: PushMeta): Promise<boolean> {
    const { INGESTER_MAX_BUFFERED_BYTES } = this.config;
    if (this.state.frozen !== null && INGESTER_MAX_BUFFERED_BYTES > 0 && this.bufferedBytes >= INGESTER_MAX_BUFFERED_BYTES) {
      return false;
    }
    // Queries find ingesters in the catalog: register before the first acknowledgement, so that
    // no acknowledged profile is ever invisible to them.
    if (!this.state.identity) await registerIngester(this.env.DB, identity.tenant, identity.service, identity.shard);
    const now = Date.now();
    const t = table(this.state.active);
    const push = this.nextPush;
    const metaJson = JSON.stringify(meta);
    const insert = () => {
      for (let part = 0, off = 0; off < data.length || part === 0; part++, off += PART_BYTES) {
        const slice = data.subarray(off, Math.min(data.length, off + PART_BYTES));
        this.sql.exec(`INSERT INTO ${t} (push, part, received, meta, data) VALUES (?, ?, ?, ?, ?)`, push, part, now, metaJson, slice);
      }
    };
    if (this.state.identity && data.length <= PART_BYTES) {
      // One statement is atomic on its own; the explicit transaction's own cost was about 1% of the isolate's time.
      insert();
    } else {
      // All parts or none: a failed part must not leave a partial push for the flush to trip on.
      this.ctx.storage.transactionSync(() => {
        if (!this.state.identity) {
          this.state.identity = identity;
          this.saveState();
        }
        insert();
      });
    }
    this.nextPush++;
    this.bufferedBytes += data.length;
    this.oldestMs ??= now;
    this.summarize(this.state.active, data, meta);
    await this.armFlush();
    return true;
  }

  /** Adds a stored push to its generation's summary, once summary() has built them. */
  private summarize(gen: number, data: Uint8Array, meta: PushMeta): void {
    if (!this.summaries) return;
    try {
      let stats = this.summaries.get(gen);
      if (!stats) this.summaries.set(gen, (stats = new FlushStats()));
      stats.addPush(builderOfPush(data), meta);
    } catch (err) {
      // The push is durable already and must be acknowledged; the next summary() rebuilds from the tables.
      console.warn(`ingester ${this.describe()}: could not summarize a push:`, err);
      this.summaries = null;
    }
  }

  /**
   * Arms the alarm for the next flush: at once past the size limit, else by age (0 = no limit).
   * While a failed flush waits for its retry, the retry's alarm stands.
   */
  private async armFlush(): Promise<void> {
    if (this.oldestMs === null || this.state.frozen !== null) return;
    const { FLUSH_MAX_BYTES, FLUSH_MAX_AGE_MS } = this.config;
    if (FLUSH_MAX_BYTES > 0 && this.bufferedBytes >= FLUSH_MAX_BYTES) await this.armAlarm(Date.now());
    else if (FLUSH_MAX_AGE_MS > 0) await this.armAlarm(this.oldestMs + FLUSH_MAX_AGE_MS);
  }

  private async armAlarm(at: number): Promise<void> {
    if (this.alarmAt !== null && this.alarmAt <= at) return;
    this.alarmAt = at;
    await this.ctx.storage.setAlarm(at);
  }

  override async alarm(): Promise<void> {
    this.alarmAt = null;
    try {
      const result = await this.flush();
      this.failures = 0;
      await this.count(flushed(result?.committed ? result.sizeBytes : null));
    } catch (err) {
      await this.count(flushFailed());
      const delay = Math.min(RETRY_MS * 2 ** this.failures++, MAX_RETRY_MS);
      console.error(
        `ingester ${this.describe()}: flush of generation ${this.state.frozen} failed ${this.failures} time(s); ` +
          `its data stays buffered, retrying in ${delay / 1000}s:`,
        err,
      );
      await this.armAlarm(Date.now() + delay);
      return;
    }
    await this.armFlush();
  }

  /** Flushes buffered profiles to a block. Resolves to null when there was nothing to flush. */
  async flush(): Promise<FlushResult | null> {
    if (this.flushing) return this.flushing;
    this.flushing = this.flushOnce();
    let result: FlushResult | null;
    try {
      result = await this.flushing;
    } finally {
      this.flushing = null;
    }
    if (result?.committed) await this.wakeCompactor(result);
    return result;
  }

  private async flushOnce(): Promise<FlushResult | null> {
    const s = this.state;
    if (s.frozen === null) {
      if (this.oldestMs === null) return null;
      s.frozen = s.active;
      s.frozenAt = Date.now();
      s.active += 1;
      this.ensureTable(s.active);
      this.saveState();
      this.bufferedBytes = 0;
      this.oldestMs = null;
      this.nextPush = 1;
    }
    const gen = s.frozen;
    const result = s.identity ? await this.writeBlock(s.identity, gen, s.frozenAt ?? Date.now()) : null;
    this.sql.exec(`DROP TABLE IF EXISTS ${table(gen)}`);
    this.summaries?.delete(gen);
    s.frozen = null;
    s.frozenAt = null;
    this.saveState();
    return result;
  }

  /** Writes generation `gen` as one block and commits it, unless a previous attempt already did. */
  private async writeBlock(identity: IngesterIdentity, gen: number, createdAt: number): Promise<FlushResult | null> {
    const { tenant, service, shard } = identity;
    const blockId = this.blockId(gen);
    const objectKey = blockObjectKey(tenant, service, shard, blockId);
    // A crash after the commit must not upload the object again (a compaction may own it by then).
    if (await isCommitted(this.env.DB, blockId, objectKey)) {
      return { blockId, objectKey, profiles: 0, samples: 0, sizeBytes: 0, minTime: 0, createdAt, committed: false };
    }
    const { builder, stats } = await this.readGeneration(gen);
    if (builder.profileCount === 0) return null;
    const bytes = await encodeBlockAsync(builder, { tenant, service, shard, blockId, createdAtMs: createdAt }, nativeDeflate);
    await this.env.BLOCKS.put(objectKey, bytes);
    const committed = await commitFlush(
      this.env.DB,
      { id: blockId, tenant, service, shard, objectKey, sizeBytes: bytes.length, createdAt },
      stats,
    );
    return { blockId, objectKey, profiles: stats.profiles, samples: stats.samples, sizeBytes: bytes.length, minTime: stats.minTime, createdAt, committed };
  }

  /**
   * Decodes and merges the pushes of a frozen generation. It yields to the event loop every
   * FLUSH_SLICE_MS, so pushes arriving meanwhile (they go to the next generation) are acknowledged
   * while a large flush is merged instead of waiting for all of it.
   */
  private async readGeneration(gen: number): Promise<{ builder: BlockBuilder; stats: FlushStats }> {
    const builder = new BlockBuilder();
    const stats = new FlushStats();
    let current = -1;
    let meta: PushMeta | null = null;
    let parts: Uint8Array[] = [];
    const finish = () => {
      if (current === -1 || !meta) return;
      const pushed = builderOfPush(concatBytes(parts));
      stats.addPush(pushed, meta);
      mergeInto(builder, pushed);
    };
    let sliceStart = Date.now();
    // Rows are read FLUSH_READ_ROWS at a time, not all at once: a generation holds up to
    // FLUSH_MAX_BYTES of frames, which need not sit in memory beside the block being built.
    for (let last = { push: 0, part: -1 }; ; ) {
      const rows = this.sql
        .exec<{ push: number; part: number; meta: string; data: ArrayBuffer }>(
          `SELECT push, part, meta, data FROM ${table(gen)} WHERE push > ? OR (push = ? AND part > ?) ORDER BY push, part LIMIT ${FLUSH_READ_ROWS}`,
          last.push,
          last.push,
          last.part,
        )
        .toArray();
      for (const row of rows) {
        if (row.push !== current) {
          finish();
          // Yielding after every push let a busy ingester's acknowledgements starve its own flush
          // (a few ms of merging per round of waiting requests) until its buffer limit refused pushes.
          if (current !== -1 && Date.now() - sliceStart >= FLUSH_SLICE_MS) {
            await scheduler.wait(0);
            sliceStart = Date.now();
          }
          current = row.push;
          meta = JSON.parse(row.meta) as PushMeta;
          parts = [];
        }
        parts.push(new Uint8Array(row.data));
      }
      if (rows.length < FLUSH_READ_ROWS) break;
      last = rows[rows.length - 1];
    }
    finish();
    return { builder, stats };
  }

  /**
   * Tells this shard's compactor when the new block becomes due. Once its alarm has run, the
   * compactor re-arms itself from the catalog, so later flushes need not tell it again until then:
   * about one call per window, not one per flush.
   */
  private async wakeCompactor(result: FlushResult): Promise<void> {
    const id = this.state.identity;
    if (!id || this.config.COMPACTION_WINDOW_MS <= 0) return;
    const now = Date.now();
    if (this.compactorDueMs !== null && this.compactorDueMs > now) return;
    const due = dueAt(result, this.config);
    try {
      await this.env.COMPACTOR.getByName(ingesterName(id.tenant, id.service, id.shard)).schedule(id, due);
      this.compactorDueMs = due;
    } catch (err) {
      console.warn(`ingester ${this.describe()}: could not schedule compaction:`, err);
    }
  }

  /** Adds to the tenant's metrics; a metrics failure must not count as a flush failure. */
  private async count(delta: MetricsDelta): Promise<void> {
    const tenant = this.state.identity?.tenant;
    if (!tenant) return;
    try {
      await this.env.TENANT.getByName(tenant).record(delta);
    } catch (err) {
      console.warn(`ingester ${this.describe()}: could not record flush metrics:`, err);
    }
  }

  private blockId(gen: number): string {
    return `${this.state.epoch}-${String(gen).padStart(10, "0")}`;
  }

  /**
   * Evaluates a query over everything buffered and not yet dropped. `covered` names the block the
   * frozen generation becomes: the caller reads the catalog after this answer and skips that
   * block, so a flush completing meanwhile neither hides nor double-counts a profile.
   */
  async query(spec: QuerySpec, task: Task): Promise<PartialResult & { covered: string | null }> {
    const acc = accumulatorFor(task, spec);
    const { frozen } = this.state;
    // One synchronous read of both generations, each push evaluated as it is read: a flush cannot
    // drop a table half-way through it, and only one push is held at a time.
    const add = (bytes: Uint8Array) => {
      const view = viewOfPush(bytes, acc.depth);
      acc.add(view);
      acc.stats.pushes++;
      acc.stats.peakBytes = Math.max(acc.stats.peakBytes, bytes.length + view.memoryBytes + acc.memoryBytes());
    };
    for (const gen of this.generations()) this.eachPush(gen, false, add);
    const covered = frozen === null ? null : this.blockId(frozen);
    acc.stats.invocations = 1;
    return { partial: acc.result(), stats: acc.stats, covered };
  }

  /**
   * What the buffered generations (a frozen one first) will add to the catalog, each with the id
   * of the block it becomes: a reader of the catalog counts a generation only while that block is
   * not committed, so one being flushed meanwhile is counted once (as query() does with `covered`).
   */
  async summary(): Promise<BufferedGeneration[]> {
    if (!this.summaries) {
      // One synchronous pass over the tables: no push or flush can interleave with the rebuild.
      const summaries = new Map<number, FlushStats>();
      for (const gen of this.generations()) {
        const stats = new FlushStats();
        this.eachPush(gen, true, (bytes, meta) => stats.addPush(builderOfPush(bytes), JSON.parse(meta!) as PushMeta));
        summaries.set(gen, stats);
      }
      this.summaries = summaries;
    }
    const out: BufferedGeneration[] = [];
    for (const gen of this.generations()) {
      const stats = this.summaries.get(gen);
      if (stats && stats.profiles > 0) out.push(bufferedGeneration(this.blockId(gen), stats));
    }
    return out;
  }

  private generations(): number[] {
    const { frozen, active } = this.state;
    return frozen === null ? [active] : [frozen, active];
  }

  /** Calls `fn` with each push of generation `gen` in order, its parts joined, one push held at a time. */
  private eachPush(gen: number, withMeta: boolean, fn: (bytes: Uint8Array, meta: string | null) => void): void {
    let current = -1;
    let meta: string | null = null;
    let parts: Uint8Array[] = [];
    const rows = this.sql.exec<{ push: number; part: number; meta: string | null; data: ArrayBuffer }>(
      `SELECT push, part, ${withMeta ? "meta" : "NULL AS meta"}, data FROM ${table(gen)} ORDER BY push, part`,
    );
    for (const row of rows) {
      if (row.push !== current && parts.length > 0) {
        fn(concatBytes(parts), meta);
        parts = [];
      }
      current = row.push;
      if (row.part === 0) meta = row.meta;
      parts.push(new Uint8Array(row.data));
    }
    if (parts.length > 0) fn(concatBytes(parts), meta);
  }

  /** Counts of what is buffered and not yet flushed (for tests and operations). */
  async buffered(): Promise<{ pushes: number; bytes: number; frozen: number | null; active: number }> {
    const t = table(this.state.active);
    const pushes = this.sql.exec<{ n: number }>(`SELECT count(DISTINCT push) AS n FROM ${t}`).one().n;
    return { pushes, bytes: this.bufferedBytes, frozen: this.state.frozen, active: this.state.active };
  }

  private describe(): string {
    const id = this.state.identity;
    return id ? `${id.tenant}/${id.service}/${id.shard}` : this.ctx.id.toString();
  }
}

function table(gen: number): string {
  return `buf_${gen}`;
}
