// An acknowledged push survives the ingester being reset before its flush, and a flush that dies
// between the R2 write and the catalog commit leaves neither a duplicate nor an orphan.

import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { commitFlush } from "../workers/catalog/write";
import { FlushStats } from "../workers/flush/stats";
import { ingesterName } from "../workers/route/shard";
import { storageSnapshot, storedSeries } from "./setup/storage";
import { testdata } from "./setup/testdata";

async function ingestCpu(service: string): Promise<void> {
  const res = await exports.default.fetch(`http://localhost/ingest?name=${service}&format=pprof`, {
    method: "POST",
    body: await testdata("pprof/cpu.pb.gz"),
  });
  expect(res.status).toBe(200);
}

const stubFor = (service: string) => env.INGESTER.get(env.INGESTER.idFromName(ingesterName("anonymous", service, 0)));

describe("durability", () => {
  it("keeps an acknowledged push across an ingester reset before the flush", async () => {
    await ingestCpu("durable");
    const stub = stubFor("durable");
    expect((await stub.buffered()).pushes).toBe(1);
    // Reset the object: its in-memory state is gone, only its storage remains.
    await runInDurableObject(stub, (_instance, state) => {
      try {
        state.abort("simulated crash");
      } catch {
        // abort() throws in the aborted object by design
      }
    }).catch(() => undefined);
    const fresh = stubFor("durable");
    expect((await fresh.buffered()).pushes).toBe(1);
    expect(await runDurableObjectAlarm(fresh)).toBe(true);
    const totals = (await storedSeries()).filter((s) => s.labels.service_name === "durable").map((s) => s.total);
    expect(totals.sort((a, b) => a - b)).toEqual([47, 470_000_000]);
    expect((await fresh.buffered()).pushes).toBe(0);
  });

  it("survives a flush interrupted between the R2 write and the catalog commit", async () => {
    await ingestCpu("interrupted");
    const stub = stubFor("interrupted");
    const before = await storageSnapshot();
    // Make the catalog commit fail: the block object is written, the D1 batch is not.
    await env.DB.exec("ALTER TABLE blocks RENAME TO blocks_away");
    const failure = await stub.flush().then(
      () => "no error",
      (err: unknown) => String(err),
    );
    expect(failure).toMatch(/Failed query: .*"blocks"/);
    await env.DB.exec("ALTER TABLE blocks_away RENAME TO blocks");
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
    expect(totals.sort((a, b) => a - b)).toEqual([47, 470_000_000]);
    const svc = await env.DB.prepare("SELECT profiles FROM services WHERE service = 'interrupted'").first<{ profiles: number }>();
    expect(svc?.profiles).toBe(2);
  });

  it("commits a block's catalog rows exactly once", async () => {
    const stats = new FlushStats();
    const block = { id: "test-once", tenant: "anonymous", service: "once", shard: 0, objectKey: "k", sizeBytes: 1, createdAt: 1 };
    stats.service.firstSeen = stats.service.lastSeen = 1;
    stats.minTime = stats.maxTime = 1;
    expect(await commitFlush(env.DB, block, stats)).toBe(true);
    expect(await commitFlush(env.DB, block, stats)).toBe(false);
    const n = await env.DB.prepare("SELECT count(*) AS n FROM blocks WHERE id = 'test-once'").first<{ n: number }>();
    expect(n?.n).toBe(1);
  });

  it("arms an alarm when a push arrives and flushes from it", async () => {
    await ingestCpu("alarmed");
    const stub = stubFor("alarmed");
    const alarm = await runInDurableObject(stub, (_i, state) => state.storage.getAlarm());
    expect(alarm).not.toBeNull();
    expect(alarm! - Date.now()).toBeLessThanOrEqual(15_000);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect((await stub.buffered()).pushes).toBe(0);
    const n = await env.DB.prepare("SELECT count(*) AS n FROM blocks WHERE service = 'alarmed'").first<{ n: number }>();
    expect(n?.n).toBe(1);
  });
});
