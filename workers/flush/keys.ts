// R2 object keys. The service name may contain `/`, so it is percent-encoded to keep one path
// segment per field; keys group by tenant and service so an operator can list or delete them.

export function blockObjectKey(tenant: string, service: string, shard: number, blockId: string): string {
  return `blocks/${tenant}/${encodeURIComponent(service)}/${shard}/${blockId}.pblk`;
}
