// The operational state of one tenant, named by the tenant id: its ingestion token bucket and its
// metrics counters. Isolates are many and keep nothing between requests, so a limit or a counter
// that has to see all of a tenant's traffic lives here, in the one object of that tenant.
//
// Both are stored in SQLite, so a reset or eviction neither refills the bucket nor zeroes the
// counters. The bucket is also kept in memory and written once per call that takes from it.

import { DurableObject } from "cloudflare:workers";
import type { Env } from "../workers/env";
import { checkDelta, labelsKey, type MetricsDelta, type MetricsSnapshot, parseLabelsKey } from "../workers/ops/metrics";
import { type Bucket, type Decision, takeTokens } from "../workers/ops/rate-limit";

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS bucket (id INTEGER PRIMARY KEY CHECK (id = 1), tokens REAL NOT NULL, at_ms REAL NOT NULL);
  CREATE TABLE IF NOT EXISTS series (name TEXT NOT NULL, labels TEXT NOT NULL, value REAL NOT NULL, PRIMARY KEY (name, labels)) WITHOUT ROWID;
`;

export class Tenant extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  private bucket: Bucket | null;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec(SCHEMA);
    const row = this.sql.exec<{ tokens: number; at_ms: number }>("SELECT tokens, at_ms FROM bucket").toArray()[0];
    this.bucket = row ? { tokens: row.tokens, atMs: row.at_ms } : null;
  }

  /**
   * Takes `bytes` of ingestion budget from the tenant's token bucket (see rate-limit.ts): refused
   * with the wait until it would fit, or Infinity when `bytes` exceeds the burst. The limits come
   * with each call, so a changed per-tenant limit applies at once; `nowMs` is the caller's clock.
   */
  async take(bytes: number, rateBytesPerSec: number, burstBytes: number, nowMs: number): Promise<Decision> {
    const { decision, next } = takeTokens(this.bucket, bytes, { rateBytesPerSec, burstBytes }, nowMs);
    if (next) {
      this.bucket = next;
      this.sql.exec(
        "INSERT INTO bucket (id, tokens, at_ms) VALUES (1, ?, ?) ON CONFLICT (id) DO UPDATE SET tokens = excluded.tokens, at_ms = excluded.at_ms",
        next.tokens,
        next.atMs,
      );
    }
    return decision;
  }

  /** Adds the increments to the stored counters, all or none; throws on an invalid increment. */
  async record(delta: MetricsDelta): Promise<void> {
    checkDelta(delta);
    this.ctx.storage.transactionSync(() => {
      for (const s of delta) {
        this.sql.exec(
          "INSERT INTO series (name, labels, value) VALUES (?, ?, ?) ON CONFLICT (name, labels) DO UPDATE SET value = value + excluded.value",
          s.name,
          labelsKey(s.labels),
          s.value,
        );
      }
    });
  }

  /** The tenant's counter totals (see metrics.ts for how histograms are stored). */
  async metrics(): Promise<MetricsSnapshot> {
    return this.sql
      .exec<{ name: string; labels: string; value: number }>("SELECT name, labels, value FROM series ORDER BY name, labels")
      .toArray()
      .map((r) => ({ name: r.name, labels: parseLabelsKey(r.labels), value: r.value }));
  }
}
