// The D1 catalog: what blocks exist (the commit point of every flush), and the series, label and
// usage statistics that answer label/series queries and the dashboard without reading R2.
// Times are unix milliseconds; hours are the unix ms of the hour's start.

import { index, integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";

export const blocks = sqliteTable(
  "blocks",
  {
    id: text("id").primaryKey(),
    tenant: text("tenant").notNull(),
    service: text("service").notNull(),
    shard: integer("shard").notNull(),
    minTime: integer("min_time").notNull(),
    maxTime: integer("max_time").notNull(),
    /** JSON array of the profile type ids in the block. */
    profileTypes: text("profile_types").notNull(),
    /** 0 for blocks flushed by an ingester; compaction raises it. */
    level: integer("level").notNull().default(0),
    objectKey: text("object_key").notNull(),
    sizeBytes: integer("size_bytes").notNull(),
    series: integer("series").notNull(),
    profiles: integer("profiles").notNull(),
    samples: integer("samples").notNull(),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [
    index("blocks_by_service_time").on(t.tenant, t.service, t.minTime),
    index("blocks_by_tenant_time").on(t.tenant, t.maxTime),
  ],
);

/** One row per block and profile type, so a planner selects blocks by type without parsing JSON. */
export const blockTypes = sqliteTable(
  "block_types",
  {
    blockId: text("block_id").notNull(),
    tenant: text("tenant").notNull(),
    service: text("service").notNull(),
    profileType: text("profile_type").notNull(),
    minTime: integer("min_time").notNull(),
    maxTime: integer("max_time").notNull(),
    profiles: integer("profiles").notNull(),
    samples: integer("samples").notNull(),
    total: integer("total").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.blockId, t.profileType] }),
    index("block_types_by_type_time").on(t.tenant, t.profileType, t.minTime),
  ],
);

/**
 * Blocks that compaction merged into a larger one (`into`). Their catalog rows are gone, so
 * queries never read them twice; this row remains so that an ingester retrying a flush it had
 * already committed still finds it committed and does not write its data a second time.
 */
export const compactedBlocks = sqliteTable(
  "compacted_blocks",
  {
    id: text("id").primaryKey(),
    tenant: text("tenant").notNull(),
    service: text("service").notNull(),
    shard: integer("shard").notNull(),
    objectKey: text("object_key").notNull(),
    into: text("into_id").notNull(),
    compactedAt: integer("compacted_at").notNull(),
  },
  (t) => [index("compacted_blocks_by_shard").on(t.tenant, t.service, t.shard, t.compactedAt)],
);

/** Every series ever stored: answers Series, LabelNames and LabelValues without R2. */
export const series = sqliteTable(
  "series",
  {
    tenant: text("tenant").notNull(),
    fingerprint: text("fingerprint").notNull(),
    service: text("service").notNull(),
    profileType: text("profile_type").notNull(),
    /** JSON array of [name, value] pairs sorted by name. */
    labels: text("labels").notNull(),
    firstSeen: integer("first_seen").notNull(),
    lastSeen: integer("last_seen").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.tenant, t.fingerprint] }),
    index("series_by_service").on(t.tenant, t.service, t.lastSeen),
    index("series_by_type").on(t.tenant, t.profileType, t.lastSeen),
  ],
);

/** Usage per tenant, service, label name, label value and hour. */
export const labelStats = sqliteTable(
  "label_stats",
  {
    tenant: text("tenant").notNull(),
    service: text("service").notNull(),
    name: text("name").notNull(),
    value: text("value").notNull(),
    hour: integer("hour").notNull(),
    profiles: integer("profiles").notNull(),
    samples: integer("samples").notNull(),
    bytes: integer("bytes").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.tenant, t.service, t.name, t.value, t.hour] }),
    index("label_stats_by_hour").on(t.tenant, t.hour),
  ],
);

/** The service catalog. The *_seen columns are JSON arrays kept as sorted sets. */
export const services = sqliteTable(
  "services",
  {
    tenant: text("tenant").notNull(),
    service: text("service").notNull(),
    firstSeen: integer("first_seen").notNull(),
    lastSeen: integer("last_seen").notNull(),
    profileTypes: text("profile_types").notNull(),
    spyNames: text("spy_names").notNull(),
    sdkVersions: text("sdk_versions").notNull(),
    profiles: integer("profiles").notNull(),
    ingestedBytes: integer("ingested_bytes").notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenant, t.service] })],
);

/**
 * Every ingester that has accepted a push, registered before its first acknowledgement: queries
 * ask these for data not yet flushed, so a profile is readable as soon as its push returns.
 */
export const ingesters = sqliteTable(
  "ingesters",
  {
    tenant: text("tenant").notNull(),
    service: text("service").notNull(),
    shard: integer("shard").notNull(),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenant, t.service, t.shard] })],
);

/** API tokens, stored as SHA-256 hashes only; a revoked token keeps its row for the audit trail. */
export const tokens = sqliteTable(
  "tokens",
  {
    id: text("id").primaryKey(),
    tenant: text("tenant").notNull(),
    /** read, write or admin. */
    scope: text("scope").notNull(),
    name: text("name").notNull(),
    hash: text("hash").notNull().unique(),
    createdAt: integer("created_at").notNull(),
    revokedAt: integer("revoked_at"),
  },
  (t) => [index("tokens_by_tenant").on(t.tenant)],
);

/** Per-tenant overrides of the limits in workers/config.ts (name = the config key). */
export const tenantLimits = sqliteTable(
  "tenant_limits",
  {
    tenant: text("tenant").notNull(),
    name: text("name").notNull(),
    value: text("value").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenant, t.name] })],
);

/** Who changed what: token and limit administration. */
export const auditLog = sqliteTable(
  "audit_log",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    at: integer("at").notNull(),
    tenant: text("tenant").notNull(),
    /** The token id that acted, or "root" for the ADMIN_TOKEN secret. */
    actor: text("actor").notNull(),
    action: text("action").notNull(),
    /** JSON details of the change (never a secret). */
    detail: text("detail").notNull(),
  },
  (t) => [index("audit_by_tenant_time").on(t.tenant, t.at)],
);
