#!/usr/bin/env node
// `npm start [-- <wrangler dev flags>]`: applies the D1 migrations to the local state, then runs
// `wrangler dev` with local Durable Objects, R2 and D1 persisted under the project (wrangler.toml's
// [build] builds the dashboard first when web/ changed). The default
// address (127.0.0.1:4040, Pyroscope's port) lives in wrangler.toml's [dev] section so that
// `--port`/`--ip` passed here override it without wrangler refusing a repeated flag.
import { spawn, spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const wrangler = path.join(root, "node_modules", "wrangler", "bin", "wrangler.js");
const args = process.argv.slice(2);

const persistAt = args.indexOf("--persist-to");
const persistArgs = persistAt >= 0 ? ["--persist-to", args[persistAt + 1]] : [];

console.log("Applying D1 migrations to the local catalog...");
const migrate = spawnSync(
  process.execPath,
  [wrangler, "d1", "migrations", "apply", "DB", "--local", ...persistArgs],
  { cwd: root, stdio: ["ignore", "inherit", "inherit"], env: { ...process.env, CI: "true" } },
);
if (migrate.status !== 0) {
  console.error("D1 migrations failed; fix the error above (or delete .wrangler/state to start afresh) and retry.");
  process.exit(migrate.status ?? 1);
}

// Local development runs open and without ingestion limits (rate, series), unless the caller sets them:
// a deployed Worker's defaults (wrangler.toml, workers/config.ts) require tokens and limit rates.
const setVars = new Set(args.flatMap((a, i) => (args[i - 1] === "--var" ? [a.split(":")[0]] : [])));
const localDefaults = { AUTH_MODE: "open", INGESTION_RATE_BYTES: "0", MAX_SERIES_PER_TENANT: "0" };
const extra = Object.entries(localDefaults).flatMap(([k, v]) => (setVars.has(k) ? [] : ["--var", `${k}:${v}`]));

const port = args.includes("--port") ? args[args.indexOf("--port") + 1] : "4040";
console.log(
  `Starting the service on http://127.0.0.1:${port} (ingest: /ingest, /push.v1.PusherService/Push; query: /querier.v1.QuerierService, /pyroscope/render; limits: /config).`,
);
if (!setVars.has("AUTH_MODE")) {
  console.log(
    "OPEN MODE: no authentication; X-Scope-OrgID picks the tenant (default 'anonymous'). " +
      "Pass `-- --var AUTH_MODE:required` (and ADMIN_TOKEN in .dev.vars) to require tokens as a deployed Worker does.",
  );
}
const dev = spawn(process.execPath, [wrangler, "dev", ...extra, ...args], { cwd: root, stdio: "inherit" });
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => dev.kill(sig));
dev.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
