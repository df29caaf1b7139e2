// The time series of a selection (one line per group-by value) with uPlot. Dragging across the
// chart selects a range, which the view turns into the URL's absolute from/until; a click (no
// drag) picks the point nearest the cursor, whose greatest profile the view can then show.

import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import type { Series } from "../api/querier";
import { formatValue } from "../flamegraph";
import { useTheme } from "./theme";

export interface TimeSeriesChartProps {
  series: readonly Series[];
  unit: string;
  /** The queried range (ms), so the x axis spans it even where there is no data. */
  start: number;
  end: number;
  height?: number;
  onSelectRange?: (startMs: number, endMs: number) => void;
  /** A click on the chart: the timestamp (ms) of the nearest point. */
  onPickTime?: (timestampMs: number) => void;
}

/** Series colours: CSS variables, so both themes keep enough contrast. */
const PALETTE_SIZE = 8;

function seriesName(s: Series): string {
  return s.labels.length ? s.labels.map((l) => `${l.name}=${l.value}`).join(", ") : "total";
}

/** Pointer travel (px) from which a press and release is a drag (zoom) rather than a click (pick). */
const DRAG_MIN_PX = 2;

export function TimeSeriesChart({ series, unit, start, end, height = 180, onSelectRange, onPickTime }: TimeSeriesChartProps) {
  const box = useRef<HTMLDivElement>(null);
  const theme = useTheme();
  // uPlot keeps hooks from its creation; reach the latest callback through a ref
  const onSelect = useRef(onSelectRange);
  onSelect.current = onSelectRange;
  const onPick = useRef(onPickTime);
  onPick.current = onPickTime;

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const css = getComputedStyle(el);
    const color = (name: string) => css.getPropertyValue(name).trim();
    const data = alignSeries(series);
    const axis: uPlot.Axis = {
      stroke: color("--fg-muted"),
      grid: { stroke: color("--grid"), width: 1 },
      ticks: { stroke: color("--grid"), width: 1 },
      font: "11px system-ui, sans-serif",
    };
    const opts: uPlot.Options = {
      width: el.clientWidth || 600,
      height,
      // y from zero: profile totals are amounts, and a cropped axis would exaggerate small changes
      scales: { x: { time: true, range: () => [start / 1000, end / 1000] }, y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] } },
      legend: { show: series.length > 1 },
      cursor: { drag: { x: true, y: false, setScale: false } },
      series: [
        {},
        ...series.map((s, i) => {
          const stroke = color(`--series-${i % PALETTE_SIZE}`);
          return {
            label: seriesName(s),
            stroke,
            width: 1.5,
            fill: series.length === 1 ? translucent(stroke) : undefined,
            points: { show: s.points.length < 40 },
            spanGaps: true,
            value: (_u: uPlot, v: number | null) => (v === null ? "–" : formatValue(v, unit)),
          };
        }),
      ],
      axes: [axis, { ...axis, size: 70, values: (_u, vals) => vals.map((v) => formatValue(v, unit)) }],
      hooks: {
        setSelect: [
          (u) => {
            if (u.select.width < DRAG_MIN_PX) return;
            const from = u.posToVal(u.select.left, "x") * 1000;
            const until = u.posToVal(u.select.left + u.select.width, "x") * 1000;
            u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
            onSelect.current?.(Math.round(from), Math.round(until));
          },
        ],
      },
    };
    const plot = new uPlot(opts, data, el);
    let pressedAt = -Infinity;
    plot.over.addEventListener("mousedown", (e) => (pressedAt = e.clientX));
    plot.over.addEventListener("click", (e) => {
      const idx = plot.cursor.idx;
      if (Math.abs(e.clientX - pressedAt) >= DRAG_MIN_PX || idx === null || idx === undefined) return;
      onPick.current?.(Math.round(data[0][idx] * 1000));
    });
    const resize = new ResizeObserver(() => plot.setSize({ width: el.clientWidth, height }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      plot.destroy();
    };
  }, [series, unit, start, end, height, theme]);

  return <div class="chart" ref={box} />;
}

/** `#rrggbb` → the same colour at 19% opacity for the area under a single series. */
function translucent(hex: string): string | undefined {
  return /^#[0-9a-f]{6}$/i.test(hex) ? `${hex}30` : undefined;
}

/**
 * uPlot wants one shared x array: the union of every series' timestamps (seconds), with null
 * where a series has no point (SelectSeries leaves out empty buckets).
 */
function alignSeries(series: readonly Series[]): uPlot.AlignedData {
  const xs = [...new Set(series.flatMap((s) => s.points.map((p) => p.timestamp)))].sort((a, b) => a - b);
  const index = new Map(xs.map((t, i) => [t, i]));
  const ys = series.map((s) => {
    const col: (number | null)[] = xs.map(() => null);
    for (const p of s.points) col[index.get(p.timestamp)!] = p.value;
    return col;
  });
  return [xs.map((t) => t / 1000), ...ys];
}
