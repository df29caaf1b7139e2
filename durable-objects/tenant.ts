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
import { ActiveSeries } from "../workers/ops/active-series";
import { SERIES_ACTIVE_MS, type SeriesLimits, seriesRefusal } from "../workers/ops/series-limit";

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS bucket (id INTEGER PRIMARY KEY CHECK (id = 1), tokens REAL NOT NULL, at_ms REAL NOT NULL);
  CREATE TABLE IF NOT EXISTS series (name TEXT NOT NULL, labels TEXT NOT NULL, value REAL NOT NULL, PRIMARY KEY (name, labels)) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS active (service TEXT NOT NULL, key TEXT NOT NULL, seen REAL NOT NULL, PRIMARY KEY (service, key)) WITHOUT ROWID;
`;

/** A series' last-seen time is rewritten at most this often: keeps row writes far below one per push. */
const SEEN_REFRESH_MS = 5 * 60_000;

export class Tenant extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  private bucket: Bucket | null;
  private active: ActiveSeries | null = null;

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

  /**
   * Admits the series of one push under the active-series limits: null when admitted (their
   * last-seen times are then updated), else the refusal message. `series` holds [service, key].
   */
  async admitSeries(series: [service: string, key: string][], limits: SeriesLimits, nowMs: number): Promise<string | null> {
    const index = this.activeSeries();
    const expired = index.expire(nowMs - SERIES_ACTIVE_MS);
    const fresh = new Map<string, number>();
    const stale: [string, string][] = [];
    for (const [service, key] of series) {
      const at = index.seenAt(service, key);
      if (at === undefined) fresh.set(service, (fresh.get(service) ?? 0) + 1);
      if (at === undefined || at < nowMs - SEEN_REFRESH_MS) stale.push([service, key]);
    }
    const refusal = seriesRefusal(index.counts(), fresh, limits);
    if (expired.length === 0 && (refusal || stale.length === 0)) return refusal;
    this.ctx.storage.transactionSync(() => {
      for (const [service, key] of expired) this.sql.exec("DELETE FROM active WHERE service = ? AND key = ?", service, key);
      if (refusal) return;
      for (const [service, key] of stale) {
        this.sql.exec("INSERT INTO active (service, key, seen) VALUES (?, ?, ?) ON CONFLICT (service, key) DO UPDATE SET seen = excluded.seen", service, key, nowMs);
      }
    });
    if (refusal) return refusal;
    for (const [service, key] of stale) index.add(service, key, nowMs);
    return null;
  }

  /** The active-series index, read from storage once per object lifetime, in order of last seen. */
  private activeSeries(): ActiveSeries {
    if (this.active) return this.active;
    const index = new ActiveSeries();
    for (const r of this.sql.exec<{ service: string; key: string; seen: number }>("SELECT service, key, seen FROM active ORDER BY seen")) {
      index.add(r.service, r.key, r.seen);
    }
    return (this.active = index);
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
