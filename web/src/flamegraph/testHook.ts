// `window.__edgePyroscope.flamegraph.rectOf(name)`: frames live on a canvas, so end-to-end tests cannot locate
// them in the DOM; this hook tells them where the most recently drawn flame graph put a frame.
import type { Rect } from "./render";

export interface RenderedGraph {
  /** Viewport rectangle (CSS px) of the widest frame with that name in the view, or null if there is none. */
  rectOf(name: string): Rect | null;
}

let current: RenderedGraph | null = null;

// Typed locally rather than by augmenting Window: the app may hang other debugging hooks on the same object.
type HookHost = { __edgePyroscope?: { flamegraph?: RenderedGraph } & Record<string, unknown> };

/** Marks `graph` as the most recently rendered one, (re)installing the hook if something replaced it. */
export function publishRendered(graph: RenderedGraph): void {
  current = graph;
  const host = window as unknown as HookHost;
  const hook = (host.__edgePyroscope ??= {});
  hook.flamegraph ??= { rectOf: (name) => current?.rectOf(name) ?? null };
}

/** Forgets `graph` (on unmount) unless another graph was rendered since. */
export function retractRendered(graph: RenderedGraph): void {
  if (current === graph) current = null;
}
