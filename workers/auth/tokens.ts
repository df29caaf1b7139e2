// API tokens: random secrets shown once, stored only as SHA-256 hashes. The prefix makes a
// leaked token recognisable (secret scanners, logs) without revealing anything.

import { toHex } from "../util/hex";

const PREFIX = "epyr_";
const SECRET_BYTES = 32;

export type Scope = "read" | "write" | "admin";
export const SCOPES: readonly Scope[] = ["read", "write", "admin"];

export function isScope(s: string): s is Scope {
  return (SCOPES as readonly string[]).includes(s);
}

/** A new token: the secret for the client, and the hash and short id to store. */
export async function newToken(): Promise<{ token: string; hash: string; id: string }> {
  const bytes = crypto.getRandomValues(new Uint8Array(SECRET_BYTES));
  const token = PREFIX + base64url(bytes);
  return { token, hash: await hashToken(token), id: crypto.randomUUID() };
}

export async function hashToken(token: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(token));
  return toHex(new Uint8Array(digest));
}

/** Constant-time equality of two secrets (compared as their SHA-256 digests, so lengths leak nothing). */
export async function sameSecret(a: string, b: string): Promise<boolean> {
  const [x, y] = await Promise.all([a, b].map((s) => crypto.subtle.digest("SHA-256", new TextEncoder().encode(s))));
  return crypto.subtle.timingSafeEqual(x, y);
}

function base64url(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}
