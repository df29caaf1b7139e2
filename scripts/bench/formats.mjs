// The formats section of `npm run bench`: the JFR decoder (workers/ingest/jfr) in Node, bundled
// with esbuild, on the largest corpus recording (dump2: 785 KB, one chunk, with its labels) and
// on a larger one synthesized by repeating dump2's chunk (JFR files are chunk sequences), against
// pprof decoding of the expected pprof outputs of the same recording, in the same run:
//   (a) the service's own pprof decoder (workers/ingest/pprof-decode.ts, bundled alongside);
//   (b) pprof-format's Profile.decode, the reference JavaScript decoder.
// Throughput is MB/s of uncompressed input. Peak memory of a decode is measured in a fresh Node
// process per recording (this file, run with --memory): its peak RSS (getrusage maxRSS) before
// and after one decode, with the input already in memory.

import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { gunzipSync } from "node:zlib";
import { Profile } from "pprof-format";
import { environment, mb, num } from "./report.mjs";

export { printFormatsReport } from "./formats-report.mjs";

const RECORDING = "dump2.jfr.gz";
const LABELS = "dump2.labels.pb.gz";
/** Copies of dump2's chunk in the synthesized recording. */
const REPEATS = 8;
/** Each timed round repeats a decode until it has run this long, so timer noise stays small. */
const ROUND_MS = 200;
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");

const INPUT = {
  appName: "bench",
  nameLabels: [],
  spyName: "javaspy",
  fromMs: 1_693_796_435_000,
  untilMs: 1_693_796_445_000,
  nowMs: 1_693_796_445_000,
  config: {},
};

/** Bundles the decoders for Node into `dir` and imports them. */
async function loadDecoders(dir) {
  const { build } = await import("esbuild");
  const outfile = path.join(dir, "decoders.mjs");
  await build({
    stdin: {
      contents: 'export { decodeJfr } from "./workers/ingest/jfr/index.ts";\nexport { decodeProfile } from "./workers/ingest/pprof-decode.ts";\n',
      resolveDir: ROOT,
      loader: "ts",
    },
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    outfile,
    logLevel: "warning",
  });
  return { outfile, ...(await import(pathToFileURL(outfile).href)) };
}

/** Median milliseconds per call of `fn`, over `rounds` timed rounds after a warm-up round. */
function timePerCall(fn, rounds) {
  let perRound = 1;
  const warm = performance.now();
  while (performance.now() - warm < ROUND_MS) {
    fn();
    perRound++;
  }
  const samples = [];
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    for (let i = 0; i < perRound; i++) fn();
    samples.push((performance.now() - t0) / perRound);
  }
  samples.sort((a, b) => a - b);
  return { ms: samples[Math.floor(samples.length / 2)], min: samples[0], callsPerRound: perRound };
}

function summarize(profiles) {
  let samples = 0;
  let total = 0;
  for (const { profile } of profiles) {
    samples += profile.sampleLocationStart.length - 1;
    for (const v of profile.sampleValues) total += v;
  }
  return { profiles: profiles.length, samples, total };
}

/** Peak RSS of one decode in a fresh process (see the --memory entry point below). */
function measureMemory(bundle, recordingFile, labelsFile) {
  const out = execFileSync(process.execPath, ["--expose-gc", fileURLToPath(import.meta.url), "--memory", bundle, recordingFile, labelsFile], {
    encoding: "utf8",
  });
  return JSON.parse(out);
}

export async function runFormats(opts) {
  const { testdataDir, decodeRuns, tmpDir } = opts;
  const rounds = Math.max(5, decodeRuns);
  console.log("Bundling workers/ingest/jfr and workers/ingest/pprof-decode.ts with esbuild...");
  const decoders = await loadDecoders(tmpDir);

  const jfrDir = path.join(testdataDir, "jfr");
  const recording = gunzipSync(readFileSync(path.join(jfrDir, RECORDING)));
  const labels = gunzipSync(readFileSync(path.join(jfrDir, LABELS)));
  const large = Buffer.concat(Array.from({ length: REPEATS }, () => recording));
  const recordingFile = path.join(tmpDir, "dump2.jfr");
  const largeFile = path.join(tmpDir, `dump2x${REPEATS}.jfr`);
  const labelsFile = path.join(tmpDir, "dump2.labels.pb");
  writeFileSync(recordingFile, recording);
  writeFileSync(largeFile, large);
  writeFileSync(labelsFile, labels);

  const expectedFiles = readdirSync(jfrDir).filter((f) => f.startsWith(`${RECORDING}.`) && f.endsWith(".pb.gz"));
  const pprofs = expectedFiles.map((f) => gunzipSync(readFileSync(path.join(jfrDir, f))));
  const pprofBytes = pprofs.reduce((n, p) => n + p.length, 0);

  const jfr = [];
  for (const [name, bytes, file, chunks] of [
    [RECORDING.replace(/\.gz$/, ""), recording, recordingFile, 1],
    [`dump2.jfr × ${REPEATS} chunks`, large, largeFile, REPEATS],
  ]) {
    console.log(`JFR decode of ${name} (${num(mb(bytes.length))} MB)...`);
    const result = summarize(decoders.decodeJfr(bytes, labels, INPUT));
    const time = timePerCall(() => decoders.decodeJfr(bytes, labels, INPUT), rounds);
    const memory = measureMemory(decoders.outfile, file, labelsFile);
    jfr.push({ name, bytes: bytes.length, chunks, ...result, ...time, mbPerSec: mb(bytes.length) / (time.ms / 1000), memory });
  }
  // Every chunk of the synthesized recording is dump2 again: its totals must be REPEATS× dump2's.
  if (jfr[1].total !== jfr[0].total * REPEATS || jfr[1].samples !== jfr[0].samples) {
    throw new Error(`the ${REPEATS}-chunk recording decoded to ${jfr[1].total} (${jfr[1].samples} samples), not ${REPEATS}× ${jfr[0].total} (${jfr[0].samples})`);
  }

  console.log(`pprof decode of dump2's ${pprofs.length} expected outputs (${num(mb(pprofBytes))} MB)...`);
  const decodeAll = (decode) => () => {
    for (const p of pprofs) decode(p);
  };
  const own = timePerCall(decodeAll(decoders.decodeProfile), rounds);
  const reference = timePerCall(decodeAll((p) => Profile.decode(p)), rounds);
  const pprof = {
    files: pprofs.length,
    bytes: pprofBytes,
    own: { ...own, mbPerSec: mb(pprofBytes) / (own.ms / 1000) },
    pprofFormat: { ...reference, mbPerSec: mb(pprofBytes) / (reference.ms / 1000) },
  };

  return {
    environment: environment(),
    config: { testdataDir, recording: RECORDING, repeats: REPEATS, rounds, roundMs: ROUND_MS },
    jfr,
    pprof,
    ratios: {
      // MB/s of recording parsed into profiles ÷ MB/s of those profiles' pprofs decoded.
      jfrVsOwnPprof: jfr[0].mbPerSec / pprof.own.mbPerSec,
      jfrVsPprofFormat: jfr[0].mbPerSec / pprof.pprofFormat.mbPerSec,
      // Time to get dump2's profiles from the recording ÷ time to decode them from pprof.
      jfrTimeVsOwnPprofTime: jfr[0].ms / pprof.own.ms,
      // Per-MB speed of the large recording ÷ dump2's: 1 means it scales linearly.
      largeVsSingle: jfr[1].mbPerSec / jfr[0].mbPerSec,
    },
  };
}

/**
 * `node --expose-gc formats.mjs --memory <bundle> <recording> <labels>`: one decode in a fresh
 * process; prints its peak RSS before and after the decode, and the heap it leaves (the result).
 */
async function memoryChild([bundle, recordingFile, labelsFile]) {
  const { decodeJfr } = await import(pathToFileURL(bundle).href);
  const recording = readFileSync(recordingFile);
  const labels = readFileSync(labelsFile);
  globalThis.gc?.();
  const before = process.memoryUsage();
  const peakBefore = process.resourceUsage().maxRSS * 1024;
  const result = decodeJfr(recording, labels, INPUT);
  const peakAfter = process.resourceUsage().maxRSS * 1024;
  globalThis.gc?.();
  const after = process.memoryUsage();
  process.stdout.write(
    JSON.stringify({
      inputBytes: recording.length,
      rssBefore: before.rss,
      peakRssBefore: peakBefore,
      peakRssAfter: peakAfter,
      peakRssDelta: peakAfter - peakBefore,
      heapBefore: before.heapUsed,
      heapRetained: after.heapUsed - before.heapUsed,
      profiles: result.length,
    }),
  );
}

if (process.argv[2] === "--memory" && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await memoryChild(process.argv.slice(3));
}
