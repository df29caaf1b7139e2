// What every UI test file shares: the context scripts/ui-test.mjs prepared (the local stack's URL,
// the Chromium it launched, the profiles it ingested), one browser page per file, screenshots, and
// a test wrapper that keeps evidence of failures (a screenshot, the page's own errors).

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { chromium } from "playwright-core";

/** The viewport every screenshot and every pixel check is made at. */
const VIEWPORT = { width: 1400, height: 1000 };

/**
 * Written by scripts/ui-test.mjs: { baseUrl, wsEndpoint (its Chromium), artifactsDir, services
 * (every service ingested), cpuType, expected (each CPU service's ingested cpu total, a string) }.
 */
export function uiContext() {
  const file = process.env.UI_CONTEXT;
  if (!file) {
    throw new Error(
      "these tests need the local stack, the ingested profiles and the Chromium that scripts/ui-test.mjs prepares: " +
        "run `node scripts/ui-test.mjs` (or `npm test`), not `node --test` directly",
    );
  }
  return JSON.parse(readFileSync(file, "utf8"));
}

export async function screenshot(page, ctx, name) {
  const file = path.join(ctx.artifactsDir, `${name}.png`);
  // Finished transitions, so that a screenshot taken just after a theme switch shows the theme.
  await page.screenshot({ path: file, fullPage: true, animations: "disabled" });
  return file;
}

/**
 * Registers before/after hooks that connect to the runner's Chromium and open one page (light
 * colour scheme, fixed viewport), and returns { ctx, page (once before has run), test }. `test`
 * is node:test's, plus: the page must raise no uncaught error during the test, and a failing test
 * leaves `failed-<name>.png` and the page's errors in its message.
 */
export function browserSession() {
  const ctx = uiContext();
  const session = { ctx, page: null };
  let browser;
  const pageErrors = [];
  const consoleErrors = [];

  before(async () => {
    browser = await chromium.connect(ctx.wsEndpoint);
    const context = await browser.newContext({ viewport: VIEWPORT, deviceScaleFactor: 1, colorScheme: "light" });
    session.page = await context.newPage();
    // Fail fast with the page's state in the message (see dashboard.mjs) rather than after 30 s.
    session.page.setDefaultTimeout(15_000);
    session.page.on("pageerror", (err) => pageErrors.push(err.stack ?? String(err)));
    session.page.on("console", (msg) => msg.type() === "error" && consoleErrors.push(msg.text()));
  });
  after(() => browser?.close());

  session.test = (name, fn) =>
    test(name, { timeout: 90_000 }, async () => {
      const errorsBefore = pageErrors.length;
      const consoleBefore = consoleErrors.length;
      try {
        await fn(session.page);
        assert.deepEqual(pageErrors.slice(errorsBefore), [], "the page raised uncaught errors");
      } catch (err) {
        const file = await screenshot(session.page, ctx, `failed-${name.replace(/[^\w]+/g, "-").slice(0, 60)}`).catch(() => null);
        const notes = [
          `url: ${session.page.url()}`,
          file && `screenshot: ${path.relative(process.cwd(), file)}`,
          ...pageErrors.slice(errorsBefore).map((e) => `page error: ${e}`),
          ...consoleErrors.slice(consoleBefore).map((e) => `console error: ${e}`),
        ].filter(Boolean);
        err.message += `\n  ${notes.join("\n  ")}`;
        throw err;
      }
    });
  return session;
}
