// Replays the recorded @pyroscope/nodejs requests (0.2.9 to 0.6.4: raw and multipart bodies,
// chunked axios uploads, Basic and Bearer auth) byte for byte against POST /ingest.

import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { flushAll, storedSeries, type StoredSeries } from "./setup/storage";
import { replaySdkNodejs, type SdkCapture } from "./setup/query";
import { testdataText } from "./setup/testdata";

describe("@pyroscope/nodejs recorded requests", () => {
  let captures: SdkCapture[] = [];
  let stored: StoredSeries[];

  beforeAll(async () => {
    captures = await replaySdkNodejs({ keepTenant: true });
    await flushAll();
    stored = await storedSeries();
  });

  it("answers 200 to every request", async () => {
    const index = JSON.parse(await testdataText("sdk-nodejs/index.json")) as { requests: unknown[] };
    // replaySdkNodejs has checked each answer; every recorded request was sent.
    expect(captures.length).toBe(index.requests.length);
  });

  it("stores the SDK's labels on every series", () => {
    expect(stored.length).toBeGreaterThan(0);
    for (const s of stored) {
      expect(s.labels.service_name).toBe("sdk-capture-app");
      expect(s.labels.env).toBe("test");
      expect(s.labels.region).toBe("local");
      expect(s.labels.pyroscope_spy).toBe("nodespy");
    }
    const scopes = new Set(stored.map((s) => s.labels["otel.scope.version"]));
    expect(scopes.has("0.6.4")).toBe(true);
    const endpoints = new Set(stored.map((s) => s.labels.endpoint).filter(Boolean));
    expect([...endpoints].sort()).toEqual(["/fib", "/hash"]);
  });

  it("keeps every value: per-type totals equal the sum over the recorded profiles", () => {
    const want = new Map<string, number>();
    for (const c of captures) {
      for (const [type, v] of Object.entries(c.pprof.valueTotals)) want.set(type, (want.get(type) ?? 0) + Number(v));
    }
    const got = new Map<string, number>();
    for (const s of stored) {
      const key = `${s.labels.__type__}/${s.labels.__unit__}`;
      got.set(key, (got.get(key) ?? 0) + s.total);
    }
    for (const [type, total] of want) if (total > 0) expect([type, got.get(type)]).toEqual([type, total]);
  });

  it("stores each request under the tenant its X-Scope-OrgID names (anonymous without one)", async () => {
    const rows = await env.DB.prepare("SELECT DISTINCT tenant FROM blocks WHERE service = ? ORDER BY tenant").bind("sdk-capture-app").all<{ tenant: string }>();
    const sent = new Set(captures.map((c) => c.headers.find(([k]) => k.toLowerCase() === "x-scope-orgid")?.[1] ?? "anonymous"));
    expect(rows.results.map((r) => r.tenant)).toEqual([...sent].sort());
    expect(sent.size).toBeGreaterThan(1);
  });

  it("records the service in the catalog with its profile types and SDK versions", async () => {
    const all = await env.DB.prepare("SELECT sum(profiles) AS profiles FROM services WHERE service = ?").bind("sdk-capture-app").first<{ profiles: number }>();
    expect(all!.profiles).toBe(stored.reduce((n, s) => n + s.profiles, 0));
    // The 0.6.4 scenarios send X-Scope-OrgID: capture-tenant (sdk-nodejs/README.md).
    const row = await env.DB.prepare("SELECT * FROM services WHERE service = ? AND tenant = ?")
      .bind("sdk-capture-app", "capture-tenant")
      .first<{ profile_types: string; spy_names: string; sdk_versions: string; profiles: number; ingested_bytes: number }>();
    expect(row).not.toBeNull();
    const types = JSON.parse(row!.profile_types) as string[];
    expect(types).toContain("memory:inuse_space:bytes:inuse_space:bytes");
    expect(types.some((t) => t.startsWith("wall:wall:nanoseconds"))).toBe(true);
    expect(JSON.parse(row!.spy_names)).toEqual(["nodespy"]);
    expect(JSON.parse(row!.sdk_versions)).toContain("com.grafana.pyroscope/nodejs/0.6.4");
    expect(row!.ingested_bytes).toBeGreaterThan(0);
  });

  it("counts every profile and byte once per label value and hour", async () => {
    const profiles = stored.reduce((n, s) => n + s.profiles, 0);
    const byName = await env.DB.prepare(
      "SELECT name, sum(profiles) AS profiles, sum(bytes) AS bytes, count(DISTINCT hour) AS hours FROM label_stats WHERE service = ? GROUP BY name",
    )
      .bind("sdk-capture-app")
      .all<{ name: string; profiles: number; bytes: number; hours: number }>();
    const rows = Object.fromEntries(byName.results.map((r) => [r.name, r]));
    // Every profile carries service_name and __name__ exactly once.
    expect(rows.service_name.profiles).toBe(profiles);
    expect(rows.__name__.profiles).toBe(profiles);
    const svc = await env.DB.prepare("SELECT sum(ingested_bytes) AS ingested_bytes FROM services WHERE service = ?")
      .bind("sdk-capture-app")
      .first<{ ingested_bytes: number }>();
    // Bytes are shared among profiles by sample count and rounded per profile.
    expect(Math.abs(rows.service_name.bytes - svc!.ingested_bytes)).toBeLessThanOrEqual(profiles);
    expect(rows.service_name.hours).toBeGreaterThanOrEqual(1);
    // Internal restatements of the profile type are not counted.
    expect(rows.__type__).toBeUndefined();
  });
});
