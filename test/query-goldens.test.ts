// Every golden of ../shared/testdata/expected through the whole service: its pprof is ingested
// over /ingest, then its sample type is queried back with SelectMergeStacktraces (flame graph,
// decoded back to stacks) and SelectMergeProfile (pprof, decoded with pprof-format). Both must give
// exactly the golden's stacks and values — first from the ingesters (read-your-writes, nothing
// flushed yet), then from the blocks in R2 after a flush.

import { toBinary } from "@bufbuild/protobuf";
import { exports } from "cloudflare:workers";
import { Profile } from "pprof-format";
import { beforeAll, describe, expect, it } from "vitest";
import { ProfileSchema } from "../workers/gen/google/v1/profile_pb";
import { SelectMergeProfileRequestSchema } from "../workers/gen/querier/v1/querier_pb";
import { flameGraphCollapsed } from "./setup/flamegraph";
import { pprofFacts } from "./setup/manifest";
import { collapsePprof, goldens, rpcJson, rpcProto, type Golden } from "./setup/query";
import { flushAll, multipart } from "./setup/storage";
import { plain, testdata, testdataPlain } from "./setup/testdata";

const END_OF_1970_MS = 365 * 24 * 3600 * 1000;
const HOUR_MS = 3_600_000;

interface Case extends Golden {
  service: string;
  golden: string;
  start: number;
  end: number;
  profileTypeId?: string;
}

function serviceOf(g: Golden): string {
  return `golden/${g.file}${g.spyName ? `/${g.spyName}` : ""}`;
}

describe("goldens through ingest and query", () => {
  const cases: Case[] = [];

  beforeAll(async () => {
    const facts = await pprofFacts();
    const uploaded = new Set<string>();
    for (const g of await goldens()) {
      const f = facts.find((x) => x.file === g.file);
      const service = serviceOf(g);
      const bytes = await testdata(`pprof/${g.file}`);
      const t = Number(Profile.decode(plain(bytes)).timeNanos) / 1e6;
      const at = t > END_OF_1970_MS ? t : Date.now();
      if (!uploaded.has(service)) {
        uploaded.add(service);
        const parts = [{ name: "profile", data: bytes }];
        if (f?.sampleTypeConfig) parts.push({ name: "sample_type_config", data: await testdata(`pprof/${f.sampleTypeConfig}`) });
        const { body, contentType } = multipart(parts);
        const q = new URLSearchParams({ name: service });
        const spy = g.spyName ?? f?.spyName;
        if (spy) q.set("spyName", spy);
        const res = await exports.default.fetch(`http://localhost/ingest?${q}`, { method: "POST", body, headers: { "Content-Type": contentType } });
        expect([service, res.status, res.status === 200 ? "" : await res.text()]).toEqual([service, 200, ""]);
      }
      const golden = new TextDecoder().decode(await testdataPlain(g.path));
      cases.push({ ...g, service, golden, start: Math.floor(at - HOUR_MS), end: Math.ceil(at + HOUR_MS) });
    }
    expect(cases.length).toBe(35);
    // The profile type ids come from the Series API, as the Drilldown app gets them.
    for (const c of cases) {
      const { status, json } = await rpcJson("Series", {
        matchers: [`{service_name="${c.service}"}`],
        labelNames: ["__profile_type__", "__type__", "__unit__"],
        start: c.start,
        end: c.end,
      });
      expect(status).toBe(200);
      const sets: { labels: { name: string; value: string }[] }[] = json.labelsSet ?? [];
      const get = (s: (typeof sets)[number], n: string) => s.labels.find((l) => l.name === n)?.value ?? "";
      const norm = (s: string) => s.replace(/-/g, "_");
      const match = sets.filter((s) => norm(get(s, "__type__")) === c.type && get(s, "__unit__") === c.unit);
      expect([c.path, match.length]).toEqual([c.path, 1]);
      c.profileTypeId = get(match[0], "__profile_type__");
    }
  });

  async function checkAll(): Promise<void> {
    for (const c of cases) {
      const selection = { profileTypeID: c.profileTypeId!, labelSelector: `{service_name="${c.service}"}`, start: c.start, end: c.end };
      const fg = await rpcJson("SelectMergeStacktraces", { ...selection, maxNodes: 1048576 });
      expect([c.path, fg.status]).toEqual([c.path, 200]);
      const levels = (fg.json.flamegraph.levels as { values?: string[] }[]).map((l) => (l.values ?? []).map(Number));
      expect([c.path, flameGraphCollapsed({ names: fg.json.flamegraph.names, levels })]).toEqual([c.path, c.golden]);

      const pprof = await rpcProto("SelectMergeProfile", SelectMergeProfileRequestSchema, {
        ...selection,
        start: BigInt(c.start),
        end: BigInt(c.end),
      }, ProfileSchema);
      expect([c.path, collapsePprof(toBinary(ProfileSchema, pprof), 0)]).toEqual([c.path, c.golden]);
    }
  }

  it("are queryable from the ingesters before any flush", async () => {
    await checkAll();
  });

  it("are queryable from the R2 blocks after the flush", async () => {
    await flushAll();
    await checkAll();
  });
});
