// /metrics: every tenant's counters, read from the Tenant objects that hold them, in the Prometheus
// text exposition format 0.0.4. One family per metric name (HELP, TYPE, then all its series across
// tenants); histograms with cumulative `le` buckets up to `+Inf`, `_sum` and `_count`.

import {
  FAMILIES,
  type Family,
  type Labels,
  METRIC_PREFIX,
  type MetricsSnapshot,
  QUERY_DURATION_BUCKETS,
  type Sample,
  type TenantEnv,
  labelsKey,
} from "./metrics";

export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/**
 * Reads the snapshots of `tenants` in parallel and renders them. One failed read fails the scrape:
 * Prometheus then marks the target down rather than seeing some tenants' series vanish.
 */
export async function collectMetrics(env: TenantEnv, tenants: string[]): Promise<string> {
  const snapshots = await Promise.all(
    tenants.map(async (tenant): Promise<[string, MetricsSnapshot]> => [tenant, await env.TENANT.getByName(tenant).metrics()]),
  );
  return renderPrometheus(snapshots);
}

/**
 * The exposition text of the given tenants' snapshots. Families without series are left out, and
 * stored series of families the code no longer has are skipped.
 */
export function renderPrometheus(snapshots: readonly [tenant: string, snapshot: MetricsSnapshot][]): string {
  const sorted = [...snapshots].sort(([a], [b]) => compare(a, b));
  const out: string[] = [];
  for (const family of FAMILIES) {
    const lines: string[] = [];
    for (const [tenant, snapshot] of sorted) {
      if (family.type === "counter") counterLines(family, tenant, snapshot, lines);
      else histogramLines(family, tenant, snapshot, lines);
    }
    if (lines.length === 0) continue;
    const name = METRIC_PREFIX + family.name;
    out.push(`# HELP ${name} ${escapeHelp(family.help)}`, `# TYPE ${name} ${family.type}`, ...lines);
  }
  return out.map((line) => line + "\n").join("");
}

function counterLines(family: Family, tenant: string, snapshot: MetricsSnapshot, lines: string[]): void {
  const series = snapshot.filter((s) => s.name === family.name).sort((a, b) => compare(labelsKey(a.labels), labelsKey(b.labels)));
  for (const s of series) lines.push(sampleLine(family.name, labelPairs(family, tenant, s.labels), s.value));
}

/** Stored buckets hold their own observations; Prometheus buckets count everything up to `le`. */
function histogramLines(family: Family, tenant: string, snapshot: MetricsSnapshot, lines: string[]): void {
  const groups = new Map<string, { labels: Labels; buckets: { le: number; count: number }[]; sum: number }>();
  const group = (s: Sample) => {
    const labels = Object.fromEntries(Object.entries(s.labels).filter(([k]) => k !== "le"));
    const key = labelsKey(labels);
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { labels, buckets: [], sum: 0 }));
    return g;
  };
  for (const s of snapshot) {
    if (s.name === `${family.name}_bucket`) {
      const le = s.labels.le === "+Inf" ? Infinity : Number(s.labels.le);
      group(s).buckets.push({ le, count: s.value });
    } else if (s.name === `${family.name}_sum`) {
      group(s).sum += s.value;
    }
  }
  for (const key of [...groups.keys()].sort(compare)) {
    const g = groups.get(key)!;
    const pairs = labelPairs(family, tenant, g.labels);
    // A stored bound missing from the current list (the list changed) still counts in every
    // larger bound: "at most le" stays true.
    for (const le of [...QUERY_DURATION_BUCKETS, Infinity]) {
      const cumulative = g.buckets.reduce((n, b) => (b.le <= le ? n + b.count : n), 0);
      lines.push(sampleLine(`${family.name}_bucket`, [...pairs, ["le", formatValue(le)]], cumulative));
    }
    lines.push(sampleLine(`${family.name}_sum`, pairs, g.sum));
    lines.push(sampleLine(`${family.name}_count`, pairs, g.buckets.reduce((n, b) => n + b.count, 0)));
  }
}

/** `tenant` first, then the family's labels in their declared order. */
function labelPairs(family: Family, tenant: string, labels: Labels): [string, string][] {
  return [["tenant", tenant], ...family.labels.map((l): [string, string] => [l, labels[l] ?? ""])];
}

function sampleLine(name: string, pairs: [string, string][], value: number): string {
  const labels = pairs.map(([k, v]) => `${k}="${escapeLabelValue(v)}"`).join(",");
  return `${METRIC_PREFIX}${name}{${labels}} ${formatValue(value)}`;
}

/** Label values escape backslash, double quote and line feed (format 0.0.4). */
function escapeLabelValue(v: string): string {
  return v.replace(/[\\"\n]/g, (c) => (c === "\n" ? "\\n" : `\\${c}`));
}

/** HELP text escapes backslash and line feed only. */
function escapeHelp(v: string): string {
  return v.replace(/[\\\n]/g, (c) => (c === "\n" ? "\\n" : "\\\\"));
}

/** Go's float syntax, which Prometheus parses: `+Inf`, not JavaScript's `Infinity`. */
function formatValue(v: number): string {
  return v === Infinity ? "+Inf" : String(v);
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
