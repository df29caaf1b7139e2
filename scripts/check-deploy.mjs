#!/usr/bin/env node
// Part of `npm test`: `wrangler deploy --dry-run` on a fresh clone must build the dashboard
// itself (wrangler.toml [build]) and bundle the Worker with every binding the code expects, small
// enough to upload. Catches what the workerd tests cannot: configuration and bundling for a real
// deployment from what a newcomer gets, without this checkout's web/dist or .wrangler state.
//
// The clone is of HEAD (CI runs in a fresh clone of a commit, so there they are the same);
// uncommitted changes are not part of it, and the output says so. It shares this checkout's git
// objects and node_modules (a symlink), so it costs a checkout of the tracked files.

import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
// Workers' compressed script size limit on the Free plan (the paid limit is 10 MiB).
const MAX_GZIP_BYTES = 3 * 1024 * 1024;
const BINDINGS = [
  "env.INGESTER (Ingester)",
  "env.MERGER (Merger)",
  "env.TENANT (Tenant)",
  "env.COMPACTOR (Compactor)",
  "env.DB",
  "env.BLOCKS",
  "env.ASSETS",
];
/** What a checkout may hold that a fresh clone does not: builds, local state, reports. */
const UNTRACKED = new Set(["node_modules", ".wrangler", ".state", "bench-results", "test-artifacts", ".dev.vars", path.join("web", "dist"), path.join("web", ".dist-stamp.json")]);

const tmp = mkdtempSync(path.join(os.tmpdir(), "check-deploy-"));
const clone = path.join(tmp, "clone");
const out = path.join(tmp, "out");
try {
  const started = performance.now();
  const origin = makeClone();
  symlinkSync(path.join(root, "node_modules"), path.join(clone, "node_modules"), "dir");
  if (existsSync(path.join(clone, "web", "dist"))) fail(`${clone} has a web/dist before the dry run; the check would prove nothing`);
  const prepared = performance.now();

  const wrangler = path.join(clone, "node_modules", "wrangler", "bin", "wrangler.js");
  const run = spawnSync(process.execPath, [wrangler, "deploy", "--dry-run", "--outdir", out], {
    cwd: clone,
    encoding: "utf8",
    env: { ...process.env, CI: "true", WRANGLER_SEND_METRICS: "false" },
  });
  const text = `${run.stdout}\n${run.stderr}`;
  if (run.status !== 0) fail(`wrangler deploy --dry-run on a fresh clone exited with ${run.status}:\n${text}`);
  const missing = BINDINGS.filter((b) => !text.includes(b));
  if (missing.length) fail(`wrangler deploy --dry-run does not list the bindings ${missing.join(", ")}; check wrangler.toml:\n${text}`);
  const assets = /Read (\d+) files? from the assets directory/.exec(text);
  if (!assets || Number(assets[1]) === 0 || !existsSync(path.join(clone, "web", "dist", "index.html"))) {
    fail(`the dry run did not build the dashboard into web/dist (wrangler.toml [build]):\n${text}`);
  }
  const bundle = readdirSync(out).filter((f) => f.endsWith(".js")).map((f) => path.join(out, f));
  if (bundle.length === 0) fail(`no bundle written to ${out}`);
  const gz = bundle.reduce((n, f) => n + gzipSync(readFileSync(f)).length, 0);
  const raw = bundle.reduce((n, f) => n + statSync(f).size, 0);
  if (gz > MAX_GZIP_BYTES) fail(`the bundle is ${gz} bytes gzipped, over the ${MAX_GZIP_BYTES}-byte upload limit`);
  const done = performance.now();
  console.log(
    `wrangler deploy --dry-run on a fresh clone of ${origin}: ok (dashboard built, ${assets[1]} asset files; ` +
      `bundle ${(raw / 1024).toFixed(0)} KiB, ${(gz / 1024).toFixed(0)} KiB gzipped; bindings ${BINDINGS.length}/${BINDINGS.length}; ` +
      `clone ${((prepared - started) / 1000).toFixed(1)} s, build and dry run ${((done - prepared) / 1000).toFixed(1)} s)`,
  );
} finally {
  rmSync(tmp, { recursive: true, force: true });
}

/** Clones HEAD into `clone` and describes what was cloned; outside git, copies the tracked-looking files. */
function makeClone() {
  const git = (...args) => spawnSync("git", args, { cwd: root, encoding: "utf8" });
  const head = git("rev-parse", "HEAD");
  if (head.status !== 0) {
    cpSync(root, clone, { recursive: true, filter: (src) => !UNTRACKED.has(path.relative(root, src)) });
    return `${root} (not a git checkout: copied without its builds and local state)`;
  }
  const sha = head.stdout.trim();
  // --shared borrows this repository's objects instead of copying them; the checkout is detached at HEAD.
  const cloned = spawnSync("git", ["clone", "--quiet", "--shared", "--no-checkout", root, clone], { encoding: "utf8" });
  if (cloned.status !== 0) fail(`git clone ${root} failed:\n${cloned.stderr}`);
  const checkout = spawnSync("git", ["checkout", "--quiet", "--detach", sha], { cwd: clone, encoding: "utf8" });
  if (checkout.status !== 0) fail(`git checkout ${sha} in the clone failed:\n${checkout.stderr}`);
  const subject = git("log", "-1", "--format=%s", sha).stdout.trim();
  const dirty = git("status", "--porcelain", "--untracked-files=normal").stdout.split("\n").filter(Boolean).length;
  const note = dirty ? `; ${dirty} uncommitted change${dirty === 1 ? "" : "s"} in ${root} not included` : "";
  return `HEAD ${sha.slice(0, 12)} "${subject.length > 60 ? `${subject.slice(0, 57)}...` : subject}"${note}`;
}

function fail(message) {
  console.error(`check-deploy: ${message}`);
  rmSync(tmp, { recursive: true, force: true });
  process.exit(1);
}
