// The single source of truth for limits and defaults. Every value can be overridden at start-up
// with a wrangler var of the same name (`npm start -- --var MAX_LABEL_NAMES_PER_SERIES:40`);
// `/config` shows the values in force. Defaults follow Pyroscope (spec API.md §7) unless noted.

export interface Config {
  /** Series labels per profile after the sample-label split (spec §7.1). */
  MAX_LABEL_NAMES_PER_SERIES: number;
  MAX_LABEL_NAME_LENGTH: number;
  MAX_LABEL_VALUE_LENGTH: number;
  /**
   * Raw HTTP body limit for /ingest and Push. Pyroscope allows 256 MiB (spec §7.3), more than a
   * Worker isolate's 128 MB of memory holds next to the decoded data, so the default is 16 MiB.
   */
  INGESTION_BODY_LIMIT_BYTES: number;
  /** Decompressed pprof size limit; enforced while inflating so a gzip bomb never fully inflates. */
  MAX_PROFILE_SIZE_BYTES: number;
  MAX_PROFILE_STACKTRACE_SAMPLES: number;
  MAX_PROFILE_STACKTRACE_SAMPLE_LABELS: number;
  /** Deeper stacks are truncated (root side kept), not refused. */
  MAX_PROFILE_STACKTRACE_DEPTH: number;
  /** Longer strings are truncated (last bytes kept), not refused. */
  MAX_PROFILE_SYMBOL_VALUE_LENGTH: number;
  /**
   * Profiles older than this are refused. Pyroscope refuses anything older than 1 h; we keep the
   * window as wide as the retention so backfills work. 0 disables the check.
   */
  RETENTION_SECONDS: number;
  /** Profiles further in the future than this are refused (spec §7.2). 0 disables. */
  REJECT_NEWER_THAN_SECONDS: number;
  /** An ingester flushes a block when its buffer is this old... */
  FLUSH_MAX_AGE_MS: number;
  /** ...or this large (encoded bytes buffered), whichever comes first. */
  FLUSH_MAX_BYTES: number;
  /**
   * Buffered bytes at which an ingester whose flushes keep failing refuses new pushes (429, retry
   * later) instead of growing without bound. 0 = never refuse.
   */
  INGESTER_MAX_BUFFERED_BYTES: number;
  /**
   * Compaction merges the level-0 blocks of one shard whose earliest profile falls in the same
   * window of this length into one level-1 block (README "Compaction"). 0 turns compaction off.
   */
  COMPACTION_WINDOW_MS: number;
  /**
   * A window is compacted once it ended this long ago, and a block once it was flushed this long
   * ago: late flushes of the window join the same compaction, and no query still sees a block's
   * data in its ingester when the block is merged away.
   */
  COMPACTION_DELAY_MS: number;
  /**
   * Compressed bytes of blocks merged at once: the compactor holds their union decoded. A decoded
   * block takes about 7× its compressed size, a merge of one service's flushes far less (they
   * share symbols and stacks: 2.3× for 64 flushes of the bench's profiles), so 4 MiB stays well
   * inside an isolate's 128 MB even for blocks that share nothing.
   */
  COMPACTION_MAX_INPUT_BYTES: number;
  /** Blocks merged at once (each is one R2 read, a subrequest). */
  COMPACTION_MAX_BLOCKS: number;
  /** Merged-away objects stay in R2 this long, so that queries planned before the merge can finish. */
  COMPACTION_DELETE_GRACE_MS: number;
  /** Default number of ingester shards per service; see README "Placement". */
  INGEST_SHARDS: number;
  /** Per-service shard counts, `svc-a=8,svc-b=4`; overrides INGEST_SHARDS for those services. */
  INGEST_SHARDS_OVERRIDES: string;
  /**
   * Queries reaching further back than this are clamped to it, and a range entirely older
   * answers empty (spec §3.0). Pyroscope's default is 7 days; ours follows the retention so that
   * everything kept can be read. 0 = no lookback limit.
   */
  MAX_QUERY_LOOKBACK_SECONDS: number;
  /**
   * Longest query range. Pyroscope's default (1 day) refuses the 7-day range Grafana offers
   * (spec §9.2), so ours is 31 days. 0 = no limit.
   */
  MAX_QUERY_LENGTH_SECONDS: number;
  /** `max_nodes` when a request leaves it unset or 0 (spec §3.0). */
  MAX_FLAMEGRAPH_NODES_DEFAULT: number;
  /** Largest `max_nodes` a request may ask for. */
  MAX_FLAMEGRAPH_NODES_MAX: number;
  /** Functions a DOT call graph keeps when a request leaves `max_nodes` unset (spec §3.5, §5.1). */
  DOT_NODES_DEFAULT: number;
  /**
   * Merger Durable Objects a query spreads its blocks over (by a hash of the block id): the
   * parallelism of one query and the number of sub-invocations it costs at most.
   */
  MERGE_FANOUT: number;
  /** Decoded block sections kept for repeated queries, per isolate hosting Merger objects. */
  QUERY_CACHE_BYTES: number;
  /**
   * `required`: every data request needs a token (the default, for deployed Workers). `open`: no
   * authentication, X-Scope-OrgID picks the tenant (`npm start` runs open and says so).
   */
  AUTH_MODE: string;
  /**
   * Per-tenant ingestion rate, uncompressed bytes per second (token bucket); 0 = unlimited.
   * Pyroscope's default is 4 MiB/s; `npm start` sets 0 unless told otherwise.
   */
  INGESTION_RATE_BYTES: number;
  /** The bucket size: the most a tenant may send at once. A larger single upload is refused. */
  INGESTION_BURST_BYTES: number;
  /**
   * Series that received a profile within the last hour, per tenant (Pyroscope's
   * max_global_series_per_tenant) and per service; a push adding more is refused. 0 = unlimited.
   */
  MAX_SERIES_PER_TENANT: number;
  MAX_SERIES_PER_SERVICE: number;
  /**
   * Queries of one tenant that one Worker isolate runs at once; further ones get 429. Counted in
   * the isolate's memory (no call per query): it bounds what one isolate holds, which is what a
   * burst of queries exhausts. 16: a dashboard's panels at once, whose partial results (a few MB
   * each at most) fit an isolate's 128 MB. Pyroscope has no such limit. 0 = unlimited.
   */
  MAX_QUERY_CONCURRENCY: number;
  /**
   * Matchers in a query's selector (all selectors of a label call together). Pyroscope has no
   * limit; Grafana and the dashboard send a handful. 0 = unlimited.
   */
  MAX_QUERY_MATCHERS: number;
  /** Characters of a query's selectors together; Grafana's multi-value variables of a few hundred values fit. */
  MAX_QUERY_SELECTOR_LENGTH: number;
  /** Label names in SelectSeries/SelectHeatmap `group_by` and Series `label_names`. Pyroscope has no limit. */
  MAX_QUERY_LABEL_NAMES: number;
  /** Ids in each of `profile_id_selector`, `span_selector` and `trace_id_selector`. */
  MAX_QUERY_IDS: number;
  /**
   * Points per series of SelectSeries (time slots of SelectHeatmap), range / step: Prometheus'
   * "maximum resolution of 11,000 points per timeseries". Grafana asks for about 1500.
   */
  MAX_QUERY_POINTS: number;
  /** Origins allowed to call the API from a browser (the dashboard on Pages): `*` or a comma list. */
  CORS_ALLOWED_ORIGINS: string;
  /**
   * Ingesters a services page view asks for what they hold unflushed (one Durable Object call
   * each, in parallel): those of never-flushed services first, then the most recently flushed.
   * The others show their flushed figures, at most FLUSH_MAX_AGE_MS old. 0 = ask all.
   */
  SERVICES_MAX_INGESTER_CALLS: number;
}

export const DEFAULTS: Readonly<Config> = Object.freeze({
  MAX_LABEL_NAMES_PER_SERIES: 30,
  MAX_LABEL_NAME_LENGTH: 1024,
  MAX_LABEL_VALUE_LENGTH: 2048,
  INGESTION_BODY_LIMIT_BYTES: 16 * 1024 * 1024,
  MAX_PROFILE_SIZE_BYTES: 4 * 1024 * 1024,
  MAX_PROFILE_STACKTRACE_SAMPLES: 16000,
  MAX_PROFILE_STACKTRACE_SAMPLE_LABELS: 100,
  MAX_PROFILE_STACKTRACE_DEPTH: 1000,
  MAX_PROFILE_SYMBOL_VALUE_LENGTH: 65535,
  RETENTION_SECONDS: 30 * 24 * 3600,
  REJECT_NEWER_THAN_SECONDS: 600,
  FLUSH_MAX_AGE_MS: 15_000,
  // Buffered pushes are frames (the builder's columns as they are in memory), 2-4 times the size
  // of the block they become before deflate: 16 MiB of them is 4-8 MiB of block.
  FLUSH_MAX_BYTES: 16 * 1024 * 1024,
  INGESTER_MAX_BUFFERED_BYTES: 64 * 1024 * 1024,
  COMPACTION_WINDOW_MS: 3_600_000,
  COMPACTION_DELAY_MS: 600_000,
  COMPACTION_MAX_INPUT_BYTES: 4 * 1024 * 1024,
  COMPACTION_MAX_BLOCKS: 256,
  COMPACTION_DELETE_GRACE_MS: 900_000,
  INGEST_SHARDS: 1,
  INGEST_SHARDS_OVERRIDES: "",
  MAX_QUERY_LOOKBACK_SECONDS: 30 * 24 * 3600,
  MAX_QUERY_LENGTH_SECONDS: 31 * 24 * 3600,
  MAX_FLAMEGRAPH_NODES_DEFAULT: 8192,
  MAX_FLAMEGRAPH_NODES_MAX: 1048576,
  DOT_NODES_DEFAULT: 100,
  MERGE_FANOUT: 16,
  QUERY_CACHE_BYTES: 32 * 1024 * 1024,
  AUTH_MODE: "required",
  INGESTION_RATE_BYTES: 4 * 1024 * 1024,
  INGESTION_BURST_BYTES: 2 * 1024 * 1024,
  MAX_SERIES_PER_TENANT: 5000,
  MAX_SERIES_PER_SERVICE: 0,
  MAX_QUERY_CONCURRENCY: 16,
  MAX_QUERY_MATCHERS: 100,
  MAX_QUERY_SELECTOR_LENGTH: 16384,
  MAX_QUERY_LABEL_NAMES: 64,
  MAX_QUERY_IDS: 1024,
  MAX_QUERY_POINTS: 11000,
  CORS_ALLOWED_ORIGINS: "*",
  SERVICES_MAX_INGESTER_CALLS: 64,
});

/** Reads overrides from the environment (wrangler vars are strings; tests may pass numbers). */
export function loadConfig(env: object): Config {
  const vars = env as Record<string, unknown>;
  const out = { ...DEFAULTS } as Record<string, number | string>;
  for (const key of Object.keys(DEFAULTS) as (keyof Config)[]) {
    const raw = vars[key];
    if (raw === undefined || raw === null || raw === "") continue;
    if (typeof DEFAULTS[key] === "number") {
      const n = Number(raw);
      if (!Number.isFinite(n) || n < 0) {
        throw new Error(`config: ${key} must be a non-negative number, got ${JSON.stringify(raw)}`);
      }
      out[key] = n;
    } else {
      out[key] = String(raw);
    }
  }
  const config = out as unknown as Config;
  if (config.AUTH_MODE !== "required" && config.AUTH_MODE !== "open") {
    throw new Error(`config: AUTH_MODE must be "required" or "open", got ${JSON.stringify(config.AUTH_MODE)}`);
  }
  if (config.FLUSH_MAX_AGE_MS === 0 && config.FLUSH_MAX_BYTES === 0) {
    throw new Error("config: FLUSH_MAX_AGE_MS and FLUSH_MAX_BYTES cannot both be 0: ingesters would never flush");
  }
  return config;
}

/** Shard count for a service: the override when one is configured, else the default. */
export function shardsFor(config: Config, service: string): number {
  for (const part of config.INGEST_SHARDS_OVERRIDES.split(",")) {
    const eq = part.lastIndexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === service) {
      const n = Number(part.slice(eq + 1));
      if (Number.isInteger(n) && n >= 1) return n;
    }
  }
  return Math.max(1, Math.floor(config.INGEST_SHARDS));
}
