// The flame graph: an icicle (root "total" on top, callees below, frames left to right) drawn on one canvas.
// Drawing happens synchronously in a layout effect, i.e. before the browser paints the frame that shows the new
// state, and touches only the frames inside the view (see render.ts); hover and tooltip are plain DOM on top.
import type { JSX } from "preact";
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from "preact/hooks";
import { DIFF_COLORS, diffBuckets, inferTheme, nameColors, THEMES, type ThemeName } from "./colors";
import { getModel, matchNames, type FlameGraphData, type FlameGraphDiffData, type FlameModel } from "./model";
import { drawFlameGraph, frameRect, hitTest, ROW_HEIGHT, viewFor, widestFrame, type View } from "./render";
import { publishRendered, retractRendered, type RenderedGraph } from "./testHook";
import { Tooltip } from "./Tooltip";
import "./flamegraph.css";

interface CommonProps {
  /** Sample unit of the profile: "nanoseconds", "bytes", "count", "samples", … (see formatValue). */
  unit: string;
  /** Highlights frames whose name contains this (case-insensitive) and dims the others. */
  search?: string;
  /** Highlights (outlines) every frame with this name, e.g. the row selected in the top table. */
  selectedName?: string | null;
  /** Called with the frame's name when a frame other than the root is clicked. */
  onSelectName?: (name: string) => void;
  /** Defaults to the theme implied by the inherited text color (light text → dark theme). */
  theme?: ThemeName;
  class?: string;
}

export type FlameGraphProps = CommonProps &
  ({ diff?: false; data: FlameGraphData } | { diff: true; data: FlameGraphDiffData });

const MAX_CANVAS_SIDE = 32767;
const LEGEND_GRADIENT = `linear-gradient(to right, ${DIFF_COLORS.join(", ")})`;

interface Hover {
  model: FlameModel;
  node: number;
  clientX: number;
  clientY: number;
}

/** What is on the canvas right now; hit testing and the test hook must agree with it, not with newer state. */
interface Drawn {
  model: FlameModel;
  view: View;
}

function isEditable(target: EventTarget | null): boolean {
  return (
    target instanceof HTMLElement &&
    (target.isContentEditable || target.tagName === "INPUT" || target.tagName === "TEXTAREA" || target.tagName === "SELECT")
  );
}

export function FlameGraph(props: FlameGraphProps) {
  const { data, unit, search = "", selectedName = null, onSelectName, theme } = props;
  const diff = props.diff === true;
  const model = useMemo(() => getModel(data, diff), [data, diff]);
  const matches = useMemo(() => matchNames(model, search), [model, search]);
  const selected = selectedName === null ? -1 : (model.nameIndex.get(selectedName) ?? -1);
  // Zoom belongs to the model it was made on: new data starts unzoomed without an extra render.
  const [zoom, setZoom] = useState<{ model: FlameModel; node: number } | null>(null);
  const focus = zoom !== null && zoom.model === model ? zoom.node : -1;
  const [hover, setHover] = useState<Hover | null>(null);

  const rootRef = useRef<HTMLDivElement>(null);
  const canvasRef = useRef<HTMLCanvasElement>(null);
  const drawn = useRef<Drawn | null>(null);
  // Canvas width as last reported by the ResizeObserver: reading clientWidth on every draw would force a
  // synchronous layout of everything the same update changed (e.g. hundreds of table rows).
  const width = useRef<number | null>(null);

  const hookTarget = useMemo<RenderedGraph>(
    () => ({
      rectOf(name) {
        const canvas = canvasRef.current;
        const current = drawn.current;
        const nameIdx = current?.model.nameIndex.get(name);
        if (!canvas || !current || nameIdx === undefined) return null;
        const rect = widestFrame(current.model, current.view, nameIdx);
        if (!rect) return null;
        const box = canvas.getBoundingClientRect();
        return { x: box.left + rect.x, y: box.top + rect.y, w: rect.w, h: rect.h };
      },
    }),
    [],
  );

  const draw = (): void => {
    const root = rootRef.current;
    const canvas = canvasRef.current;
    const ctx = canvas?.getContext("2d");
    if (!root || !canvas || !ctx) return;
    width.current ??= canvas.clientWidth;
    const height = model.depth * ROW_HEIGHT;
    // Browsers refuse canvases above ~32k pixels a side: very deep graphs trade sharpness for being drawn.
    const dpr = Math.min(window.devicePixelRatio || 1, MAX_CANVAS_SIDE / Math.max(height, 1));
    const pixelWidth = Math.round(width.current * dpr);
    const pixelHeight = Math.round(height * dpr);
    // Assigning the size reallocates and clears the backing store even when unchanged: only do it on change.
    if (canvas.width !== pixelWidth || canvas.height !== pixelHeight) {
      canvas.width = pixelWidth;
      canvas.height = pixelHeight;
    }
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    const themeName = theme ?? inferTheme(root);
    const view = viewFor(model, focus, width.current);
    const count = drawFlameGraph(ctx, model, view, {
      theme: THEMES[themeName],
      nameFills: nameColors(model),
      diffBuckets: model.diff ? diffBuckets(model) : null,
      matches,
      selected,
      unit,
    });
    drawn.current = { model, view };
    root.dataset.theme = themeName;
    // Test hooks are written here, together, so a test that sees them sees the frame they describe.
    canvas.dataset.renderedNodes = String(count);
    canvas.dataset.total = String(model.rootTotal);
    canvas.dataset.zoomed = view.focus >= 0 ? model.names[model.nameIdx[view.focus]] : "";
    publishRendered(hookTarget);
  };
  const drawRef = useRef(draw);
  drawRef.current = draw;

  useLayoutEffect(draw, [model, focus, matches, selected, theme, unit]);

  useEffect(() => {
    const canvas = canvasRef.current;
    if (!canvas) return;
    // Resize callbacks run after layout and before paint, so a resized graph never shows a stretched frame.
    const observer = new ResizeObserver((entries) => {
      const reported = entries[entries.length - 1].contentRect.width;
      if (reported === width.current) return;
      width.current = reported;
      drawRef.current();
    });
    observer.observe(canvas);
    // Without a theme prop the theme is inferred at draw time: follow the OS switching it, and the app switching
    // it through a class, data attribute or style on <html> or <body>.
    const redraw = (): void => drawRef.current();
    const scheme = window.matchMedia("(prefers-color-scheme: dark)");
    scheme.addEventListener("change", redraw);
    const themeSwitch = new MutationObserver(redraw);
    for (const element of [document.documentElement, document.body]) {
      themeSwitch.observe(element, { attributes: true, attributeFilter: ["class", "style", "data-theme"] });
    }
    const onKey = (event: KeyboardEvent): void => {
      if (event.key === "Escape" && !isEditable(event.target)) setZoom(null);
    };
    window.addEventListener("keydown", onKey);
    return () => {
      observer.disconnect();
      scheme.removeEventListener("change", redraw);
      themeSwitch.disconnect();
      window.removeEventListener("keydown", onKey);
      retractRendered(hookTarget);
    };
  }, [hookTarget]);

  const nodeAt = (event: JSX.TargetedMouseEvent<HTMLCanvasElement>): number => {
    const current = drawn.current;
    if (!current) return -1;
    const box = event.currentTarget.getBoundingClientRect();
    return hitTest(current.model, current.view, event.clientX - box.left, event.clientY - box.top);
  };

  const onMouseMove = (event: JSX.TargetedMouseEvent<HTMLCanvasElement>): void => {
    const node = nodeAt(event);
    setHover(node < 0 ? null : { model, node, clientX: event.clientX, clientY: event.clientY });
  };

  const onClick = (event: JSX.TargetedMouseEvent<HTMLCanvasElement>): void => {
    const node = nodeAt(event);
    if (node < 0) return;
    // The frames move under the pointer: a stale hover outline would point at the wrong frame.
    setHover(null);
    if (model.level[node] === 0) {
      setZoom(null);
      return;
    }
    setZoom({ model, node });
    onSelectName?.(model.names[model.nameIdx[node]]);
  };

  const hovered = hover !== null && hover.model === model ? hover : null;
  const outline = hovered && drawn.current ? frameRect(drawn.current.model, drawn.current.view, hovered.node) : null;
  const zoomedName = focus >= 0 ? model.names[model.nameIdx[focus]] : "";

  return (
    <div
      ref={rootRef}
      class={`fg-root${props.class ? ` ${props.class}` : ""}`}
      data-testid={diff ? "diff-flamegraph" : "flamegraph"}
    >
      <div class="fg-toolbar">
        <button
          type="button"
          class="fg-button"
          data-testid="flamegraph-reset"
          disabled={focus < 0}
          onClick={() => setZoom(null)}
          title="Reset zoom (Esc)"
        >
          Reset zoom
        </button>
        {zoomedName !== "" && (
          <span class="fg-zoomed" title={zoomedName}>
            {zoomedName}
          </span>
        )}
        {diff && (
          <span class="fg-legend" aria-label="Diff color scale">
            <span>shrank</span>
            <span class="fg-legend-scale" style={{ background: LEGEND_GRADIENT }} />
            <span>grew</span>
          </span>
        )}
      </div>
      <div class="fg-stage">
        <canvas
          ref={canvasRef}
          class={`fg-canvas${hovered ? " fg-pointer" : ""}`}
          role="img"
          aria-label={diff ? "Diff flame graph" : "Flame graph"}
          style={{ height: `${model.depth * ROW_HEIGHT}px` }}
          onMouseMove={onMouseMove}
          onMouseLeave={() => setHover(null)}
          onClick={onClick}
        />
        {outline && (
          <div
            class="fg-hover"
            style={{ left: `${outline.x}px`, top: `${outline.y}px`, width: `${outline.w}px`, height: `${outline.h}px` }}
          />
        )}
        {model.count === 0 && <div class="fg-empty">No profile data</div>}
      </div>
      {hovered && (
        <Tooltip model={model} node={hovered.node} unit={unit} clientX={hovered.clientX} clientY={hovered.clientY} />
      )}
    </div>
  );
}
