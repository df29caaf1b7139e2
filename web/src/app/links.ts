// URL parameters of Explore and Compare in one place, so links between views (the nav bar, the
// services table, "Compare…") carry the current selection over.
//
//   #/explore?service=&type=&from=&until=&query=&groupBy=&search=&fn=
//   #/compare?type=&leftService=&leftQuery=&leftFrom=&leftUntil=&rightService=&…&search=&fn=

import { href, type Route } from "./router";
import { DEFAULT_FROM, DEFAULT_UNTIL, splitRange } from "./time";

/** What a selection is in the URL: `query` holds the filters beyond the service (`{env="prod"}`). */
export interface SelectionParams {
  service?: string;
  type?: string;
  query?: string;
  from?: string;
  until?: string;
}

export type Side = "left" | "right";

export function exploreHref(sel: SelectionParams): string {
  return href("explore", { ...sel });
}

/** Compare the selection's first half (baseline) with its second half: what changed lately. */
export function compareHref(sel: SelectionParams): string {
  const [first, second] = splitRange(sel.from ?? DEFAULT_FROM, sel.until ?? DEFAULT_UNTIL);
  return href("compare", {
    type: sel.type,
    ...sideParams("left", { ...sel, from: first[0], until: first[1] }),
    ...sideParams("right", { ...sel, from: second[0], until: second[1] }),
  });
}

export function sideParams(side: Side, sel: SelectionParams): Record<string, string | undefined> {
  return {
    [`${side}Service`]: sel.service,
    [`${side}Query`]: sel.query,
    [`${side}From`]: sel.from,
    [`${side}Until`]: sel.until,
  };
}

export function readSide(params: URLSearchParams, side: Side): SelectionParams {
  const get = (k: string) => params.get(`${side}${k}`) ?? undefined;
  return { type: params.get("type") ?? undefined, service: get("Service"), query: get("Query"), from: get("From"), until: get("Until") };
}

/** The selection the current view shows (Compare: its right side, the one under study). */
export function currentSelection(route: Route): SelectionParams {
  const p = route.params;
  if (route.view === "compare") return readSide(p, "right");
  if (route.view === "explore") {
    const get = (k: string) => p.get(k) ?? undefined;
    return { service: get("service"), type: get("type"), query: get("query"), from: get("from"), until: get("until") };
  }
  return {};
}
