// The printed report of the ingest section (see ingest.mjs for what is measured).

import os from "node:os";
import { markdownTable, mb, mib, num, textTable, verdict } from "./report.mjs";

const peakOf = (rss, role) => rss.processes.filter((p) => p.role === role).reduce((n, p) => n + p.peakRss, 0);
const perSecondText = (x) =>
  x.minPerSecond === null ? "n/a (< 1 s)" : `${x.minPerSecond} (at ${x.minPerSecondAtS} s) / ${num(x.medianPerSecond)}`;
const cpuText = (c) => `${num(c.workerdWorker)} / ${num(c.workerdProxy)} / ${num(c.node)}`;

const noiseText = (x) => `${num(x.rss.cpu.others)} (${num((100 * x.rss.cpu.others) / (x.rss.seconds * cpus()), 0)} % of the CPUs)`;
const cpus = () => Math.max(1, os.availableParallelism?.() ?? os.cpus().length);
const NOISE_WARN = 0.1;

const goal = (t) => `${t.op === ">=" ? "≥" : "≤"} ${t.threshold}`;
const signed = (x) => (x === null || x === undefined ? "n/a" : `${x >= 0 ? "+" : ""}${num(x)}`);

export function printIngestReport(r) {
  const s = r.service;
  const n = r.nullWorker;
  const d = r.decodeCeiling;
  const t = r.targets;
  const out = [];
  out.push(`Ingest — ${r.config.concurrency} concurrent connections, ≤ ${r.config.maxRequests} requests or ${r.config.maxSeconds} s per target, ` +
    `${r.workload.profiles.length} distinct profiles (${r.workload.dropped.length} dropped), ${r.environment.cpus} CPUs, node ${r.environment.node}, wrangler ${r.environment.wrangler}`);
  out.push("");
  out.push(textTable([
    ["", "service", "(a) null worker", "service/(a)"],
    ["requests (200 / sent)", `${s.ok} / ${s.requests}`, `${n.ok} / ${n.requests}`, ""],
    ["failed requests (5xx, resets, timeouts)", s.failed, n.failed, ""],
    ["wall time", `${num(s.wallSeconds)} s`, `${num(n.wallSeconds)} s`, ""],
    ["profiles/s", num(s.profilesPerSec), num(n.profilesPerSec), num(s.profilesPerSec / n.profilesPerSec, 3)],
    ["uncompressed MB/s", num(s.mbPerSec), num(n.mbPerSec), num(r.ratios.throughput, 3)],
    ["latency p50", `${num(s.p50)} ms`, `${num(n.p50)} ms`, `${signed(r.ratios.p50DiffMs)} ms`],
    ["latency p90", `${num(s.p90)} ms`, `${num(n.p90)} ms`, ""],
    ["latency p99", `${num(s.p99)} ms`, `${num(n.p99)} ms`, ""],
    ["latency max", `${num(s.max)} ms`, `${num(n.max)} ms`, ""],
    ["answers/s per second: min / median", perSecondText(s), perSecondText(n), ""],
    ["longest time without an answer", `${num(s.longestGapMs)} ms at ${num(s.longestGapAtS, 1)} s`, `${num(n.longestGapMs)} ms at ${num(n.longestGapAtS, 1)} s`, ""],
    ["Server-Timing p50 / p99", `${num(s.serverP50)} / ${num(s.serverP99)} ms`, `${num(n.serverP50)} / ${num(n.serverP99)} ms`, ""],
    ["requests inside the Worker (avg)", num(s.serverInFlight), num(n.serverInFlight), ""],
    ["workerd RSS idle → peak (end)", `${mib(s.rss.idleRss)} → ${mib(s.rss.peakRss)} (${mib(s.rss.lastRss)}) MiB`, `${mib(n.rss.idleRss)} → ${mib(n.rss.peakRss)} (${mib(n.rss.lastRss)}) MiB`, num(s.rss.peakRss / n.rss.peakRss, 2)],
    ["  peak, worker process", `${mib(peakOf(s.rss, "workerd (worker)"))} MiB`, `${mib(peakOf(n.rss, "workerd (worker)"))} MiB`, ""],
    ["  peak, proxy process", `${mib(peakOf(s.rss, "workerd (proxy)"))} MiB`, `${mib(peakOf(n.rss, "workerd (proxy)"))} MiB`, ""],
    ["CPU s: worker / proxy / wrangler", cpuText(s.rss.cpu), cpuText(n.rss.cpu), ""],
    ["CPU s: this bench client", num(s.rss.cpu.benchClient), num(n.rss.cpu.benchClient), ""],
    ["CPU s: other processes (noise)", noiseText(s), noiseText(n), ""],
  ]));
  out.push("");
  out.push(`Processing rate inside Worker+DO: ${num(mb(s.serverRawBytes))} MB uncompressed / ${num(s.serverSeconds)} s of Server-Timing = ${num(r.ratios.processingMbPerSec)} MB/s`);
  out.push(`Uncontended (one request at a time, each profile once): latency p50 ${num(s.uncontended.p50)} ms vs ${num(n.uncontended.p50)} ms (a); ` +
    `processing rate ${num(s.uncontended.processingMbPerSec)} MB/s of Server-Timing`);
  if (s.uncontended.decodeMbPerSec) {
    out.push(
      `  of which: decode in the Worker ${num(s.uncontended.decodeMbPerSec)} MB/s, ` +
        `ingesters making the push durable ${num(s.uncontended.storeMbPerSec)} MB/s`,
    );
  }
  out.push(`CPU cost: ${num(mb(s.rawBytes))} MB uncompressed / ${num(s.rss.cpu.workerdWorker)} CPU s of the service's worker process = ${num(r.ratios.mbPerWorkerCpuSecond)} MB per CPU second ` +
    `(${num(r.ratios.mbPerWorkerCpuSecond / d.mbPerSec, 3)} of (b), which uses one CPU)`);
  out.push(`(b) decode ceiling (fflate gunzipSync + @bufbuild/protobuf BinaryReader walk, ${d.runs.length} runs over ${d.runs[0]?.rawBytes ? num(mb(d.runs[0].rawBytes)) : "?"} MB): ` +
    `median ${num(d.mbPerSec)} MB/s (runs ${d.runs.map((x) => num(x.mbPerSec)).join(", ")})`);
  if (r.ratios.throughputCeiling) {
    out.push(`Ceiling of the throughput ratio: a service that did nothing but (b)'s work on (a)'s one thread would reach ${num(r.ratios.throughputCeiling, 3)} of (a) ` +
      `(1 / (1 + (a) MB/s ÷ (b) MB/s)); the service also normalises, stores and flushes.`);
  }
  out.push(`(b) Node memory: RSS ${mib(d.memory.baseRss)} → peak ${mib(d.memory.peakRss)} MiB, heap used ${mib(d.memory.baseHeapUsed)} → peak ${mib(d.memory.peakHeapUsed)} MiB (gc ${d.gcAvailable ? "on" : "unavailable"})`);
  for (const [label, x] of [["service", s], ["null worker", n]]) {
    if (x.rss.cpu.others > NOISE_WARN * x.rss.seconds * cpus()) {
      out.push(`WARNING: other processes used ${num(x.rss.cpu.others)} CPU s during the ${label} load: its figures are disturbed; rerun on a quiet machine.`);
    }
  }
  out.push("");
  out.push("Targets:");
  out.push(`  ${verdict(t.throughputRatio.pass)}  throughput service/(a) = ${num(t.throughputRatio.value, 3)} (target ${goal(t.throughputRatio)})`);
  out.push(`  ${verdict(t.p50DiffMs.pass)}  p50 latency difference = ${num(t.p50DiffMs.value)} ms (target ${goal(t.p50DiffMs)} ms)`);
  out.push(`  ${verdict(t.processingVsDecode.pass)}  processing rate / (b) = ${num(t.processingVsDecode.value, 3)} (target ${goal(t.processingVsDecode)})`);
  out.push(`  ${verdict(t.noErrors.pass)}  service errors: ${s.errors} non-200 of ${s.requests}`);
  const f = r.failed;
  out.push(`  ${verdict(t.noFailures.pass)}  failed requests (5xx, resets, timeouts) in every phase: ${r.failedRequests} ` +
    `(validation ${f.validation}, warm-up ${f.warmup}, uncontended ${f.uncontended}, load ${f.load} of ${s.requests})`);
  for (const e of s.errorGroups) out.push(`         ${e.count} × HTTP ${e.status} ${e.message} (${e.profiles.slice(0, 3).join(", ")})`);
  if (r.service.log.errorLines.length) {
    out.push("  service log error lines:");
    for (const e of r.service.log.errorLines.slice(0, 10)) out.push(`    ${e.count} × ${e.line}`);
  }
  if (r.workload.dropped.length) {
    out.push("Dropped by the validation pass:");
    for (const x of r.workload.dropped) out.push(`  ${x.id}: HTTP ${x.status} ${x.message}`);
  }
  out.push("");
  out.push("Service time by profile (top 5 of Σ Server-Timing under load; 'alone' = uncontended pass):");
  out.push(textTable([
    ["profile", "uncompressed", "requests", "server ms (load)", "share", "server ms (alone)", "MB/s (alone)"],
    ...r.service.slowest.map((x) => [
      x.id,
      `${num(x.rawBytes / 1024)} KiB`,
      x.requests,
      num(x.meanServerMs),
      `${num(100 * x.share, 1)} %`,
      num(x.aloneServerMs),
      num(x.aloneMbPerSec),
    ]),
  ]));
  out.push("");
  out.push("Markdown:");
  out.push("");
  out.push(markdownTable([
    ["Ingest (C=" + r.config.concurrency + ")", "service", "reference", "ratio / diff", "target", ""],
    ["throughput, profiles/s", num(s.profilesPerSec), `${num(n.profilesPerSec)} (a)`, num(s.profilesPerSec / n.profilesPerSec, 3), "", ""],
    ["throughput, uncompressed MB/s", num(s.mbPerSec), `${num(n.mbPerSec)} (a)`, num(r.ratios.throughput, 3), goal(t.throughputRatio), verdict(t.throughputRatio.pass)],
    ["ack latency p50", `${num(s.p50)} ms`, `${num(n.p50)} ms (a)`, `${signed(r.ratios.p50DiffMs)} ms`, `${goal(t.p50DiffMs)} ms`, verdict(t.p50DiffMs.pass)],
    ["ack latency p99", `${num(s.p99)} ms`, `${num(n.p99)} ms (a)`, "", "", ""],
    ["processing rate in Worker+DO, MB/s", num(r.ratios.processingMbPerSec), `${num(d.mbPerSec)} (b)`, num(r.ratios.processingVsDecode, 3), goal(t.processingVsDecode), verdict(t.processingVsDecode.pass)],
    ["peak workerd RSS", `${mib(s.rss.peakRss)} MiB`, `${mib(n.rss.peakRss)} MiB (a)`, num(s.rss.peakRss / n.rss.peakRss, 2), "", ""],
    ["peak Node RSS / heap (b)", "", `${mib(d.memory.peakRss)} / ${mib(d.memory.peakHeapUsed)} MiB`, "", "", ""],
    ["non-200 responses", `${s.errors} / ${s.requests}`, `${n.errors} / ${n.requests} (a)`, "", "0", verdict(t.noErrors.pass)],
    ["failed requests (5xx, resets, timeouts), all phases", String(r.failedRequests), `${n.failed} (a, load)`, "", "0", verdict(t.noFailures.pass)],
  ]));
  console.log(out.join("\n"));
}
