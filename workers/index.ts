// The edge Worker: routes ingestion, Connect RPCs and operational endpoints. The dashboard's
// static files in web/ are served by Workers Static Assets before this code runs.

import { AutoRouter, type IRequest, type RouterType } from "itty-router";
import { DEFAULTS, type Config, loadConfig } from "./config";
import type { Env } from "./env";
import { ConnectService } from "./http/connect";
import { errorResponse } from "./http/errors";
import { handleIngest } from "./http/ingest";
import { registerPush } from "./http/push";
import { registerQuerier } from "./http/querier";
import { handleLegacy } from "./http/render";

export { Ingester } from "../durable-objects/ingester";
export { Merger } from "../durable-objects/merger";

/** Tenancy arrives with issue #5; until then every request belongs to Pyroscope's default tenant. */
const TENANT = "anonymous";

let cached: { env: Env; config: Config; connect: ConnectService } | null = null;

/** Config and Connect routers are built once per isolate (bindings do not change within one). */
function runtime(env: Env) {
  if (cached?.env !== env) {
    const config = loadConfig(env);
    cached = {
      env,
      config,
      connect: new ConnectService((router) => {
        registerPush(router);
        registerQuerier(router);
      }, config.INGESTION_BODY_LIMIT_BYTES),
    };
  }
  return cached;
}

const router: RouterType<IRequest, [Env, ExecutionContext]> = AutoRouter({
  catch: (err) => {
    console.error("unhandled error:", err);
    return errorResponse(500, "internal error; retry the request");
  },
  missing: () => errorResponse(404, "not found: see /config for the service and the README for its API"),
});

router
  .get("/ready", () => new Response("ready", { headers: { "Content-Type": "text/plain" } }))
  .get("/config", (_req, env) => {
    const { config } = runtime(env);
    return Response.json({ limits: config, defaults: DEFAULTS });
  })
  .post("/ingest", (req, env) => timed("ingest", handleIngest(req, env, runtime(env).config, TENANT)))
  .post("/pyroscope/ingest", (req, env) => timed("ingest", handleIngest(req, env, runtime(env).config, TENANT)))
  .all("/ingest", () => errorResponse(405, "use POST for /ingest", { Allow: "POST" }))
  .all("/pyroscope/ingest", () => errorResponse(405, "use POST for /pyroscope/ingest", { Allow: "POST" }))
  .get("/pyroscope/render", (req, env) => handleLegacy("render", req, env, runtime(env).config, TENANT))
  .get("/pyroscope/render-diff", (req, env) => handleLegacy("render-diff", req, env, runtime(env).config, TENANT))
  .get("/pyroscope/label-values", (req, env) => handleLegacy("label-values", req, env, runtime(env).config, TENANT))
  .get("/pyroscope/labels", (req, env) => handleLegacy("labels", req, env, runtime(env).config, TENANT))
  .all("*", (req, env) => {
    const rt = runtime(env);
    const path = rt.connect.resolve(new URL(req.url).pathname);
    if (!path) return undefined;
    if (req.method !== "POST") return errorResponse(405, `${path} only accepts POST`, { Allow: "POST" });
    return timed("rpc", rt.connect.serve(path, req, { env, config: rt.config, tenant: TENANT, request: req }));
  });

/**
 * Prefixes the Server-Timing header with the total time spent in this Worker and the ingesters it
 * waited for (the handlers add their phases), so clients and `npm run bench` can tell server time
 * from network time. Deployed Workers advance clocks only on I/O, so there it measures I/O waits;
 * locally it is wall time.
 */
async function timed(name: string, pending: Promise<Response>): Promise<Response> {
  const start = performance.now();
  const res = await pending;
  const total = `${name};dur=${(performance.now() - start).toFixed(2)}`;
  const phases = res.headers.get("Server-Timing");
  res.headers.set("Server-Timing", phases ? `${total}, ${phases}` : total);
  return res;
}

export default { fetch: router.fetch } satisfies ExportedHandler<Env>;
