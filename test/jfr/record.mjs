// Recordings of HotSpot's own flight recorder for the JFR tests, and what they hold according to
// the JDK's `jfr` tool, never according to our decoder. workerd cannot run processes, so Node (the
// vitest config's JDK_JFR service binding) records test/jfr/Workload.java once per machine, on the
// first request, into .cache/jfr/<key>/ (key: `java -version`, the workload and this file), and
// serves the recordings and an index of their expected totals per profile type from there.

import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** The recordings: the JDK's two shipped settings, which sample every 10 ms and every 20 ms. */
const RECORDINGS = [
  {
    file: "profile.jfr",
    // The TLAB events are off in both shipped settings; Pyroscope maps them, so they are recorded too.
    options: "settings=profile,jdk.ObjectAllocationInNewTLAB#enabled=true,jdk.ObjectAllocationOutsideTLAB#enabled=true",
  },
  { file: "default.jfr", options: "settings=default" },
];

/**
 * Pyroscope's mapping of JFR events (grafana/jfr-parser, pprof package): event → [profile type,
 * what one event adds] per sample type. Events without a stack trace are left out, as there, and
 * so are those with an empty one (the JVM's own allocations in a starting thread): storage keeps
 * no sample without a frame (BlockBuilder.endProfile), so they never query back.
 */
const MAPPING = {
  "jdk.ExecutionSample": [["process_cpu:cpu:nanoseconds:cpu:nanoseconds", "period"]],
  "jdk.ObjectAllocationInNewTLAB": [
    ["memory:alloc_in_new_tlab_objects:count:space:bytes", "one"],
    ["memory:alloc_in_new_tlab_bytes:bytes:space:bytes", "tlabSize"],
  ],
  "jdk.ObjectAllocationOutsideTLAB": [
    ["memory:alloc_outside_tlab_objects:count:space:bytes", "one"],
    ["memory:alloc_outside_tlab_bytes:bytes:space:bytes", "allocationSize"],
  ],
  "jdk.ObjectAllocationSample": [
    ["memory:alloc_sample_objects:count:space:bytes", "one"],
    ["memory:alloc_sample_bytes:bytes:space:bytes", "weight"],
  ],
  "jdk.JavaMonitorEnter": [
    ["mutex:contentions:count:mutex:count", "one"],
    ["mutex:delay:nanoseconds:mutex:count", "duration"],
  ],
  "jdk.ThreadPark": [
    ["block:contentions:count:block:count", "one"],
    ["block:delay:nanoseconds:block:count", "duration"],
  ],
};

const TIMESPAN_NANOS = { ns: 1n, us: 1000n, ms: 1_000_000n, s: 1_000_000_000n, m: 60_000_000_000n, h: 3_600_000_000_000n, d: 86_400_000_000_000n };

/** `jfr print` settings text ("10 ms") → nanoseconds. */
function timespan(text) {
  const m = /^(\d+)\s*(ns|us|ms|s|m|h|d)$/.exec(text.trim());
  if (!m) throw new Error(`not a timespan: ${JSON.stringify(text)}`);
  return BigInt(m[1]) * TIMESPAN_NANOS[m[2]];
}

/** An ISO-8601 duration as `jfr print --json` writes it ("PT0.060885915S", "PT1M2S") → nanoseconds. */
function isoDuration(text) {
  const m = /^PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)(?:\.(\d{1,9}))?S)?$/.exec(text);
  if (!m) throw new Error(`not an ISO duration: ${JSON.stringify(text)}`);
  const [, h = "0", min = "0", s = "0", frac = ""] = m;
  return (BigInt(h) * 3600n + BigInt(min) * 60n + BigInt(s)) * 1_000_000_000n + BigInt(frac.padEnd(9, "0"));
}

async function jfrJson(file, events) {
  const { stdout } = await run("jfr", ["print", "--json", "--stack-depth", "1", "--events", events, file], { maxBuffer: 1 << 30 });
  return JSON.parse(stdout).recording.events;
}

/** Records one setting and derives its expectations from `jfr print`. */
async function record(dir, workload, { file, options }) {
  const target = path.join(dir, file);
  const { stdout } = await run("java", [`-XX:StartFlightRecording=filename=${target},${options}`, "-Xlog:jfr+startup=warning", workload], {
    cwd: dir,
    timeout: 120_000,
  });
  const id = /^jdk\.ExecutionSample (\d+)$/m.exec(stdout);
  if (!id) throw new Error(`Workload.java did not print jdk.ExecutionSample's id: ${stdout}`);
  const settings = (await jfrJson(target, "jdk.ActiveSetting")).filter((e) => String(e.values.id) === id[1] && e.values.name === "period");
  if (settings.length === 0) throw new Error(`${file}: no jdk.ActiveSetting holds jdk.ExecutionSample's period`);
  const period = timespan(settings[settings.length - 1].values.value);

  const totals = {};
  const events = {};
  for (const e of await jfrJson(target, Object.keys(MAPPING).join(","))) {
    events[e.type] = (events[e.type] ?? 0) + 1;
    if (e.values.stackTrace === null || e.values.stackTrace.frames.length === 0) continue;
    if (e.type === "jdk.ExecutionSample" && e.values.state === "STATE_SLEEPING") continue;
    for (const [type, value] of MAPPING[e.type]) {
      const add = value === "one" ? 1n : value === "period" ? period : value === "duration" ? isoDuration(e.values.duration) : BigInt(e.values[value]);
      totals[type] = (totals[type] ?? 0n) + add;
    }
  }
  for (const [type, total] of Object.entries(totals)) {
    if (total > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`${file}: ${type} total ${total} is past 2^53`);
    totals[type] = Number(total);
  }
  // The chunk header's clock (bytes 56-63): durations are stored as ticks of it, as Pyroscope
  // stores them, while jfr prints nanoseconds.
  const ticksPerSecond = Number(fs.readFileSync(target).readBigInt64BE(56));
  return { file, options, periodNanos: Number(period), ticksPerSecond, events, totals };
}

async function cacheKey(sources) {
  const { stderr } = await run("java", ["-version"]);
  const h = createHash("sha256").update(stderr);
  for (const f of sources) h.update(fs.readFileSync(f));
  return { key: h.digest("hex").slice(0, 16), java: stderr.split("\n")[0] };
}

/** The cache directory with every recording and `index.json`, made on first use. */
async function prepare(root) {
  const workload = path.join(root, "test/jfr/Workload.java");
  const id = await cacheKey([workload, path.join(root, "test/jfr/record.mjs")]);
  const dir = path.join(root, ".cache/jfr", id.key);
  if (fs.existsSync(path.join(dir, "index.json"))) return dir;
  const tmp = `${dir}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true });
  const recordings = await Promise.all(RECORDINGS.map((r) => record(tmp, workload, r)));
  fs.writeFileSync(path.join(tmp, "index.json"), JSON.stringify({ java: id.java, recordings }, null, 2));
  fs.rmSync(dir, { recursive: true, force: true });
  fs.renameSync(tmp, dir);
  // Recordings of another JDK or an older workload are not read again.
  for (const old of fs.readdirSync(path.dirname(dir))) {
    if (/^[0-9a-f]{16}$/.test(old) && old !== id.key) fs.rmSync(path.join(path.dirname(dir), old), { recursive: true, force: true });
  }
  return dir;
}

/**
 * The JDK_JFR binding of the repository at `root`: `/` is the index, `/<file>` a recording; 503
 * with the reason when they cannot be made.
 */
export function jdkRecordings(root) {
  let prepared;
  return async (request) => {
    let dir;
    try {
      dir = await (prepared ??= prepare(root));
    } catch (err) {
      prepared = undefined;
      const why = err instanceof Error ? err.message : String(err);
      return new Response(`no JDK recordings: java and jfr of a JDK 17+ must be on the PATH (.ci/run installs openjdk-17-jdk-headless): ${why}`, { status: 503 });
    }
    const name = decodeURIComponent(new URL(request.url).pathname).replace(/^\/+/, "") || "index.json";
    if (!/^[\w.-]+$/.test(name) || !fs.existsSync(path.join(dir, name))) return new Response(`no such recording: ${name}`, { status: 404 });
    return new Response(fs.readFileSync(path.join(dir, name)));
  };
}
