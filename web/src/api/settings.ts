// Where the dashboard sends its API calls, and with which credentials. Everything lives in
// localStorage so that a dashboard deployed to Pages keeps pointing at its Worker across reloads.
//
// API origin: same origin by default (the Worker serves the dashboard). A copy deployed elsewhere is
// pointed at a Worker once with `?api=https://worker.example.com` in the page URL (or in Settings);
// the value is saved and the parameter removed from the address bar.

const KEYS = { origin: "edge-pyroscope.api", token: "edge-pyroscope.token", tenant: "edge-pyroscope.tenant" } as const;

export interface ApiSettings {
  /** `https://host[:port]` without a trailing slash; "" = the dashboard's own origin. */
  origin: string;
  /** Sent as `Authorization: Bearer <token>` when set. */
  token: string;
  /** Sent as `X-Scope-OrgID` when set (open mode only; a token already names its tenant). */
  tenant: string;
}

export function loadSettings(): ApiSettings {
  return {
    origin: read(KEYS.origin),
    token: read(KEYS.token),
    tenant: read(KEYS.tenant),
  };
}

export function saveSettings(settings: ApiSettings): void {
  write(KEYS.origin, normalizeOrigin(settings.origin));
  write(KEYS.token, settings.token.trim());
  write(KEYS.tenant, settings.tenant.trim());
}

/**
 * `https://x.example/` → `https://x.example`; "" stays "" (same origin). Throws on anything that is
 * not an http(s) URL, so a typo is reported in Settings instead of as a failing fetch later.
 */
export function normalizeOrigin(value: string): string {
  const trimmed = value.trim();
  if (trimmed === "") return "";
  const url = new URL(trimmed);
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new Error(`the API origin must be an http(s) URL, not ${trimmed}`);
  return `${url.origin}${url.pathname.replace(/\/+$/, "")}`;
}

/** Saves `?api=` from the page URL (before the hash route), then drops it from the address bar. */
export function adoptApiParam(): void {
  const url = new URL(window.location.href);
  const api = url.searchParams.get("api");
  if (api === null) return;
  try {
    write(KEYS.origin, normalizeOrigin(api));
  } catch (err) {
    console.error(`ignoring ?api=${api}:`, err);
  }
  url.searchParams.delete("api");
  window.history.replaceState(null, "", url.toString());
}

function read(key: string): string {
  try {
    return window.localStorage.getItem(key) ?? "";
  } catch {
    return ""; // storage disabled (private mode, sandboxed iframe): behave as unset
  }
}

function write(key: string, value: string): void {
  try {
    if (value === "") window.localStorage.removeItem(key);
    else window.localStorage.setItem(key, value);
  } catch {
    // storage disabled: the value only lasts until the next read, which is acceptable
  }
}
