// Data loading for the views: each call runs when its inputs change, is aborted when they change
// again (so a slow answer never overwrites a newer one), and reruns when the shell asks for a
// refresh (the refresh button, a new token).

import { createContext } from "preact";
import { useContext, useEffect, useMemo, useState } from "preact/hooks";
import type { TimeRange } from "../api/querier";
import { resolveTime } from "./time";

export type Loaded<T> = { status: "loading" } | { status: "ok"; data: T } | { status: "error"; error: Error };

/** Bumped by the shell to make every view fetch again and re-evaluate relative times. */
export const RefreshContext = createContext(0);

function useRefresh(): number {
  return useContext(RefreshContext);
}

/**
 * `load` runs whenever `key` (a string naming everything it depends on) or the refresh counter
 * changes. A null key means "not ready to load" (e.g. no service chosen yet) and stays loading.
 */
export function useLoad<T>(key: string | null, load: (signal: AbortSignal) => Promise<T>): Loaded<T> {
  const refresh = useRefresh();
  const [state, setState] = useState<{ key: string; value: Loaded<T> }>({ key: "", value: { status: "loading" } });
  const fullKey = key === null ? null : `${refresh}\u0000${key}`;
  useEffect(() => {
    if (fullKey === null) return;
    const ctrl = new AbortController();
    load(ctrl.signal).then(
      (data) => !ctrl.signal.aborted && setState({ key: fullKey, value: { status: "ok", data } }),
      (error: unknown) => {
        if (ctrl.signal.aborted) return;
        setState({ key: fullKey, value: { status: "error", error: error instanceof Error ? error : new Error(String(error)) } });
      },
    );
    return () => ctrl.abort();
    // `load` is a fresh closure on every render; `fullKey` names everything it depends on
  }, [fullKey]);
  // Until the effect has run for a new key the previous result is stale: report loading instead.
  return state.key === fullKey ? state.value : { status: "loading" };
}

/**
 * The instants of a URL range. Relative ends (`now-1h`) are evaluated once per refresh, not per
 * render, so that they do not change the queries' keys (and refetch) on every render.
 */
export function useTimeRange(from: string, until: string): TimeRange | Error {
  const refresh = useRefresh();
  return useMemo(() => {
    const now = Date.now();
    const start = resolveTime(from, now);
    const end = resolveTime(until, now);
    if (Number.isNaN(start) || Number.isNaN(end)) return new Error(`"${from}" to "${until}" is not a time range: use now, now-1h or unix milliseconds`);
    if (start >= end) return new Error("the range starts after it ends");
    return { start, end };
  }, [from, until, refresh]);
}
