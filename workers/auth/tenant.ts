// Tenant ids (spec API.md §7.6): the rules of Pyroscope's tenant resolver, so that ids valid there
// are valid here and end up in the same Durable Object names, R2 keys and D1 rows.

export const ANONYMOUS = "anonymous";
const MAX_LENGTH = 150;
const ALLOWED = /^[A-Za-z0-9!\-_.*'()]+$/;

/** Why `id` is not a valid tenant id, or null when it is. */
export function tenantIdProblem(id: string): string | null {
  if (id.length === 0) return "tenant id is empty";
  if (id.length > MAX_LENGTH) return `tenant id is longer than ${MAX_LENGTH} characters`;
  if (id === "." || id === "..") return `tenant id must not be "${id}"`;
  if (!ALLOWED.test(id)) return `tenant id ${JSON.stringify(id)} has characters other than A-Z a-z 0-9 ! - _ . * ' ( )`;
  return null;
}

/**
 * The tenants an `X-Scope-OrgID` value names: `a|b` lists several (deduplicated and sorted), and a
 * `:sub` suffix of each is ignored. Throws an Error with the reason for an invalid value.
 */
export function parseOrgId(header: string): string[] {
  const ids = new Set<string>();
  for (const part of header.split("|")) {
    const colon = part.indexOf(":");
    const id = colon >= 0 ? part.slice(0, colon) : part;
    const problem = tenantIdProblem(id);
    if (problem) throw new Error(problem);
    ids.add(id);
  }
  return [...ids].sort();
}
