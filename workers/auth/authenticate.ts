// Who is calling and for which tenant. Open mode (local development, or an explicit opt-out) works
// like Pyroscope with multi-tenancy: X-Scope-OrgID picks the tenant, `anonymous` without it, and
// credentials are ignored. Required mode accepts `Authorization: Bearer <token>` or Basic auth with
// the tenant as user and the token as password (what Grafana and the SDKs send); a token implies
// its tenant. The ADMIN_TOKEN secret acts for any tenant.

import type { Config } from "../config";
import type { Env } from "../env";
import { tokenByHash } from "../catalog/tokens";
import { ANONYMOUS, parseOrgId } from "./tenant";
import { hashToken, sameSecret, type Scope } from "./tokens";

export interface Principal {
  /** The tenants the request acts for: one for writes, possibly several for reads (`a|b`). */
  tenants: string[];
  scopes: ReadonlySet<Scope>;
  /** Token id, "root" for ADMIN_TOKEN, "open" without authentication: for the audit log. */
  actor: string;
  /** ADMIN_TOKEN or open mode: may act for any tenant. */
  anyTenant: boolean;
}

export class AuthError extends Error {
  constructor(
    readonly status: 401 | 403,
    message: string,
  ) {
    super(message);
  }
}

const ALL_SCOPES: ReadonlySet<Scope> = new Set(["read", "write", "admin"]);
const SCOPES_OF: Record<Scope, ReadonlySet<Scope>> = {
  read: new Set(["read"]),
  write: new Set(["write"]),
  admin: ALL_SCOPES,
};

interface Credentials {
  token: string;
  /** The Basic auth user name: a tenant id. */
  user: string | null;
}

function credentials(request: Request): Credentials | null {
  const header = request.headers.get("Authorization") ?? "";
  const space = header.indexOf(" ");
  const kind = header.slice(0, space).toLowerCase();
  const value = header.slice(space + 1).trim();
  if (kind === "bearer" && value) return { token: value, user: null };
  if (kind === "basic" && value) {
    let decoded: string;
    try {
      decoded = atob(value);
    } catch {
      throw new AuthError(401, "malformed Basic credentials: expected base64 of <tenant>:<token>");
    }
    const colon = decoded.indexOf(":");
    if (colon < 0) throw new AuthError(401, "malformed Basic credentials: expected base64 of <tenant>:<token>");
    return { token: decoded.slice(colon + 1), user: decoded.slice(0, colon) || null };
  }
  return null;
}

function orgTenants(request: Request): string[] | null {
  const header = request.headers.get("X-Scope-OrgID");
  if (header === null || header === "") return null;
  try {
    return parseOrgId(header);
  } catch (err) {
    throw new AuthError(401, `invalid X-Scope-OrgID: ${(err as Error).message}`);
  }
}

export async function authenticate(request: Request, env: Env, config: Config): Promise<Principal> {
  const org = orgTenants(request);
  if (config.AUTH_MODE === "open") return { tenants: org ?? [ANONYMOUS], scopes: ALL_SCOPES, actor: "open", anyTenant: true };

  const creds = credentials(request);
  if (!creds || !creds.token) {
    throw new AuthError(401, "authentication required: send Authorization: Bearer <token>, or Basic auth with the tenant as user and the token as password");
  }
  if (env.ADMIN_TOKEN && (await sameSecret(creds.token, env.ADMIN_TOKEN))) {
    const named = org ?? (creds.user ? parseUserTenant(creds.user) : null);
    return { tenants: named ?? [ANONYMOUS], scopes: ALL_SCOPES, actor: "root", anyTenant: true };
  }
  const row = await tokenByHash(env.DB, await hashToken(creds.token));
  if (!row) throw new AuthError(401, "invalid or revoked token");
  for (const asked of [...(org ?? []), ...(creds.user ? [creds.user] : [])]) {
    if (asked !== row.tenant) throw new AuthError(403, `this token belongs to tenant ${JSON.stringify(row.tenant)}, not ${JSON.stringify(asked)}`);
  }
  return { tenants: [row.tenant], scopes: SCOPES_OF[row.scope], actor: row.id, anyTenant: false };
}

function parseUserTenant(user: string): string[] {
  try {
    return parseOrgId(user);
  } catch (err) {
    throw new AuthError(401, `invalid tenant in Basic auth user: ${(err as Error).message}`);
  }
}

const VERB: Record<Scope, string> = { read: "read profiles", write: "write profiles", admin: "administer tokens" };

/** Throws unless the principal may do `need`; writes and single-tenant calls need exactly one tenant. */
export function authorize(p: Principal, need: Scope, singleTenant = need !== "read"): string {
  if (!p.scopes.has(need)) {
    throw new AuthError(403, `this token cannot ${VERB[need]}: its scope is ${[...p.scopes].join(", ")}; use a token with scope ${need}`);
  }
  if (singleTenant && p.tenants.length !== 1) throw new AuthError(401, "this call needs exactly one tenant in X-Scope-OrgID");
  return p.tenants[0];
}
