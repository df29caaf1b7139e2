// The printed report of the formats section (see formats.mjs for what is measured).

import { markdownTable, mb, mib, num, textTable } from "./report.mjs";

const ms = (x) => `${num(x)} ms`;
const rate = (x) => `${num(x)} MB/s`;
const times = (x) => `${num(x)}×`;
const size = (bytes) => `${num(mb(bytes))} MB`;
const peak = (m) => `${mib(m.peakRssAfter)} MiB (+${mib(Math.max(0, m.peakRssDelta))})`;

export function printFormatsReport(r) {
  const [single, large] = r.jfr;
  const p = r.pprof;
  const x = r.ratios;
  const out = [];
  out.push(
    `Formats — JFR decode (workers/ingest/jfr, esbuild bundle in Node) of ${r.config.recording} with its labels, and of ${large.chunks} copies of its chunk in one ` +
      `recording, vs pprof decode of dump2's ${p.files} expected pprofs; median of ${r.config.rounds} rounds of ≥ ${r.config.roundMs} ms; ` +
      `${r.environment.cpus} CPUs, node ${r.environment.node}`,
  );
  out.push("");
  out.push(
    textTable([
      ["", "input (uncompressed)", "per decode: median (min)", "throughput", "output", "peak RSS of one decode (rise)", "heap kept"],
      ...r.jfr.map((j) => [
        `JFR: ${j.name}`,
        size(j.bytes),
        `${ms(j.ms)} (${ms(j.min)})`,
        rate(j.mbPerSec),
        `${j.profiles} profiles, ${j.samples} samples`,
        peak(j.memory),
        `${mib(j.memory.heapRetained)} MiB`,
      ]),
      [`pprof: ${p.files} outputs, service decoder`, size(p.bytes), `${ms(p.own.ms)} (${ms(p.own.min)})`, rate(p.own.mbPerSec), "", "", ""],
      [`pprof: ${p.files} outputs, pprof-format`, size(p.bytes), `${ms(p.pprofFormat.ms)} (${ms(p.pprofFormat.min)})`, rate(p.pprofFormat.mbPerSec), "", "", ""],
    ]),
  );
  out.push("");
  out.push("Ratios:");
  out.push(`  JFR MB/s ÷ service pprof decode MB/s: ${times(x.jfrVsOwnPprof)}; ÷ pprof-format MB/s: ${times(x.jfrVsPprofFormat)}`);
  out.push(`  time to dump2's profiles from JFR ÷ from their pprofs (service decoder): ${times(x.jfrTimeVsOwnPprofTime)}`);
  out.push(`  ${large.chunks}-chunk recording MB/s ÷ dump2 MB/s: ${times(x.largeVsSingle)} (1× = linear in the recording's size)`);
  out.push(
    `Peak RSS: a fresh Node process with the recording already read (${mib(single.memory.peakRssBefore)} MiB peak before the decode for dump2); ` +
      "the rise is what one decode added to the process's peak.",
  );
  out.push("");
  out.push("Markdown:");
  out.push("");
  out.push(
    markdownTable([
      ["Decode (Node, esbuild bundle)", "input", "median", "MB/s", "peak RSS (rise)"],
      ...r.jfr.map((j) => [`JFR ${j.name}`, size(j.bytes), ms(j.ms), num(j.mbPerSec), peak(j.memory)]),
      [`pprof, ${p.files} expected outputs of dump2 (service decoder)`, size(p.bytes), ms(p.own.ms), num(p.own.mbPerSec), ""],
      [`pprof, same (pprof-format)`, size(p.bytes), ms(p.pprofFormat.ms), num(p.pprofFormat.mbPerSec), ""],
    ]),
  );
  console.log(out.join("\n"));
}
