// The printed report of the query section (see query.mjs for what is measured).

import { markdownTable, mb, mib, num, textTable, verdict } from "./report.mjs";

const ms = (x) => `${num(x)} ms`;
const times = (x) => `${num(x)}×`;
const repeated = (q) => `${ms(q.median)} (${ms(q.min)})`;
const both = (a, b) => (a.pass === null || b.pass === null ? null : a.pass && b.pass);

/** What one call read, from the service's X-Query-Stats header. */
function readText(stats) {
  if (!stats) return "n/a";
  return `${stats.blocks} blocks + ${stats.pushes} pushes, ${num(mb(stats.bytesRead))} MB, ${stats.invocations} invocations, peak ${mib(stats.peakBytes)} MiB/invocation`;
}

export function printQueryReport(r) {
  const q = r.queries;
  const b = r.baseline;
  const t = r.targets;
  const x = r.ratios;
  const out = [];
  out.push(
    `Query — ${r.config.profiles} profiles of one service over 24 h (${r.config.sources.length} real CPU pprofs cycled), ` +
      `${r.config.profileType}, first call then ${r.config.repeats} repeats: median (min); ${r.environment.cpus} CPUs, node ${r.environment.node}, wrangler ${r.environment.wrangler}`,
  );
  out.push(
    `Ingest: ${r.ingest.profiles} profiles in ${num(r.ingest.seconds)} s (${num(r.ingest.profilesPerSec)} profiles/s, p50 ${ms(r.ingest.p50)}, ` +
      `${r.ingest.failed} failed requests at concurrency ${r.ingest.concurrency}); ` +
      `flush wait ${num(r.flush.seconds)} s → ${r.flush.blocks} blocks, ${num(mb(r.flush.blockBytes))} MB, ${r.flush.series} series${r.flush.stable ? "" : " (still changing)"}`,
  );
  out.push("");
  const goalText = `≥ ${t.speedupFirst.threshold}×, < ${t.latencyFirst.threshold} ms`;
  out.push(textTable([
    ["", "service", "baseline (Node)", "baseline/service", "target", ""],
    ["24-h flame graph, first call", ms(q.flame24h.first.ms), ms(b.ms), times(x.flame24hFirst), goalText, verdict(both(t.speedupFirst, t.latencyFirst))],
    ["24-h flame graph, repeated", repeated(q.flame24h), ms(b.ms), times(x.flame24hRepeated), goalText, verdict(both(t.speedupRepeated, t.latencyRepeated))],
    ["24-h SelectSeries (60 s step), first call", ms(q.series24h.first.ms), ms(b.ms), times(x.series24hFirst), "", ""],
    ["24-h SelectSeries, repeated", repeated(q.series24h), ms(b.ms), times(x.series24hRepeated), "", ""],
    ["1-h flame graph, first call", ms(q.flame1h.first.ms), ms(b.hourMs), times(x.flame1hFirst), "", ""],
    ["1-h flame graph, repeated", repeated(q.flame1h), ms(b.hourMs), times(x.flame1hRepeated), "", ""],
    ...exemplarRows(q, b),
    ["workerd RSS idle → peak during queries", `${mib(r.rss.idleRss)} → ${mib(r.rss.peakRss)} MiB`, `Node ${mib(b.memory.baseRss)} → ${mib(b.memory.peakRss)} MiB`, "", "", ""],
    // A mismatch stops the run, so a report always has this row passed.
    ["totals equal the inputs' sum", "every call", `${r.expectedTotals.day} ns (24 h)`, "", "", "PASS"],
  ]));
  out.push("Only the first 24-h flame graph finds the mergers' caches cold; the queries after it reuse what it decoded.");
  out.push("");
  out.push("Read per invocation (X-Query-Stats, first call → a repeat):");
  const read = [["24-h flame graph", q.flame24h], ["24-h SelectSeries", q.series24h], ["1-h flame graph", q.flame1h]];
  if (q.drillDown) read.push(["exemplar drill-down", q.drillDown]);
  for (const [label, x] of read) {
    out.push(`  ${label}: ${readText(x.first.stats)}`);
    out.push(`  ${" ".repeat(label.length)}  → ${readText(x.calls.at(-1).stats)}`);
  }
  out.push(
    `Baseline: gunzip (node:zlib) + pprof-format decode + merge into one tree of the same ${b.profiles} request bodies in this process: ` +
      `${num(b.ms / 1000)} s, ${num(b.mbPerSec)} MB/s of uncompressed pprof, ${b.nodes} tree nodes; heap ${mib(b.memory.baseHeapUsed)} → peak ${mib(b.memory.peakHeapUsed)} MiB (gc ${b.gcAvailable ? "on" : "unavailable"})`,
  );
  out.push(`Server-Timing of the 24-h flame graph: first ${ms(q.flame24h.first.serverMs)}, repeats ${q.flame24h.calls.slice(1).map((c) => num(c.serverMs)).join(", ")} ms`);
  const twice = Object.values(q).flatMap((x) => x.calls).filter((c) => c.gzippedTwice).length;
  if (twice) {
    out.push(
      `WARNING: ${twice} answers arrived gzipped twice (Content-Encoding: gzip over a body Connect had already gzipped); ` +
        "clients such as Grafana cannot read them. The bench decoded them; fix the service's response compression.",
    );
  }
  const c = r.compaction;
  if (c) {
    out.push("");
    out.push(`Compaction (the same day in small flushes, ${c.vars.join(" ")}; 24-h flame graph over the blocks before and after the compactor):`);
    out.push(textTable([
      ["", "blocks", "block MB", "first call", "repeated: median (min)", "invocations"],
      ["before (level 0 only)", String(c.before.blocks), num(mb(c.before.blockBytes)), ms(c.before.flame.first.ms), repeated(c.before.flame), String(c.before.flame.first.stats?.invocations ?? "n/a")],
      [`after (settled in ${num(c.after.seconds)} s${c.after.settled ? "" : ", still changing"})`, String(c.after.blocks), num(mb(c.after.blockBytes)), ms(c.after.flame.first.ms), repeated(c.after.flame), String(c.after.flame.first.stats?.invocations ?? "n/a")],
      ["after / before", times(c.after.blocks / c.before.blocks), times(c.after.blockBytes / c.before.blockBytes), times(c.after.flame.first.ms / c.before.flame.first.ms), times(c.after.flame.median / c.before.flame.median), ""],
    ]));
  }
  out.push("");
  out.push("Targets:");
  for (const [label, s, l] of [["first call", t.speedupFirst, t.latencyFirst], ["repeated (median)", t.speedupRepeated, t.latencyRepeated]]) {
    out.push(`  ${verdict(s.pass)}  24-h flame graph, ${label}: ${times(s.value)} faster than the baseline (target ≥ ${s.threshold}×)`);
    out.push(`  ${verdict(l.pass)}  24-h flame graph, ${label}: ${ms(l.value)} (target < ${l.threshold} ms)`);
  }
  out.push("");
  out.push("Markdown:");
  out.push("");
  out.push(markdownTable([
    ["Query (24 h, 8,640 profiles)", "service", "baseline", "ratio", "target", ""],
    ["24-h flame graph, first call", ms(q.flame24h.first.ms), ms(b.ms), times(x.flame24hFirst), goalText, verdict(both(t.speedupFirst, t.latencyFirst))],
    ["24-h flame graph, repeated: median (min)", repeated(q.flame24h), ms(b.ms), times(x.flame24hRepeated), goalText, verdict(both(t.speedupRepeated, t.latencyRepeated))],
    ["24-h SelectSeries, 60 s step: first / median", `${ms(q.series24h.first.ms)} / ${ms(q.series24h.median)}`, ms(b.ms), times(x.series24hRepeated), "", ""],
    ["1-h flame graph: first / median", `${ms(q.flame1h.first.ms)} / ${ms(q.flame1h.median)}`, ms(b.hourMs), times(x.flame1hRepeated), "", ""],
    ...exemplarRows(q, b),
    ["peak memory per invocation (24-h flame graph)", q.flame24h.first.stats ? `${mib(q.flame24h.first.stats.peakBytes)} MiB × ${q.flame24h.first.stats.invocations}` : "n/a", "", "", "", ""],
    ["peak workerd RSS during queries / Node RSS (baseline)", `${mib(r.rss.peakRss)} MiB`, `${mib(b.memory.peakRss)} MiB`, "", "", ""],
    ...(c
      ? [
          [`same day in ${c.before.blocks} small flushes, 24-h flame graph: first / median`, `${ms(c.before.flame.first.ms)} / ${ms(c.before.flame.median)}`, ms(b.ms), times(b.ms / c.before.flame.first.ms), "", ""],
          [`… after compaction to ${c.after.blocks} blocks: first / median`, `${ms(c.after.flame.first.ms)} / ${ms(c.after.flame.median)}`, ms(b.ms), times(b.ms / c.after.flame.first.ms), "", ""],
        ]
      : []),
  ]));
  console.log(out.join("\n"));
}

/** SelectSeries with exemplars and the drill-down to the greatest one (absent from older runs' JSON). */
function exemplarRows(q, b) {
  if (!q.exemplars24h || !q.drillDown) return [];
  const firstMedian = (x) => `${ms(x.first.ms)} / ${ms(x.median)}`;
  return [
    ["24-h SelectSeries with exemplars: first / median", firstMedian(q.exemplars24h), ms(b.ms), "", "", ""],
    ["exemplar drill-down (one profile, 24-h range): first / median", firstMedian(q.drillDown), "", "", "", ""],
  ];
}
