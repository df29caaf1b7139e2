// Frame colors in the Pyroscope style: a fixed pastel palette indexed by a hash of the frame's package, so one
// package keeps one color across profiles and reloads; diffs go from green (shrank) over gray to red (grew).
import { relativeChange, type FlameModel } from "./model";

export type ThemeName = "light" | "dark";

export interface FlameTheme {
  /** Label on a palette-colored frame (the palette is pastel in both themes, as in Pyroscope). */
  readonly text: string;
  /** Frames outside the current search / selection. */
  readonly dimmedFill: string;
  readonly dimmedText: string;
  /** Runs of frames too narrow to draw one by one. */
  readonly collapsedFill: string;
  /** Such runs when they contain a searched or selected frame, which must not vanish in gray. */
  readonly highlightFill: string;
  readonly selectedStroke: string;
  /** Label of the ancestors kept above a zoomed frame (drawn translucent). */
  readonly ancestorText: string;
}

export const THEMES: Readonly<Record<ThemeName, FlameTheme>> = {
  light: {
    text: "#000",
    dimmedFill: "#e3e3e3",
    dimmedText: "#8c8c8c",
    collapsedFill: "rgba(200, 200, 200, 0.66)",
    highlightFill: "#48ce73",
    selectedStroke: "#111",
    ancestorText: "#000",
  },
  dark: {
    text: "#000",
    dimmedFill: "#34373d",
    dimmedText: "#8d929b",
    collapsedFill: "rgba(120, 120, 120, 0.6)",
    highlightFill: "#48ce73",
    selectedStroke: "#fff",
    ancestorText: "#e6e6e6",
  },
};

/** Translucency of the ancestors above a zoomed frame: visible as a path, clearly not part of the zoomed view. */
export const ANCESTOR_ALPHA = 0.45;

// The palette of Pyroscope's flame graph, so profiles look the way its users know.
const PALETTE: readonly string[] = [
  "hsl(24 69% 60%)",
  "hsl(34 65% 65%)",
  "hsl(194 52% 61%)",
  "hsl(163 45% 55%)",
  "hsl(211 48% 60%)",
  "hsl(246 40% 65%)",
  "hsl(305 63% 79%)",
  "hsl(47 100% 73%)",
  "rgb(183 219 171)",
  "rgb(244 213 152)",
  "rgb(78 146 249)",
  "rgb(249 186 143)",
  "rgb(242 145 145)",
  "rgb(130 181 216)",
  "rgb(229 168 226)",
  "rgb(174 162 224)",
  "rgb(154 196 138)",
  "rgb(242 201 109)",
  "rgb(101 197 219)",
  "rgb(249 147 78)",
  "rgb(234 100 96)",
  "rgb(81 149 206)",
  "rgb(214 131 206)",
  "rgb(128 110 183)",
];

/**
 * The package part of a frame name, without knowing the language: C++/Rust `crate::mod::fn` → crate;
 * Go `github.com/org/repo/pkg.Func` and file paths `dir/file.py:12` → up to the first dot after the first slash;
 * dotted `java.util.HashMap.get` / `runtime.mallocgc` → everything before the last dot; otherwise the name.
 */
export function packageOf(name: string): string {
  const colons = name.indexOf("::");
  if (colons > 0) return name.slice(0, colons);
  const slash = name.indexOf("/");
  if (slash >= 0) {
    const dot = name.indexOf(".", slash);
    return dot > 0 ? name.slice(0, dot) : name;
  }
  const dot = name.lastIndexOf(".");
  return dot > 0 ? name.slice(0, dot) : name;
}

/** FNV-1a: small, fast and stable across sessions (colors must not change between reloads). */
function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

const nameColorCache = new WeakMap<FlameModel, string[]>();

/** Fill color per name index of the model. */
export function nameColors(model: FlameModel): string[] {
  let colors = nameColorCache.get(model);
  if (!colors) {
    colors = model.names.map((name) => PALETTE[hash(packageOf(name)) % PALETTE.length]);
    nameColorCache.set(model, colors);
  }
  return colors;
}

// Diff colors are quantized into a few steps per direction: plenty for the eye, and a draw then assigns one of
// a few dozen precomputed strings instead of formatting a color per frame.
const DIFF_STEPS = 20;
const NEUTRAL = [148, 142, 142] as const;
const GREW = [200, 0, 0] as const;
const SHRANK = [0, 170, 0] as const;

function mix(a: readonly number[], b: readonly number[], t: number): number[] {
  return a.map((v, i) => Math.round(v + (b[i] - v) * t));
}

/** Index 0 = -100% … DIFF_STEPS = unchanged … 2·DIFF_STEPS = +100% (or new). */
const DIFF_FILLS: readonly number[][] = Array.from({ length: 2 * DIFF_STEPS + 1 }, (_, k) => {
  const t = (k - DIFF_STEPS) / DIFF_STEPS;
  return mix(NEUTRAL, t > 0 ? GREW : SHRANK, Math.abs(t));
});

export const DIFF_COLORS: readonly string[] = DIFF_FILLS.map(([r, g, b]) => `rgb(${r} ${g} ${b})`);

/** Labels stay readable on the saturated ends of the scale. */
export const DIFF_TEXT: readonly string[] = DIFF_FILLS.map(([r, g, b]) =>
  0.2126 * r + 0.7152 * g + 0.0722 * b < 110 ? "#fff" : "#000",
);

const diffBucketCache = new WeakMap<FlameModel, Uint8Array>();

/** Index into DIFF_COLORS per node of a diff model, from the change of its total share right vs left. */
export function diffBuckets(model: FlameModel): Uint8Array {
  let buckets = diffBucketCache.get(model);
  if (!buckets) {
    buckets = new Uint8Array(model.count).fill(DIFF_STEPS);
    const sides = model.diff;
    if (sides) {
      for (let i = 0; i < model.count; i++) {
        const change = relativeChange(sides, sides.leftTotal[i], sides.rightTotal[i]) ?? 100;
        const clamped = Math.max(-100, Math.min(100, change));
        buckets[i] = DIFF_STEPS + Math.round((clamped / 100) * DIFF_STEPS);
      }
    }
    diffBucketCache.set(model, buckets);
  }
  return buckets;
}

/** The theme of the surroundings, judged by the brightness of the inherited text color. */
export function inferTheme(element: Element): ThemeName {
  const match = /rgba?\((\d+)[, ]+(\d+)[, ]+(\d+)/.exec(getComputedStyle(element).color);
  if (!match) return "light";
  const luminance = 0.2126 * Number(match[1]) + 0.7152 * Number(match[2]) + 0.0722 * Number(match[3]);
  return luminance > 128 ? "dark" : "light";
}
