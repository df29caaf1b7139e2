// Tenancy without authentication (open mode, as `npm start` runs): X-Scope-OrgID picks the tenant,
// `anonymous` without it, and tenants stay apart in storage and queries.

import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { rpcJson } from "./setup/query";
import { testdata } from "./setup/testdata";

async function ingest(service: string, org?: string): Promise<Response> {
  return exports.default.fetch(`http://localhost/ingest?name=${service}&spyName=pyspy&format=pprof`, {
    method: "POST",
    headers: org === undefined ? {} : { "X-Scope-OrgID": org },
    body: await testdata("pprof/pyspy-1.pb.gz"),
  });
}

const services = async (org?: string) =>
  (await rpcJson("LabelValues", { name: "service_name" }, org === undefined ? {} : { "X-Scope-OrgID": org })).json.names ?? [];

describe("tenancy in open mode", () => {
  it("stores under the X-Scope-OrgID tenant, and under anonymous without one", async () => {
    expect((await ingest("in-acme", "acme")).status).toBe(200);
    expect((await ingest("in-anonymous")).status).toBe(200);
    expect(await services("acme")).toEqual(["in-acme"]);
    expect(await services()).toEqual(["in-anonymous"]);
    expect(await services("nobody")).toEqual([]);
    const rows = await env.DB.prepare("SELECT tenant, service FROM ingesters ORDER BY tenant").all<{ tenant: string; service: string }>();
    expect(rows.results).toEqual([
      { tenant: "acme", service: "in-acme" },
      { tenant: "anonymous", service: "in-anonymous" },
    ]);
  });

  it("refuses invalid tenant ids with 401", async () => {
    for (const org of ["..", "a/b", "x".repeat(151), "a b"]) {
      const res = await ingest("bad", org);
      expect([org, res.status]).toEqual([org, 401]);
      expect(((await res.json()) as { code: string }).code).toBe("unauthenticated");
    }
  });

  it("ignores a sub-tenant suffix and merges several tenants on reads", async () => {
    expect((await ingest("in-beta", "beta:team1")).status).toBe(200);
    expect(await services("beta")).toEqual(["in-beta"]);
    expect(await services("acme|beta")).toEqual(["in-acme", "in-beta"]);
  });
});

describe("cross-origin access (the dashboard on Pages)", () => {
  it("answers preflights and marks responses for browsers", async () => {
    const pre = await exports.default.fetch("http://localhost/querier.v1.QuerierService/LabelNames", {
      method: "OPTIONS",
      headers: { Origin: "https://dash.example", "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization, content-type" },
    });
    expect(pre.status).toBe(204);
    expect(pre.headers.get("Access-Control-Allow-Origin")).toBe("*");
    expect(pre.headers.get("Access-Control-Allow-Headers")).toContain("authorization");
    const res = await exports.default.fetch("http://localhost/querier.v1.QuerierService/LabelNames", {
      method: "POST",
      headers: { Origin: "https://dash.example", "Content-Type": "application/json" },
      body: "{}",
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("Access-Control-Allow-Origin")).toBe("*");
    expect(res.headers.get("Access-Control-Expose-Headers")).toContain("x-query-stats");
  });
});
