// The Tenant object's active-series index: counts per tenant and service, expiry after an hour,
// and the same answers from a fresh object that reads the index back from storage.

import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { ActiveSeries } from "../workers/ops/active-series";
import { SERIES_ACTIVE_MS } from "../workers/ops/series-limit";

describe("ActiveSeries", () => {
  it("counts series per service and expires them in order of last seen", () => {
    const a = new ActiveSeries();
    a.add("web", "s1", 1000);
    a.add("web", "s2", 2000);
    a.add("db", "s3", 3000);
    a.add("web", "s1", 4000); // seen again: moves behind s3
    expect(a.counts().tenant).toBe(3);
    expect(Object.fromEntries(a.counts().byService)).toEqual({ web: 2, db: 1 });
    expect(a.expire(3500)).toEqual([["web", "s2"], ["db", "s3"]]);
    expect(a.seenAt("web", "s1")).toBe(4000);
    expect(a.seenAt("db", "s3")).toBeUndefined();
    expect(Object.fromEntries(a.counts().byService)).toEqual({ web: 1 });
    expect(a.expire(4001)).toEqual([["web", "s1"]]);
    expect(a.counts().tenant).toBe(0);
  });
});

describe("Tenant.admitSeries", () => {
  it("admits within the limit, refuses past it, frees expired series, and keeps storage in step", async () => {
    const stub = env.TENANT.getByName("active-series-test");
    const limits = { perTenant: 3, perService: 0 };
    const t0 = Date.now();
    expect(await stub.admitSeries([["web", "a"], ["web", "b"]], limits, t0)).toBeNull();
    expect(await stub.admitSeries([["web", "a"], ["db", "c"]], limits, t0 + 1000)).toBeNull();
    const refused = await stub.admitSeries([["db", "d"]], limits, t0 + 2000);
    expect(refused).toContain("per-tenant series limit of 3 exceeded (3 active, 1 new)");
    // An hour after their last push a and b are inactive; c is too (seen at t0 + 1000).
    const later = t0 + 1000 + SERIES_ACTIVE_MS + 1;
    expect(await stub.admitSeries([["db", "d"], ["db", "e"]], limits, later)).toBeNull();
    const rows = await runInDurableObject(stub, (_, state) =>
      state.storage.sql.exec<{ service: string; key: string }>("SELECT service, key FROM active ORDER BY key").toArray(),
    );
    expect(rows.map((r) => `${r.service}/${r.key}`)).toEqual(["db/d", "db/e"]);
    // A fresh object reads the index back: d and e count, so two more exceed the limit of 3.
    await runInDurableObject(stub, (_, state) => state.abort("reset")).catch(() => {});
    const again = env.TENANT.getByName("active-series-test");
    expect(await runInDurableObject(again, (inst) => (inst as unknown as { active: unknown }).active)).toBeNull();
    expect(await again.admitSeries([["x", "f"], ["x", "g"]], limits, later + 1)).toContain("(2 active, 2 new)");
  });
});
