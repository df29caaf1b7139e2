// Tokens and tenants with authentication required (a deployed Worker's default): missing or wrong
// credentials are refused, scopes are enforced, Basic and Bearer both work, revocation is
// immediate, and no tenant ever sees another tenant's data through any read endpoint.

import { env, exports } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { flushAll } from "./setup/storage";
import { plain, testdata } from "./setup/testdata";
import { Profile } from "pprof-format";
import { pprofTotal } from "./setup/manifest";
import { querySlots } from "../workers/query/slots";

const ADMIN = env.ADMIN_TOKEN!;
const CPU = "process_cpu:cpu:nanoseconds:cpu:nanoseconds";

interface Call {
  status: number;
  json: any;
}

async function call(path: string, init: RequestInit & { auth?: string | [string, string]; org?: string } = {}): Promise<Call> {
  const headers = new Headers(init.headers);
  if (typeof init.auth === "string") headers.set("Authorization", `Bearer ${init.auth}`);
  else if (init.auth) headers.set("Authorization", `Basic ${btoa(`${init.auth[0]}:${init.auth[1]}`)}`);
  if (init.org) headers.set("X-Scope-OrgID", init.org);
  const res = await exports.default.fetch(`http://localhost${path}`, { ...init, headers });
  const text = await res.text();
  let json: unknown = text;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    // not JSON: kept as text
  }
  return { status: res.status, json };
}

async function createToken(by: string, body: { tenant?: string; scope: string; name: string }): Promise<{ id: string; token: string }> {
  const r = await call("/api/admin/tokens", { method: "POST", auth: by, body: JSON.stringify(body), headers: { "Content-Type": "application/json" } });
  expect(r.status).toBe(201);
  return r.json;
}

async function ingest(auth: string | [string, string], service: string, org?: string): Promise<number> {
  const r = await call(`/ingest?name=${service}&format=pprof`, { method: "POST", auth, org, body: await testdata("pprof/cpu.pb.gz") });
  return r.status;
}

const rpc = (method: string, body: unknown, auth?: string | [string, string], org?: string) =>
  call(`/querier.v1.QuerierService/${method}`, { method: "POST", auth, org, body: JSON.stringify(body), headers: { "Content-Type": "application/json" } });

// Around cpu.pb.gz's own timestamp: the range limit (31 days) refuses "all time".
const CPU_TIME_MS = Math.floor(Number(Profile.decode(plain(await testdata("pprof/cpu.pb.gz"))).timeNanos) / 1e6);
const ALL_TIME = { start: CPU_TIME_MS - 3_600_000, end: CPU_TIME_MS + 3_600_000 };

describe("authentication required", () => {
  const t: Record<string, { id: string; token: string }> = {};

  beforeAll(async () => {
    for (const tenant of ["t1", "t2"]) {
      for (const scope of ["read", "write", "admin"]) t[`${tenant}-${scope}`] = await createToken(ADMIN, { tenant, scope, name: `${tenant} ${scope}` });
    }
  });

  it("refuses requests without credentials or with a wrong token (401), on every data endpoint", async () => {
    const body = await testdata("pprof/cpu.pb.gz");
    for (const auth of [undefined, "epyr_not-a-token", ["t1", "wrong"] as [string, string]]) {
      const answers = [
        await call("/ingest?name=x&format=pprof", { method: "POST", body, auth }),
        await rpc("LabelNames", {}, auth),
        await call("/push.v1.PusherService/Push", { method: "POST", auth, body: "{}", headers: { "Content-Type": "application/json" } }),
        await call(`/pyroscope/render?query=${encodeURIComponent(`${CPU}{}`)}`, { auth }),
        await call("/api/admin/tokens", { auth }),
      ];
      for (const a of answers) {
        expect(a.status).toBe(401);
        expect(a.json.code).toBe("unauthenticated");
      }
    }
  });

  it("serves health, version and build info without credentials", async () => {
    expect((await call("/grpc.health.v1.Health/Check", { method: "POST", body: "{}", headers: { "Content-Type": "application/json" } })).json).toEqual({ status: "SERVING" });
    expect((await call("/version.v1.Version/Version", { method: "POST", body: "{}", headers: { "Content-Type": "application/json" } })).json).toEqual({ QuerierAPI: "1" });
    expect((await call("/api/v1/status/buildinfo")).json.status).toBe("success");
  });

  it("lets a write token write but not read, and a read token read but not write (403)", async () => {
    expect(await ingest(t["t1-write"].token, "scoped")).toBe(200);
    expect(await ingest(t["t1-read"].token, "scoped")).toBe(403);
    const read = await rpc("LabelValues", { name: "service_name", ...ALL_TIME }, t["t1-write"].token);
    expect([read.status, read.json.code]).toEqual([403, "permission_denied"]);
    expect((await rpc("LabelValues", { name: "service_name", ...ALL_TIME }, t["t1-read"].token)).json.names).toContain("scoped");
  });

  it("accepts Basic auth with the tenant as user, and refuses a token used for another tenant", async () => {
    expect(await ingest(["t1", t["t1-write"].token], "basic")).toBe(200);
    expect(await ingest(["t2", t["t1-write"].token], "basic")).toBe(403);
    expect(await ingest(t["t1-write"].token, "basic", "t2")).toBe(403);
    const values = await rpc("LabelValues", { name: "service_name", ...ALL_TIME }, ["t1", t["t1-read"].token]);
    expect(values.json.names).toContain("basic");
  });

  it("never shows one tenant's data to another, before and after the flush", async () => {
    expect(await ingest(t["t1-write"].token, "shared-name")).toBe(200);
    const total = await pprofTotal("cpu.pb.gz", "cpu/nanoseconds");
    const sel = { profileTypeID: CPU, labelSelector: '{service_name="shared-name"}', ...ALL_TIME };
    for (const phase of ["buffered", "flushed"]) {
      if (phase === "flushed") await flushAll();
      const mine = await rpc("SelectMergeStacktraces", sel, t["t1-read"].token);
      expect([phase, Number(mine.json.flamegraph.total)]).toEqual([phase, total]);
      const theirs = t["t2-read"].token;
      expect([phase, (await rpc("SelectMergeStacktraces", sel, theirs)).json.flamegraph.total ?? "0"]).toEqual([phase, "0"]);
      expect([phase, (await rpc("ProfileTypes", ALL_TIME, theirs)).json.profileTypes ?? []]).toEqual([phase, []]);
      expect([phase, (await rpc("LabelNames", { matchers: ["{}"], ...ALL_TIME }, theirs)).json.names ?? []]).toEqual([phase, []]);
      expect([phase, (await rpc("Series", { matchers: ["{}"], ...ALL_TIME }, theirs)).json.labelsSet ?? []]).toEqual([phase, []]);
      expect([phase, (await rpc("GetProfileStats", {}, theirs)).json.dataIngested ?? false]).toEqual([phase, false]);
      const render = await call(`/pyroscope/render?query=${encodeURIComponent(`${CPU}{service_name="shared-name"}`)}&from=${ALL_TIME.start}&until=${ALL_TIME.end}`, { auth: theirs });
      expect([phase, render.json.flamebearer.numTicks]).toEqual([phase, 0]);
      const series = await rpc("SelectSeries", { ...sel, step: 3600 }, theirs);
      expect([phase, series.json.series ?? []]).toEqual([phase, []]);
    }
  });

  it("merges several tenants for a caller allowed to read them all (X-Scope-OrgID: a|b)", async () => {
    expect(await ingest(t["t2-write"].token, "multi")).toBe(200);
    expect(await ingest(t["t1-write"].token, "multi")).toBe(200);
    const total = await pprofTotal("cpu.pb.gz", "cpu/nanoseconds");
    const sel = { profileTypeID: CPU, labelSelector: '{service_name="multi"}', ...ALL_TIME };
    expect(Number((await rpc("SelectMergeStacktraces", sel, ADMIN, "t1|t2")).json.flamegraph.total)).toBe(2 * total);
    expect(Number((await rpc("SelectMergeStacktraces", sel, ADMIN, "t2")).json.flamegraph.total)).toBe(total);
    expect(await ingest(ADMIN, "multi", "t1|t2")).toBe(401);
  });

  it("stops a revoked token at once", async () => {
    const extra = await createToken(t["t1-admin"].token, { scope: "read", name: "short-lived" });
    expect((await rpc("LabelNames", { ...ALL_TIME }, extra.token)).status).toBe(200);
    expect((await call(`/api/admin/tokens/${extra.id}`, { method: "DELETE", auth: t["t1-admin"].token })).status).toBe(204);
    const after = await rpc("LabelNames", { ...ALL_TIME }, extra.token);
    expect([after.status, after.json.message]).toEqual([401, "invalid or revoked token"]);
  });

  it("keeps a tenant's admin token to its own tenant", async () => {
    const admin = t["t1-admin"].token;
    const list = await call("/api/admin/tokens", { auth: admin });
    expect(new Set((list.json.tokens as { tenant: string }[]).map((x) => x.tenant))).toEqual(new Set(["t1"]));
    const other = await call("/api/admin/tokens", { method: "POST", auth: admin, body: JSON.stringify({ tenant: "t2", scope: "read", name: "x" }) });
    expect(other.status).toBe(403);
    expect((await call(`/api/admin/tokens/${t["t2-read"].id}`, { method: "DELETE", auth: admin })).status).toBe(404);
    expect((await rpc("LabelNames", { ...ALL_TIME }, t["t2-read"].token)).status).toBe(200);
    const audit = await env.DB.prepare("SELECT action, actor FROM audit_log WHERE tenant = 't1' ORDER BY id").all<{ action: string; actor: string }>();
    expect(audit.results.filter((r) => r.action === "token.create").length).toBeGreaterThanOrEqual(4);
    expect(audit.results.some((r) => r.action === "token.revoke" && r.actor === t["t1-admin"].id)).toBe(true);
  });

  it("stores tokens only as hashes", async () => {
    const rows = await env.DB.prepare("SELECT * FROM tokens").all<Record<string, unknown>>();
    const stored = JSON.stringify(rows.results);
    for (const { token } of Object.values(t)) expect(stored).not.toContain(token);
  });
});

/** `name{labels} value` lines of a Prometheus text exposition; throws on any malformed line. */
function parseExposition(text: string): { name: string; labels: Record<string, string>; value: number }[] {
  const out: { name: string; labels: Record<string, string>; value: number }[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || /^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .+$/.test(line)) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not Prometheus text: ${JSON.stringify(line)}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
    const value = Number(m[3].replace("+Inf", "Infinity"));
    if (Number.isNaN(value)) throw new Error(`bad sample value in ${JSON.stringify(line)}`);
    out.push({ name: m[1], labels, value });
  }
  return out;
}

describe("limits and metrics", () => {
  const sum = (rows: ReturnType<typeof parseExposition>, name: string, match: Record<string, string> = {}) =>
    rows.filter((r) => r.name === name && Object.entries(match).every(([k, v]) => r.labels[k] === v)).reduce((n, r) => n + r.value, 0);

  it("refuses uploads over the tenant's rate with 429 and counts what it discarded", async () => {
    const write = await createToken(ADMIN, { tenant: "t3", scope: "write", name: "w" });
    const read = await createToken(ADMIN, { tenant: "t3", scope: "read", name: "r" });
    const body = await testdata("pprof/heap");
    const statuses = await Promise.all(
      Array.from({ length: 6 }, () => call("/ingest?name=big&format=pprof", { method: "POST", auth: write.token, body })),
    );
    const refused = statuses.filter((s) => s.status === 429);
    expect(refused.length).toBeGreaterThan(0);
    expect(refused[0].json.message).toMatch(/^push rate limit \(4.2 MB\/s\) exceeded while adding 847 kB of tenant "t3"/);
    const accepted = statuses.filter((s) => s.status === 200).length;
    expect(accepted).toBeGreaterThan(0);

    const metrics = await call("/metrics", { auth: read.token });
    expect(metrics.status).toBe(200);
    const rows = parseExposition(metrics.json);
    expect(new Set(rows.map((r) => r.labels.tenant))).toEqual(new Set(["t3"]));
    // Counted as the rate limit measures: the uncompressed profile plus its app name and labels.
    const bytes = plain(body).length + "big".length;
    expect(sum(rows, "edge_pyroscope_discarded_bytes_total", { reason: "rate_limited" })).toBe(refused.length * bytes);
    expect(sum(rows, "edge_pyroscope_ingested_bytes_total")).toBe(accepted * bytes);
    expect(sum(rows, "edge_pyroscope_ingested_profiles_total")).toBeGreaterThanOrEqual(accepted);
  });

  it("moves the query counters with the traffic, and shows every tenant to ADMIN_TOKEN only", async () => {
    const before = parseExposition((await call("/metrics", { auth: ADMIN })).json);
    const q = sum(before, "edge_pyroscope_queries_total", { tenant: "t2", method: "LabelNames" });
    for (let i = 0; i < 3; i++) await rpc("LabelNames", { ...ALL_TIME }, ADMIN, "t2");
    const after = parseExposition((await call("/metrics", { auth: ADMIN })).json);
    expect(sum(after, "edge_pyroscope_queries_total", { tenant: "t2", method: "LabelNames" })).toBe(q + 3);
    expect(sum(after, "edge_pyroscope_query_duration_seconds_count", { tenant: "t2", method: "LabelNames" })).toBe(q + 3);
    expect(new Set(after.map((r) => r.labels.tenant)).size).toBeGreaterThan(1);
  });

  it("applies a tenant's own limits, set through the admin API", async () => {
    const admin = await createToken(ADMIN, { tenant: "t4", scope: "admin", name: "a" });
    const put = (body: unknown) => call("/api/admin/limits", { method: "PUT", auth: admin.token, body: JSON.stringify(body) });
    expect((await put({ name: "MAX_QUERY_LENGTH_SECONDS", value: 60 })).status).toBe(200);
    expect((await put({ name: "NOT_A_LIMIT", value: 1 })).status).toBe(400);
    expect((await put({ tenant: "t1", name: "MAX_QUERY_LENGTH_SECONDS", value: 1 })).status).toBe(403);
    const limits = await call("/api/admin/limits", { auth: admin.token });
    expect(limits.json.overrides).toEqual({ MAX_QUERY_LENGTH_SECONDS: 60 });
    const refused = await rpc("LabelNames", { ...ALL_TIME }, admin.token);
    expect([refused.status, refused.json.message]).toEqual([400, "the query time range exceeds the limit (max_query_length, actual: 2h, limit: 1m)"]);
    expect((await rpc("LabelNames", { ...ALL_TIME }, ADMIN, "t1")).status).toBe(200);
    expect((await put({ name: "MAX_QUERY_LENGTH_SECONDS", value: null })).status).toBe(200);
    expect((await rpc("LabelNames", { ...ALL_TIME }, admin.token)).status).toBe(200);
  });
});

describe("refusals in the metrics", () => {
  it("counts an invalid upload as discarded with its reason", async () => {
    const write = await createToken(ADMIN, { tenant: "t5", scope: "write", name: "w" });
    const bad = await call("/ingest?name=x&format=pprof", { method: "POST", auth: write.token, body: new Uint8Array([0x0a, 0xff, 0xff]) });
    expect(bad.status).toBe(422);
    const rows = parseExposition((await call("/metrics", { auth: ADMIN })).json);
    const discarded = rows.filter((r) => r.name === "edge_pyroscope_discarded_profiles_total" && r.labels.tenant === "t5");
    expect(discarded.map((r) => [r.labels.reason, r.value])).toEqual([["malformed_profile", 1]]);
  });
});

describe("series limits", () => {
  it("refuses a push that would make more series active than the tenant allows", async () => {
    const admin = await createToken(ADMIN, { tenant: "t6", scope: "admin", name: "a" });
    const put = (value: number) =>
      call("/api/admin/limits", { method: "PUT", auth: admin.token, body: JSON.stringify({ name: "MAX_SERIES_PER_SERVICE", value }) });
    const upload = async (service: string) =>
      call(`/ingest?name=${service}&format=pprof`, { method: "POST", auth: admin.token, body: await testdata("pprof/cpu-exemplars.pb.gz") });
    // cpu-exemplars.pb.gz splits into 3 label sets × 2 sample types = 6 series (MANIFEST.md).
    expect((await put(5)).status).toBe(200);
    const refused = await upload("svc-a");
    expect([refused.status, refused.json.code]).toEqual([429, "resource_exhausted"]);
    expect(refused.json.message).toMatch(/^per-service series limit of 5 exceeded for service "svc-a" \(0 active, 6 new\)/);
    expect((await put(6)).status).toBe(200);
    expect((await upload("svc-a")).status).toBe(200);
    // The same series again are active already: they always pass.
    expect((await upload("svc-a")).status).toBe(200);
    expect((await upload("svc-b")).status).toBe(200);
    const rows = parseExposition((await call("/metrics", { auth: admin.token })).json);
    expect(rows.find((r) => r.name === "edge_pyroscope_discarded_profiles_total" && r.labels.reason === "series_limit")?.value).toBe(6);
  });
});

describe("query concurrency", () => {
  it("answers 429 while a tenant's query slots are taken, and serves again once one is free", async () => {
    const admin = await createToken(ADMIN, { tenant: "t7", scope: "admin", name: "a" });
    const put = await call("/api/admin/limits", { method: "PUT", auth: admin.token, body: JSON.stringify({ name: "MAX_QUERY_CONCURRENCY", value: 1 }) });
    expect(put.status).toBe(200);
    // Another query of this isolate holds the only slot (the Worker runs in the tests' isolate).
    const slot = querySlots.tryAcquire("t7", 1);
    expect(slot).not.toBeNull();
    const busy = await rpc("LabelNames", { ...ALL_TIME }, admin.token);
    expect([busy.status, busy.json.code]).toEqual([429, "resource_exhausted"]);
    expect(busy.json.message).toMatch(/too many concurrent queries for tenant "t7" \(MAX_QUERY_CONCURRENCY, limit 1 per isolate\)/);
    querySlots.release("t7", slot!);
    expect((await rpc("LabelNames", { ...ALL_TIME }, admin.token)).status).toBe(200);
    expect((await rpc("LabelNames", { ...ALL_TIME }, admin.token)).status).toBe(200);
  });
});
