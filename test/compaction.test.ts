// Compaction: a shard's level-0 blocks of one window become one level-1 block whose totals are
// the sum of its inputs, queries answer the same before and after, merged-away objects go only
// after the grace period, and a compaction interrupted before its commit leaves no orphan.

import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { isCommitted } from "../workers/catalog/write";
import { type CompactionCandidate, dueAt, planCompaction } from "../workers/compact/plan";
import { loadConfig } from "../workers/config";
import { ingesterName } from "../workers/route/shard";
import { pprofFacts } from "./setup/manifest";
import { rpcJson } from "./setup/query";
import { storedBlocks, storedSeries, typeTotals } from "./setup/storage";
import { testdata } from "./setup/testdata";

const config = loadConfig(env);
const HOUR = 3_600_000;

const ingester = (service: string) => env.INGESTER.getByName(ingesterName("anonymous", service, 0));
const compactor = (service: string) => env.COMPACTOR.getByName(ingesterName("anonymous", service, 0));

/** One push, flushed at once: one level-0 block. */
async function ingestFlushed(service: string, query: string, body: Uint8Array): Promise<void> {
  const res = await exports.default.fetch(`http://localhost/ingest?name=${query}`, { method: "POST", body });
  expect(res.status, await res.text()).toBe(200);
  expect((await ingester(service).flush())?.committed).toBe(true);
}

interface Row {
  id: string;
  level: number;
  min_time: number;
  object_key: string;
}
async function catalog(service: string): Promise<Row[]> {
  const rows = await env.DB.prepare("SELECT id, level, min_time, object_key FROM blocks WHERE service = ? ORDER BY min_time, id").bind(service).all<Row>();
  return rows.results;
}

async function objectKeys(service: string): Promise<string[]> {
  return (await env.BLOCKS.list({ prefix: `blocks/anonymous/${service}/` })).objects.map((o) => o.key).sort();
}

/** cpu.pb.gz three times, then a folded profile 5 minutes later: four blocks of one window. */
async function oneWindowOfFlushes(service: string): Promise<number> {
  const cpu = await testdata("pprof/cpu.pb.gz");
  for (let i = 0; i < 3; i++) await ingestFlushed(service, `${service}&format=pprof`, cpu);
  const t0 = (await catalog(service))[0].min_time;
  const folded = await testdata("folded/cortex-dev-01__kafka-0__cpu__0.cpu.folded");
  const from = Math.floor(t0 / 1000) + 300;
  await ingestFlushed(service, `${service}.cpu{src="folded"}&from=${from}&until=${from + 10}`, folded);
  return t0;
}

/** Every answer a dashboard would show for the service: flame graph and series per stored type. */
async function answers(service: string, start: number, end: number): Promise<unknown[]> {
  const types = await env.DB.prepare("SELECT DISTINCT profile_type AS t FROM block_types WHERE service = ? ORDER BY t").bind(service).all<{ t: string }>();
  const out: unknown[] = [];
  for (const { t } of types.results) {
    const sel = { profileTypeID: t, labelSelector: `{service_name="${service}"}`, start, end };
    const flame = await rpcJson("SelectMergeStacktraces", { ...sel, maxNodes: 16384 });
    const series = await rpcJson("SelectSeries", { ...sel, step: 60, groupBy: ["src"], exemplarType: "EXEMPLAR_TYPE_INDIVIDUAL" });
    expect(flame.status).toBe(200);
    expect(series.status).toBe(200);
    // Exemplar ids derive from series and time, so compaction must keep them and what they select.
    const ids = (series.json.series ?? []).flatMap((g: any) => g.points.map((p: any) => p.exemplars[0].profileId));
    const drilled = await rpcJson("SelectMergeStacktraces", { ...sel, profileIdSelector: ids });
    expect(drilled.json.flamegraph.total).toBe(flame.json.flamegraph.total);
    out.push(t, flame.json, series.json, drilled.json);
  }
  expect(out.length).toBeGreaterThan(0);
  return out;
}

function sumTotals(maps: Map<string, number>[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of maps) for (const [k, v] of m) out.set(k, (out.get(k) ?? 0) + v);
  return out;
}

describe("compaction plan", () => {
  const limits = { COMPACTION_WINDOW_MS: HOUR, COMPACTION_DELAY_MS: 600_000, COMPACTION_MAX_INPUT_BYTES: 1000, COMPACTION_MAX_BLOCKS: 3 };
  const block = (id: string, minTime: number, sizeBytes = 100, createdAt = minTime): CompactionCandidate => ({
    id,
    objectKey: `k/${id}`,
    minTime,
    maxTime: minTime,
    sizeBytes,
    createdAt,
  });

  it("groups due blocks by the window of their earliest profile and leaves single blocks alone", () => {
    const blocks = [block("a", 10 * HOUR + 5), block("b", 10 * HOUR + 900), block("c", 11 * HOUR), block("d", 10 * HOUR + 60)];
    const plan = planCompaction(blocks, 20 * HOUR, limits);
    expect(plan.groups.map((g) => [g.windowStartMs, g.blocks.map((b) => b.id)])).toEqual([[10 * HOUR, ["a", "d", "b"]]]);
    expect(plan.nextDueMs).toBeNull();
  });

  it("waits for the window to end and for each block's own delay", () => {
    const late = block("late", 10 * HOUR + 1, 100, 13 * HOUR);
    const blocks = [block("a", 10 * HOUR), block("b", 10 * HOUR + 2), late, block("open", 12 * HOUR)];
    const now = 11 * HOUR + limits.COMPACTION_DELAY_MS;
    const plan = planCompaction(blocks, now, limits);
    expect(plan.groups.map((g) => g.blocks.map((b) => b.id))).toEqual([["a", "b"]]);
    expect(dueAt(late, limits)).toBe(13 * HOUR + limits.COMPACTION_DELAY_MS);
    expect(plan.nextDueMs).toBe(Math.min(dueAt(late, limits), dueAt(blocks[3], limits)));
    expect(planCompaction(blocks, now - 1, limits).groups).toEqual([]);
  });

  it("cuts groups at the byte and block budgets", () => {
    const blocks = ["a", "b", "c", "d", "e"].map((id, i) => block(id, i, 300));
    expect(planCompaction(blocks, 10 * HOUR, limits).groups.map((g) => g.blocks.map((b) => b.id))).toEqual([
      ["a", "b", "c"],
      ["d", "e"],
    ]);
    const bySize = [block("a", 0, 600), block("b", 1, 600), block("c", 2, 300), block("huge", 3, 5000)];
    expect(planCompaction(bySize, 10 * HOUR, limits).groups.map((g) => g.blocks.map((b) => b.id))).toEqual([["b", "c"]]);
    expect(planCompaction(blocks, 10 * HOUR, { ...limits, COMPACTION_WINDOW_MS: 0 }).groups).toEqual([]);
  });
});

describe("compaction", () => {
  it("merges a window's blocks into one whose totals are the sum of its inputs, and queries answer the same", async () => {
    const service = "compacted";
    const t0 = await oneWindowOfFlushes(service);
    // A fifth block two hours later: its window has only it, so it stays as it is.
    const later = Math.floor(t0 / 1000) + 7200;
    await ingestFlushed(service, `${service}.cpu{src="folded"}&from=${later}&until=${later + 10}`, await testdata("folded/cortex-dev-01__kafka-0__cpu__0.cpu.folded"));

    const before = await catalog(service);
    expect(before.map((r) => r.level)).toEqual([0, 0, 0, 0, 0]);
    const sources = before.slice(0, 4);
    const inputTotals = sumTotals((await storedBlocks(service)).filter((b) => sources.some((s) => s.id === b.id)).map((b) => typeTotals(b.builder)));
    const range = { start: t0 - HOUR, end: t0 + 3 * HOUR };
    const answered = await answers(service, range.start, range.end);
    // A range inside the window: the merged block spans more, its profiles outside must not count.
    const narrow = { start: t0 - 60_000, end: t0 + 60_000 };
    const narrowAnswered = await answers(service, narrow.start, narrow.end);

    const now = Date.now() + config.COMPACTION_DELAY_MS + 1;
    const run = await compactor(service).compact(now);
    expect(run.compacted).toHaveLength(1);
    expect(run.compacted[0].sources).toBe(4);

    const after = await catalog(service);
    expect(after.map((r) => [r.level, r.id === before[4].id])).toEqual([
      [1, false],
      [0, true],
    ]);
    const merged = (await storedBlocks(service)).find((b) => b.id === after[0].id)!;
    expect(typeTotals(merged.builder)).toEqual(inputTotals);
    // The pprof's series, now in the merged block, holds three times the MANIFEST's totals.
    const facts = (await pprofFacts()).find((f) => f.file === "cpu.pb.gz")!;
    const pprofSeries = (await storedSeries(service)).filter((s) => s.labels.src === undefined);
    expect(pprofSeries.map((s) => s.total).sort((a, b) => a - b)).toEqual([...facts.totals.values()].map((v) => 3 * v).sort((a, b) => a - b));
    expect(await answers(service, range.start, range.end)).toEqual(answered);
    expect(await answers(service, narrow.start, narrow.end)).toEqual(narrowAnswered);
    expect(narrowAnswered).not.toEqual(answered);

    // The sources leave tombstones, so an ingester retrying one of those flushes finds it committed.
    for (const s of sources) expect(await isCommitted(env.DB, s.id, s.object_key)).toBe(true);
    const tombstones = await env.DB.prepare("SELECT into_id FROM compacted_blocks WHERE service = ?").bind(service).all<{ into_id: string }>();
    expect(tombstones.results.map((r) => r.into_id)).toEqual(sources.map(() => after[0].id));

    // Their objects stay for queries planned before the merge, then go.
    expect(await objectKeys(service)).toEqual([...before.map((r) => r.object_key), after[0].object_key].sort());
    const rerun = await compactor(service).compact(now + config.COMPACTION_DELETE_GRACE_MS);
    expect(rerun).toEqual({ compacted: [], deleted: 4, remaining: 0 });
    expect(await objectKeys(service)).toEqual([after[0].object_key, before[4].object_key].sort());
    expect(await answers(service, range.start, range.end)).toEqual(answered);
  });

  it("leaves no orphan and no duplicate when interrupted between the upload and the commit", async () => {
    const service = "compacted-crash";
    await oneWindowOfFlushes(service);
    const first = await catalog(service);
    const now = Date.now() + config.COMPACTION_DELAY_MS + 1;

    await env.DB.exec("ALTER TABLE compacted_blocks RENAME TO compacted_blocks_away");
    const failure = await compactor(service).compact(now).then(
      () => "no error",
      (err: unknown) => String(err),
    );
    await env.DB.exec("ALTER TABLE compacted_blocks_away RENAME TO compacted_blocks");
    expect(failure).toMatch(/compacted_blocks/);
    expect(await catalog(service)).toEqual(first);
    const uploaded = (await objectKeys(service)).filter((k) => !first.some((r) => r.object_key === k));
    expect(uploaded).toHaveLength(1);

    // A late flush joins the window, so the retry merges a different group under another key.
    await ingestFlushed(service, `${service}&format=pprof`, await testdata("pprof/cpu.pb.gz"));
    const inputs = await catalog(service);
    const inputTotals = sumTotals((await storedBlocks(service)).map((b) => typeTotals(b.builder)));
    const run = await compactor(service).compact(Date.now() + config.COMPACTION_DELAY_MS + 1);
    expect(run.compacted.map((c) => c.sources)).toEqual([5]);

    const after = await catalog(service);
    expect(after.map((r) => r.level)).toEqual([1]);
    expect(await objectKeys(service)).toEqual([...inputs.map((r) => r.object_key), after[0].object_key].sort());
    expect(await objectKeys(service)).not.toContain(uploaded[0]);
    expect(typeTotals((await storedBlocks(service))[0].builder)).toEqual(inputTotals);
  });

  it("is woken by the ingester's flush, then arms itself for when the block becomes due", async () => {
    const service = "compacted-wake";
    const res = await exports.default.fetch(`http://localhost/ingest?name=${service}&format=pprof`, { method: "POST", body: await testdata("pprof/cpu.pb.gz") });
    expect(res.status).toBe(200);
    expect(await runDurableObjectAlarm(ingester(service))).toBe(true);
    const alarmOf = () => runInDurableObject(compactor(service), (_o, state) => state.storage.getAlarm());
    // The wake-up arms the alarm for now, so the runtime may already be running it: getAlarm() is
    // null from the moment it fires until the run re-arms it from the catalog.
    await vi.waitFor(async () => expect(await alarmOf()).not.toBeNull());
    // Its first call runs it at once (for blocks flushed before it existed). Nothing is due yet at
    // the real time: the run merges nothing, keeps the block, and arms the alarm for the time the
    // catalog says the block becomes due.
    expect(await runDurableObjectAlarm(compactor(service))).toBe(true);
    expect((await catalog(service)).map((r) => r.level)).toEqual([0]);
    const [row] = await env.DB.prepare("SELECT min_time, created_at FROM blocks WHERE service = ?").bind(service).all<{ min_time: number; created_at: number }>().then((r) => r.results);
    expect(await alarmOf()).toBe(dueAt({ minTime: row.min_time, createdAt: row.created_at }, config));
  });
});
