// Every pprof of the shared corpus through POST /ingest (multipart, as the Go SDK sends it), stored
// by the ingesters, flushed to R2 and read back through the block reader: per-type totals and
// profile type ids must be the MANIFEST's.

import { exports } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { pprofFacts, type PprofFacts } from "./setup/manifest";
import { flushAll, multipart, storedSeries, type StoredSeries } from "./setup/storage";
import { testdata } from "./setup/testdata";

const REFUSED = new Set(["invalid_utf8.pb.gz"]);

async function upload(f: PprofFacts): Promise<Response> {
  const parts = [{ name: "profile", data: await testdata(`pprof/${f.file}`) }];
  if (f.sampleTypeConfig) parts.push({ name: "sample_type_config", data: await testdata(`pprof/${f.sampleTypeConfig}`) });
  const { body, contentType } = multipart(parts);
  const q = new URLSearchParams({ name: `corpus/${f.file}{source=manifest}` });
  if (f.spyName) q.set("spyName", f.spyName);
  return exports.default.fetch(`http://localhost/ingest?${q}`, {
    method: "POST",
    body,
    headers: { "Content-Type": contentType },
  });
}

/** Golden totals override the table's where Pyroscope's normaliser drops samples. */
function expectedTotals(f: PprofFacts): Map<string, number> {
  const out = new Map(f.totals);
  for (const m of f.notes.matchAll(/Golden[^\n]*?— ([^,\s]+), \d+ stacks?, total ([\d_]+)/g)) {
    out.set(m[1], Number(m[2].replace(/_/g, "")));
  }
  return out;
}

describe("pprof corpus over /ingest", () => {
  let facts: PprofFacts[];
  let stored: StoredSeries[];
  const statuses = new Map<string, number>();

  beforeAll(async () => {
    facts = (await pprofFacts()).filter((f) => !REFUSED.has(f.file));
    expect(facts.length).toBeGreaterThanOrEqual(25);
    for (const f of facts) {
      const res = await upload(f);
      statuses.set(f.file, res.status);
      if (res.status !== 200) console.error(f.file, res.status, await res.text());
    }
    await flushAll();
    stored = await storedSeries();
  });

  it("accepts every file the MANIFEST marks accepted", () => {
    for (const f of facts) expect([f.file, statuses.get(f.file)]).toEqual([f.file, 200]);
  });

  it("stores each file's per-type totals exactly", () => {
    for (const f of facts) {
      const mine = stored.filter((s) => s.labels.service_name === `corpus/${f.file}`);
      const got = new Map<string, number>();
      for (const s of mine) {
        const key = `${s.labels.__type__}/${s.labels.__unit__}`;
        got.set(key, (got.get(key) ?? 0) + s.total);
      }
      for (const [type, total] of expectedTotals(f)) {
        const normalized = f.spyName === "dotnetspy" ? type.replace(/-/g, "_") : type;
        expect([f.file, normalized, got.get(normalized) ?? 0]).toEqual([f.file, normalized, total]);
      }
    }
  });

  it("derives the MANIFEST's profile type ids and __name__", () => {
    for (const f of facts) {
      const mine = stored.filter((s) => s.labels.service_name === `corpus/${f.file}`);
      const types = new Set(mine.map((s) => s.profileType));
      for (const t of f.profileTypes) expect([f.file, types.has(t)]).toEqual([f.file, true]);
      for (const s of mine) expect(s.labels.__profile_type__).toBe(s.profileType);
      const name = /`__name__` ?= ?`(\w+)`/.exec(f.notes)?.[1];
      if (name) for (const s of mine) expect([f.file, s.labels.__name__]).toEqual([f.file, name]);
      for (const s of mine) {
        expect(s.labels.source).toBe("manifest");
        expect(s.labels.pyroscope_spy).toBe(f.spyName ?? "unknown");
      }
    }
  });

  it("splits cpu-exemplars.pb.gz by its string labels, keeping profile_id off the series", () => {
    const cpu = stored.filter(
      (s) => s.labels.service_name === "corpus/cpu-exemplars.pb.gz" && s.labels.__type__ === "cpu",
    );
    const byFunction = Object.fromEntries(cpu.map((s) => [s.labels.function ?? "none", s.total]));
    expect(byFunction).toEqual({ none: 490_000_000, slow: 6_740_000_000, fast: 1_500_000_000 });
    for (const s of cpu) {
      expect(s.labels.foo).toBe("bar");
      expect(s.labels.profile_id).toBeUndefined();
      expect(s.labels.span_id).toBeUndefined();
    }
  });

  it("refuses invalid UTF-8 with 422", async () => {
    const res = await upload({ file: "invalid_utf8.pb.gz", gz: true, totals: new Map(), profileTypes: [], notes: "" });
    expect(res.status).toBe(422);
    expect(((await res.json()) as { code: string }).code).toBe("invalid_argument");
  });
});
