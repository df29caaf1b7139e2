// A tiny SVG area chart of one service's ingest per hour over the last day: SVG rather than uPlot
// because a services table may hold hundreds of them and they need no interaction.

import { formatBytes } from "./format";

const W = 120;
const H = 24;

export function Sparkline({ hours, bytes }: { hours: readonly number[]; bytes: readonly number[] }) {
  const max = Math.max(0, ...bytes);
  const n = bytes.length;
  const x = (i: number) => (n <= 1 ? 0 : (i / (n - 1)) * W);
  const y = (v: number) => (max === 0 ? H - 1 : H - 1 - (v / max) * (H - 3));
  const line = bytes.map((v, i) => `${i === 0 ? "M" : "L"}${x(i).toFixed(1)},${y(v).toFixed(1)}`).join("");
  const title = hours.length
    ? `${formatBytes(bytes.reduce((a, b) => a + b, 0))} in the last 24 h (peak ${formatBytes(max)}/h)`
    : "no data";
  return (
    <svg class="sparkline" width={W} height={H} viewBox={`0 0 ${W} ${H}`} role="img" aria-label={title}>
      <title>{title}</title>
      {n > 0 && <path class="sparkline-area" d={`${line}L${W},${H}L0,${H}Z`} />}
      {n > 0 && <path class="sparkline-line" d={line} />}
    </svg>
  );
}
