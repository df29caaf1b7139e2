// The route step: decoders write each series into the builder of its ingester (sink), and once a
// whole request has been decoded and validated, send() hands every builder to its Durable Object.
// Nothing reaches an ingester before the whole request is known to be valid. A request that spans
// several ingesters is not atomic across them: if one call fails after others succeeded, those
// profiles stay stored, and a client's retry stores them again.

import { BlockBuilder, type Labels, seriesKey } from "../block/builder";
import { encodePushFrame } from "../block/push-frame";
import { type Config, shardsFor } from "../config";
import type { Env } from "../env";
import type { PushMeta } from "../flush/stats";
import { BODY_SIZE_LIMIT, IngestError } from "../ingest/errors";
import { humanBytes } from "../ingest/gzip";
import { discarded, ingested, metricsBuffer } from "../ops/metrics";
import { fnv1a32 } from "./hash";
import { ingesterName, shardOf } from "./shard";

/** Serialized RPC arguments are limited to 32 MiB (PLATFORM.md §4); leave room for the rest. */
const MAX_RPC_PAYLOAD_BYTES = 30 * 1024 * 1024;

interface Target {
  service: string;
  shard: number;
  builder: BlockBuilder;
}

export class Dispatch {
  private readonly targets = new Map<string, Target>();
  private readonly shards = new Map<string, number>();

  constructor(
    private readonly env: Env,
    private readonly config: Config,
    readonly tenant: string,
  ) {}

  /** The builder that series `labels` of `service` belongs in. */
  readonly sink = (service: string, labels: Labels): BlockBuilder => {
    let shards = this.shards.get(service);
    if (shards === undefined) this.shards.set(service, (shards = shardsFor(this.config, service)));
    const shard = shardOf(labels, shards);
    const key = ingesterName(this.tenant, service, shard);
    let t = this.targets.get(key);
    if (!t) {
      t = { service, shard, builder: new BlockBuilder() };
      this.targets.set(key, t);
    }
    return t.builder;
  };

  /**
   * Sends every non-empty builder to its ingester in parallel; resolves when all are durable.
   * `meta.bytes` is shared among the ingesters by sample count. Everything is encoded and checked
   * against the RPC size limit before the first call, so an oversized request stores nothing.
   */
  async send(meta: PushMeta): Promise<void> {
    const targets = [...this.targets.entries()].filter(([, t]) => t.builder.profileCount > 0);
    const samples = targets.reduce((n, [, t]) => n + t.builder.sampleCount, 0);
    const profiles = targets.reduce((n, [, t]) => n + t.builder.profileCount, 0);
    await this.admit(meta.bytes, profiles, samples);
    const encoded = targets.map(([name, t]) => {
      // A frame, not a block: the ingester keeps it only until the next flush, and encoding a
      // block here cost 8% of the ingest path's CPU (and decoding it at the flush 6% more).
      const bytes = encodePushFrame(t.builder);
      if (bytes.length > MAX_RPC_PAYLOAD_BYTES) {
        throw new IngestError(
          "too_large",
          BODY_SIZE_LIMIT,
          `the profiles for service "${t.service}" encode to ${bytes.length} bytes, over the ${MAX_RPC_PAYLOAD_BYTES}-byte limit of one ingester call; send them in smaller requests`,
        );
      }
      return { name, t, bytes };
    });
    const stored = await Promise.all(
      encoded.map(({ name, t, bytes }) => {
        const share = samples > 0 ? Math.round((meta.bytes * t.builder.sampleCount) / samples) : 0;
        const stub = this.env.INGESTER.get(this.env.INGESTER.idFromName(name));
        return stub.push({ tenant: this.tenant, service: t.service, shard: t.shard }, bytes, { ...meta, bytes: share });
      }),
    );
    const refused = encoded.filter((_, i) => !stored[i]).map(({ t }) => t.service);
    if (refused.length > 0) {
      metricsBuffer.add(this.tenant, discarded("ingester_backlogged", profiles, samples, meta.bytes));
      throw new IngestError(
        "rate_limited",
        "ingester_backlogged",
        `the ingester of service ${JSON.stringify(refused[0])} is behind on writing blocks and refused the push; retry later`,
      );
    }
    metricsBuffer.add(this.tenant, ingested(profiles, samples, meta.bytes));
  }

  /** Every series of the request as [service, compact hash of its labels and profile type]. */
  private seriesKeys(): [string, string][] {
    const out: [string, string][] = [];
    for (const t of this.targets.values()) {
      const b = t.builder;
      for (let s = 0; s < b.seriesCount; s++) {
        const key = seriesKey(b.seriesLabelsOf(s), b.strings[b.seriesProfileType.get(s)]);
        // Two 32-bit hashes: collisions would only let a series pass uncounted, never refuse one.
        out.push([t.service, fnv1a32(key).toString(36) + fnv1a32(`${key}\u0001`).toString(36)]);
      }
    }
    return out;
  }

  /**
   * The tenant's ingestion rate limit (a token bucket in its Tenant object; spec §7.3): a request
   * over the rate is refused whole with 429, and counted as discarded.
   */
  private async admit(bytes: number, profiles: number, samples: number): Promise<void> {
    const { INGESTION_RATE_BYTES: rate, INGESTION_BURST_BYTES: burst, MAX_SERIES_PER_TENANT: perTenant, MAX_SERIES_PER_SERVICE: perService } = this.config;
    if (rate <= 0 && perTenant <= 0 && perService <= 0) return;
    const tenantState = this.env.TENANT.getByName(this.tenant);
    if (perTenant > 0 || perService > 0) {
      const refusal = await tenantState.admitSeries(this.seriesKeys(), { perTenant, perService }, Date.now());
      if (refusal) {
        metricsBuffer.add(this.tenant, discarded("series_limit", profiles, samples, bytes));
        throw new IngestError("rate_limited", "series_limit", refusal);
      }
    }
    if (rate <= 0) return;
    const d = await tenantState.take(bytes, rate, burst, Date.now());
    if (d.allowed) return;
    metricsBuffer.add(this.tenant, discarded("rate_limited", profiles, samples, bytes));
    const why = Number.isFinite(d.retryAfterMs)
      ? `retry in ${Math.ceil(d.retryAfterMs / 1000)} s`
      : `one request may not exceed the burst of ${humanBytes(burst)}; send smaller requests`;
    throw new IngestError(
      "rate_limited",
      "rate_limited",
      `push rate limit (${humanBytes(rate)}/s) exceeded while adding ${humanBytes(bytes)} of tenant ${JSON.stringify(this.tenant)}: ${why}`,
    );
  }
}
