// The route step: decoders write each series into the builder of its ingester (sink), and once a
// whole request has been decoded and validated, send() hands every builder to its Durable Object.
// Nothing reaches an ingester before the whole request is known to be valid.

import { BlockBuilder, type Labels } from "../block/builder";
import { encodeBlock } from "../block/encode";
import { type Config, shardsFor } from "../config";
import type { Env } from "../env";
import type { PushMeta } from "../flush/stats";
import { ingesterName, shardOf } from "./shard";

interface Target {
  service: string;
  shard: number;
  builder: BlockBuilder;
}

export class Dispatch {
  private readonly targets = new Map<string, Target>();

  constructor(
    private readonly env: Env,
    private readonly config: Config,
    readonly tenant: string,
  ) {}

  /** The builder that series `labels` of `service` belongs in. */
  readonly sink = (service: string, labels: Labels): BlockBuilder => {
    const shard = shardOf(labels, shardsFor(this.config, service));
    const key = ingesterName(this.tenant, service, shard);
    let t = this.targets.get(key);
    if (!t) {
      t = { service, shard, builder: new BlockBuilder() };
      this.targets.set(key, t);
    }
    return t.builder;
  };

  get profileCount(): number {
    let n = 0;
    for (const t of this.targets.values()) n += t.builder.profileCount;
    return n;
  }

  /**
   * Sends every non-empty builder to its ingester in parallel; resolves when all are durable.
   * `meta.bytes` is shared among the ingesters by sample count.
   */
  async send(meta: PushMeta): Promise<void> {
    const targets = [...this.targets.entries()].filter(([, t]) => t.builder.profileCount > 0);
    const samples = targets.reduce((n, [, t]) => n + t.builder.sampleCount, 0);
    await Promise.all(
      targets.map(([name, t]) => {
        // Stored, not deflated: the ingester keeps it only until the next flush, and deflating
        // here cost 4x the CPU of the whole encoding on the acknowledgement path.
        const bytes = encodeBlock(
          t.builder,
          { tenant: this.tenant, service: t.service, shard: t.shard, blockId: "push", createdAtMs: meta.receivedAtMs },
          0,
        );
        const share = samples > 0 ? Math.round((meta.bytes * t.builder.sampleCount) / samples) : 0;
        const stub = this.env.INGESTER.get(this.env.INGESTER.idFromName(name));
        return stub.push({ tenant: this.tenant, service: t.service, shard: t.shard }, bytes, { ...meta, bytes: share });
      }),
    );
  }
}
