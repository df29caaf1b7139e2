// Hash routing: the whole view state is `#/<view>?<params>`, so a reload or a shared link restores
// it, and the dashboard needs no server-side rewrites (it deploys to Pages unchanged).

import { useEffect, useState } from "preact/hooks";

export type View = "services" | "explore" | "compare";

export interface Route {
  view: View;
  params: URLSearchParams;
}

const VIEWS: readonly View[] = ["services", "explore", "compare"];

function parseHash(hash: string): Route {
  const raw = hash.replace(/^#\/?/, "");
  const q = raw.indexOf("?");
  const path = q < 0 ? raw : raw.slice(0, q);
  const params = new URLSearchParams(q < 0 ? "" : raw.slice(q + 1));
  const view = VIEWS.find((v) => v === path) ?? "services"; // the services list is the start page
  return { view, params };
}

/** `#/explore?service=a&type=b`; empty values are left out to keep links short. */
export function href(view: View, params: Record<string, string | undefined> | URLSearchParams = {}): string {
  const entries = params instanceof URLSearchParams ? [...params] : Object.entries(params);
  const search = new URLSearchParams(entries.filter((e): e is [string, string] => e[1] !== undefined && e[1] !== ""));
  const qs = search.toString();
  return `#/${view}${qs ? `?${qs}` : ""}`;
}

/**
 * Moves to a new URL. `replace` is for refinements (typing a search, selecting a function) that
 * should not each add a Back step; choices of what to look at push history entries.
 */
function navigate(target: string, { replace = false } = {}): void {
  if (target === window.location.hash) return;
  if (replace) {
    window.history.replaceState(null, "", target);
    // replaceState does not fire hashchange; tell the router ourselves
    window.dispatchEvent(new HashChangeEvent("hashchange"));
  } else {
    window.location.hash = target;
  }
}

/** Changes some parameters of the current view, keeping the others. */
export function updateParams(route: Route, changes: Record<string, string | undefined>, options?: { replace?: boolean }): void {
  const next = new URLSearchParams(route.params);
  for (const [k, v] of Object.entries(changes)) {
    if (v === undefined || v === "") next.delete(k);
    else next.set(k, v);
  }
  navigate(href(route.view, next), options);
}

export function useRoute(): Route {
  const [hash, setHash] = useState(window.location.hash);
  useEffect(() => {
    const onChange = () => setHash(window.location.hash);
    window.addEventListener("hashchange", onChange);
    return () => window.removeEventListener("hashchange", onChange);
  }, []);
  return parseHash(hash);
}
