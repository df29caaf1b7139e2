// Reads back what the service stored: flushes every ingester, then decodes every block the D1
// catalog lists from R2 through the block reader.

import { listDurableObjectIds, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import type { BlockBuilder, Labels } from "../../workers/block/builder";
import { decodeBlock } from "../../workers/block/decode";
import { concatBytes } from "../../workers/util/bytes";

export async function ingesterStubs() {
  const ids = await listDurableObjectIds(env.INGESTER);
  return ids.map((id) => env.INGESTER.get(id));
}

export async function flushAll(): Promise<void> {
  for (const stub of await ingesterStubs()) await stub.flush();
}

export interface StoredSeries {
  labels: Record<string, string>;
  profileType: string;
  total: number;
  profiles: number;
}

export interface StoredBlock {
  id: string;
  service: string;
  objectKey: string;
  builder: BlockBuilder;
}

/** Every committed block, or those of one service. */
export async function storedBlocks(service?: string): Promise<StoredBlock[]> {
  const where = service === undefined ? "" : "WHERE service = ?";
  const stmt = env.DB.prepare(`SELECT id, service, object_key FROM blocks ${where} ORDER BY id`);
  const rows = await (service === undefined ? stmt : stmt.bind(service)).all<{
    id: string;
    service: string;
    object_key: string;
  }>();
  const out: StoredBlock[] = [];
  for (const r of rows.results) {
    const obj = await env.BLOCKS.get(r.object_key);
    if (!obj) throw new Error(`block ${r.id}: object ${r.object_key} missing from R2`);
    out.push({ id: r.id, service: r.service, objectKey: r.object_key, builder: decodeBlock(new Uint8Array(await obj.arrayBuffer()), undefined, false) });
  }
  return out;
}

/** Σ values per profile type id over every profile of a builder. */
export function typeTotals(b: BlockBuilder): Map<string, number> {
  const out = new Map<string, number>();
  for (let p = 0; p < b.profileCount; p++) {
    const type = b.strings[b.seriesProfileType.get(b.profileSeries.get(p))];
    out.set(type, (out.get(type) ?? 0) + b.profileTotal(p));
  }
  return out;
}

/** Every stored series with its total, merged over all blocks (keyed by profile type + labels). */
export async function storedSeries(service?: string): Promise<StoredSeries[]> {
  const byKey = new Map<string, StoredSeries>();
  for (const { builder: b } of await storedBlocks(service)) {
    for (let p = 0; p < b.profileCount; p++) {
      const s = b.profileSeries.get(p);
      const labels: Labels = b.seriesLabelsOf(s);
      const profileType = b.strings[b.seriesProfileType.get(s)];
      const key = profileType + JSON.stringify(labels);
      const entry = byKey.get(key) ?? { labels: Object.fromEntries(labels), profileType, total: 0, profiles: 0 };
      entry.total += b.profileTotal(p);
      entry.profiles += 1;
      byKey.set(key, entry);
    }
  }
  return [...byKey.values()];
}

/** Counts that must not move when a request is refused. */
export async function storageSnapshot() {
  const stubs = await ingesterStubs();
  let buffered = 0;
  for (const stub of stubs) buffered += (await stub.buffered()).pushes;
  const objects = (await env.BLOCKS.list()).objects.length;
  const count = async (table: string) =>
    (await env.DB.prepare(`SELECT count(*) AS n FROM ${table}`).first<{ n: number }>())!.n;
  return {
    ingesters: stubs.length,
    buffered,
    objects,
    blocks: await count("blocks"),
    series: await count("series"),
    labelStats: await count("label_stats"),
    services: await count("services"),
  };
}

/** A multipart/form-data body with file parts, as the Go SDK sends it. */
export function multipart(parts: { name: string; data: Uint8Array; filename?: string }[]): {
  body: Uint8Array;
  contentType: string;
} {
  const boundary = "----edge-pyroscope-test-boundary";
  const enc = new TextEncoder();
  const chunks: Uint8Array[] = [];
  for (const p of parts) {
    chunks.push(
      enc.encode(
        `--${boundary}\r\nContent-Disposition: form-data; name="${p.name}"; filename="${p.filename ?? p.name}"\r\nContent-Type: application/octet-stream\r\n\r\n`,
      ),
    );
    chunks.push(p.data);
    chunks.push(enc.encode("\r\n"));
  }
  chunks.push(enc.encode(`--${boundary}--\r\n`));
  return { body: concatBytes(chunks), contentType: `multipart/form-data; boundary=${boundary}` };
}

/**
 * Freezes and commits an ingester's active generation the way a flush does, stopping before its
 * buffer table is dropped: the state a crash between the D1 commit and the drop leaves behind.
 */
export async function commitWithoutDrop(stub: DurableObjectStub): Promise<void> {
  await runInDurableObject(stub, async (instance) => {
    const i = instance as unknown as {
      state: { identity: unknown; active: number; frozen: number | null; frozenAt: number | null };
      saveState(): void;
      ensureTable(gen: number): void;
      writeBlock(identity: unknown, gen: number, createdAt: number): Promise<unknown>;
    };
    const gen = i.state.active;
    i.state.frozen = gen;
    i.state.frozenAt = Date.now();
    i.state.active += 1;
    i.ensureTable(i.state.active);
    i.saveState();
    await i.writeBlock(i.state.identity, gen, i.state.frozenAt);
  });
}
