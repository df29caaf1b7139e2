// /pyroscope/labels and /pyroscope/label-values narrow by `query` and by `from`/`until` (OG
// Pyroscope's parameters): three corpus profiles of different services, label sets, profile types
// and times, each answer checked against what the pprofs and the names they were sent under hold.

import { Profile } from "pprof-format";
import { beforeAll, describe, expect, it } from "vitest";
import { pprofFacts } from "./setup/manifest";
import { getJson, ingestProfile } from "./setup/query";
import { testdataPlain } from "./setup/testdata";

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

interface Sent {
  service: string;
  /** Labels of the `name` parameter. */
  nameLabels: Record<string, string>;
  file: string;
  spyName?: string;
  /** How long before the test's start the profile is dated; null keeps its own time (1970 → now). */
  agoMs: number | null;
}

// Two services hours and days in the past with different label sets and profile types, and one
// of "now" (pyspy-1 is dated 1970, so it is stored at the request time).
const A: Sent = { service: "labels/a", nameLabels: { env: "prod", region: "eu" }, file: "cpu-exemplars.pb.gz", agoMs: 3 * HOUR_MS };
const B: Sent = { service: "labels/b", nameLabels: { env: "dev", team: "core" }, file: "nodejs-heap.pb.gz", agoMs: 2 * DAY_MS };
const C: Sent = { service: "labels/c", nameLabels: { env: "staging" }, file: "pyspy-1.pb.gz", spyName: "scripting", agoMs: null };
/** Pyroscope keeps these pprof labels off the series (spec §2). */
const NOT_SERIES_LABELS = new Set(["profile_id", "span_id"]);

const seconds = (ms: number) => String(Math.floor(ms / 1000));
const qs = (params: Record<string, string>) => new URLSearchParams(params).toString();

describe("/pyroscope/labels and /pyroscope/label-values: query, from, until", () => {
  const now = Date.now();
  const at = (s: Sent) => (s.agoMs === null ? now : now - s.agoMs);
  /** A window of an hour either side of a profile's time, in unix seconds. */
  const around = (s: Sent) => ({ from: seconds(at(s) - HOUR_MS), until: seconds(at(s) + HOUR_MS) });
  const allThree = { from: seconds(now - 3 * DAY_MS), until: seconds(now + HOUR_MS) };
  const selector = (s: Sent) => `{service_name="${s.service}"}`;
  /** Per service: its profile type ids (MANIFEST) and its pprof's string label keys and values. */
  const facts = new Map<Sent, { types: string[]; labels: Map<string, Set<string>> }>();

  beforeAll(async () => {
    const manifest = await pprofFacts();
    for (const s of [A, B, C]) {
      const p = Profile.decode(await testdataPlain(`pprof/${s.file}`));
      const labels = new Map<string, Set<string>>();
      const str = (i: number | bigint) => String(p.stringTable.strings[Number(i)]);
      for (const sample of p.sample) {
        for (const l of sample.label) {
          if (!l.str) continue;
          const key = str(l.key);
          if (!NOT_SERIES_LABELS.has(key)) labels.set(key, (labels.get(key) ?? new Set()).add(str(l.str)));
        }
      }
      // cpu-exemplars names "the same two query types as cpu.pb.gz".
      const typesOf = s.file === "cpu-exemplars.pb.gz" ? "cpu.pb.gz" : s.file;
      const types = manifest.find((f) => f.file === typesOf)!.profileTypes;
      expect([s.file, types.length]).not.toEqual([s.file, 0]);
      facts.set(s, { types, labels });

      if (s.agoMs !== null) p.timeNanos = BigInt(at(s)) * 1_000_000n;
      const name = `${s.service}{${Object.entries(s.nameLabels).map(([k, v]) => `${k}=${v}`).join(",")}}`;
      await ingestProfile(p.encode(), { name, ...(s.spyName ? { spyName: s.spyName } : {}) });
    }
    // The three label sets differ where the assertions below need them to.
    expect(facts.get(A)!.labels.has("function") && !facts.get(B)!.labels.has("function")).toBe(true);
  });

  async function labels(params: Record<string, string>): Promise<string[]> {
    const res = await getJson(`/pyroscope/labels?${qs(params)}`);
    expect([params, res.status]).toEqual([params, 200]);
    return res.json as string[];
  }

  async function values(params: Record<string, string>): Promise<string[]> {
    const res = await getJson(`/pyroscope/label-values?${qs(params)}`);
    expect([params, res.status]).toEqual([params, 200]);
    return res.json as string[];
  }

  /** The label names a service's series carry: its name's, its pprof's, and the service name. */
  const namesOf = (s: Sent) => ["service_name", ...Object.keys(s.nameLabels), ...facts.get(s)!.labels.keys()];

  it("/labels narrows by selector and by time", async () => {
    const a = await labels({ query: selector(A), ...allThree });
    const b = await labels({ query: selector(B), ...allThree });
    expect(a).toEqual(expect.arrayContaining(namesOf(A)));
    expect(a).not.toContain("team");
    expect(b).toEqual(expect.arrayContaining(namesOf(B)));
    for (const name of ["region", ...facts.get(A)!.labels.keys()]) expect(b).not.toContain(name);

    // No selector: the time range alone decides.
    const aTime = await labels(around(A));
    expect(aTime).toEqual(a);
    const both = await labels(allThree);
    expect(both).toEqual(expect.arrayContaining([...namesOf(A), ...namesOf(B), ...namesOf(C)]));
    expect(both).toEqual([...new Set(both)].sort());

    // A's selector over B's time: nothing.
    expect(await labels({ query: selector(A), ...around(B) })).toEqual([]);
  });

  it("/label-values narrows by selector and by time", async () => {
    const envs = [A, B, C].map((s) => s.nameLabels.env);
    expect(await values({ label: "env", ...allThree })).toEqual([...envs].sort());
    expect(await values({ label: "env", query: selector(B), ...allThree })).toEqual([B.nameLabels.env]);
    expect(await values({ label: "env", ...around(A) })).toEqual([A.nameLabels.env]);
    expect(await values({ label: "env", query: selector(A), ...around(B) })).toEqual([]);
    // A regex selector over two services, and the labels only one of them has.
    expect(await values({ label: "service_name", query: `{env=~"prod|dev"}`, ...allThree })).toEqual([A.service, B.service]);
    expect(await values({ label: "region", query: `{env=~"prod|dev"}`, ...allThree })).toEqual([A.nameLabels.region]);
    expect(await values({ label: "function", query: selector(A), ...allThree })).toEqual([...facts.get(A)!.labels.get("function")!].sort());
  });

  it("label=__name__ lists the profile types of the matching series in range", async () => {
    const typesA = [...facts.get(A)!.types].sort();
    const typesB = [...facts.get(B)!.types].sort();
    expect(await values({ label: "__name__", query: selector(A), ...allThree })).toEqual(typesA);
    expect(await values({ label: "__name__", ...around(B) })).toEqual(typesB);
    expect(await values({ label: "__name__", ...allThree })).toEqual([...typesA, ...typesB, ...facts.get(C)!.types].sort());
  });

  it("reads render's `<profile type>{matchers}` query: that type's series only", async () => {
    const [typeA] = facts.get(A)!.types;
    expect(await values({ label: "service_name", query: `${typeA}{}`, ...allThree })).toEqual([A.service]);
    expect(await values({ label: "env", query: `${typeA}{env="dev"}`, ...allThree })).toEqual([]);
    expect(await labels({ query: `${typeA}{service_name="${A.service}"}`, ...allThree })).toEqual(await labels({ query: selector(A), ...allThree }));
  });

  it("reads from/until in seconds, milliseconds and relative times; the last hour by default", async () => {
    const ms = { from: String(at(A) - HOUR_MS), until: String(at(A) + HOUR_MS) };
    expect(await values({ label: "env", ...ms })).toEqual([A.nameLabels.env]);
    expect(await values({ label: "env", from: "now-4h", until: "now-2h" })).toEqual([A.nameLabels.env]);
    expect(await values({ label: "env" })).toEqual([C.nameLabels.env]);
    expect(await labels({})).toEqual(expect.arrayContaining(namesOf(C)));
    expect(await labels({})).not.toContain("region");
  });

  it("refuses a malformed query or an inverted range with 400 and the reason", async () => {
    for (const path of [
      `/pyroscope/labels?${qs({ query: "{service_name=}" })}`,
      `/pyroscope/label-values?${qs({ label: "env", query: "myapp.cpu{}" })}`,
      `/pyroscope/label-values?${qs({ label: "env", from: "now-1h", until: "now-2h" })}`,
    ]) {
      const res = await getJson(path);
      expect([path, res.status, (res.json as { code: string }).code]).toEqual([path, 400, "invalid_argument"]);
      expect((res.json as { message: string }).message.length).toBeGreaterThan(0);
    }
  });
});
