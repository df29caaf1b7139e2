// The explicit loading, empty and error states every panel shows (and the e2e tests look for).

import type { ComponentChildren } from "preact";

export function Loading({ what }: { what: string }) {
  return (
    <div class="state state-loading" data-testid="loading" role="status">
      <span class="spinner" aria-hidden="true" /> Loading {what}…
    </div>
  );
}

export function Empty({ children }: { children: ComponentChildren }) {
  return (
    <div class="state state-empty" data-testid="empty">
      {children}
    </div>
  );
}

export function ErrorState({ error, what }: { error: Error; what: string }) {
  return (
    <div class="state state-error" data-testid="error" role="alert">
      <strong>Could not load {what}:</strong> {error.message}
    </div>
  );
}

/**
 * While a view fills in a missing service or type from the catalog; a service with no type known
 * (nothing pushed to it, or its ingester not asked by a services list bounded in ingesters) has
 * none to fill in, which is worth saying.
 */
export function NoTypeYet({ service, types }: { service: string; types: ReadonlyMap<string, readonly string[]> }) {
  if (service && (types.get(service) ?? []).length === 0) {
    return <Empty>No profile types known for {service} yet: no profile of it is stored, or its latest pushes are not counted yet. Refresh in a few seconds.</Empty>;
  }
  return <Loading what="profile types" />;
}
