// The admin API: tokens (what `npm run tokens` calls: create, list and revoke) and per-tenant
// limits. A tenant's admin
// token manages that tenant's tokens; the ADMIN_TOKEN secret (and open mode) manage any tenant's.
// Secrets are returned once, at creation, and stored only as hashes.

import { authorize, type Principal } from "../auth/authenticate";
import { tenantIdProblem } from "../auth/tenant";
import { isScope, newToken, SCOPES } from "../auth/tokens";
import { insertToken, listTokens, revokeToken } from "../catalog/tokens";
import type { Config } from "../config";
import type { Env } from "../env";
import { configFor, isTenantLimit, setTenantLimit, TENANT_LIMITS, tenantOverrides } from "../ops/tenant-config";
import { errorResponse } from "./errors";

const MAX_NAME = 200;

export async function handleAdminTokens(request: Request, env: Env, p: Principal, id?: string): Promise<Response> {
  authorize(p, "admin");
  const own = p.anyTenant ? null : p.tenants[0];
  switch (request.method) {
    case "GET": {
      const asked = new URL(request.url).searchParams.get("tenant");
      return Response.json({ tokens: await listTokens(env.DB, own ?? asked) });
    }
    case "POST":
      return create(request, env, p);
    case "DELETE":
      if (!id) return errorResponse(400, "name the token to revoke: DELETE /api/admin/tokens/<id>");
      return (await revokeToken(env.DB, id, own, p.actor))
        ? new Response(null, { status: 204 })
        : errorResponse(404, `no live token ${JSON.stringify(id)}${own ? ` in tenant ${JSON.stringify(own)}` : ""}`);
    default:
      return errorResponse(405, "use GET, POST or DELETE", { Allow: "GET, POST, DELETE" });
  }
}

async function create(request: Request, env: Env, p: Principal): Promise<Response> {
  let body: { tenant?: unknown; scope?: unknown; name?: unknown };
  try {
    body = (await request.json()) as typeof body;
  } catch {
    return errorResponse(400, 'send a JSON body: {"scope": "read|write|admin", "name": "...", "tenant": "..."}');
  }
  const tenant = typeof body.tenant === "string" && body.tenant !== "" ? body.tenant : p.tenants[0];
  const problem = tenantIdProblem(tenant);
  if (problem) return errorResponse(400, problem);
  if (!p.anyTenant && tenant !== p.tenants[0]) {
    return errorResponse(403, `this admin token belongs to tenant ${JSON.stringify(p.tenants[0])} and cannot create tokens for ${JSON.stringify(tenant)}`);
  }
  const scope = typeof body.scope === "string" ? body.scope : "";
  if (!isScope(scope)) return errorResponse(400, `scope must be one of ${SCOPES.join(", ")}`);
  const name = typeof body.name === "string" ? body.name.trim() : "";
  if (!name || name.length > MAX_NAME) return errorResponse(400, `name the token (1 to ${MAX_NAME} characters), e.g. "grafana" or "ci"`);
  const { token, hash, id } = await newToken();
  const createdAt = Date.now();
  await insertToken(env.DB, { id, tenant, scope, name, hash, createdAt }, p.actor);
  return Response.json({ id, token, tenant, scope, name, createdAt }, { status: 201 });
}

/** GET: a tenant's overrides and effective limits; PUT `{"name","value","tenant"}` sets one (null removes it). */
export async function handleAdminLimits(request: Request, env: Env, base: Config, p: Principal): Promise<Response> {
  authorize(p, "admin");
  if (request.method === "GET") {
    const tenant = (p.anyTenant && new URL(request.url).searchParams.get("tenant")) || p.tenants[0];
    const config = await configFor(env.DB, base, tenant);
    const effective = Object.fromEntries(TENANT_LIMITS.map((name) => [name, config[name]]));
    return Response.json({ tenant, overrides: await tenantOverrides(env.DB, tenant), effective });
  }
  if (request.method !== "PUT") return errorResponse(405, "use GET or PUT", { Allow: "GET, PUT" });
  let body: { tenant?: unknown; name?: unknown; value?: unknown };
  try {
    body = (await request.json()) as typeof body;
  } catch {
    return errorResponse(400, 'send a JSON body: {"name": "<limit>", "value": <number or null>, "tenant": "..."}');
  }
  const tenant = typeof body.tenant === "string" && body.tenant !== "" ? body.tenant : p.tenants[0];
  if (!p.anyTenant && tenant !== p.tenants[0]) return errorResponse(403, `this admin token cannot change the limits of tenant ${JSON.stringify(tenant)}`);
  const name = typeof body.name === "string" ? body.name : "";
  if (!isTenantLimit(name)) return errorResponse(400, `name must be one of ${TENANT_LIMITS.join(", ")}`);
  if (body.value !== null && (typeof body.value !== "number" || !Number.isFinite(body.value) || body.value < 0)) {
    return errorResponse(400, "value must be a non-negative number, or null to go back to the default");
  }
  try {
    await setTenantLimit(env.DB, base, tenant, name, body.value, p.actor);
  } catch (err) {
    return errorResponse(400, (err as Error).message);
  }
  return Response.json({ tenant, name, value: body.value });
}
