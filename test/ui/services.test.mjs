// The services page: the start page lists every service that was ingested, each with a way into
// Explore.

import assert from "node:assert/strict";
import { byTestId, openServices } from "./lib/dashboard.mjs";
import { browserSession, screenshot } from "./lib/session.mjs";

const session = browserSession();
const { ctx } = session;

session.test("the services page lists every ingested service, each with a link into Explore", async (page) => {
  await openServices(page, ctx);
  const listed = await page.$$eval(`${byTestId("services-table")} [data-testid="service-row"]`, (rows) => rows.map((r) => r.dataset.service));
  // The stack started empty: the table holds exactly what the runner ingested.
  assert.deepEqual([...listed].sort(), [...ctx.services].sort(), "services listed vs ingested");
  for (const service of ctx.services) {
    const row = `[data-testid="service-row"][data-service="${service}"]`;
    assert.ok(await page.locator(`${row} a, ${row} button`).count(), `the row of ${service} has no link or button into Explore`);
  }
  await screenshot(page, ctx, "services");
});
