// The edge Worker: authenticates, then routes ingestion, Connect RPCs, the legacy query API, the
// admin API and operational endpoints. The dashboard's static files in web/ are served by Workers
// Static Assets before this code runs.

import { AutoRouter, type IRequest, type RouterType } from "itty-router";
import { authenticate, AuthError, authorize, type Principal } from "./auth/authenticate";
import type { Scope } from "./auth/tokens";
import { DEFAULTS, type Config, loadConfig } from "./config";
import type { Env } from "./env";
import { handleAdminLimits, handleAdminTokens } from "./http/admin";
import { preflight, withCors } from "./http/cors";
import { ConnectService } from "./http/connect";
import { errorResponse } from "./http/errors";
import { handleIngest } from "./http/ingest";
import { buildInfo, registerOps } from "./http/ops";
import { handleOtlp, registerOtlp } from "./http/otlp";
import { registerPush } from "./http/push";
import { registerQuerier } from "./http/querier";
import { handleLegacy } from "./http/render";
import { handleServices } from "./http/services";
import { metricsBuffer, queried } from "./ops/metrics";
import { collectMetrics, PROMETHEUS_CONTENT_TYPE } from "./ops/prometheus";
import { configFor } from "./ops/tenant-config";
import { querySlots } from "./query/slots";

export { Compactor } from "../durable-objects/compactor";
export { Ingester } from "../durable-objects/ingester";
export { Merger } from "../durable-objects/merger";
export { Tenant } from "../durable-objects/tenant";

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
        registerOps(router);
        registerOtlp(router);
      }, config.INGESTION_BODY_LIMIT_BYTES),
    };
  }
  return cached;
}

/** What each Connect service needs; services not listed need an admin token. */
const RPC_SCOPES: Record<string, Scope | null> = {
  "push.v1.PusherService": "write",
  "opentelemetry.proto.collector.profiles.v1development.ProfilesService": "write",
  "querier.v1.QuerierService": "read",
  "version.v1.Version": null,
  "grpc.health.v1.Health": null,
};

/** `config` holds the limits of the caller's (first) tenant: the defaults plus its overrides. */
type Handler = (req: IRequest, env: Env, p: Principal, config: Config) => Promise<Response>;

/**
 * Runs `handler` for callers allowed to `need`; refusals are JSON errors in Pyroscope's shape
 * (401 unauthenticated, 403 permission_denied), for Connect clients as much as for HTTP ones.
 */
function guarded(need: Scope, handler: Handler, method?: string) {
  return async (req: IRequest, env: Env, ctx: ExecutionContext): Promise<Response> => {
    let p: Principal;
    const base = runtime(env).config;
    try {
      p = await authenticate(req, env, base);
      authorize(p, need);
    } catch (err) {
      if (err instanceof AuthError) return errorResponse(err.status, err.message);
      throw err;
    }
    const config = await configFor(env.DB, base, p.tenants[0]);
    const start = performance.now();
    const res = method ? await limitedQuery(config, p, () => handler(req, env, p, config)) : await handler(req, env, p, config);
    if (method) {
      const seconds = (performance.now() - start) / 1000;
      for (const tenant of p.tenants) metricsBuffer.add(tenant, queried(method, res.status, seconds));
    }
    // Whatever the request counted (ingested, discarded, queried) reaches the tenant objects in
    // batches, at most one call per tenant and second from this isolate.
    metricsBuffer.flushSoon(ctx, env);
    return res;
  };
}

/**
 * Runs a query under the (first) tenant's MAX_QUERY_CONCURRENCY, counted in this isolate
 * (query/slots.ts): 429 while its slots are taken.
 */
async function limitedQuery(config: Config, p: Principal, run: () => Promise<Response>): Promise<Response> {
  const limit = config.MAX_QUERY_CONCURRENCY;
  const tenant = p.tenants[0];
  const slot = querySlots.tryAcquire(tenant, limit);
  if (slot === null) {
    return errorResponse(
      429,
      `too many concurrent queries for tenant ${JSON.stringify(tenant)} (MAX_QUERY_CONCURRENCY, limit ${limit} per isolate); retry shortly`,
    );
  }
  try {
    return await run();
  } finally {
    querySlots.release(tenant, slot);
  }
}

/** Tenants whose metrics a caller may read: its own, or every known tenant for ADMIN_TOKEN and open mode. */
async function metricsTenants(env: Env, p: Principal): Promise<string[]> {
  if (!p.anyTenant) return p.tenants;
  const rows = await env.DB.prepare("SELECT tenant FROM ingesters UNION SELECT tenant FROM tokens ORDER BY tenant").all<{ tenant: string }>();
  return rows.results.map((r) => r.tenant);
}

const ingest: Handler = (req, env, p, config) => timed("ingest", handleIngest(req, env, config, p.tenants[0]));

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
    return Response.json({ limits: config, defaults: DEFAULTS, adminTokenConfigured: Boolean(env.ADMIN_TOKEN) });
  })
  .get("/api/v1/status/buildinfo", buildInfo)
  .post("/ingest", guarded("write", ingest))
  .post("/pyroscope/ingest", guarded("write", ingest))
  .all("/ingest", () => errorResponse(405, "use POST for /ingest", { Allow: "POST" }))
  .all("/pyroscope/ingest", () => errorResponse(405, "use POST for /pyroscope/ingest", { Allow: "POST" }))
  .post("/v1development/profiles", guarded("write", (req, env, p, config) => timed("otlp", handleOtlp(req, env, config, p.tenants[0]))))
  .all("/v1development/profiles", () => errorResponse(405, "use POST for /v1development/profiles", { Allow: "POST" }))
  .get("/pyroscope/render", guarded("read", (req, env, p, config) => handleLegacy("render", req, env, config, p.tenants), "render"))
  .get("/pyroscope/render-diff", guarded("read", (req, env, p, config) => handleLegacy("render-diff", req, env, config, p.tenants), "render-diff"))
  .get("/pyroscope/label-values", guarded("read", (req, env, p, config) => handleLegacy("label-values", req, env, config, p.tenants), "label-values"))
  .get("/pyroscope/labels", guarded("read", (req, env, p, config) => handleLegacy("labels", req, env, config, p.tenants), "labels"))
  .get("/api/services", guarded("read", (_req, env, p, config) => handleServices(env, config, p.tenants, Date.now()), "services"))
  .get(
    "/metrics",
    guarded("read", async (_req, env, p) => {
      await metricsBuffer.flushNow(env);
      const text = await collectMetrics(env, await metricsTenants(env, p));
      return new Response(text, { headers: { "Content-Type": PROMETHEUS_CONTENT_TYPE } });
    }),
  )
  .all("/api/admin/tokens/:id?", guarded("admin", (req, env, p) => handleAdminTokens(req, env, p, req.params.id)))
  .all("/api/admin/limits", guarded("admin", (req, env, p) => handleAdminLimits(req, env, runtime(env).config, p)))
  .all("*", async (req, env, ctx) => {
    const rt = runtime(env);
    const path = rt.connect.resolve(new URL(req.url).pathname);
    if (!path) return undefined;
    if (req.method !== "POST") return errorResponse(405, `${path} only accepts POST`, { Allow: "POST" });
    const service = path.split("/")[1];
    const need = service in RPC_SCOPES ? RPC_SCOPES[service] : "admin";
    const serve: Handler = (r, e, p, config) => timed("rpc", rt.connect.serve(path, r, { env: e, config, tenants: p.tenants, request: r }));
    if (need === null) return serve(req, env, { tenants: [], scopes: new Set(), actor: "public", anyTenant: false }, rt.config);
    if (need !== "read") return guarded(need, serve)(req, env, ctx);
    // A query takes its concurrency slot once its body is here: a client trickling its body in
    // must not hold one.
    const buffered = await rt.connect.buffer(req);
    if (buffered instanceof Response) return buffered;
    return guarded(need, serve, path.split("/")[2])(buffered as IRequest, env, ctx);
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

export default {
  async fetch(request, env, ctx) {
    const { config } = runtime(env);
    const pre = preflight(request, config);
    if (pre) return pre;
    return withCors(request, await router.fetch(request, env, ctx), config);
  },
} satisfies ExportedHandler<Env>;
