// Bindings of the Worker (see wrangler.toml). Limits arrive as string vars; see config.ts.
export interface Env {
  INGESTER: DurableObjectNamespace<import("../durable-objects/ingester").Ingester>;
  MERGER: DurableObjectNamespace<import("../durable-objects/merger").Merger>;
  TENANT: DurableObjectNamespace<import("../durable-objects/tenant").Tenant>;
  COMPACTOR: DurableObjectNamespace<import("../durable-objects/compactor").Compactor>;
  BLOCKS: R2Bucket;
  DB: D1Database;
  ASSETS?: Fetcher;
  /** Secret: a token that acts as admin of every tenant (`wrangler secret put ADMIN_TOKEN`). */
  ADMIN_TOKEN?: string;
}
