// Driving the dashboard through its test hooks (data-testid attributes, the flame graph canvas's
// data-* attributes, window.__edgePyroscope) and reading what it shows, with waits whose failures
// say what the page showed instead of a bare timeout.

import { CPU_TYPE } from "./corpus.mjs";
import { decodeFlamegraph, resolveTime, rpc } from "./api.mjs";

export const byTestId = (id) => `[data-testid="${id}"]`;
const canvasOf = (graph) => `[data-testid="${graph}"] canvas[data-rendered-nodes]`;

/** The route and parameters of the page's hash (`#/explore?service=…`). */
export function hashState(page) {
  const raw = new URL(page.url()).hash.replace(/^#\/?/, "");
  const q = raw.indexOf("?");
  return { view: q < 0 ? raw : raw.slice(0, q), params: new URLSearchParams(q < 0 ? "" : raw.slice(q + 1)) };
}

/** One line on what the page shows: its hash, the test ids present, and any error state's text. */
export async function describePage(page) {
  try {
    return await page.evaluate(() => {
      const ids = [...new Set([...document.querySelectorAll("[data-testid]")].map((e) => e.dataset.testid))];
      const errors = [...document.querySelectorAll('[data-testid="error"]')].map((e) => e.textContent.trim());
      const canvases = [...document.querySelectorAll("canvas[data-rendered-nodes]")].map(
        (c) => `${c.closest("[data-testid]")?.dataset.testid}: nodes=${c.dataset.renderedNodes} total=${c.dataset.total} zoomed=${c.dataset.zoomed ?? ""}`,
      );
      return [
        `hash "${location.hash}"`,
        `test ids [${ids.join(", ") || "none: the app did not render"}]`,
        canvases.length ? `graph canvases [${canvases.join("; ")}]` : "no graph canvas",
        errors.length ? `error states: ${errors.join(" | ")}` : "",
      ].filter(Boolean).join("; ");
    });
  } catch (err) {
    return `(cannot read the page: ${err.message})`;
  }
}

/** Waits until `fn(arg)` is truthy in the page and returns its value; on timeout, says what the page showed. */
export async function waitInPage(page, what, fn, arg, timeout = 15_000) {
  try {
    const handle = await page.waitForFunction(fn, arg, { timeout });
    return await handle.jsonValue();
  } catch (err) {
    if (err.name !== "TimeoutError") throw err;
    throw new Error(`${what}: not within ${timeout / 1000} s. The page shows: ${await describePage(page)}`);
  }
}

/**
 * Waits for a flame graph (`flamegraph` or `diff-flamegraph`) with nodes drawn, and when given,
 * the zoomed frame and/or total expected; returns its attributes { renderedNodes, total, zoomed }.
 */
export function waitForGraph(page, graph = "flamegraph", expect = {}) {
  const wanted = [expect.zoomed !== undefined && `zoomed on "${expect.zoomed}"`, expect.total !== undefined && `total ${expect.total}`].filter(Boolean);
  return waitInPage(
    page,
    `the ${graph} canvas with nodes drawn${wanted.length ? `, ${wanted.join(", ")}` : ""}`,
    ({ selector, zoomed, total }) => {
      const c = document.querySelector(selector);
      if (!c || !(Number(c.dataset.renderedNodes) > 0)) return false;
      if (zoomed !== undefined && c.dataset.zoomed !== zoomed) return false;
      if (total !== undefined && Number(c.dataset.total) !== total) return false;
      return { renderedNodes: Number(c.dataset.renderedNodes), total: Number(c.dataset.total), zoomed: c.dataset.zoomed ?? "" };
    },
    { selector: canvasOf(graph), zoomed: expect.zoomed, total: expect.total },
  );
}

/**
 * The canvas's pixels, read back: the background is its most frequent colour; `painted` counts
 * the pixels of any other colour, `colors` the distinct colours, `reddish`/`greenish` the
 * strongly red/green pixels (a diff's grown/shrunk frames), `hash` tells two images apart.
 * The canvas is copied onto a 2D canvas first, so this works whatever context drew it.
 */
export function canvasImage(page, graph = "flamegraph") {
  return page.$eval(canvasOf(graph), (canvas) => {
    const copy = document.createElement("canvas");
    copy.width = canvas.width;
    copy.height = canvas.height;
    const g = copy.getContext("2d");
    g.drawImage(canvas, 0, 0);
    const rgba = g.getImageData(0, 0, copy.width, copy.height).data;
    const data = new Uint32Array(rgba.buffer);
    const counts = new Map();
    let hash = 0x811c9dc5;
    let reddish = 0;
    let greenish = 0;
    for (let i = 0; i < data.length; i++) {
      const px = data[i];
      counts.set(px, (counts.get(px) ?? 0) + 1);
      hash = Math.imul(hash ^ px, 0x01000193) >>> 0;
      const [r, gr, b] = [rgba[4 * i], rgba[4 * i + 1], rgba[4 * i + 2]];
      if (r > gr + 80 && r > b + 80) reddish++;
      if (gr > r + 80 && gr > b + 80) greenish++;
    }
    let background = 0;
    for (const n of counts.values()) background = Math.max(background, n);
    const box = canvas.getBoundingClientRect();
    return { pixels: data.length, painted: data.length - background, colors: counts.size, reddish, greenish, hash, cssWidth: box.width };
  });
}

/** The viewport rectangle { x, y, w, h } of the widest visible frame named `name` (the app's hook). */
export async function rectOf(page, name) {
  const rect = await page.evaluate((n) => {
    const hook = window.__edgePyroscope?.flamegraph;
    return hook ? (hook.rectOf(n) ?? null) : "missing";
  }, name);
  if (rect === "missing") throw new Error("window.__edgePyroscope.flamegraph.rectOf is not defined: the flame graph must expose it for the tests");
  if (!rect || !(rect.w > 0 && rect.h > 0)) throw new Error(`rectOf("${name}") gave ${JSON.stringify(rect)}: no visible frame of that name`);
  return rect;
}

/** What a form control holds (a select's or input's value), else the element's text. */
export function valueOf(page, testId) {
  return page.$eval(byTestId(testId), (el) => ("value" in el ? el.value : el.textContent.trim()));
}

/** The top table's rows in display order, as numbers. */
export function topRows(page) {
  return page.$$eval('[data-testid="top-table"] [data-testid="top-row"]', (rows) =>
    rows.map((r) => ({ name: r.dataset.name, self: Number(r.dataset.self), total: Number(r.dataset.total) })),
  );
}

/** The services page, reached as a user would: the app's root, then the Services link. */
export async function openServices(page, ctx) {
  await page.goto(`${ctx.baseUrl}/`);
  await page.click(byTestId("nav-services"));
  await waitInPage(page, "the services table", (s) => document.querySelector(s), byTestId("services-table"));
}

/** Explore for `service`, opened from its row of the services page; returns the flame graph's attributes. */
export async function openExplore(page, ctx, service) {
  await openServices(page, ctx);
  const row = `[data-testid="service-row"][data-service="${service}"]`;
  await page.locator(`${row} a, ${row} button`).first().click();
  await waitInPage(page, `Explore for ${service}`, (s) => document.querySelector(s), byTestId("explore"));
  return waitForGraph(page);
}

/**
 * The API's selection for a dashboard URL's parameters (`service`, `type`, `query`, `from`,
 * `until`, or their `left…`/`right…` forms with `prefix`), its relative times resolved now.
 */
export function selectionOf(params, prefix = "") {
  const key = (k) => (prefix ? prefix + k[0].toUpperCase() + k.slice(1) : k);
  const service = params.get(key("service"));
  const filters = (params.get(key("query")) ?? "").trim().replace(/^\{|\}$/g, "").trim();
  const now = Date.now();
  return {
    profileTypeID: params.get("type"),
    labelSelector: `{service_name=${JSON.stringify(service)}${filters ? `,${filters}` : ""}}`,
    start: resolveTime(params.get(key("from")) ?? "now-1h", now),
    end: resolveTime(params.get(key("until")) ?? "now", now),
  };
}

/**
 * The API's flame graph for the selection the page's URL shows, decoded; for the CPU type it must
 * also total what was ingested, or the comparison with the page would prove nothing.
 */
export async function apiGraphOf(page, ctx) {
  const { params } = hashState(page);
  const selection = selectionOf(params);
  const graph = decodeFlamegraph((await rpc(ctx.baseUrl, "SelectMergeStacktraces", selection)).flamegraph);
  const service = params.get("service");
  if (selection.profileTypeID === CPU_TYPE && !params.get("query") && ctx.expected[service] !== undefined) {
    const want = Number(ctx.expected[service]);
    if (graph.total !== want) throw new Error(`the API totals ${graph.total} for ${service}'s ${CPU_TYPE}, but ${want} was ingested`);
  }
  return { selection, ...graph };
}
