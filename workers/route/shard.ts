// Placement: every series has exactly one ingester, the Durable Object named
// `<tenant>/<service>/<shard>`, where shard = hash(series identity) mod the service's shard count.
// The identity leaves out the per-sample-type labels (`__*`), so all sample types of one upload
// land on the same shard and one push costs one Durable Object call per shard it touches.
// Raising a service's shard count moves series to new shards; queries read every shard listed in
// the catalog, so nothing is lost, only one flush interval of data is split across two shards.

import type { Labels } from "../block/builder";
import { fnv1a32 } from "./hash";

function seriesIdentity(labels: Labels): string {
  let key = "";
  for (const [n, v] of labels) if (!n.startsWith("__")) key += `${n}\u0001${v}\u0000`;
  return key;
}

export function shardOf(labels: Labels, shards: number): number {
  return shards <= 1 ? 0 : fnv1a32(seriesIdentity(labels)) % shards;
}

export function ingesterName(tenant: string, service: string, shard: number): string {
  return `${tenant}/${service}/${shard}`;
}
