#!/usr/bin/env node
// Builds the dashboard (web/ → web/dist, the Worker's static assets) unless web/dist already holds
// the build of the current sources. wrangler.toml's [build] runs it before every `wrangler deploy`
// (dry runs too) and `wrangler dev` (so `npm start`), so a fresh clone deploys without a prior
// build; vitest.config.ts runs it because the test pool needs the assets directory. Each skips the
// vite build when nothing changed.
// `--force` builds regardless (`npm run build:web`).
//
// Freshness: a SHA-256 of every file under web/ (except web/dist) and of package-lock.json (the
// vite and preact versions), recorded with the size of each output file in web/.dist-stamp.json
// (outside web/dist, so it is never uploaded as an asset). A deleted or altered output file makes
// the build stale as well.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const web = path.join(root, "web");
const dist = path.join(web, "dist");
const stampFile = path.join(web, ".dist-stamp.json");
const SKIP = new Set([dist, stampFile, path.join(web, "node_modules")]);

/** Files under `dir` as sorted paths relative to `base`, without the SKIP entries. */
function listFiles(dir, base, skip = SKIP) {
  const out = [];
  const pending = [dir];
  while (pending.length > 0) {
    const d = pending.pop();
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (skip.has(p)) continue;
      if (e.isDirectory()) pending.push(p);
      else if (e.isFile()) out.push(path.relative(base, p));
    }
  }
  return out.sort();
}

function sourceHash() {
  const h = createHash("sha256");
  const inputs = [...listFiles(web, root), "package-lock.json"];
  for (const rel of inputs) {
    const file = path.join(root, rel);
    // Names and lengths delimit the contents: a file renamed or split changes the hash.
    const bytes = existsSync(file) ? readFileSync(file) : Buffer.alloc(0);
    h.update(`${rel}\0${bytes.length}\0`).update(bytes);
  }
  return h.digest("hex");
}

function outputSizes() {
  return Object.fromEntries(listFiles(dist, dist, new Set()).map((rel) => [rel, statSync(path.join(dist, rel)).size]));
}

function isFresh(hash) {
  if (!existsSync(stampFile) || !existsSync(dist)) return false;
  let stamp;
  try {
    stamp = JSON.parse(readFileSync(stampFile, "utf8"));
  } catch {
    return false;
  }
  if (stamp.hash !== hash || !stamp.files || !stamp.files["index.html"]) return false;
  const now = outputSizes();
  const names = Object.keys(stamp.files);
  return names.length === Object.keys(now).length && names.every((n) => now[n] === stamp.files[n]);
}

const hash = sourceHash();
if (!process.argv.includes("--force") && isFresh(hash)) {
  console.log("web/dist is the build of the current web/ sources; not rebuilding (npm run build:web forces it).");
} else {
  console.log("Building the dashboard (web/ → web/dist)...");
  const vite = path.join(root, "node_modules", "vite", "bin", "vite.js");
  const build = spawnSync(process.execPath, [vite, "build", "web", "--logLevel", "warn"], { cwd: root, stdio: ["ignore", "inherit", "inherit"] });
  if (build.status !== 0) {
    console.error("The dashboard build failed; fix the error above and retry.");
    process.exit(build.status ?? 1);
  }
  writeFileSync(stampFile, `${JSON.stringify({ hash, files: outputSizes() }, null, 1)}\n`);
}
