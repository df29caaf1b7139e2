// Cross-origin access for the dashboard deployed on Pages (or any other origin) and for browser
// clients. Credentials travel in the Authorization header, never in cookies, so allowing an
// origin exposes nothing a caller does not already hold.

import type { Config } from "../config";

const ALLOW_HEADERS = "authorization, content-type, content-encoding, x-scope-orgid, connect-protocol-version, connect-timeout-ms";
const EXPOSE_HEADERS = "server-timing, x-query-stats, content-encoding";

function allowedOrigin(request: Request, config: Config): string | null {
  const origin = request.headers.get("Origin");
  if (!origin) return null;
  const allowed = config.CORS_ALLOWED_ORIGINS.split(",").map((s) => s.trim()).filter(Boolean);
  if (allowed.includes("*")) return "*";
  return allowed.includes(origin) ? origin : null;
}

/** The answer to a CORS preflight (OPTIONS), or null when the request is not one. */
export function preflight(request: Request, config: Config): Response | null {
  if (request.method !== "OPTIONS" || !request.headers.has("Access-Control-Request-Method")) return null;
  const origin = allowedOrigin(request, config);
  if (!origin) return new Response(null, { status: 403 });
  return new Response(null, {
    status: 204,
    headers: {
      "Access-Control-Allow-Origin": origin,
      "Access-Control-Allow-Methods": "GET, POST, PUT, DELETE",
      "Access-Control-Allow-Headers": ALLOW_HEADERS,
      "Access-Control-Max-Age": "86400",
      Vary: "Origin",
    },
  });
}

/** Adds the CORS headers to a response for an allowed origin (in place: bodies stay as they are). */
export function withCors(request: Request, response: Response, config: Config): Response {
  const origin = allowedOrigin(request, config);
  if (!origin) return response;
  response.headers.set("Access-Control-Allow-Origin", origin);
  response.headers.set("Access-Control-Expose-Headers", EXPOSE_HEADERS);
  response.headers.append("Vary", "Origin");
  return response;
}
