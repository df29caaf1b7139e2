// The one place that talks HTTP: adds the API origin and credentials to every call and turns
// Pyroscope's JSON errors (`{code, message}`) into ApiError, so every view can show the message.

import { loadSettings } from "./settings";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

type Listener = () => void;
const unauthorizedListeners = new Set<Listener>();

/** Called on every 401, so the shell can ask for a token whichever view made the call. */
export function onUnauthorized(listener: Listener): () => void {
  unauthorizedListeners.add(listener);
  return () => unauthorizedListeners.delete(listener);
}

function apiUrl(path: string): string {
  return `${loadSettings().origin}${path}`;
}

async function send(path: string, init: RequestInit): Promise<Response> {
  const { token, tenant } = loadSettings();
  const headers = new Headers(init.headers);
  if (token) headers.set("Authorization", `Bearer ${token}`);
  if (tenant) headers.set("X-Scope-OrgID", tenant);
  let res: Response;
  try {
    res = await fetch(apiUrl(path), { ...init, headers });
  } catch (err) {
    if (err instanceof DOMException && err.name === "AbortError") throw err;
    throw new ApiError(0, "unavailable", `cannot reach the API at ${apiUrl(path)}: ${(err as Error).message}`);
  }
  if (res.ok) return res;
  if (res.status === 401) for (const listener of unauthorizedListeners) listener();
  throw await toApiError(res);
}

async function toApiError(res: Response): Promise<ApiError> {
  const text = await res.text().catch(() => "");
  try {
    const body = JSON.parse(text) as { code?: unknown; message?: unknown };
    if (typeof body.code === "string") {
      return new ApiError(res.status, body.code, typeof body.message === "string" && body.message ? body.message : body.code);
    }
  } catch {
    // not a Connect/Pyroscope error body (a proxy's HTML page, say): fall through
  }
  return new ApiError(res.status, "unknown", `HTTP ${res.status} ${res.statusText}${text ? `: ${text.slice(0, 200)}` : ""}`);
}

export async function getJson<T>(path: string, signal?: AbortSignal): Promise<T> {
  const res = await send(path, { signal, headers: { Accept: "application/json" } });
  return (await res.json()) as T;
}

/** A Connect unary call with the JSON codec. */
export async function callJson<T>(rpcPath: string, body: unknown, signal?: AbortSignal): Promise<T> {
  const res = await send(rpcPath, {
    method: "POST",
    signal,
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  return (await res.json()) as T;
}

/** A Connect unary call with the binary codec: the response is encoded like the request. */
export async function callProto(rpcPath: string, body: Uint8Array<ArrayBuffer>, signal?: AbortSignal): Promise<Uint8Array<ArrayBuffer>> {
  const res = await send(rpcPath, {
    method: "POST",
    signal,
    headers: { "Content-Type": "application/proto" },
    body,
  });
  return new Uint8Array(await res.arrayBuffer());
}
