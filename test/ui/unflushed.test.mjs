// Read-your-writes in the dashboard: on a stack of its own that flushes only after an hour, a
// profile pushed a moment ago is on the services page with its profile types and counts, Explore
// offers its types and label names and values, and draws its flame graph — all from the
// ingester's buffer, which the test checks still holds every profile at the end.

import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before } from "node:test";
import { gunzipSync, gzipSync } from "node:zlib";
import { Profile } from "pprof-format";
import { freePort, ROOT, serviceArgs, startStack } from "../../scripts/bench/server.mjs";
import { getJson } from "./lib/api.mjs";
import { byTestId, canvasImage, hashState, openServices, valueOf, waitForGraph, waitInPage } from "./lib/dashboard.mjs";
import { browserSession, screenshot } from "./lib/session.mjs";

const session = browserSession();
const TESTDATA = path.resolve(ROOT, process.env.TESTDATA_DIR || "../shared/testdata");
const SERVICE = "ui-unflushed";
/** A Go CPU profile with string labels (foo, function) beside its profile_id exemplars. */
const FILE = "cpu-exemplars.pb.gz";
/** Longer than the test takes by far: nothing this stack shows has been flushed. */
const FLUSH_MAX_AGE_MS = 3_600_000;

let stack;
let stateDir;
/** The pushed profile's facts, computed from the file. */
let sent;
/** The runner's context, pointed at this file's stack. */
let ctx;

/**
 * What the service makes of a Go CPU pprof: one profile type per sample type (`process_cpu` is
 * the name Pyroscope gives Go CPU profiles), its total per type, one profile per type and distinct
 * set of string labels (profile_id stays on samples), and each label's values.
 */
function factsOf(p) {
  const s = (i) => String(p.stringTable.strings[Number(i)]);
  const period = `${s(p.periodType.type)}:${s(p.periodType.unit)}`;
  const types = p.sampleType.map((t) => `process_cpu:${s(t.type)}:${s(t.unit)}:${period}`);
  const totals = new Map(types.map((t, i) => [t, p.sample.reduce((sum, smp) => sum + Number(smp.value[i]), 0)]));
  const sets = new Set();
  const labels = new Map();
  for (const smp of p.sample) {
    const pairs = smp.label.filter((l) => Number(l.str) !== 0 && s(l.key) !== "profile_id").map((l) => [s(l.key), s(l.str)]);
    sets.add(JSON.stringify(pairs.sort()));
    for (const [k, v] of pairs) labels.set(k, (labels.get(k) ?? new Set()).add(v));
  }
  return { types: [...types].sort(), totals, profiles: sets.size * types.length, labels };
}

async function serviceRecord() {
  const { services } = await getJson(stack.url, "/api/services");
  return services.find((x) => x.service === SERVICE);
}

before(async () => {
  stateDir = mkdtempSync(path.join(os.tmpdir(), "ui-unflushed-"));
  const port = await freePort();
  stack = await startStack({
    name: "unflushed stack",
    // wrangler.toml's [build] finds web/dist current (the runner built it) and leaves it alone.
    args: [...serviceArgs(port, path.join(stateDir, "state"), [`FLUSH_MAX_AGE_MS:${FLUSH_MAX_AGE_MS}`])],
    port,
    logFile: path.join(session.ctx.artifactsDir, "unflushed-stack.log"),
    timeoutMs: 180_000,
  });
  ctx = { ...session.ctx, baseUrl: stack.url, services: [SERVICE], expected: {} };

  const profile = Profile.decode(gunzipSync(readFileSync(path.join(TESTDATA, "pprof", FILE))));
  profile.timeNanos = BigInt(Date.now() - 5 * 60_000) * 1_000_000n;
  sent = factsOf(profile);
  const res = await fetch(`${stack.url}/ingest?name=${encodeURIComponent(`${SERVICE}{env=prod}`)}&format=pprof&spyName=gospy`, {
    method: "POST",
    body: gzipSync(profile.encode()),
  });
  assert.equal(res.status, 200, `the push was refused: ${await res.text()}`);
});

after(async () => {
  await stack?.stop();
  if (stateDir) rmSync(stateDir, { recursive: true, force: true });
});

session.test("a service pushed a moment ago is listed with its types and counts, not flushed", async (page) => {
  const record = await serviceRecord();
  assert.ok(record, `${SERVICE} is not in /api/services`);
  assert.deepEqual(record.profileTypes, sent.types, "profile types listed vs pushed");
  assert.equal(record.profiles, sent.profiles, "profiles listed vs pushed");
  assert.equal(record.buffered.profiles, record.profiles, "every profile listed is still in the ingester's buffer");

  await openServices(page, ctx);
  const rows = await page.$$eval(`${byTestId("services-table")} [data-testid="service-row"]`, (r) => r.map((e) => e.dataset.service));
  assert.deepEqual(rows, [SERVICE]);
  const row = `[data-testid="service-row"][data-service="${SERVICE}"]`;
  const tags = await page.$$eval(`${row} .types a.tag`, (a) => a.map((e) => e.title));
  assert.deepEqual([...tags].sort(), sent.types, "the row's profile type links");
  const counts = await page.$eval(`${row} ${byTestId("service-profiles")}`, (e) => ({ profiles: Number(e.dataset.profiles), buffered: Number(e.dataset.buffered), text: e.textContent.trim() }));
  assert.deepEqual(counts, { profiles: sent.profiles, buffered: sent.profiles, text: String(sent.profiles) });
  assert.equal(await page.locator(`${row}`).getByText("pending first flush").count(), 0);
  await screenshot(page, ctx, "unflushed-services");
});

session.test("Explore offers its types, label names and values and draws its flame graph", async (page) => {
  await openServices(page, ctx);
  await page.locator(`[data-testid="service-row"][data-service="${SERVICE}"] a[data-testid="open-explore"]`).click();
  const { params } = hashState(page);
  const type = params.get("type");
  assert.ok(sent.types.includes(type), `the row links to type ${type}, not one of ${sent.types.join(", ")}`);
  const graph = await waitForGraph(page, "flamegraph", { total: sent.totals.get(type) });
  assert.ok(graph.renderedNodes > 1, `${graph.renderedNodes} nodes drawn`);
  const image = await canvasImage(page);
  assert.ok(image.painted > image.pixels * 0.02 && image.colors >= 3, `the canvas looks blank: ${image.painted} of ${image.pixels} pixels painted, ${image.colors} colours`);

  assert.equal(await valueOf(page, "profile-type"), type);
  const offered = await page.$$eval(`${byTestId("profile-type")} option`, (o) => o.map((e) => e.value));
  assert.deepEqual([...offered].sort(), sent.types, "the profile type picker's options");

  const names = await waitInPage(
    page,
    "the label filter's names",
    ({ selector, want }) => {
      const have = [...document.querySelectorAll(`${selector} option`)].map((o) => o.value);
      return want.every((n) => have.includes(n)) && have;
    },
    { selector: byTestId("label-filter-name"), want: ["env", ...sent.labels.keys()] },
  );
  assert.ok(names.includes("function"), names.join(", "));
  await page.selectOption(byTestId("label-filter-name"), "function");
  const values = await waitInPage(
    page,
    "the values of label function",
    (id) => {
      const v = [...document.querySelectorAll(`#${id} option`)].map((o) => o.value);
      return v.length > 0 && v;
    },
    "label-filter-values",
  );
  assert.deepEqual([...values].sort(), [...sent.labels.get("function")].sort(), "the values offered for function");
  await screenshot(page, ctx, "unflushed-explore");

  // Everything above came from the buffer: the ingester has not flushed.
  const record = await serviceRecord();
  assert.equal(record.buffered.profiles, sent.profiles, "profiles still buffered at the end");
});
