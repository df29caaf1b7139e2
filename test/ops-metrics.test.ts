// Issue #5 operations: the ingestion token bucket, the Tenant object that keeps it and each tenant's
// counters (over real RPC and storage), the Prometheus exposition of those counters (checked with a
// strict parser of format 0.0.4), and the isolate buffer's batching of counter increments.

import { createExecutionContext, runInDurableObject, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import {
  discarded,
  flushed,
  flushFailed,
  ingested,
  type MetricsDelta,
  MetricsBuffer,
  queried,
  type TenantEnv,
} from "../workers/ops/metrics";
import { collectMetrics, renderPrometheus } from "../workers/ops/prometheus";
import { type Limit, refill, takeTokens } from "../workers/ops/rate-limit";

const MiB = 1024 * 1024;
const LIMIT: Limit = { rateBytesPerSec: 4 * MiB, burstBytes: 2 * MiB };

/** Resets a tenant object: its memory is gone, only its storage remains. */
async function reset(tenant: string): Promise<void> {
  await runInDurableObject(env.TENANT.getByName(tenant), (_i, state) => state.abort("simulated crash")).catch(() => undefined);
}

describe("token bucket", () => {
  it("starts full, refuses what is not there and says how long to wait", () => {
    const a = takeTokens(null, 1.5 * MiB, LIMIT, 1000);
    expect(a.decision).toEqual({ allowed: true, retryAfterMs: 0 });
    expect(a.next).toEqual({ tokens: 0.5 * MiB, atMs: 1000 });
    const b = takeTokens(a.next, 1 * MiB, LIMIT, 1000);
    // 0.5 MiB missing at 4 MiB/s: 125 ms.
    expect(b.decision).toEqual({ allowed: false, retryAfterMs: 125 });
    expect(b.next).toBeNull();
    expect(takeTokens(a.next, 1 * MiB, LIMIT, 1124).decision.allowed).toBe(false);
    const c = takeTokens(a.next, 1 * MiB, LIMIT, 1125);
    expect(c.decision.allowed).toBe(true);
    expect(c.next).toEqual({ tokens: 0, atMs: 1125 });
  });

  it("refills at the rate up to the burst and no further", () => {
    const empty = { tokens: 0, atMs: 0 };
    expect(refill(empty, LIMIT, 250).tokens).toBe(1 * MiB);
    expect(refill(empty, LIMIT, 500).tokens).toBe(2 * MiB);
    expect(refill(empty, LIMIT, 60_000).tokens).toBe(2 * MiB);
    // A lowered burst applies to a bucket filled under the old one.
    expect(refill({ tokens: 2 * MiB, atMs: 0 }, { ...LIMIT, burstBytes: MiB }, 0).tokens).toBe(MiB);
  });

  it("always refuses a single request above the burst, taking nothing", () => {
    const full = refill(null, LIMIT, 0);
    const r = takeTokens(full, 2 * MiB + 1, LIMIT, 0);
    expect(r.decision).toEqual({ allowed: false, retryAfterMs: Infinity });
    expect(r.next).toBeNull();
    expect(takeTokens(full, 2 * MiB, LIMIT, 0).decision.allowed).toBe(true);
  });

  it("neither mints tokens nor refills twice when callers' clocks disagree", () => {
    const bucket = { tokens: 0, atMs: 10_000 };
    const behind = refill(bucket, LIMIT, 9_000);
    expect(behind).toEqual({ tokens: 0, atMs: 10_000 });
    expect(refill(behind, LIMIT, 10_250).tokens).toBe(1 * MiB);
  });

  it("lets everything through at rate 0 (unlimited)", () => {
    const r = takeTokens({ tokens: 0, atMs: 0 }, 100 * MiB, { rateBytesPerSec: 0, burstBytes: 0 }, 0);
    expect(r).toEqual({ decision: { allowed: true, retryAfterMs: 0 }, next: null });
  });
});

describe("Tenant object", () => {
  it("refuses once the bucket is empty and allows again after time passes", async () => {
    const stub = env.TENANT.getByName("bucket-refill");
    const t0 = 1_700_000_000_000;
    expect(await stub.take(MiB, 1000, MiB, t0)).toEqual({ allowed: true, retryAfterMs: 0 });
    const refused = await stub.take(500, 1000, MiB, t0 + 100);
    expect(refused).toEqual({ allowed: false, retryAfterMs: 400 });
    expect((await stub.take(500, 1000, MiB, t0 + 499)).allowed).toBe(false);
    expect((await stub.take(500, 1000, MiB, t0 + 500)).allowed).toBe(true);
    expect(await stub.take(MiB + 1, 1000, MiB, t0 + 10_000_000)).toEqual({ allowed: false, retryAfterMs: Infinity });
  });

  it("keeps an emptied bucket empty across a reset", async () => {
    const tenant = "bucket-reset";
    const t0 = 1_700_000_000_000;
    expect((await env.TENANT.getByName(tenant).take(MiB, 1000, MiB, t0)).allowed).toBe(true);
    await reset(tenant);
    expect(await env.TENANT.getByName(tenant).take(1000, 1000, MiB, t0)).toEqual({ allowed: false, retryAfterMs: 1000 });
    expect((await env.TENANT.getByName(tenant).take(1000, 1000, MiB, t0 + 1000)).allowed).toBe(true);
  });

  it("adds up recorded counters and keeps them across a reset", async () => {
    const tenant = "counters";
    await env.TENANT.getByName(tenant).record([...ingested(2, 30, 1000), ...discarded("rate_limited", 1, 5, 400)]);
    await env.TENANT.getByName(tenant).record([...ingested(1, 10, 500), ...discarded("invalid_labels", 1, 1, 7)]);
    await reset(tenant);
    await env.TENANT.getByName(tenant).record([...discarded("rate_limited", 1, 5, 100), ...flushed(4096), ...flushFailed()]);
    expect(await env.TENANT.getByName(tenant).metrics()).toEqual([
      { name: "block_bytes_written_total", labels: {}, value: 4096 },
      { name: "blocks_written_total", labels: {}, value: 1 },
      { name: "discarded_bytes_total", labels: { reason: "invalid_labels" }, value: 7 },
      { name: "discarded_bytes_total", labels: { reason: "rate_limited" }, value: 500 },
      { name: "discarded_profiles_total", labels: { reason: "invalid_labels" }, value: 1 },
      { name: "discarded_profiles_total", labels: { reason: "rate_limited" }, value: 2 },
      { name: "discarded_samples_total", labels: { reason: "invalid_labels" }, value: 1 },
      { name: "discarded_samples_total", labels: { reason: "rate_limited" }, value: 10 },
      { name: "flushes_total", labels: { outcome: "failed" }, value: 1 },
      { name: "flushes_total", labels: { outcome: "ok" }, value: 1 },
      { name: "ingested_bytes_total", labels: {}, value: 1500 },
      { name: "ingested_profiles_total", labels: {}, value: 3 },
      { name: "ingested_samples_total", labels: {}, value: 40 },
    ]);
  });

  it("refuses an invalid increment and stores nothing of its batch", async () => {
    const stub = env.TENANT.getByName("invalid");
    const bad: MetricsDelta[] = [
      [...ingested(1, 1, 1), { name: "no_such_total", labels: {}, value: 1 }],
      [...ingested(1, 1, 1), { name: "discarded_bytes_total", labels: {}, value: 1 }],
      [...ingested(1, 1, 1), { name: "discarded_bytes_total", labels: { reason: "x", tenant: "y" }, value: 1 }],
      ingested(1, -1, 1),
      ingested(1, NaN, 1),
    ];
    for (const delta of bad) {
      const outcome = await stub.record(delta).then(
        () => "stored",
        (err: unknown) => String(err),
      );
      expect(outcome).toMatch(/metrics:/);
    }
    expect(await stub.metrics()).toEqual([]);
  });
});

interface ParsedSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}
interface ParsedFamily {
  help: string;
  type: string;
  samples: ParsedSample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;
const FLOAT = /^(?:[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[+-]Inf|NaN)$/;
const TYPES = new Set(["counter", "gauge", "histogram", "summary", "untyped"]);

/** Replaces the escapes in `s` (only those in `allowed`), refusing any other backslash. */
function unescape(s: string, allowed: string): string {
  return s.replace(/\\(.?)/gs, (_m, c: string) => {
    if (!allowed.includes(c) || c === "") throw new Error(`bad escape \\${c} in ${JSON.stringify(s)}`);
    return c === "n" ? "\n" : c;
  });
}

/** Parses `{a="x",b="y"}` at the start of `s`; returns the labels and the rest. */
function parseLabels(s: string): { labels: Record<string, string>; rest: string } {
  const labels: Record<string, string> = {};
  if (!s.startsWith("{")) return { labels, rest: s };
  let i = 1;
  while (s[i] !== "}") {
    if (Object.keys(labels).length > 0) {
      if (s[i] !== ",") throw new Error(`expected , in ${s}`);
      i++;
    }
    const name = LABEL_NAME.exec(s.slice(i))?.[0];
    if (!name) throw new Error(`bad label name in ${s}`);
    i += name.length;
    if (s.slice(i, i + 2) !== '="') throw new Error(`expected =" after ${name} in ${s}`);
    i += 2;
    let raw = "";
    while (s[i] !== '"') {
      if (i >= s.length) throw new Error(`unterminated label value in ${s}`);
      if (s[i] === "\\") raw += s[i++];
      raw += s[i++];
    }
    i++;
    if (name in labels) throw new Error(`label ${name} twice in ${s}`);
    labels[name] = unescape(raw, '\\"n');
  }
  return { labels, rest: s.slice(i + 1) };
}

/**
 * A strict reader of the text format 0.0.4 as this service writes it: HELP then TYPE before each
 * family's samples, each family once and contiguous, sample names matching their family's type,
 * no duplicate series, no timestamps, no blank lines, a final line feed.
 */
function parseExposition(text: string): Map<string, ParsedFamily> {
  const families = new Map<string, ParsedFamily>();
  if (text === "") return families;
  if (!text.endsWith("\n")) throw new Error("exposition does not end with a line feed");
  let current: { name: string; family: ParsedFamily } | null = null;
  const seen = new Set<string>();
  for (const line of text.slice(0, -1).split("\n")) {
    const help = /^# HELP (\S+) (.*)$/.exec(line);
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (help) {
      const name = help[1];
      if (families.has(name)) throw new Error(`family ${name} twice`);
      if (METRIC_NAME.exec(name)?.[0] !== name) throw new Error(`bad metric name ${name}`);
      current = { name, family: { help: unescape(help[2], "\\n"), type: "", samples: [] } };
      families.set(name, current.family);
    } else if (type) {
      if (!current || current.name !== type[1] || current.family.type !== "" || current.family.samples.length > 0) {
        throw new Error(`TYPE out of place: ${line}`);
      }
      if (!TYPES.has(type[2])) throw new Error(`bad type in ${line}`);
      current.family.type = type[2];
    } else {
      if (line.startsWith("#") || line === "") throw new Error(`unexpected line ${JSON.stringify(line)}`);
      if (!current || current.family.type === "") throw new Error(`sample before HELP and TYPE: ${line}`);
      const name = METRIC_NAME.exec(line)?.[0] ?? "";
      const { labels, rest } = parseLabels(line.slice(name.length));
      if (!rest.startsWith(" ") || !FLOAT.test(rest.slice(1))) throw new Error(`bad value (or a timestamp) in ${line}`);
      const suffixes = current.family.type === "histogram" ? ["_bucket", "_sum", "_count"] : [""];
      if (!suffixes.some((s) => name === current!.name + s)) throw new Error(`sample ${name} outside its family in ${line}`);
      if (name.endsWith("_bucket") && !("le" in labels)) throw new Error(`bucket without le: ${line}`);
      const series = name + JSON.stringify(Object.entries(labels).sort());
      if (seen.has(series)) throw new Error(`duplicate series ${line}`);
      seen.add(series);
      const v = rest.slice(1);
      current.family.samples.push({ name, labels, value: v === "+Inf" ? Infinity : v === "-Inf" ? -Infinity : Number(v) });
    }
  }
  for (const [name, f] of families) if (f.type === "") throw new Error(`family ${name} has no TYPE`);
  return families;
}

/** Checks every series of a histogram family: ascending bounds, non-decreasing counts, +Inf = _count. */
function checkHistogram(name: string, family: ParsedFamily): void {
  const groups = new Map<string, ParsedSample[]>();
  for (const s of family.samples) {
    const key = JSON.stringify(Object.entries(s.labels).filter(([k]) => k !== "le"));
    groups.set(key, [...(groups.get(key) ?? []), s]);
  }
  for (const [key, samples] of groups) {
    const buckets = samples.filter((s) => s.name === `${name}_bucket`);
    const bounds = buckets.map((b) => (b.labels.le === "+Inf" ? Infinity : Number(b.labels.le)));
    for (let i = 1; i < buckets.length; i++) {
      expect(bounds[i], `${key} bounds`).toBeGreaterThan(bounds[i - 1]);
      expect(buckets[i].value, `${key} le=${buckets[i].labels.le}`).toBeGreaterThanOrEqual(buckets[i - 1].value);
    }
    expect(buckets.at(-1)?.labels.le, key).toBe("+Inf");
    const count = samples.find((s) => s.name === `${name}_count`);
    expect(count?.value, `${key} _count`).toBe(buckets.at(-1)?.value);
    expect(samples.some((s) => s.name === `${name}_sum`), `${key} _sum`).toBe(true);
  }
}

function value(families: Map<string, ParsedFamily>, name: string, labels: Record<string, string>): number | undefined {
  const key = JSON.stringify(Object.entries(labels).sort());
  return [...families.values()]
    .flatMap((f) => f.samples)
    .find((s) => s.name === name && JSON.stringify(Object.entries(s.labels).sort()) === key)?.value;
}

describe("Prometheus exposition", () => {
  it("renders every tenant's counters and histograms in strict text format 0.0.4", async () => {
    const weird = 'quote " backslash \\ newline \n end';
    await env.TENANT.getByName("prom-a").record([
      ...ingested(3, 300, 3000),
      ...discarded(weird, 1, 2, 3),
      ...queried("SelectMergeStacktraces", 200, 0.1),
      ...queried("SelectMergeStacktraces", 200, 0.003),
      ...queried("SelectMergeStacktraces", 500, 42),
      ...queried("render", 200, 0.7),
    ]);
    await env.TENANT.getByName("prom-b").record([...ingested(1, 1, 10), ...flushed(null)]);

    const text = await collectMetrics(env, ["prom-b", "prom-a", "prom-empty"]);
    const families = parseExposition(text);
    expect([...families.keys()]).toEqual([
      "edge_pyroscope_ingested_profiles_total",
      "edge_pyroscope_ingested_samples_total",
      "edge_pyroscope_ingested_bytes_total",
      "edge_pyroscope_discarded_profiles_total",
      "edge_pyroscope_discarded_samples_total",
      "edge_pyroscope_discarded_bytes_total",
      "edge_pyroscope_flushes_total",
      "edge_pyroscope_queries_total",
      "edge_pyroscope_query_duration_seconds",
    ]);
    for (const [name, f] of families) {
      expect(f.help.length, name).toBeGreaterThan(0);
      if (f.type === "histogram") checkHistogram(name, f);
      else expect(f.type, name).toBe("counter");
    }

    expect(text).toContain('edge_pyroscope_ingested_profiles_total{tenant="prom-a"} 3\n');
    expect(text).toContain(
      'edge_pyroscope_discarded_bytes_total{tenant="prom-a",reason="quote \\" backslash \\\\ newline \\n end"} 3\n',
    );
    expect(value(families, "edge_pyroscope_discarded_bytes_total", { tenant: "prom-a", reason: weird })).toBe(3);
    expect(value(families, "edge_pyroscope_ingested_bytes_total", { tenant: "prom-b" })).toBe(10);
    expect(value(families, "edge_pyroscope_flushes_total", { tenant: "prom-b", outcome: "ok" })).toBe(1);
    expect(value(families, "edge_pyroscope_queries_total", { tenant: "prom-a", method: "SelectMergeStacktraces", status: "500" })).toBe(1);

    const bucket = (le: string) =>
      value(families, "edge_pyroscope_query_duration_seconds_bucket", { tenant: "prom-a", method: "SelectMergeStacktraces", le });
    expect(bucket("0.005")).toBe(1);
    expect(bucket("0.05")).toBe(1);
    // Bounds are inclusive: 0.1 s counts in le="0.1".
    expect(bucket("0.1")).toBe(2);
    expect(bucket("10")).toBe(2);
    expect(bucket("+Inf")).toBe(3);
    expect(value(families, "edge_pyroscope_query_duration_seconds_sum", { tenant: "prom-a", method: "SelectMergeStacktraces" })).toBeCloseTo(42.103, 9);
    expect(value(families, "edge_pyroscope_query_duration_seconds_count", { tenant: "prom-a", method: "render" })).toBe(1);
    // Tenants are listed in order, whatever the order asked for.
    expect(text.indexOf('ingested_profiles_total{tenant="prom-a"}')).toBeLessThan(text.indexOf('ingested_profiles_total{tenant="prom-b"}'));
  });

  it("escapes HELP text and renders nothing for no series", () => {
    expect(renderPrometheus([])).toBe("");
    expect(renderPrometheus([["t", []]])).toBe("");
    const text = renderPrometheus([["t", ingested(1, 2, 3)]]);
    expect(parseExposition(text).get("edge_pyroscope_ingested_bytes_total")?.samples).toEqual([
      { name: "edge_pyroscope_ingested_bytes_total", labels: { tenant: "t" }, value: 3 },
    ]);
  });
});

/** An env whose TENANT stub counts record() calls, then forwards them to the real object. */
function countingEnv(): { env: TenantEnv; calls: { tenant: string; series: number; atMs: number }[] } {
  const calls: { tenant: string; series: number; atMs: number }[] = [];
  const fake = {
    TENANT: {
      getByName: (tenant: string) => ({
        record: async (delta: MetricsDelta) => {
          calls.push({ tenant, series: delta.length, atMs: Date.now() });
          await env.TENANT.getByName(tenant).record(delta);
        },
      }),
    },
  };
  return { env: fake as unknown as TenantEnv, calls };
}

describe("MetricsBuffer", () => {
  it("sends many increments as one call per tenant", async () => {
    const buffer = new MetricsBuffer();
    const counting = countingEnv();
    const ctx = createExecutionContext();
    for (let i = 0; i < 50; i++) {
      buffer.add("buf-a", ingested(1, 10, 100));
      buffer.add("buf-b", [...ingested(2, 20, 200), ...queried("LabelNames", 200, 0.02)]);
      buffer.flushSoon(ctx, counting.env);
    }
    await waitOnExecutionContext(ctx);
    expect(counting.calls.map((c) => [c.tenant, c.series]).sort()).toEqual([
      ["buf-a", 3],
      ["buf-b", 6],
    ]);
    const b = await env.TENANT.getByName("buf-b").metrics();
    expect(b.find((s) => s.name === "ingested_samples_total")?.value).toBe(1000);
    expect(b.find((s) => s.name === "queries_total")?.value).toBe(50);
    expect(b.find((s) => s.name === "query_duration_seconds_sum")?.value).toBeCloseTo(1, 9);
    // Nothing left to send.
    await buffer.flushNow(counting.env);
    expect(counting.calls).toHaveLength(2);
  });

  it("waits out the interval after a flush, batching the requests in between", async () => {
    const intervalMs = 200;
    const buffer = new MetricsBuffer(intervalMs);
    const counting = countingEnv();
    buffer.add("buf-interval", ingested(1, 1, 1));
    await buffer.flushNow(counting.env);
    const contexts = [createExecutionContext(), createExecutionContext(), createExecutionContext()];
    for (const ctx of contexts) {
      buffer.add("buf-interval", ingested(1, 1, 1));
      buffer.flushSoon(ctx, counting.env);
    }
    await Promise.all(contexts.map(waitOnExecutionContext));
    expect(counting.calls).toHaveLength(2);
    expect(counting.calls[1].atMs - counting.calls[0].atMs).toBeGreaterThanOrEqual(intervalMs);
    const totals = await env.TENANT.getByName("buf-interval").metrics();
    expect(totals.find((s) => s.name === "ingested_profiles_total")?.value).toBe(4);
  });

  it("refuses an invalid increment where it is added, and drops a batch whose call fails", async () => {
    const buffer = new MetricsBuffer();
    expect(() => buffer.add("buf-bad", ingested(1, Infinity, 1))).toThrow(RangeError);
    let attempts = 0;
    const failing = {
      TENANT: {
        getByName: () => ({
          record: async () => {
            attempts++;
            throw new Error("object unavailable");
          },
        }),
      },
    } as unknown as TenantEnv;
    buffer.add("buf-bad", ingested(1, 1, 1));
    await buffer.flushNow(failing);
    await buffer.flushNow(failing);
    expect(attempts).toBe(1);
  });
});
