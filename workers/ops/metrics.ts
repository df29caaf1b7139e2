// Operational metrics of each tenant: the model (metric families and the increments that cross RPC
// to the Tenant Durable Object, which keeps the totals) and the isolate-side buffer that batches
// increments so a busy isolate calls each tenant's object about once a second, not once a request.
//
// Everything is stored as a counter series (name, labels, value). A histogram is kept as one
// counter per bucket holding the observations that fell into that bucket alone (not cumulative, so
// an observation writes one bucket row instead of one per bound), named `<family>_bucket` with an
// `le` label, plus `<family>_sum`; prometheus.ts cumulates the buckets and derives `_count` from
// them when rendering, so `+Inf` equals `_count` by construction. The tenant is not a stored label:
// each tenant's object holds only its own series and the renderer adds `tenant`.

import type { Env } from "../env";

export type Labels = Readonly<Record<string, string>>;

/** One counter series and an amount: an increment in a delta, a total in a snapshot. */
export interface Sample {
  name: string;
  labels: Labels;
  value: number;
}

/** Increments to add to one tenant's counters. */
export type MetricsDelta = Sample[];
/** One tenant's totals, ordered by name and labels. */
export type MetricsSnapshot = Sample[];

export interface Family {
  /** Without the `edge_pyroscope_` prefix. */
  name: string;
  type: "counter" | "histogram";
  help: string;
  /** Label names besides `tenant` (added when rendering) and a histogram bucket's `le`. */
  labels: readonly string[];
}

export const METRIC_PREFIX = "edge_pyroscope_";

/** Upper bounds of the query latency buckets (Prometheus' default buckets), in seconds. */
export const QUERY_DURATION_BUCKETS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

const DISCARD_HELP = "refused at ingestion, by Pyroscope discard reason (e.g. rate_limited, invalid_labels).";

/** Every metric, in the order /metrics lists them. */
export const FAMILIES: readonly Family[] = [
  { name: "ingested_profiles_total", type: "counter", help: "Profiles accepted for storage.", labels: [] },
  { name: "ingested_samples_total", type: "counter", help: "Samples of the profiles accepted for storage.", labels: [] },
  {
    name: "ingested_bytes_total",
    type: "counter",
    help: "Uncompressed bytes of the profiles accepted for storage (the measure of the ingestion rate limit).",
    labels: [],
  },
  { name: "discarded_profiles_total", type: "counter", help: `Profiles ${DISCARD_HELP}`, labels: ["reason"] },
  { name: "discarded_samples_total", type: "counter", help: `Samples ${DISCARD_HELP}`, labels: ["reason"] },
  { name: "discarded_bytes_total", type: "counter", help: `Uncompressed bytes ${DISCARD_HELP}`, labels: ["reason"] },
  { name: "flushes_total", type: "counter", help: "Ingester flushes, by outcome (ok or failed).", labels: ["outcome"] },
  { name: "blocks_written_total", type: "counter", help: "Blocks ingesters wrote to R2 and committed.", labels: [] },
  { name: "block_bytes_written_total", type: "counter", help: "Bytes of the blocks ingesters wrote to R2.", labels: [] },
  { name: "queries_total", type: "counter", help: "Query requests, by method and HTTP status code.", labels: ["method", "status"] },
  {
    name: "query_duration_seconds",
    type: "histogram",
    help: "Time to answer a query request, by method.",
    labels: ["method"],
  },
];

// Builders: the increments that each event adds. Callers use these rather than naming series.

/** Profiles accepted for storage; `bytes` uncompressed, as the rate limit counts them. */
export function ingested(profiles: number, samples: number, bytes: number): MetricsDelta {
  return [
    { name: "ingested_profiles_total", labels: {}, value: profiles },
    { name: "ingested_samples_total", labels: {}, value: samples },
    { name: "ingested_bytes_total", labels: {}, value: bytes },
  ];
}

/** Profiles refused for `reason` (the IngestError reason, or "rate_limited"). */
export function discarded(reason: string, profiles: number, samples: number, bytes: number): MetricsDelta {
  return [
    { name: "discarded_profiles_total", labels: { reason }, value: profiles },
    { name: "discarded_samples_total", labels: { reason }, value: samples },
    { name: "discarded_bytes_total", labels: { reason }, value: bytes },
  ];
}

/** A flush that succeeded; `blockBytes` is the size of the block it wrote, null when it wrote none. */
export function flushed(blockBytes: number | null): MetricsDelta {
  const delta: MetricsDelta = [{ name: "flushes_total", labels: { outcome: "ok" }, value: 1 }];
  if (blockBytes !== null) {
    delta.push(
      { name: "blocks_written_total", labels: {}, value: 1 },
      { name: "block_bytes_written_total", labels: {}, value: blockBytes },
    );
  }
  return delta;
}

/** A flush that failed (its data stays buffered and is retried). */
export function flushFailed(): MetricsDelta {
  return [{ name: "flushes_total", labels: { outcome: "failed" }, value: 1 }];
}

/** One query request of `method` answered with HTTP `status` after `seconds`. */
export function queried(method: string, status: number, seconds: number): MetricsDelta {
  const bound = QUERY_DURATION_BUCKETS.find((b) => seconds <= b);
  return [
    { name: "queries_total", labels: { method, status: String(status) }, value: 1 },
    { name: "query_duration_seconds_bucket", labels: { method, le: bound === undefined ? "+Inf" : String(bound) }, value: 1 },
    { name: "query_duration_seconds_sum", labels: { method }, value: seconds },
  ];
}

/** A label set as one string: the stored form, and the identity of a series. */
export function labelsKey(labels: Labels): string {
  return JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

export function parseLabelsKey(key: string): Labels {
  return Object.fromEntries(JSON.parse(key) as [string, string][]);
}

/** Stored series name → the label names it must have. */
const SERIES_LABELS = new Map<string, readonly string[]>(
  FAMILIES.flatMap((f): [string, readonly string[]][] =>
    f.type === "counter"
      ? [[f.name, f.labels]]
      : [
          [`${f.name}_bucket`, [...f.labels, "le"]],
          [`${f.name}_sum`, f.labels],
        ],
  ),
);

/**
 * Throws unless every increment is of a known series with exactly its labels and a finite,
 * non-negative amount: counters only grow, and a bad increment must fail where it is made, not
 * after it has been summed into a batch with good ones.
 */
export function checkDelta(delta: MetricsDelta): void {
  for (const { name, labels, value } of delta) {
    const expected = SERIES_LABELS.get(name);
    if (!expected) throw new TypeError(`metrics: unknown series ${JSON.stringify(name)}`);
    const names = Object.keys(labels);
    if (names.length !== expected.length || !expected.every((l) => typeof labels[l] === "string")) {
      throw new TypeError(`metrics: ${name} needs labels [${expected.join(", ")}], got ${labelsKey(labels)}`);
    }
    if (!Number.isFinite(value) || value < 0) throw new RangeError(`metrics: ${name} cannot grow by ${value}`);
  }
}

/** How long increments wait in an isolate at most: about one Tenant call per tenant and second. */
const FLUSH_INTERVAL_MS = 1_000;
/**
 * A scheduled flush that has not started this long after it was due was cancelled with its
 * request (a waitUntil ends 30 s after the response at the latest); the next request schedules
 * another instead of waiting for it for ever.
 */
const STALE_FLUSH_MS = 60_000;

/**
 * Sums increments per tenant and series in this isolate and sends each tenant's sum to its Tenant
 * object in one call. Best effort: increments still buffered when the isolate is evicted (at most
 * about one interval's worth) are lost, and so is a batch whose call fails (logged, not retried,
 * so that a batch the object refuses cannot be resent for ever).
 */
export class MetricsBuffer {
  private pending = new Map<string, Map<string, Sample>>();
  private lastFlushMs = -Infinity;
  /** When the scheduled flush runs, or null when none is scheduled. */
  private dueMs: number | null = null;

  constructor(private readonly intervalMs = FLUSH_INTERVAL_MS) {}

  /** Adds `delta` to `tenant`'s buffered increments; throws on an invalid increment (checkDelta). */
  add(tenant: string, delta: MetricsDelta): void {
    checkDelta(delta);
    let series = this.pending.get(tenant);
    if (!series) this.pending.set(tenant, (series = new Map()));
    for (const s of delta) {
      const key = `${s.name}${labelsKey(s.labels)}`;
      const sum = series.get(key);
      series.set(key, { name: s.name, labels: s.labels, value: (sum?.value ?? 0) + s.value });
    }
  }

  /**
   * Makes sure a flush is scheduled: at once when the last one was at least an interval ago, else
   * when the interval ends. The request's `ctx` keeps the isolate alive until it is done.
   */
  flushSoon(ctx: ExecutionContext, env: TenantEnv): void {
    const now = Date.now();
    if (this.pending.size === 0 || (this.dueMs !== null && now < this.dueMs + STALE_FLUSH_MS)) return;
    const due = Math.max(now, this.lastFlushMs + this.intervalMs);
    this.dueMs = due;
    ctx.waitUntil(
      scheduler.wait(due - now).then(() => {
        this.dueMs = null;
        return this.flushNow(env);
      }),
    );
  }

  /** Sends everything buffered now, one call per tenant; resolves when every call has ended. */
  async flushNow(env: TenantEnv): Promise<void> {
    const batches = [...this.pending];
    this.pending = new Map();
    this.lastFlushMs = Date.now();
    await Promise.all(
      batches.map(async ([tenant, series]) => {
        try {
          await env.TENANT.getByName(tenant).record([...series.values()]);
        } catch (err) {
          console.error(`metrics: dropped ${series.size} buffered series of tenant ${tenant}:`, err);
        }
      }),
    );
  }
}

/** What the buffer and the exporter need of the Worker's bindings. */
export type TenantEnv = Pick<Env, "TENANT">;

/** The isolate's buffer: isolates serve many requests, so one buffer batches all of them. */
export const metricsBuffer = new MetricsBuffer();
