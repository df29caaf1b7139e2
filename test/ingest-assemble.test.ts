// The assembler that turns stacks of frame names into pprof tables: what it builds must come out
// of the pprof pipeline (normalizePprof) with exactly the stacks and values it was given.

import { describe, expect, it } from "vitest";
import { BlockBuilder } from "../workers/block/builder";
import { DEFAULTS } from "../workers/config";
import { PprofAssembler } from "../workers/ingest/assemble";
import { normalizePprof } from "../workers/ingest/pprof";
import { collapsed } from "./setup/collapsed";
import { parseCollapsed } from "./setup/flamegraph";
import { testdataPlain } from "./setup/testdata";

const CONFIG = { ...DEFAULTS, RETENTION_SECONDS: 0 };

function store(a: PprofAssembler, labels: [string, string][]): BlockBuilder {
  const builder = new BlockBuilder();
  normalizePprof({ profile: a.finish(), bytes: new Uint8Array(0) }, { mode: "push", seriesLabels: labels, nowMs: Date.now(), config: CONFIG }, () => builder);
  return builder;
}

describe("PprofAssembler", () => {
  it("round-trips a golden's stacks through the pprof pipeline", async () => {
    const golden = new TextDecoder().decode(await testdataPlain("expected/cpu-js.pb.gz.wall.microseconds.collapsed"));
    const a = new PprofAssembler({ sampleTypes: [["wall", "microseconds"]], periodType: ["wall", "microseconds"], timeNanos: BigInt(Date.now()) * 1_000_000n });
    for (const [frames, value] of parseCollapsed(golden)) a.stack(frames, [value]);
    const b = store(a, [["__name__", "wall"], ["service_name", "assembled"]]);
    expect(collapsed(b)).toBe(golden);
    expect(b.strings[b.seriesProfileType.get(0)]).toBe("wall:wall:microseconds:wall:microseconds");
  });

  it("splits samples by their labels and keeps several sample types aligned", () => {
    const a = new PprofAssembler({ sampleTypes: [["contentions", "count"], ["delay", "nanoseconds"]], periodType: ["mutex", "count"], timeNanos: BigInt(Date.now()) * 1_000_000n });
    a.stack(["main", "lock"], [1, 100], [["thread", "a"]]);
    a.stack(["main", "lock"], [2, 300], [["thread", "b"]]);
    a.stack(["main", "park"], [1, 50], [["thread", "a"]]);
    const b = store(a, [["__name__", "mutex"], ["service_name", "assembled"]]);
    const byType = (t: string) => {
      const out: Record<string, string> = {};
      for (let p = 0; p < b.profileCount; p++) {
        const s = b.profileSeries.get(p);
        if (b.strings[b.seriesProfileType.get(s)] !== t) continue;
        const thread = b.seriesLabelsOf(s).find(([n]) => n === "thread")![1];
        out[thread] = collapsed(b, (_pt, series) => series === s);
      }
      return out;
    };
    expect(byType("mutex:delay:nanoseconds:mutex:count")).toEqual({ a: "main;lock 100\nmain;park 50\n", b: "main;lock 300\n" });
    expect(byType("mutex:contentions:count:mutex:count")).toEqual({ a: "main;lock 1\nmain;park 1\n", b: "main;lock 2\n" });
  });
});
