// An acknowledged push survives the ingester being reset before its flush, and a flush that dies
// between the R2 write and the catalog commit leaves neither a duplicate nor an orphan.

import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { FLUSH_READ_ROWS, PART_BYTES } from "../durable-objects/ingester";
import { BlockBuilder } from "../workers/block/builder";
import { encodePushFrame } from "../workers/block/push-frame";
import { commitFlush } from "../workers/catalog/write";
import { decodePprof, normalizePprof } from "../workers/ingest/pprof";
import { FlushStats } from "../workers/flush/stats";
import { loadConfig } from "../workers/config";
import { blockObjectKey } from "../workers/flush/keys";
import { ingesterName } from "../workers/route/shard";
import { pprofFacts } from "./setup/manifest";
import { storageSnapshot, storedSeries, typeTotals } from "./setup/storage";
import { testdata, testdataPlain } from "./setup/testdata";

/** cpu.pb.gz's per-type totals, from the MANIFEST. */
async function cpuTotals(): Promise<number[]> {
  const facts = (await pprofFacts()).find((f) => f.file === "cpu.pb.gz")!;
  return [...facts.totals.values()].sort((a, b) => a - b);
}

async function ingestCpu(service: string): Promise<void> {
  const res = await exports.default.fetch(`http://localhost/ingest?name=${service}&format=pprof`, {
    method: "POST",
    body: await testdata("pprof/cpu.pb.gz"),
  });
  expect(res.status).toBe(200);
}

const config = loadConfig(env);

/** The block id and object key the ingester of `service` will use for its next flush. */
async function nextBlock(service: string): Promise<{ id: string; key: string }> {
  const state = await runInDurableObject(stubFor(service), (_i, st) =>
    JSON.parse(st.storage.sql.exec<{ v: string }>("SELECT v FROM meta WHERE k = 'state'").one().v),
  );
  const id = `${state.epoch}-${String(state.active).padStart(10, "0")}`;
  return { id, key: blockObjectKey("anonymous", service, 0, id) };
}

async function insertBlockRow(id: string, service: string, objectKey: string): Promise<void> {
  await env.DB.prepare(
    "INSERT INTO blocks (id, tenant, service, shard, min_time, max_time, profile_types, level, object_key, size_bytes, series, profiles, samples, created_at) VALUES (?, 'anonymous', ?, 0, 0, 0, '[]', 0, ?, 1, 0, 0, 0, 0)",
  )
    .bind(id, service, objectKey)
    .run();
}

const stubFor = (service: string) => env.INGESTER.get(env.INGESTER.idFromName(ingesterName("anonymous", service, 0)));

describe("durability", () => {
  it("keeps an acknowledged push across an ingester reset before the flush", async () => {
    await ingestCpu("durable");
    const stub = stubFor("durable");
    expect((await stub.buffered()).pushes).toBe(1);
    // Mark this instance, then reset the object: its memory is gone, only its storage remains.
    await runInDurableObject(stub, (instance) => {
      (instance as unknown as { marker?: string }).marker = "before reset";
    });
    await runInDurableObject(stub, (_instance, state) => state.abort("simulated crash")).catch(() => undefined);
    const fresh = stubFor("durable");
    const marker = await runInDurableObject(fresh, (instance) => (instance as unknown as { marker?: string }).marker);
    expect(marker).toBeUndefined();
    expect((await fresh.buffered()).pushes).toBe(1);
    expect(await runDurableObjectAlarm(fresh)).toBe(true);
    const totals = (await storedSeries()).filter((s) => s.labels.service_name === "durable").map((s) => s.total);
    expect(totals.sort((a, b) => a - b)).toEqual(await cpuTotals());
    expect((await fresh.buffered()).pushes).toBe(0);
  });

  it("survives a flush interrupted between the R2 write and the catalog commit", async () => {
    await ingestCpu("interrupted");
    const stub = stubFor("interrupted");
    const before = await storageSnapshot();
    // Make the catalog batch fail after the block object is written (the block row itself is
    // written by the same batch, so it rolls back too).
    await env.DB.exec("ALTER TABLE label_stats RENAME TO label_stats_away");
    const failure = await stub.flush().then(
      () => "no error",
      (err: unknown) => String(err),
    );
    expect(failure).toMatch(/label_stats/);
    await env.DB.exec("ALTER TABLE label_stats_away RENAME TO label_stats");
    const mid = await storageSnapshot();
    expect(mid.objects).toBe(before.objects + 1);
    expect(mid.blocks).toBe(before.blocks);
    // The retry (the alarm's job) writes the same key and commits once.
    const result = await stub.flush();
    expect(result?.committed).toBe(true);
    const after = await storageSnapshot();
    expect(after.objects).toBe(before.objects + 1);
    expect(after.blocks).toBe(before.blocks + 1);
    const totals = (await storedSeries()).filter((s) => s.labels.service_name === "interrupted").map((s) => s.total);
    expect(totals.sort((a, b) => a - b)).toEqual(await cpuTotals());
    const svc = await env.DB.prepare("SELECT profiles FROM services WHERE service = 'interrupted'").first<{ profiles: number }>();
    expect(svc?.profiles).toBe(2);
  });

  it("commits a block's catalog rows exactly once", async () => {
    const stats = new FlushStats();
    const block = { id: "test-once", tenant: "anonymous", service: "once", shard: 0, objectKey: "k", sizeBytes: 1, createdAt: 1 };
    stats.minTime = stats.maxTime = 1;
    expect(await commitFlush(env.DB, block, stats)).toBe(true);
    expect(await commitFlush(env.DB, block, stats)).toBe(false);
    const n = await env.DB.prepare("SELECT count(*) AS n FROM blocks WHERE id = 'test-once'").first<{ n: number }>();
    expect(n?.n).toBe(1);
  });

  it("flushes a generation read in batches, with a push stored in parts across a batch boundary", async () => {
    const service = "batched";
    const pprof = async (file: string, into: BlockBuilder, pod = "") => {
      const nowMs = Date.now();
      const nameLabels: [string, string][] = pod ? [["pod", pod]] : [];
      normalizePprof(decodePprof(await testdataPlain(file)), { mode: "ingest", appName: service, nameLabels, spyName: "gospy", fromMs: nowMs, nowMs, config }, () => into);
    };
    // Seven one-row pushes, then one push of several rows (the first read of FLUSH_READ_ROWS ends
    // inside it), then three more one-row pushes.
    const big = new BlockBuilder();
    for (const pod of ["a", "b", "c"]) {
      for (const file of ["pprof/heap", "pprof/dotnet.labels.pprof", "pprof/heap.pb", "pprof/dotnet-pprof-211.pb.gz"]) await pprof(file, big, pod);
    }
    const frame = encodePushFrame(big);
    expect(frame.length).toBeGreaterThan(PART_BYTES);
    for (let i = 0; i < FLUSH_READ_ROWS - 1; i++) await ingestCpu(service);
    const stub = stubFor(service);
    expect(await stub.push({ tenant: "anonymous", service, shard: 0 }, frame, { receivedAtMs: Date.now(), bytes: frame.length, spyName: "gospy", sdk: "" })).toBe(true);
    for (let i = 0; i < 3; i++) await ingestCpu(service);
    const rows = await runInDurableObject(stub, (_i, st) => {
      const active = JSON.parse(st.storage.sql.exec<{ v: string }>("SELECT v FROM meta WHERE k = 'state'").one().v).active;
      return st.storage.sql.exec<{ n: number }>(`SELECT count(*) AS n FROM buf_${active}`).one().n;
    });
    expect(rows).toBe(FLUSH_READ_ROWS - 1 + Math.ceil(frame.length / PART_BYTES) + 3);

    expect(await runDurableObjectAlarm(stub)).toBe(true);
    const cpu = new BlockBuilder();
    await pprof("pprof/cpu.pb.gz", cpu);
    const expected = typeTotals(big);
    for (const [type, total] of typeTotals(cpu)) expected.set(type, (expected.get(type) ?? 0) + (FLUSH_READ_ROWS - 1 + 3) * total);
    const stored = new Map<string, number>();
    for (const s of await storedSeries(service)) {
      stored.set(s.profileType, (stored.get(s.profileType) ?? 0) + s.total);
    }
    expect(stored).toEqual(expected);
    expect((await stub.buffered()).pushes).toBe(0);
  });

  it("arms an alarm when a push arrives and flushes from it", async () => {
    await ingestCpu("alarmed");
    const stub = stubFor("alarmed");
    const alarm = await runInDurableObject(stub, (_i, state) => state.storage.getAlarm());
    expect(alarm).not.toBeNull();
    // Armed by age (the push is far below FLUSH_MAX_BYTES), not for "now".
    expect(alarm! - Date.now()).toBeGreaterThan(config.FLUSH_MAX_AGE_MS - 5_000);
    expect(alarm! - Date.now()).toBeLessThanOrEqual(config.FLUSH_MAX_AGE_MS);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect((await stub.buffered()).pushes).toBe(0);
    const n = await env.DB.prepare("SELECT count(*) AS n FROM blocks WHERE service = 'alarmed'").first<{ n: number }>();
    expect(n?.n).toBe(1);
  });

  it("after a crash that followed the commit, neither uploads nor counts the block again", async () => {
    await ingestCpu("committed");
    const { id, key } = await nextBlock("committed");
    // As if an earlier attempt had committed this block and died before dropping its buffer.
    await insertBlockRow(id, "committed", key);
    const before = await storageSnapshot();
    const result = await stubFor("committed").flush();
    expect(result).toMatchObject({ blockId: id, committed: false });
    expect((await stubFor("committed").buffered()).pushes).toBe(0);
    const after = await storageSnapshot();
    expect(after.objects).toBe(before.objects);
    expect(after.blocks).toBe(before.blocks);
    expect(after.labelStats).toBe(before.labelStats);
  });

  it("refuses to drop data when another object already committed the same block id", async () => {
    await ingestCpu("collision");
    const { id } = await nextBlock("collision");
    await insertBlockRow(id, "someone-else", "blocks/anonymous/someone-else/0/x.pblk");
    const failure = await stubFor("collision").flush().then(
      () => "no error",
      (err: unknown) => String(err),
    );
    expect(failure).toMatch(/already committed/);
    expect((await stubFor("collision").buffered()).frozen).not.toBeNull();
  });

  it("refuses pushes with 429 once a failing ingester holds INGESTER_MAX_BUFFERED_BYTES", async () => {
    await ingestCpu("backlog");
    const stub = stubFor("backlog");
    await env.DB.exec("ALTER TABLE label_stats RENAME TO label_stats_away");
    try {
      await stub.flush().catch(() => undefined);
      expect((await stub.buffered()).frozen).not.toBeNull();
      // Fill the next generation up to the limit (opaque bytes: this flush will never read them).
      const identity = { tenant: "anonymous", service: "backlog", shard: 0 };
      const meta = { receivedAtMs: Date.now(), bytes: 1, spyName: "", sdk: "" };
      // In quarters: one RPC argument may not exceed 32 MiB.
      const quarter = new Uint8Array(Math.ceil(config.INGESTER_MAX_BUFFERED_BYTES / 4));
      for (let i = 0; i < 4; i++) expect(await stub.push(identity, quarter, meta)).toBe(true);
      const before = (await stub.buffered()).pushes;
      const res = await exports.default.fetch("http://localhost/ingest?name=backlog&format=pprof", {
        method: "POST",
        body: await testdata("pprof/cpu.pb.gz"),
      });
      expect(res.status).toBe(429);
      expect(((await res.json()) as { message: string }).message).toMatch(/retry later/);
      expect((await stub.buffered()).pushes).toBe(before);
    } finally {
      await env.DB.exec("ALTER TABLE label_stats_away RENAME TO label_stats");
    }
  });
});
