// The printed report of the ui section (see ui.mjs for what is measured).

import { markdownTable, num, textTable } from "./report.mjs";

const ms = (x) => `${num(x)} ms`;
const warm = (s) => `${ms(s.median)} (${ms(s.min)})`;
const times = (x) => `${num(x)}×`;

export function printUiReport(r) {
  const s = r.summary;
  const c = r.config;
  const out = [];
  out.push(
    `UI — flame graph of one ${c.nodes.toLocaleString("en")}-node profile (${c.profileType}) in headless Chromium ${r.environment.chromium}, ` +
      `${c.viewport.width}×${c.viewport.height}; first run (cold cache), then median (min) of ${c.runs - 1} warm runs; ` +
      `${r.environment.cpus} CPUs, node ${r.environment.node}, wrangler ${r.environment.wrangler}`,
  );
  out.push(
    `Served: ${r.served.nodes} nodes (checked), total ${r.served.total}; rectangles drawn: ${s.renderedAtFirstPaint} at first paint, ` +
      `${s.renderedZoomed} zoomed on "${r.served.zoomTarget}" (${num(100 * r.served.zoomTargetShare)}% of the total)`,
  );
  out.push("");
  const rows = [
    ["navigation → first flame graph paint", ms(s.firstPaintMs.first), warm(s.firstPaintMs)],
    ["  the app's SelectMergeStacktraces request", ms(s.appRequestMs.first), warm(s.appRequestMs)],
    ["  its response → flame graph painted", ms(s.responseToPaintMs.first), warm(s.responseToPaintMs)],
    ["click on a frame → zoomed flame graph painted", ms(s.zoomMs.first), warm(s.zoomMs)],
    ["baseline: the same API call alone (fetch + JSON in the page)", ms(s.apiAloneMs.first), warm(s.apiAloneMs)],
  ];
  out.push(textTable([["", "first run", "warm: median (min)"], ...rows]));
  out.push(
    `Warm first paint is ${times(s.firstPaintMs.median / s.apiAloneMs.median)} the API call alone; ` +
      "the rest is loading the page and its script, the catalog call, then decoding, laying out and drawing.",
  );
  out.push("Times are the page's performance.now() (origin: the navigation's start; a zoom from the click event's timestamp), taken after the frame showing the result was rendered.");
  out.push("");
  out.push("Markdown:");
  out.push("");
  out.push(markdownTable([[`UI, ${c.nodes.toLocaleString("en")}-node flame graph, headless Chromium`, "first run", "warm: median (min)"], ...rows.map(([label, ...rest]) => [label.trim(), ...rest])]));
  console.log(out.join("\n"));
}
