// The printed report of the series section (see series.mjs for what is measured).

import { markdownTable, mib, num, textTable } from "./report.mjs";

export function printSeriesReport(r) {
  const b = r.baseline;
  const w = r.withWide;
  const out = [];
  out.push(`Series — ${r.config.newServices} pushes to new services at concurrency ${r.config.concurrency}, ${r.environment.cpus} CPUs, node ${r.environment.node}, wrangler ${r.environment.wrangler}`);
  out.push(`Wide service: ${r.config.series} series in ${r.config.pushes} pushes (${num(w.wide.seconds)} s, slowest ${num(w.wide.maxMs)} ms)`);
  out.push("");
  out.push(textTable([
    ["", `with ${r.config.series} series`, "empty tenant", "ratio"],
    ["acknowledged / sent", `${w.ok} / ${w.requests}`, `${b.ok} / ${b.requests}`, ""],
    ["failed requests (5xx, resets, timeouts)", w.failed, b.failed, ""],
    ["wall time", `${num(w.seconds)} s`, `${num(b.seconds)} s`, num(w.seconds / b.seconds, 2)],
    ["ack latency p50", `${num(w.p50Ms)} ms`, `${num(b.p50Ms)} ms`, num(w.p50Ms / b.p50Ms, 2)],
    ["ack latency p99", `${num(w.p99Ms)} ms`, `${num(b.p99Ms)} ms`, num(w.p99Ms / b.p99Ms, 2)],
    ["slowest ack", `${num(w.maxMs)} ms`, `${num(b.maxMs)} ms`, num(w.maxMs / b.maxMs, 2)],
    ["peak workerd RSS", `${mib(w.peakRss)} MiB`, `${mib(b.peakRss)} MiB`, ""],
  ]));
  for (const [label, x] of [["with the wide service", w], ["empty tenant", b]]) {
    for (const f of x.failures) out.push(`  ${label}: ${f.count} × ${f.message}`);
  }
  out.push("");
  out.push("Markdown:");
  out.push("");
  out.push(markdownTable([
    [`Pushes to ${r.config.newServices} new services (C=${r.config.concurrency})`, `with a ${r.config.series}-series service`, "empty tenant (baseline)"],
    ["failed requests", `${w.failed} / ${w.requests}`, `${b.failed} / ${b.requests}`],
    ["ack latency p50 / p99", `${num(w.p50Ms)} / ${num(w.p99Ms)} ms`, `${num(b.p50Ms)} / ${num(b.p99Ms)} ms`],
    ["slowest ack", `${num(w.maxMs)} ms`, `${num(b.maxMs)} ms`],
  ]));
  console.log(out.join("\n"));
}
