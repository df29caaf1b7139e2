// The catalog of a wide flush: thousands of series and label values are written as JSON arrays, a
// few statements instead of one per 14 rows, and every row still lands (upserts add and widen).

import { env, exports } from "cloudflare:workers";
import { Label, Profile, Sample } from "pprof-format";
import { describe, expect, it } from "vitest";
import { JSON_ROWS_BYTES, jsonChunks } from "../workers/catalog/write";
import { flushAll } from "./setup/storage";
import { plain, testdata } from "./setup/testdata";

const VALUES = 8000;

/** profile_java's non-zero samples repeated under VALUES distinct request_id values, at `timeMs`. */
async function wideProfile(timeMs: number): Promise<Uint8Array> {
  const p = Profile.decode(plain(await testdata("pprof/profile_java")));
  const key = p.stringTable.dedup("request_id");
  const samples = p.sample.filter((s) => s.value.every((v) => Number(v) !== 0));
  p.sample = Array.from({ length: VALUES }, (_, k) => {
    const s = samples[k % samples.length];
    return new Sample({ locationId: s.locationId, value: s.value, label: [new Label({ key, str: p.stringTable.dedup(`r-${k}`) })] });
  });
  p.timeNanos = BigInt(timeMs) * 1_000_000n;
  return p.encode();
}

describe("catalog rows of a wide flush", () => {
  it("splits rows into JSON arrays under the size bound, in order and complete", () => {
    const rows = Array.from({ length: 5000 }, (_, k) => [`fp-${k}`, "cpu", JSON.stringify([["request_id", `r-${k}`]]), k, k + 1]);
    const chunks = jsonChunks(rows);
    expect(chunks.length).toBeGreaterThan(1);
    for (const c of chunks) expect(c.length).toBeLessThanOrEqual(JSON_ROWS_BYTES + 2);
    expect(chunks.flatMap((c) => JSON.parse(c) as unknown[])).toEqual(rows);
    expect(jsonChunks([])).toEqual([]);
  });

  it("stores every series and label value of two pushes of 8,000 label groups", async () => {
    const hour = Math.floor((Date.now() - 3_600_000) / 3_600_000) * 3_600_000;
    const [t1, t2] = [hour + 60_000, hour + 120_000];
    for (const t of [t1, t2]) {
      const res = await exports.default.fetch("http://localhost/ingest?name=wide&format=pprof&spyName=javaspy", {
        method: "POST",
        body: await wideProfile(t),
      });
      expect(res.status).toBe(200);
    }
    await flushAll();

    const types = (await env.DB.prepare("SELECT DISTINCT profile_type FROM series WHERE service = 'wide'").all()).results.length;
    expect(types).toBeGreaterThan(0);
    const series = await env.DB.prepare(
      "SELECT count(*) AS n, min(first_seen) AS first, max(first_seen) AS firstMax, min(last_seen) AS lastMin, max(last_seen) AS last FROM series WHERE service = 'wide'",
    ).first<{ n: number; first: number; firstMax: number; lastMin: number; last: number }>();
    // One series per label group and profile type; both pushes widen every series' seen range.
    expect(series).toEqual({ n: VALUES * types, first: t1, firstMax: t1, lastMin: t2, last: t2 });
    const labels = (
      await env.DB.prepare("SELECT value, profiles FROM label_stats WHERE service = 'wide' AND name = 'request_id' AND hour = ?").bind(hour).all<{
        value: string;
        profiles: number;
      }>()
    ).results;
    expect(new Set(labels.map((l) => l.value))).toEqual(new Set(Array.from({ length: VALUES }, (_, k) => `r-${k}`)));
    // Each value was in both pushes, once per profile type.
    expect(labels.every((l) => l.profiles === 2 * types)).toBe(true);
  });
});
