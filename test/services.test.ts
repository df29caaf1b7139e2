// GET /api/services, the dashboard's start page: every service of the tenant from the catalog,
// with its profile types, spy names, totals and the last day's ingest per hour.

import { exports } from "cloudflare:workers";
import { Profile } from "pprof-format";
import { describe, expect, it } from "vitest";
import { flushAll } from "./setup/storage";
import { plain, testdata } from "./setup/testdata";

interface Summary {
  service: string;
  profileTypes: string[];
  spyNames: string[];
  profiles: number;
  ingestedBytes: number;
  lastSeen: number | null;
  lastDay: { hours: number[]; bytes: number[] };
}

async function upload(service: string, file: string, spyName: string, org?: string): Promise<void> {
  const p = Profile.decode(plain(await testdata(file)));
  p.timeNanos = BigInt(Date.now() - 60_000) * 1_000_000n;
  const res = await exports.default.fetch(`http://localhost/ingest?name=${service}&format=pprof&spyName=${spyName}`, {
    method: "POST",
    body: p.encode(),
    headers: org ? { "X-Scope-OrgID": org } : {},
  });
  expect(res.status).toBe(200);
}

async function list(org?: string): Promise<Summary[]> {
  const res = await exports.default.fetch("http://localhost/api/services", { headers: org ? { "X-Scope-OrgID": org } : {} });
  expect(res.status).toBe(200);
  return ((await res.json()) as { services: Summary[] }).services;
}

describe("GET /api/services", () => {
  it("lists a service as soon as it is pushed, and its statistics once flushed", async () => {
    await upload("checkout", "pprof/cpu.pb.gz", "gospy");
    await upload("checkout", "pprof/cpu.pb.gz", "gospy");
    await upload("frontend", "pprof/heap-js.pprof", "nodespy");
    await upload("elsewhere", "pprof/cpu.pb.gz", "gospy", "other-tenant");
    const before = await list();
    expect(before.map((s) => s.service).sort()).toEqual(["checkout", "frontend"]);
    expect(before.every((s) => s.profiles === 0 && s.lastSeen === null)).toBe(true);

    await flushAll();
    const after = new Map((await list()).map((s) => [s.service, s]));
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
