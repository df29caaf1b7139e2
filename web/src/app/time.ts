// Time ranges as the URL keeps them: `now`, `now-<n><unit>` (relative, re-evaluated on refresh) or
// unix ms (absolute), the forms Pyroscope's own UI and /pyroscope/render use.

export interface Preset {
  label: string;
  from: string;
}

export const PRESETS: readonly Preset[] = [
  { label: "Last 15 minutes", from: "now-15m" },
  { label: "Last 1 hour", from: "now-1h" },
  { label: "Last 6 hours", from: "now-6h" },
  { label: "Last 24 hours", from: "now-24h" },
  { label: "Last 7 days", from: "now-7d" },
];

export const DEFAULT_FROM = "now-1h";
export const DEFAULT_UNTIL = "now";

const UNIT_MS: Record<string, number> = { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3, w: 604800e3 };

/** Unix ms for `now`, `now-30m`, `now-7d` or a unix ms value; NaN when it is none of those. */
export function resolveTime(value: string, nowMs: number): number {
  if (value === "now") return nowMs;
  const rel = /^now-(\d+)([smhdw])$/.exec(value);
  if (rel) return nowMs - Number(rel[1]) * UNIT_MS[rel[2]];
  return /^\d+$/.test(value) ? Number(value) : Number.NaN;
}

export function rangeLabel(from: string, until: string): string {
  const relative = /^now-(\d+)([smhdw])$/;
  if (until === "now") {
    const preset = PRESETS.find((p) => p.from === from);
    if (preset) return preset.label;
    const rel = relative.exec(from);
    if (rel) return `Last ${rel[1]}${rel[2]}`;
  }
  // a relative range that ends in the past (Compare's baseline half) stays readable as such
  if (relative.test(from) && relative.test(until)) return `${from} → ${until}`;
  return `${formatInstant(resolveTime(from, Date.now()))} → ${formatInstant(resolveTime(until, Date.now()))}`;
}

/** Local `YYYY-MM-DD HH:mm`, compact enough for the toolbar. */
export function formatInstant(ms: number): string {
  if (Number.isNaN(ms)) return "invalid time";
  const d = new Date(ms);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** The `<input type="datetime-local">` value for a unix ms instant, in local time. */
export function toDateTimeLocal(ms: number): string {
  const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60e3);
  return d.toISOString().slice(0, 16);
}

/** Unix ms of a `datetime-local` value (local time), NaN when empty or malformed. */
export function fromDateTimeLocal(value: string): number {
  return value ? new Date(value).getTime() : Number.NaN;
}

/**
 * SelectSeries step for a range: about 200 points whatever the range, never finer than 10 s
 * because SDKs upload every 10–15 s and finer buckets only show gaps.
 */
export function stepSeconds(startMs: number, endMs: number): number {
  return Math.max(10, Math.ceil((endMs - startMs) / 1000 / 200));
}

/**
 * The two halves of a range: Compare's default is "the first half against the second", which
 * shows what changed lately. Relative ranges stay relative (`now-1h..now` → `now-1h..now-30m`
 * and `now-30m..now`) so that the link keeps following the clock.
 */
export function splitRange(from: string, until: string): [[string, string], [string, string]] {
  const start = resolveTime(from, 0);
  const end = resolveTime(until, 0);
  const relative = (t: string) => t === "now" || t.startsWith("now-");
  const mid = Math.round((start + end) / 2000) * 1000;
  const middle = relative(from) && relative(until) ? (mid === 0 ? "now" : `now-${formatOffset(-mid)}`) : String(mid);
  return [
    [from, middle],
    [middle, until],
  ];
}

/** A positive duration in ms as the largest unit that divides it exactly: `90m`, not `5400s`. */
function formatOffset(ms: number): string {
  for (const unit of ["w", "d", "h", "m"] as const) {
    if (ms % UNIT_MS[unit] === 0) return `${ms / UNIT_MS[unit]}${unit}`;
  }
  return `${Math.round(ms / 1000)}s`;
}
