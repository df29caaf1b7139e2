// Human-readable values for flame graph tooltips, labels and the top table. Each value picks its own scale
// (unlike the legacy Pyroscope UI, which scales every value by the profile's maximum) so that a tiny self time
// next to a large total still reads as "1.20 ms" rather than "< 0.01 s".

const DURATION_STEPS: ReadonlyArray<readonly [number, string]> = [
  [1, "ns"],
  [1e3, "µs"],
  [1e6, "ms"],
  [1e9, "s"],
  [60e9, "min"],
  [3600e9, "h"],
  [86400e9, "d"],
];

const BYTE_STEPS: ReadonlyArray<readonly [number, string]> = [
  [1, "B"],
  [1024, "KiB"],
  [1024 ** 2, "MiB"],
  [1024 ** 3, "GiB"],
  [1024 ** 4, "TiB"],
  [1024 ** 5, "PiB"],
];

const integer = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });

/** Three significant digits at most, so columns of values stay compact and comparable. */
function compact(n: number): string {
  if (n >= 100) return n.toFixed(0);
  if (n >= 10) return n.toFixed(1);
  return n.toFixed(2);
}

function scaled(value: number, steps: ReadonlyArray<readonly [number, string]>): string {
  const abs = Math.abs(value);
  let step = steps[0];
  for (const candidate of steps) {
    if (abs >= candidate[0]) step = candidate;
  }
  const [divider, suffix] = step;
  // The base unit is an integer count (ns, B): decimals there would only be noise.
  const digits = divider === 1 ? integer.format(abs) : compact(abs / divider);
  return `${value < 0 ? "-" : ""}${digits} ${suffix}`;
}

/**
 * Formats a sample value in the profile's unit: "nanoseconds" as a duration (ns … s, min, h), "bytes" in binary
 * multiples (KiB, MiB, …), anything else ("count", "samples", "objects", …) as a plain grouped integer.
 */
export function formatValue(value: number, unit: string): string {
  if (unit === "nanoseconds" || unit.endsWith("_nanoseconds")) return scaled(value, DURATION_STEPS);
  if (unit === "bytes") return scaled(value, BYTE_STEPS);
  return integer.format(value);
}

/** `part` as a percentage of `whole` with two decimals, as Pyroscope shows it ("12.34%"). */
export function formatPercent(part: number, whole: number): string {
  if (whole <= 0) return "0%";
  return `${(Math.round((part / whole) * 10000) / 100).toString()}%`;
}

/** A signed relative change ("+12.3%", "-4.5%"); `null` stands for "did not exist before". */
export function formatChange(change: number | null): string {
  if (change === null) return "new";
  const rounded = Math.round(change * 10) / 10;
  return `${rounded > 0 ? "+" : ""}${rounded.toString()}%`;
}
