// The profiles the UI tests browse: real pprofs of the shared corpus, re-timed into the last hour
// and sent to /ingest under a few services with labels, plus py-spy's profile as its client sends
// it (a 1970 timestamp that the service replaces with the request time).

import { readFileSync } from "node:fs";
import path from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import { Profile } from "pprof-format";

/** Services made of CPU profiles (every sample has a cpu/nanoseconds value), with their client's spy name. */
export const CPU_SERVICES = [
  { service: "ui-checkout", spy: "gospy", files: ["cpu.pb.gz", "cpu-exemplars.pb.gz", "single_group_with_optional_span_id.pb.gz"] },
  { service: "ui-inventory", spy: "javaspy", files: ["profile_java"] },
  { service: "ui-ledger", spy: "pyroscope-rs", files: ["profile_rust"] },
];
export const PYSPY_SERVICE = { service: "ui-py-worker", spy: "pyspy", file: "pyspy-1.pb.gz" };
export const CPU_TYPE = "process_cpu:cpu:nanoseconds:cpu:nanoseconds";

/** Profiles per CPU service, one per slot of SLOT_MS going back from the ingest time. */
const SLOTS = 12;
const SLOT_MS = 4 * 60_000;
const REGIONS = ["eu-west", "us-east", "ap-south"];

const isGzip = (b) => b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b;

function readCorpus(testdataDir, file) {
  const at = path.join(testdataDir, "pprof", file);
  try {
    return readFileSync(at);
  } catch {
    throw new Error(`test data not found at ${at}: set TESTDATA_DIR to the shared testdata folder (default ../shared/testdata)`);
  }
}

/** The sum of a profile's cpu/nanoseconds values (what a CPU flame graph of it totals). */
function cpuTotal(profile) {
  const strings = profile.stringTable.strings;
  const index = profile.sampleType.findIndex((t) => strings[Number(t.type)] === "cpu" && strings[Number(t.unit)] === "nanoseconds");
  if (index < 0) throw new Error("a CPU service's source has no cpu/nanoseconds sample type");
  return profile.sample.reduce((sum, s) => sum + BigInt(s.value[index]), 0n);
}

/**
 * The requests to send, made at `nowMs`: each CPU service gets SLOTS profiles, the k-th timed in
 * the middle of the k-th 4-minute slot before now (the oldest is 46 min old, so the dashboard's
 * default range, the last hour, holds every one of them for a quarter of an hour after the
 * ingest), cycling its sources across regions. Every third profile is env=staging, the others
 * env=prod: with ui-checkout's three sources cycled, staging gets only the first one, so that
 * prod against staging is a real diff. Returns { pushes: [{ service, path, body }], expected } where
 * expected maps each CPU service to the cpu/nanoseconds total of its profiles.
 */
export function buildPushes(testdataDir, nowMs) {
  const pushes = [];
  const expected = {};
  for (const { service, spy, files } of CPU_SERVICES) {
    const sources = files.map((file) => {
      const bytes = readCorpus(testdataDir, file);
      const profile = Profile.decode(isGzip(bytes) ? gunzipSync(bytes) : bytes);
      return { profile, total: cpuTotal(profile) };
    });
    expected[service] = 0n;
    for (let k = 0; k < SLOTS; k++) {
      const src = sources[k % sources.length];
      src.profile.timeNanos = BigInt(Math.round(nowMs - (k + 0.5) * SLOT_MS)) * 1_000_000n;
      expected[service] += src.total;
      const labels = `env=${k % 3 ? "prod" : "staging"},region=${REGIONS[k % REGIONS.length]}`;
      pushes.push({ service, path: ingestPath(service, labels, spy), body: gzipSync(src.profile.encode()) });
    }
  }
  const { service, spy, file } = PYSPY_SERVICE;
  pushes.push({ service, path: ingestPath(service, "env=prod,region=eu-west", spy), body: readCorpus(testdataDir, file) });
  return { pushes, expected };
}

const ingestPath = (service, labels, spy) => `/ingest?name=${encodeURIComponent(`${service}{${labels}}`)}&format=pprof&spyName=${spy}`;

/** Sends every push (a few at a time); throws on the first refusal, with the service's answer. */
export async function sendPushes(baseUrl, pushes) {
  const queue = [...pushes];
  const worker = async () => {
    for (let p = queue.shift(); p; p = queue.shift()) {
      const res = await fetch(baseUrl + p.path, {
        method: "POST",
        headers: { "Content-Type": "application/octet-stream" },
        body: p.body,
        signal: AbortSignal.timeout(30_000),
      });
      const text = await res.text();
      if (res.status !== 200) throw new Error(`POST ${p.path} answered HTTP ${res.status}: ${text.slice(0, 300)}`);
    }
  };
  await Promise.all(Array.from({ length: 4 }, worker));
}
