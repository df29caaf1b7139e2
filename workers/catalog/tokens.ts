// Token and audit rows in D1. Tokens are looked up by hash on every authenticated request, so a
// revocation takes effect on the next request, in every isolate.

import { and, desc, eq, isNull } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import type { Scope } from "../auth/tokens";
import { auditLog, tokens } from "./schema";

export interface TokenRow {
  id: string;
  tenant: string;
  scope: Scope;
  name: string;
  createdAt: number;
  revokedAt: number | null;
}

const PUBLIC_COLUMNS = {
  id: tokens.id,
  tenant: tokens.tenant,
  scope: tokens.scope,
  name: tokens.name,
  createdAt: tokens.createdAt,
  revokedAt: tokens.revokedAt,
};

/** The live (not revoked) token with this hash, if any. */
export async function tokenByHash(d1: D1Database, hash: string): Promise<TokenRow | null> {
  const row = await drizzle(d1)
    .select(PUBLIC_COLUMNS)
    .from(tokens)
    .where(and(eq(tokens.hash, hash), isNull(tokens.revokedAt)))
    .get();
  return (row as TokenRow | undefined) ?? null;
}

export async function insertToken(d1: D1Database, row: Omit<TokenRow, "revokedAt"> & { hash: string }, actor: string): Promise<void> {
  const db = drizzle(d1);
  await db.batch([
    db.insert(tokens).values({ ...row, revokedAt: null }),
    db.insert(auditLog).values({
      at: row.createdAt,
      tenant: row.tenant,
      actor,
      action: "token.create",
      detail: JSON.stringify({ id: row.id, name: row.name, scope: row.scope }),
    }),
  ]);
}

export async function listTokens(d1: D1Database, tenant: string | null): Promise<TokenRow[]> {
  const q = drizzle(d1).select(PUBLIC_COLUMNS).from(tokens);
  const rows = await (tenant === null ? q : q.where(eq(tokens.tenant, tenant))).orderBy(desc(tokens.createdAt)).all();
  return rows as TokenRow[];
}

/** Revokes a token of `tenant` (any tenant when null); false when there is no such live token. */
export async function revokeToken(d1: D1Database, id: string, tenant: string | null, actor: string): Promise<boolean> {
  const db = drizzle(d1);
  const now = Date.now();
  const where = and(eq(tokens.id, id), isNull(tokens.revokedAt), tenant === null ? undefined : eq(tokens.tenant, tenant));
  const row = await db.select({ tenant: tokens.tenant }).from(tokens).where(where).get();
  if (!row) return false;
  await db.batch([
    db.update(tokens).set({ revokedAt: now }).where(eq(tokens.id, id)),
    db.insert(auditLog).values({ at: now, tenant: row.tenant, actor, action: "token.revoke", detail: JSON.stringify({ id }) }),
  ]);
  return true;
}
