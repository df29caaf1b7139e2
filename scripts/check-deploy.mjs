#!/usr/bin/env node
// Part of `npm test`: `wrangler deploy --dry-run` must bundle the Worker with every binding the
// code expects, small enough to upload. Catches what the workerd tests cannot: configuration and
// bundling for a real deployment.

import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const wrangler = path.join(root, "node_modules", "wrangler", "bin", "wrangler.js");
// Workers' compressed script size limit on the Free plan (the paid limit is 10 MiB).
const MAX_GZIP_BYTES = 3 * 1024 * 1024;
const BINDINGS = ["env.INGESTER (Ingester)", "env.MERGER (Merger)", "env.TENANT (Tenant)", "env.DB", "env.BLOCKS", "env.ASSETS"];

const out = mkdtempSync(path.join(os.tmpdir(), "dry-run-"));
try {
  const run = spawnSync(process.execPath, [wrangler, "deploy", "--dry-run", "--outdir", out], {
    cwd: root,
    encoding: "utf8",
    env: { ...process.env, CI: "true", WRANGLER_SEND_METRICS: "false" },
  });
  const text = `${run.stdout}\n${run.stderr}`;
  if (run.status !== 0) fail(`wrangler deploy --dry-run exited with ${run.status}:\n${text}`);
  const missing = BINDINGS.filter((b) => !text.includes(b));
  if (missing.length) fail(`wrangler deploy --dry-run does not list the bindings ${missing.join(", ")}; check wrangler.toml:\n${text}`);
  const bundle = readdirSync(out).filter((f) => f.endsWith(".js")).map((f) => path.join(out, f));
  if (bundle.length === 0) fail(`no bundle written to ${out}`);
  const gz = bundle.reduce((n, f) => n + gzipSync(readFileSync(f)).length, 0);
  const raw = bundle.reduce((n, f) => n + statSync(f).size, 0);
  if (gz > MAX_GZIP_BYTES) fail(`the bundle is ${gz} bytes gzipped, over the ${MAX_GZIP_BYTES}-byte upload limit`);
  console.log(`wrangler deploy --dry-run: ok (bundle ${(raw / 1024).toFixed(0)} KiB, ${(gz / 1024).toFixed(0)} KiB gzipped; bindings ${BINDINGS.length}/${BINDINGS.length})`);
} finally {
  rmSync(out, { recursive: true, force: true });
}

function fail(message) {
  console.error(`check-deploy: ${message}`);
  rmSync(out, { recursive: true, force: true });
  process.exit(1);
}
