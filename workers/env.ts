// Bindings of the Worker (see wrangler.toml). Limits arrive as string vars; see config.ts.
export interface Env {
  INGESTER: DurableObjectNamespace<import("../durable-objects/ingester").Ingester>;
  MERGER: DurableObjectNamespace<import("../durable-objects/merger").Merger>;
  BLOCKS: R2Bucket;
  DB: D1Database;
  ASSETS?: Fetcher;
}
