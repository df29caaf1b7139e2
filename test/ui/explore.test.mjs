// Explore, reached from the services page: the flame graph is drawn and totals what the API
// answers for the selection in the URL, a click on a frame zooms into it, the top table sorts and
// shows the API's per-function figures, search highlights, the pprof download is the profile
// shown, and a reload restores the view from the URL alone.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { gunzipSync } from "node:zlib";
import { Profile } from "pprof-format";
import { decodeFlamegraph, functionTable, rpc } from "./lib/api.mjs";
import { apiGraphOf, byTestId, canvasImage, hashState, openExplore, rectOf, selectionOf, topRows, valueOf, waitForGraph, waitInPage } from "./lib/dashboard.mjs";
import { browserSession, screenshot } from "./lib/session.mjs";

const session = browserSession();
const { ctx } = session;
/** The Go service: three different CPU pprofs, two profile types (cpu and samples), env and region labels. */
const SERVICE = "ui-checkout";

/**
 * A frame below the outermost ones, wide enough to click and narrow enough that zooming into it
 * visibly changes the graph: the widest node below depth 1 holding 10–70% of the total.
 */
function childFrame(graph) {
  const frame = graph.nodes
    .filter((n) => n.depth >= 2 && n.total >= 0.1 * graph.total && n.total <= 0.7 * graph.total)
    .sort((a, b) => b.total - a.total)[0];
  assert.ok(frame, `the flame graph of ${SERVICE} has no frame below depth 1 with 10–70% of the total`);
  return frame;
}

/** Polls the canvas until its image differs from `before` (drawing may take a frame or two). */
async function imageChangedFrom(page, before, what) {
  const deadline = Date.now() + 5000;
  for (;;) {
    const image = await canvasImage(page);
    if (image.hash !== before.hash) return image;
    if (Date.now() > deadline) assert.fail(`${what}: the flame graph's pixels did not change within 5 s`);
    await page.waitForTimeout(100);
  }
}

session.test("choosing a service draws a non-empty flame graph totalling the API's answer", async (page) => {
  const graph = await openExplore(page, ctx, SERVICE);
  const { view, params } = hashState(page);
  assert.equal(view, "explore");
  assert.equal(params.get("service"), SERVICE, "the URL names the service chosen");
  assert.equal(await valueOf(page, "service"), SERVICE, "the service picker shows the service chosen");
  assert.equal(await valueOf(page, "profile-type"), params.get("type"), "the profile type picker shows the URL's type");

  const api = await apiGraphOf(page, ctx);
  assert.ok(api.total > 0, `the API has no data for ${JSON.stringify(api.selection)}`);
  assert.equal(graph.total, api.total, "the canvas's data-total vs the API's SelectMergeStacktraces total for the URL's selection");
  assert.ok(graph.renderedNodes > 1 && graph.renderedNodes <= api.nodes.length, `data-rendered-nodes ${graph.renderedNodes}, the API's graph has ${api.nodes.length} nodes`);

  const image = await canvasImage(page);
  assert.ok(image.painted > image.pixels * 0.02 && image.colors >= 3, `the canvas looks blank: ${image.painted} of ${image.pixels} pixels painted, ${image.colors} colours`);
  const chart = await page.locator(`${byTestId("timeseries")} canvas`).first().boundingBox();
  assert.ok(chart && chart.width > 100 && chart.height > 50, `the time series chart is not drawn (box ${JSON.stringify(chart)})`);
  await screenshot(page, ctx, "explore");
});

session.test("clicking a frame zooms into it", async (page) => {
  await openExplore(page, ctx, SERVICE);
  const graph = await apiGraphOf(page, ctx);
  const frame = childFrame(graph);
  await page.mouse.move(0, 0);
  const before = await canvasImage(page);
  const rect = await rectOf(page, frame.name);
  assert.ok(rect.w < before.cssWidth * 0.75, `"${frame.name}" holds ${((100 * frame.total) / graph.total).toFixed(0)}% of the total but its frame is ${rect.w} of ${before.cssWidth} px`);

  await page.mouse.click(rect.x + rect.w / 2, rect.y + rect.h / 2);
  const zoomed = await waitForGraph(page, "flamegraph", { zoomed: frame.name });
  assert.ok(zoomed.renderedNodes > 0);
  // Zoomed in, the frame spans the graph's width.
  const after = await rectOf(page, frame.name);
  assert.ok(after.w >= before.cssWidth * 0.9, `zoomed on "${frame.name}", its frame is ${after.w} px of the graph's ${before.cssWidth}`);
  await page.mouse.move(0, 0);
  await imageChangedFrom(page, before, "zooming");
  await screenshot(page, ctx, "explore-zoomed");
});

/** Waits until the top table's rows are ordered by data-<key> (dir -1: descending, 1: ascending), not all equal. */
async function expectOrder(page, key, dir, after) {
  const what = `after ${after}, the top table's rows in ${dir < 0 ? "descending" : "ascending"} order of data-${key}`;
  try {
    await waitInPage(
      page,
      what,
      ({ key, dir }) => {
        const v = [...document.querySelectorAll('[data-testid="top-table"] [data-testid="top-row"]')].map((r) => Number(r.dataset[key]));
        return v.length > 1 && v[0] !== v[v.length - 1] && v.every((x, i) => i === 0 || dir * (x - v[i - 1]) >= 0);
      },
      { key, dir },
      5000,
    );
  } catch (err) {
    const rows = await topRows(page);
    err.message += `\n  data-${key} of the first of ${rows.length} rows: ${rows.slice(0, 10).map((r) => r[key]).join(", ")}`;
    throw err;
  }
}

session.test("the top table sorts by self and by total and shows the API's figures", async (page) => {
  await openExplore(page, ctx, SERVICE);
  const api = functionTable((await apiGraphOf(page, ctx)).nodes);
  for (const [key, other] of [["self", "total"], ["total", "self"]]) {
    // From a sort by the other column, a click sorts by this one descending, a second ascending.
    await page.click(byTestId(`sort-${other}`));
    await page.click(byTestId(`sort-${key}`));
    await expectOrder(page, key, -1, `a click on sort-${key}`);
    await page.click(byTestId(`sort-${key}`));
    await expectOrder(page, key, 1, `a second click on sort-${key}`);
  }

  await page.click(byTestId("sort-total"));
  await page.click(byTestId("sort-self"));
  await expectOrder(page, "self", -1, "sorting by self again");
  const rows = await topRows(page);
  for (const row of rows) {
    const want = api.get(row.name);
    assert.ok(want, `the table lists "${row.name}", which the API's flame graph does not hold`);
    assert.deepEqual({ self: row.self, total: row.total }, { self: want.self, total: want.total }, `figures of "${row.name}" vs the API's flame graph`);
  }
  const apiMaxSelf = Math.max(...[...api.values()].map((r) => r.self));
  assert.equal(rows[0].self, apiMaxSelf, "the largest self in the table vs the largest per-function self of the API's flame graph");
});

session.test("search highlights the matching frames and keeps the graph drawn", async (page) => {
  await openExplore(page, ctx, SERVICE);
  const frame = childFrame(await apiGraphOf(page, ctx));
  await page.mouse.move(0, 0);
  const before = await canvasImage(page);
  await page.fill(byTestId("search"), frame.name);
  const during = await imageChangedFrom(page, before, `searching "${frame.name}"`);
  const graph = await waitForGraph(page);
  assert.ok(graph.renderedNodes > 0 && during.painted > during.pixels * 0.02, `searching blanked the graph (${graph.renderedNodes} nodes, ${during.painted} pixels painted)`);
  await screenshot(page, ctx, "explore-search");

  await page.fill(byTestId("search"), "");
  await imageChangedFrom(page, during, "clearing the search");
});

session.test("the pprof download holds the profile shown", async (page) => {
  const graph = await openExplore(page, ctx, SERVICE);
  const [, sampleType, sampleUnit] = hashState(page).params.get("type").split(":");
  const [download] = await Promise.all([page.waitForEvent("download"), page.click(byTestId("download-pprof"))]);
  const file = path.join(ctx.artifactsDir, download.suggestedFilename());
  await download.saveAs(file);
  const bytes = readFileSync(file);
  assert.ok(bytes[0] === 0x1f && bytes[1] === 0x8b, `${file} is not gzipped`);
  const profile = Profile.decode(gunzipSync(bytes));
  const strings = profile.stringTable.strings;
  const index = profile.sampleType.findIndex((t) => strings[Number(t.type)] === sampleType && strings[Number(t.unit)] === sampleUnit);
  assert.ok(index >= 0, `the downloaded pprof has no ${sampleType}/${sampleUnit} sample type`);
  const total = profile.sample.reduce((sum, s) => sum + Number(s.value[index]), 0);
  assert.equal(total, graph.total, "the downloaded pprof's total vs the flame graph's");
});

session.test("a click on the time series narrows the flame graph to that point's largest profile, × widens it again", async (page) => {
  // The chart's own request, replayed: its exemplars are the profiles a click can pick.
  const seriesRequests = [];
  page.on("request", (r) => r.url().endsWith("/SelectSeries") && seriesRequests.push(JSON.parse(r.postData())));
  const all = await openExplore(page, ctx, SERVICE);
  const selection = selectionOf(hashState(page).params);
  const request = seriesRequests.at(-1);
  assert.equal(request?.exemplarType, "EXEMPLAR_TYPE_INDIVIDUAL", "the chart asks for exemplars");
  const series = await rpc(ctx.baseUrl, "SelectSeries", request);
  const exemplars = new Map(series.series.flatMap((s) => s.points.map((p) => [p.exemplars[0].profileId, Number(p.exemplars[0].value)])));
  assert.ok(exemplars.size > 1, `${SERVICE} should have profiles at several times, the API's series has ${exemplars.size} exemplars`);

  const chart = page.locator(`${byTestId("timeseries")} .u-over`);
  const box = await chart.boundingBox();
  await chart.click({ position: { x: box.width * 0.5, y: box.height * 0.5 } });
  const id = await waitInPage(page, "the URL to name a profile after a click on the chart", () => new URLSearchParams(location.hash.split("?")[1]).get("profile"));
  assert.equal(await page.getAttribute(byTestId("picked-profile"), "data-profile-id"), id, "the chip names the profile in the URL");

  const one = decodeFlamegraph((await rpc(ctx.baseUrl, "SelectMergeStacktraces", { ...selection, profileIdSelector: [id] })).flamegraph);
  assert.ok(one.total > 0 && one.total < all.total, `the picked profile totals ${one.total}, the selection ${all.total}`);
  await waitForGraph(page, "flamegraph", { total: one.total });
  assert.equal(one.total, exemplars.get(id), "the picked profile's total vs its exemplar's value in the chart's series");
  await screenshot(page, ctx, "explore-one-profile");

  await page.click(byTestId("picked-profile-clear"));
  await waitForGraph(page, "flamegraph", { total: all.total });
  assert.equal(hashState(page).params.get("profile"), null, "× takes the profile out of the URL");
});

session.test("a reload restores the view from the URL", async (page) => {
  await openExplore(page, ctx, SERVICE);
  // A type other than the one Explore opens with, and a search: only the URL can bring them back.
  const initial = await valueOf(page, "profile-type");
  const types = await page.$$eval(`${byTestId("profile-type")} option`, (options) => options.map((o) => o.value));
  const other = types.find((t) => t !== initial);
  assert.ok(other, `${SERVICE} should offer two profile types, the picker offers ${types.join(", ")}`);
  await page.selectOption(byTestId("profile-type"), other);
  await waitInPage(page, `the URL to hold type=${other}`, (t) => new URLSearchParams(location.hash.split("?")[1]).get("type") === t, other);
  const api = await apiGraphOf(page, ctx);
  const shown = await waitForGraph(page, "flamegraph", { total: api.total });
  await page.fill(byTestId("search"), "main");
  await waitInPage(page, "the URL to hold the search", () => new URLSearchParams(location.hash.split("?")[1]).get("search") === "main");
  const hash = new URL(page.url()).hash;

  await page.reload();
  const restored = await waitForGraph(page);
  assert.equal(new URL(page.url()).hash, hash, "the URL after the reload");
  assert.equal(await valueOf(page, "service"), SERVICE, "the service after the reload");
  assert.equal(await valueOf(page, "profile-type"), other, "the profile type after the reload");
  assert.equal(await valueOf(page, "search"), "main", "the search after the reload");
  assert.equal(restored.total, shown.total, "the flame graph's total after the reload");
});

session.test("a selection without data shows the empty state, a malformed filter the error state", async (page) => {
  const explore = (query) =>
    `${ctx.baseUrl}/#/explore?${new URLSearchParams({ service: SERVICE, type: ctx.cpuType, query })}`;
  await page.goto(explore('{env="nowhere"}'));
  await waitInPage(page, "the empty state for a filter nothing matches", (s) => document.querySelector(s), byTestId("empty"));
  await page.goto(explore("env=prod"));
  await waitInPage(page, "the error state for a filter without braces and quotes", (s) => document.querySelector(s), byTestId("error"));
});
