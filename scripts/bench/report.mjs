// Formatting helpers shared by the bench sections.

import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { ROOT } from "./server.mjs";

export const RESULTS_DIR = path.join(ROOT, "bench-results");

export const mb = (bytes) => bytes / 1e6;
export const mib = (bytes) => (bytes / 1024 / 1024).toFixed(1);

/** Fixed-point with a sensible number of decimals for the magnitude. */
export function num(x, digits) {
  if (x === null || x === undefined || Number.isNaN(x)) return "n/a";
  if (digits !== undefined) return x.toFixed(digits);
  const a = Math.abs(x);
  return x.toFixed(a >= 100 ? 0 : a >= 10 ? 1 : 2);
}

export const verdict = (pass) => (pass === null ? "n/a" : pass ? "PASS" : "MISS");

/** A plain-text table: rows of cells, first row is the header. */
export function textTable(rows) {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => String(r[c]).length)));
  const line = (r) => r.map((cell, c) => String(cell).padEnd(widths[c])).join("  ").trimEnd();
  return [line(rows[0]), widths.map((w) => "-".repeat(w)).join("  "), ...rows.slice(1).map(line)].join("\n");
}

/** A Markdown table: rows of cells, first row is the header. */
export function markdownTable(rows) {
  const line = (r) => `| ${r.map((c) => String(c).replaceAll("|", "\\|")).join(" | ")} |`;
  return [line(rows[0]), `|${rows[0].map(() => "---").join("|")}|`, ...rows.slice(1).map(line)].join("\n");
}

export function writeJson(name, data) {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = path.join(RESULTS_DIR, name);
  writeFileSync(file, `${JSON.stringify(data, null, 2)}\n`);
  return file;
}

/** "done/total" progress on one line on a terminal, every few seconds otherwise. */
export function progressPrinter(label) {
  const tty = process.stdout.isTTY;
  let last = -Infinity;
  return (done, total, seconds, final = false) => {
    const text = `  ${label}: ${done}/${total} requests, ${seconds.toFixed(1)} s`;
    if (tty) {
      process.stdout.write(`\r\x1b[K${text}`);
      if (final) process.stdout.write("\n");
    } else if (final || seconds - last >= 3) {
      last = seconds;
      console.log(text);
    }
  };
}

/** A target: its comparison, threshold, measured value and whether it is met (null: not measured). */
export function target(op, threshold, value) {
  const met = { ">=": value >= threshold, "<=": value <= threshold, "<": value < threshold }[op];
  return { op, threshold, value, pass: value === null || Number.isNaN(value) ? null : met };
}

/** What the figures were measured on. */
export function environment() {
  let wrangler = "";
  try {
    wrangler = JSON.parse(readFileSync(path.join(ROOT, "node_modules", "wrangler", "package.json"), "utf8")).version;
  } catch {
    // not installed: the run would have failed earlier
  }
  return { node: process.version, platform: `${process.platform} ${process.arch}`, wrangler, cpus: os.availableParallelism?.() ?? os.cpus().length };
}
