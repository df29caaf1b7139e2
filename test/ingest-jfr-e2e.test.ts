// JFR uploads through the whole service (testdata/MANIFEST.md "## JFR"): each recording is posted
// to /ingest as the Java agent posts it (multipart parts `jfr` and `labels`, gzipped, from/until
// around the recording), then every expected pprof is queried back with SelectMergeStacktraces
// for its profile type and label selector, before and after the flush, and must match exactly. A
// damaged recording is refused with 422 and leaves storage as it was.

import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { flameGraphCollapsed } from "./setup/flamegraph";
import { collapsePprof, rpcJson } from "./setup/query";
import { flushAll, multipart, storageSnapshot } from "./setup/storage";
import { testdata, testdataList, testdataPlain } from "./setup/testdata";

/** Recording start (Unix ns, MANIFEST) → the upload's from/until in seconds, as the agent sends them. */
const STARTS_NS: Record<string, bigint> = {
  "cortex-dev-01__kafka-0__cpu__0.jfr.gz": 1691037274585412000n,
  "cortex-dev-01__kafka-0__cpu__1.jfr.gz": 1691037296936697000n,
  "cortex-dev-01__kafka-0__cpu__2.jfr.gz": 1691037311805485000n,
  "cortex-dev-01__kafka-0__cpu_lock_alloc__0.jfr.gz": 1691037380984154000n,
  "cortex-dev-01__kafka-0__cpu_lock_alloc__1.jfr.gz": 1691037397268674000n,
  "cortex-dev-01__kafka-0__cpu_lock_alloc__2.jfr.gz": 1691037415092424000n,
  "cortex-dev-01__kafka-0__cpu_lock0_alloc0__0.jfr.gz": 1691038383665640000n,
  "dump2.jfr.gz": 1693796435456783000n,
};
const DURATION_S = 11;
const HOUR_MS = 3_600_000;

/** The profile types of the expected files; file names spell them with `_` for `:`. */
const PROFILE_TYPES = [
  "process_cpu:cpu:nanoseconds:cpu:nanoseconds",
  "wall:wall:nanoseconds:wall:nanoseconds",
  "memory:alloc_in_new_tlab_objects:count:space:bytes",
  "memory:alloc_in_new_tlab_bytes:bytes:space:bytes",
  "memory:alloc_outside_tlab_objects:count:space:bytes",
  "memory:alloc_outside_tlab_bytes:bytes:space:bytes",
  "memory:live:count:objects:count",
  "mutex:contentions:count:mutex:count",
  "mutex:delay:nanoseconds:mutex:count",
  "block:contentions:count:block:count",
  "block:delay:nanoseconds:block:count",
];
const EMPTY_SELECTOR = "17241709254077376921";
const THREAD_HASHES = ["2539015855607244867", "6511396920643364271", "5571933481434853072", "10784330302778997279", "16370823494798218517", "14685508092873724845", "15666661103234080825", "302387572117411911"];
/** The extra selector of an expected file, by the label-set hash in its name (MANIFEST). */
function selectorOf(hash: string): string {
  if (hash === EMPTY_SELECTOR) return "";
  const thread = THREAD_HASHES.indexOf(hash);
  expect(thread, `selector hash ${hash}`).toBeGreaterThanOrEqual(0);
  return `, thread_name="pool-2-thread-${thread + 1}"`;
}

function upload(app: string, fromS: number, parts: { name: string; data: Uint8Array }[]): Promise<Response> {
  const { body, contentType } = multipart(parts);
  const q = new URLSearchParams({ name: app, spyName: "javaspy", format: "jfr", from: String(fromS), until: String(fromS + DURATION_S) });
  return exports.default.fetch(`http://localhost/ingest?${q}`, { method: "POST", body, headers: { "Content-Type": contentType } });
}

async function queried(profileTypeID: string, labelSelector: string, atMs: number): Promise<string> {
  const { status, json } = await rpcJson("SelectMergeStacktraces", {
    profileTypeID,
    labelSelector,
    start: atMs - HOUR_MS,
    end: atMs + HOUR_MS,
    maxNodes: 1_048_576,
  });
  expect([labelSelector, status]).toEqual([labelSelector, 200]);
  const levels = ((json.flamegraph?.levels ?? []) as { values?: string[] }[]).map((l) => (l.values ?? []).map(Number));
  return flameGraphCollapsed({ names: json.flamegraph?.names ?? [], levels });
}

describe("JFR over /ingest", () => {
  it("stores every recording so that each expected profile queries back exactly", async () => {
    const files = await testdataList("jfr");
    const recordings = files.filter((f) => f.endsWith(".jfr.gz"));
    expect(recordings.sort()).toEqual(Object.keys(STARTS_NS).sort());

    const checks: { app: string; atMs: number; type: string; selector: string; file: string; want: string }[] = [];
    for (const [i, name] of recordings.entries()) {
      const app = `jfr-e2e-${i}-${Date.now()}`;
      const fromS = Number(STARTS_NS[name] / 1_000_000_000n);
      const parts = [{ name: "jfr", data: await testdata(`jfr/${name}`) }];
      const labelsFile = name.replace(/\.jfr\.gz$/, ".labels.pb.gz");
      if (files.includes(labelsFile)) parts.push({ name: "labels", data: await testdata(`jfr/${labelsFile}`) });
      const res = await upload(app, fromS, parts);
      expect([name, res.status, await res.text()]).toEqual([name, 200, ""]);

      for (const file of files.filter((f) => f.startsWith(`${name}.`) && f.endsWith(".pb.gz"))) {
        const [, metric, hash] = /^\.(.+)\.(\d+)\.pb\.gz$/.exec(file.slice(name.length))!;
        const type = PROFILE_TYPES.find((t) => t.replaceAll(":", "_") === metric);
        expect(type, file).toBeDefined();
        const want = collapsePprof(await testdataPlain(`jfr/${file}`), 0);
        checks.push({ app, atMs: fromS * 1000, type: type!, selector: `{service_name="${app}"${selectorOf(hash)}}`, file, want });
      }
    }
    expect(checks.length).toBe(42);

    // Read-your-writes from the ingesters, then from the flushed blocks.
    for (const c of checks) expect(await queried(c.type, c.selector, c.atMs), c.file).toBe(c.want);
    await flushAll();
    for (const c of checks) expect(await queried(c.type, c.selector, c.atMs), `${c.file} after flush`).toBe(c.want);
  });

  it("refuses a recording whose first byte is zeroed with 422 and stores nothing", async () => {
    const name = "cortex-dev-01__kafka-0__cpu__0.jfr.gz";
    const recording = (await testdataPlain(`jfr/${name}`)).slice();
    recording[0] = 0;
    const before = await storageSnapshot();
    const res = await upload(`jfr-e2e-bad-${Date.now()}`, Number(STARTS_NS[name] / 1_000_000_000n), [{ name: "jfr", data: recording }]);
    const body = await res.json<{ code: string; message: string }>();
    expect(res.status).toBe(422);
    expect(body.message).toMatch(/JFR/);
    expect(await storageSnapshot()).toEqual(before);
  });
});
