// The theme toggle: light and dark switch `data-theme` on <html>, change the page's colours, and
// the choice survives a reload.

import { byTestId, openExplore, waitForGraph, waitInPage } from "./lib/dashboard.mjs";
import { browserSession, screenshot } from "./lib/session.mjs";

const session = browserSession();
const { ctx } = session;

const background = (page) => page.evaluate(() => getComputedStyle(document.body).backgroundColor);
const waitForTheme = (page, theme, after) =>
  waitInPage(page, `data-theme="${theme}" on <html> ${after}`, (t) => document.documentElement.dataset.theme === t, theme);

session.test("the theme toggle switches between light and dark, and a reload keeps the choice", async (page) => {
  await openExplore(page, ctx, "ui-inventory");
  // The browser prefers a light scheme and nothing is saved yet.
  await waitForTheme(page, "light", "on a first visit with a light system preference");
  const light = await background(page);

  await page.click(byTestId("theme-toggle"));
  await waitForTheme(page, "dark", "after a click on the toggle");
  // Allow for a colour transition: the background must end up different.
  await waitInPage(page, "the page's background to change with the theme", (bg) => getComputedStyle(document.body).backgroundColor !== bg, light);
  await waitForGraph(page);
  await screenshot(page, ctx, "explore-dark");

  await page.reload();
  await waitForGraph(page);
  await waitForTheme(page, "dark", "after a reload");

  await page.click(byTestId("theme-toggle"));
  await waitForTheme(page, "light", "after a second click on the toggle");
  await waitInPage(page, "the light background to come back", (bg) => getComputedStyle(document.body).backgroundColor === bg, light);
});
