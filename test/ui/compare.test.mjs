// Compare: Explore's selection carried over by the nav link, then two different selections of one
// service (env=prod against env=staging, last hour) drawn as a diff flame graph that totals the
// API's Diff and colours grown and shrunk frames.

import assert from "node:assert/strict";
import { rpc } from "./lib/api.mjs";
import { byTestId, canvasImage, hashState, openExplore, selectionOf, waitForGraph, waitInPage } from "./lib/dashboard.mjs";
import { browserSession, screenshot } from "./lib/session.mjs";

const session = browserSession();
const { ctx } = session;
const SERVICE = "ui-checkout";

session.test("the compare view renders a diff flame graph of two selections", async (page) => {
  await openExplore(page, ctx, SERVICE);
  await page.click(byTestId("nav-compare"));
  await waitInPage(page, "the compare view", (s) => document.querySelector(s), byTestId("compare"));
  const carried = await waitForGraph(page, "diff-flamegraph");
  assert.ok(carried.renderedNodes > 0);
  const { view, params } = hashState(page);
  assert.equal(view, "compare");
  assert.equal(params.get("leftService"), SERVICE, "the left side is Explore's service");
  assert.equal(params.get("rightService"), SERVICE, "the right side is Explore's service");

  // Both sides over the last hour, so that only the label filter tells them apart.
  for (const side of ["left", "right"]) {
    params.set(`${side}From`, "now-1h");
    params.set(`${side}Until`, "now");
  }
  params.set("leftQuery", '{env="prod"}');
  params.set("rightQuery", '{env="staging"}');
  await page.goto(`${ctx.baseUrl}/#/compare?${params}`);
  const left = selectionOf(params, "left");
  const right = selectionOf(params, "right");
  const api = await rpc(ctx.baseUrl, "Diff", { left, right });
  const total = Number(api.flamegraph?.total ?? 0);
  assert.ok(Number(api.flamegraph?.leftTicks ?? 0) > 0 && Number(api.flamegraph?.rightTicks ?? 0) > 0, `the API's Diff has an empty side: ${JSON.stringify({ left, right })}`);
  const diff = await waitForGraph(page, "diff-flamegraph", { total });
  assert.ok(diff.renderedNodes > 1, `the diff flame graph drew ${diff.renderedNodes} nodes`);
  const image = await canvasImage(page, "diff-flamegraph");
  assert.ok(image.painted > image.pixels * 0.02 && image.colors >= 3, `the diff canvas looks blank: ${image.painted} of ${image.pixels} pixels painted, ${image.colors} colours`);
  // Staging runs only one of prod's programs: some functions' shares grew, others shrank.
  assert.ok(image.reddish > 100 && image.greenish > 100, `the diff shows no change: ${image.reddish} red and ${image.greenish} green pixels (grew/shrank)`);
  await screenshot(page, ctx, "compare");
});
