import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";
import { jdkRecordings } from "./test/jfr/record.mjs";

// The pool reads wrangler.toml, whose [assets] directory must exist: build the dashboard when
// web/dist is missing or stale (a fresh clone running one test file), a no-op otherwise.
if (spawnSync(process.execPath, ["scripts/build-web.mjs"], { cwd: import.meta.dirname, stdio: "inherit" }).status !== 0) {
  throw new Error("the dashboard build (scripts/build-web.mjs) failed; see above");
}

// Real profiles live beside the repository (../shared/testdata). workerd has no host file system,
// so tests read them through a service binding that Node answers from disk.
const TESTDATA_DIR = path.resolve(import.meta.dirname, process.env.TESTDATA_DIR ?? "../shared/testdata");

function serveTestdata(request: Request): Response {
  const rel = decodeURIComponent(new URL(request.url).pathname).replace(/^\/+/, "");
  const file = path.resolve(TESTDATA_DIR, rel);
  if (!file.startsWith(TESTDATA_DIR + path.sep) && file !== TESTDATA_DIR) {
    return new Response("outside testdata", { status: 403 });
  }
  if (!fs.existsSync(file)) return new Response(`no such test file: ${rel}`, { status: 404 });
  if (fs.statSync(file).isDirectory()) return Response.json(fs.readdirSync(file).sort());
  return new Response(fs.readFileSync(file));
}

// Two projects with one service configuration each: the open service (AUTH_MODE=open, as `npm
// start` runs it) for everything, and the authenticated one (a deployed Worker's defaults) for the
// tenancy and token tests.
const AUTH_TESTS = ["test/auth*.test.ts"];
const ADMIN_TOKEN = "test-admin-token-0123456789";

async function project(name: string, include: string[], exclude: string[], bindings: Record<string, string>) {
  return {
    plugins: [
      cloudflareTest({
        main: "./workers/index.ts",
        wrangler: { configPath: "./wrangler.toml" },
        miniflare: {
          bindings: {
            TEST_MIGRATIONS: await readD1Migrations(path.join(import.meta.dirname, "migrations")),
            // The shared corpus holds profiles from 2021 onwards: accept and query any age in tests.
            RETENTION_SECONDS: "0",
            MAX_QUERY_LOOKBACK_SECONDS: "0",
            // Small enough that the over-limit test does not allocate 256 MiB.
            INGESTION_BODY_LIMIT_BYTES: String(8 * 1024 * 1024),
            ...bindings,
          },
          // HotSpot's own JFR recordings, made on first use by the local JDK (test/jfr/record.mjs).
          serviceBindings: { TESTDATA: serveTestdata, JDK_JFR: jdkRecordings(import.meta.dirname) },
        },
      }),
    ],
    test: {
      name,
      include,
      exclude,
      setupFiles: ["./test/setup/apply-migrations.ts"],
      testTimeout: 60_000,
    },
  };
}

export default defineConfig(async () => ({
  test: {
    projects: [
      await project("open", ["test/**/*.test.ts"], AUTH_TESTS, { AUTH_MODE: "open", INGESTION_RATE_BYTES: "0", MAX_SERIES_PER_TENANT: "0" }),
      await project("auth", AUTH_TESTS, [], { AUTH_MODE: "required", ADMIN_TOKEN }),
    ],
  },
}));
