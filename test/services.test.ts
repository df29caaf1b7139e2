// GET /api/services, the dashboard's start page: every service of the tenant with its profile
// types, spy names, totals and the last day's ingest per hour — from the catalog once flushed and
// from the ingesters' summaries of their buffers before, each profile counted once.

import { runInDurableObject } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { Profile } from "pprof-format";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../workers/config";
import { handleServices } from "../workers/http/services";
import { ingesterName } from "../workers/route/shard";
import { pprofFacts } from "./setup/manifest";
import { rpcJson } from "./setup/query";
import { commitWithoutDrop, flushAll } from "./setup/storage";
import { plain, testdata } from "./setup/testdata";

interface Summary {
  service: string;
  profileTypes: string[];
  spyNames: string[];
  profiles: number;
  ingestedBytes: number;
  firstSeen: number | null;
  lastSeen: number | null;
  lastDay: { hours: number[]; bytes: number[] };
  buffered: { profiles: number; ingestedBytes: number; complete: boolean };
}

/** Sends a corpus pprof timed at `timeMs`; returns the decoded profile as sent. */
async function upload(service: string, file: string, spyName: string, org?: string, timeMs = Date.now() - 60_000): Promise<Profile> {
  const p = Profile.decode(plain(await testdata(file)));
  p.timeNanos = BigInt(timeMs) * 1_000_000n;
  const res = await exports.default.fetch(`http://localhost/ingest?name=${service}&format=pprof&spyName=${spyName}`, {
    method: "POST",
    body: p.encode(),
    headers: org ? { "X-Scope-OrgID": org } : {},
  });
  expect(res.status).toBe(200);
  return p;
}

async function list(org?: string): Promise<Summary[]> {
  const res = await exports.default.fetch("http://localhost/api/services", { headers: org ? { "X-Scope-OrgID": org } : {} });
  expect(res.status).toBe(200);
  return ((await res.json()) as { services: Summary[] }).services;
}

async function find(service: string, org?: string): Promise<Summary> {
  const s = (await list(org)).find((x) => x.service === service);
  expect(s, `${service} in /api/services`).toBeDefined();
  return s!;
}

const stubFor = (service: string, tenant = "anonymous") => env.INGESTER.get(env.INGESTER.idFromName(ingesterName(tenant, service, 0)));

/** Keeps the ingester of `service` from flushing on its own: the test flushes when it means to. */
async function stopAlarm(service: string, tenant?: string): Promise<void> {
  await runInDurableObject(stubFor(service, tenant), (_i, state) => state.storage.deleteAlarm());
}

/** The catalog's own row (flushed figures only). */
async function catalogRow(service: string) {
  return env.DB.prepare("SELECT profiles, ingested_bytes AS bytes FROM services WHERE service = ?").bind(service).first<{ profiles: number; bytes: number }>();
}

/**
 * What /ingest makes of a pprof, computed from the file: one profile per sample type and distinct
 * set of string sample labels (profile_id, span_id and trace_id stay on samples), and each label's values.
 */
function expectedOf(p: Profile): { profiles: number; labels: Map<string, Set<string>> } {
  const strings = p.stringTable.strings;
  const sets = new Set<string>();
  const labels = new Map<string, Set<string>>();
  for (const s of p.sample) {
    const pairs = s.label
      .filter((l) => Number(l.str) !== 0)
      .map((l) => [String(strings[Number(l.key)]), String(strings[Number(l.str)])])
      .filter(([k]) => !["profile_id", "span_id", "trace_id"].includes(k))
      .sort();
    sets.add(JSON.stringify(pairs));
    for (const [k, v] of pairs) labels.set(k, (labels.get(k) ?? new Set()).add(v));
  }
  return { profiles: sets.size * p.sampleType.length, labels };
}

/** Everything but the buffered part, which moves to the flushed figures when a flush commits. */
const figures = ({ buffered: _b, ...rest }: Summary) => rest;

describe("GET /api/services", () => {
  it("lists a service, its profile types and its figures as soon as it is pushed, and counts each profile once after the flush", async () => {
    const timeMs = Date.now() - 60_000;
    const sent = await upload("ryw-fresh", "pprof/cpu-exemplars.pb.gz", "gospy", undefined, timeMs);
    await stopAlarm("ryw-fresh");
    const expected = expectedOf(sent);
    // The MANIFEST gives cpu-exemplars.pb.gz "the same two query types as cpu.pb.gz".
    const facts = (await pprofFacts()).find((f) => f.file === "cpu.pb.gz")!;
    expect(facts.profileTypes).toHaveLength(2);
    expect(expected.profiles).toBe(6);

    const before = await find("ryw-fresh");
    expect(await catalogRow("ryw-fresh")).toBeNull();
    expect(before.profileTypes).toEqual([...facts.profileTypes].sort());
    expect(before.spyNames).toEqual(["gospy"]);
    expect(before.profiles).toBe(expected.profiles);
    expect(before.buffered).toEqual({ profiles: expected.profiles, ingestedBytes: before.ingestedBytes, complete: true });
    expect(before.ingestedBytes).toBeGreaterThan(plain(await testdata("pprof/cpu-exemplars.pb.gz")).length);
    expect([before.firstSeen, before.lastSeen]).toEqual([timeMs, timeMs]);
    // Label usage shares a push's bytes among its profiles by samples, each share rounded.
    expect(Math.abs(before.lastDay.bytes.reduce((a, b) => a + b, 0) - before.ingestedBytes)).toBeLessThanOrEqual(before.profiles / 2);

    // The Explore pickers: profile types, label names and values of the unflushed service.
    const range = { start: timeMs - 3_600_000, end: Date.now() };
    const types = await rpcJson("ProfileTypes", range);
    const ids = (types.json.profileTypes as { ID: string }[]).map((t) => t.ID);
    for (const t of facts.profileTypes) expect(ids).toContain(t);
    const matchers = [`{service_name="ryw-fresh"}`];
    const names = (await rpcJson("LabelNames", { matchers, ...range })).json.names as string[];
    for (const n of [...expected.labels.keys(), "service_name"]) expect(names).toContain(n);
    for (const [name, values] of expected.labels) {
      expect((await rpcJson("LabelValues", { name, matchers, ...range })).json.names).toEqual([...values].sort());
    }

    await flushAll();
    const after = await find("ryw-fresh");
    expect(figures(after)).toEqual(figures(before));
    expect(after.buffered).toEqual({ profiles: 0, ingestedBytes: 0, complete: true });
    expect(await catalogRow("ryw-fresh")).toEqual({ profiles: expected.profiles, bytes: before.ingestedBytes });
  });

  it("adds pushes to a summary already built, and rebuilds it from the buffer after the ingester restarts", async () => {
    const sent = await upload("ryw-grow", "pprof/cpu.pb.gz", "gospy");
    await stopAlarm("ryw-grow");
    const one = await find("ryw-grow");
    expect(one.profiles).toBe(expectedOf(sent).profiles);
    await upload("ryw-grow", "pprof/cpu.pb.gz", "gospy");
    const two = await find("ryw-grow");
    expect(two.profiles).toBe(2 * one.profiles);
    expect(two.ingestedBytes).toBe(2 * one.ingestedBytes);

    await runInDurableObject(stubFor("ryw-grow"), (_i, state) => state.abort("simulated restart")).catch(() => undefined);
    expect(await find("ryw-grow")).toEqual(two);
  });

  it("counts a generation committed but still buffered once", async () => {
    await upload("ryw-committed", "pprof/cpu.pb.gz", "gospy");
    await stopAlarm("ryw-committed");
    const buffered = await find("ryw-committed");
    await commitWithoutDrop(stubFor("ryw-committed"));
    expect((await stubFor("ryw-committed").buffered()).frozen).not.toBeNull();
    expect((await catalogRow("ryw-committed"))?.profiles).toBe(buffered.profiles);
    const committed = await find("ryw-committed");
    expect(figures(committed)).toEqual(figures(buffered));
    expect(committed.buffered.profiles).toBe(0);

    // A push into the next generation meanwhile is counted from the buffer, beside the committed one.
    await upload("ryw-committed", "pprof/cpu.pb.gz", "gospy");
    const more = await find("ryw-committed");
    expect([more.profiles, more.buffered.profiles]).toEqual([2 * buffered.profiles, buffered.profiles]);
  });

  it("counts a generation whose commit failed once, from its buffer", async () => {
    await upload("ryw-uncommitted", "pprof/cpu.pb.gz", "gospy");
    await stopAlarm("ryw-uncommitted");
    const buffered = await find("ryw-uncommitted");
    await env.DB.exec("ALTER TABLE label_stats RENAME TO label_stats_away");
    const failure = await stubFor("ryw-uncommitted").flush().then(
      () => "no error",
      (err: unknown) => String(err),
    );
    await env.DB.exec("ALTER TABLE label_stats_away RENAME TO label_stats");
    expect(failure).toMatch(/label_stats/);
    expect((await stubFor("ryw-uncommitted").buffered()).frozen).not.toBeNull();
    expect(await catalogRow("ryw-uncommitted")).toBeNull();
    expect(await find("ryw-uncommitted")).toEqual(buffered);
    await flushAll();
    expect(figures(await find("ryw-uncommitted"))).toEqual(figures(buffered));
  });

  it("asks at most SERVICES_MAX_INGESTER_CALLS ingesters, those of never-flushed services first", async () => {
    const tenant = "ryw-bound";
    const old = expectedOf(await upload("ryw-old", "pprof/cpu.pb.gz", "gospy", tenant));
    await flushAll();
    await upload("ryw-old", "pprof/cpu.pb.gz", "gospy", tenant);
    const fresh = expectedOf(await upload("ryw-new", "pprof/heap-js.pprof", "nodespy", tenant));
    for (const s of ["ryw-old", "ryw-new"]) await stopAlarm(s, tenant);
    const config = { ...loadConfig(env), SERVICES_MAX_INGESTER_CALLS: 1 };
    const res = await handleServices(env, config, [tenant], Date.now());
    const body = (await res.json()) as { services: Summary[]; ingesters: unknown };
    expect(body.ingesters).toEqual({ registered: 2, asked: 1, answered: 1 });
    const by = new Map(body.services.map((s) => [s.service, s]));
    expect(by.get("ryw-new")!.profiles).toBe(fresh.profiles);
    expect(by.get("ryw-new")!.profileTypes.every((t) => t.startsWith("memory:"))).toBe(true);
    expect(by.get("ryw-new")!.buffered.complete).toBe(true);
    // Its second push is not counted until it flushes, and the page is told so.
    expect(by.get("ryw-old")!.profiles).toBe(old.profiles);
    expect(by.get("ryw-old")!.buffered).toEqual({ profiles: 0, ingestedBytes: 0, complete: false });
    expect((await find("ryw-old", tenant)).profiles).toBe(2 * old.profiles);
  });

  it("keeps tenants apart and merges several services' figures", async () => {
    await upload("checkout", "pprof/cpu.pb.gz", "gospy");
    await upload("checkout", "pprof/cpu.pb.gz", "gospy");
    await upload("frontend", "pprof/heap-js.pprof", "nodespy");
    await upload("elsewhere", "pprof/cpu.pb.gz", "gospy", "other-tenant");
    const before = new Map((await list()).map((s) => [s.service, s]));
    await flushAll();
    const after = new Map((await list()).map((s) => [s.service, s]));
    for (const name of ["checkout", "frontend"]) expect(figures(after.get(name)!)).toEqual(figures(before.get(name)!));
    const checkout = after.get("checkout")!;
    expect(checkout.profileTypes).toEqual(["process_cpu:cpu:nanoseconds:cpu:nanoseconds", "process_cpu:samples:count:cpu:nanoseconds"]);
    expect(checkout.spyNames).toEqual(["gospy"]);
    // Two uploads, each split into one profile per sample type.
    expect(checkout.profiles).toBe(4);
    expect(checkout.lastDay.hours).toHaveLength(24);
    expect(checkout.lastDay.bytes.reduce((a, b) => a + b, 0)).toBe(checkout.ingestedBytes);
    expect(after.get("frontend")!.profileTypes.every((t) => t.startsWith("memory:"))).toBe(true);
    expect((await list("other-tenant")).map((s) => s.service)).toEqual(["elsewhere"]);
  });
});
