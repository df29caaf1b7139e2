// Canvas drawing and geometry of the flame graph, free of Preact: given a model and a view (the visible tick
// range) it draws only the frames that intersect the view, and maps between pixels and nodes the same way.
import { ANCESTOR_ALPHA, DIFF_COLORS, DIFF_TEXT, type FlameTheme } from "./colors";
import { formatChange, formatPercent, formatValue } from "./format";
import { relativeChange, type FlameModel } from "./model";

/** Vertical pitch of a level (Pyroscope's), the frame plus a 1px gap. */
export const ROW_HEIGHT = 18;
const FRAME_HEIGHT = ROW_HEIGHT - 1;
/** Horizontal gap so neighbouring frames of the same color stay distinguishable. */
const GAP = 0.5;
/** Frames narrower than this are merged into runs instead of being drawn (and labelled) one by one. */
const MIN_FRAME_PX = 1;
const LABEL_PADDING = 3;
// Monospace, so a label is fitted by counting characters rather than measuring every string.
const FONT = '400 11.5px ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace';

/** The visible part of the graph: ticks [start, start + span) stretched over `width` CSS pixels. */
export interface View {
  /** Zoomed node, or -1. */
  readonly focus: number;
  readonly start: number;
  readonly span: number;
  readonly width: number;
}

export function viewFor(model: FlameModel, focus: number, width: number): View {
  if (focus > 0 && focus < model.count && model.total[focus] > 0) {
    return { focus, start: model.x[focus], span: model.total[focus], width };
  }
  const start = model.count > 0 ? model.x[0] : 0;
  return { focus: -1, start, span: model.rootTotal > 0 ? model.rootTotal : 1, width };
}

/** Everything that decides a frame's look besides its geometry. */
export interface Paint {
  readonly theme: FlameTheme;
  /** Fill per name index (single graphs). */
  readonly nameFills: readonly string[];
  /** Index into DIFF_COLORS per node (diff graphs), or null. */
  readonly diffBuckets: Uint8Array | null;
  /** Search matches per name index, or null without a search. */
  readonly matches: Uint8Array | null;
  /** Name index selected in the table (its frames are outlined, not the others dimmed), or -1. */
  readonly selected: number;
  readonly unit: string;
}

export interface Rect {
  x: number;
  y: number;
  w: number;
  h: number;
}

/** First node of level `d` whose span ends after tick `start` (spans within a level are sorted and disjoint). */
function firstVisible(model: FlameModel, d: number, start: number): number {
  let lo = model.levelStart[d];
  let hi = model.levelStart[d + 1];
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (model.x[mid] + model.total[mid] > start) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/**
 * The node's visible rectangle in canvas CSS pixels, or null if it is outside the view. Frames narrower than
 * MIN_FRAME_PX are drawn merged into runs, but their own (sub-pixel) rectangle still hit-tests to them.
 */
export function frameRect(model: FlameModel, view: View, node: number): Rect | null {
  const scale = view.width / view.span;
  const x0 = Math.max(0, (model.x[node] - view.start) * scale);
  const x1 = Math.min(view.width, (model.x[node] + model.total[node] - view.start) * scale);
  if (x1 <= x0) return null;
  const w = x1 - x0 >= MIN_FRAME_PX ? x1 - x0 - GAP : x1 - x0;
  return { x: x0, y: model.level[node] * ROW_HEIGHT, w, h: FRAME_HEIGHT };
}

/** The node under a point of the canvas (CSS pixels), or -1. */
export function hitTest(model: FlameModel, view: View, px: number, py: number): number {
  const d = Math.floor(py / ROW_HEIGHT);
  if (d < 0 || d >= model.depth || px < 0 || px >= view.width) return -1;
  const tick = view.start + (px / view.width) * view.span;
  const node = firstVisible(model, d, tick);
  if (node >= model.levelStart[d + 1] || model.x[node] > tick) return -1;
  return node;
}

/** Widest frame named `nameIdx` in the view. */
export function widestFrame(model: FlameModel, view: View, nameIdx: number): Rect | null {
  let best: Rect | null = null;
  for (let i = 0; i < model.count; i++) {
    if (model.nameIdx[i] !== nameIdx) continue;
    const rect = frameRect(model, view, i);
    if (rect && (!best || rect.w > best.w)) best = rect;
  }
  return best;
}

/** Text of a frame's label that fits `maxChars`: with its share (and value) when room allows, else truncated. */
function label(model: FlameModel, node: number, paint: Paint, maxChars: number): string {
  const name = model.names[model.nameIdx[node]];
  if (name.length > maxChars) return maxChars >= 2 ? `${name.slice(0, maxChars - 1)}…` : "";
  const sides = model.diff;
  const details = sides
    ? formatChange(relativeChange(sides, sides.leftTotal[node], sides.rightTotal[node]))
    : `${formatPercent(model.total[node], model.rootTotal)}, ${formatValue(model.total[node], paint.unit)}`;
  const full = `${name} (${details})`;
  return full.length <= maxChars ? full : name;
}

/**
 * Clears the canvas and draws the view; the context must already be scaled to CSS pixels.
 * Returns the number of rectangles drawn (frames drawn one by one plus merged runs of narrow frames).
 */
export function drawFlameGraph(
  ctx: CanvasRenderingContext2D,
  model: FlameModel,
  view: View,
  paint: Paint,
): number {
  const { theme, nameFills, diffBuckets, matches, selected } = paint;
  const { x, total, nameIdx } = model;
  ctx.clearRect(0, 0, view.width, model.depth * ROW_HEIGHT);
  ctx.font = FONT;
  ctx.textBaseline = "middle";
  ctx.strokeStyle = theme.selectedStroke;
  ctx.lineWidth = 1.5;
  const charWidth = ctx.measureText("M").width;
  const scale = view.width / view.span;
  const end = view.start + view.span;
  const focusLevel = view.focus >= 0 ? model.level[view.focus] : 0;
  let drawn = 0;

  for (let d = 0; d < model.depth; d++) {
    const y = d * ROW_HEIGHT;
    const levelEnd = model.levelStart[d + 1];
    // Levels above a zoomed frame only intersect the view in its ancestors: keep them, translucent.
    const ancestorRow = d < focusLevel;
    // A pending run of adjacent narrow frames sharing one fill, drawn as one rectangle.
    let runStart = 0;
    let runEnd = -Infinity;
    let runFill = "";
    const flushRun = (): void => {
      if (runEnd - runStart >= MIN_FRAME_PX) {
        ctx.fillStyle = runFill;
        ctx.fillRect(runStart, y, runEnd - runStart, FRAME_HEIGHT);
        drawn++;
      }
      runEnd = -Infinity;
    };

    for (let i = firstVisible(model, d, view.start); i < levelEnd && x[i] < end; i++) {
      const x0 = Math.max(0, (x[i] - view.start) * scale);
      const x1 = Math.min(view.width, (x[i] + total[i] - view.start) * scale);
      const name = nameIdx[i];
      const dimmed = matches !== null && matches[name] === 0;
      if (x1 - x0 < MIN_FRAME_PX) {
        // Narrow frames lose their own color, but a searched or selected one must not vanish in the gray.
        let fill = dimmed ? theme.dimmedFill : theme.collapsedFill;
        if (name === selected || (matches !== null && !dimmed)) fill = theme.highlightFill;
        if (runEnd !== -Infinity && (x0 > runEnd + MIN_FRAME_PX || fill !== runFill)) flushRun();
        if (runEnd === -Infinity) {
          runStart = x0;
          runFill = fill;
        }
        runEnd = Math.max(runEnd, x1);
        continue;
      }
      if (runEnd !== -Infinity) flushRun();

      const w = x1 - x0 - GAP;
      let textColor: string;
      if (dimmed) {
        ctx.fillStyle = theme.dimmedFill;
        textColor = theme.dimmedText;
      } else if (diffBuckets) {
        ctx.fillStyle = DIFF_COLORS[diffBuckets[i]];
        textColor = DIFF_TEXT[diffBuckets[i]];
      } else {
        ctx.fillStyle = nameFills[name];
        textColor = theme.text;
      }
      if (ancestorRow) {
        ctx.globalAlpha = ANCESTOR_ALPHA;
        textColor = theme.ancestorText;
      }
      ctx.fillRect(x0, y, w, FRAME_HEIGHT);
      if (name === selected) ctx.strokeRect(x0 + 0.75, y + 0.75, w - 1.5, FRAME_HEIGHT - 1.5);
      ctx.globalAlpha = 1;
      drawn++;

      const maxChars = Math.floor((w - 2 * LABEL_PADDING) / charWidth);
      if (maxChars >= 2) {
        const text = label(model, i, paint, maxChars);
        if (text !== "") {
          ctx.fillStyle = textColor;
          ctx.fillText(text, x0 + LABEL_PADDING, y + FRAME_HEIGHT / 2 + 0.5);
        }
      }
    }
    if (runEnd !== -Infinity) flushRun();
  }
  return drawn;
}
