// Error bodies in Pyroscope's shape: always JSON `{"code","message"}`, the code derived from the
// HTTP status as Pyroscope's HTTP layer does (spec API.md §1.8, §4.3).

import { Code, ConnectError } from "@connectrpc/connect";
import { IngestError } from "../ingest/errors";
import { discarded, metricsBuffer } from "../ops/metrics";

/** Reasons Dispatch counts itself when it refuses a request. */
const COUNTED_BY_DISPATCH = new Set(["rate_limited", "ingester_backlogged", "series_limit"]);

/**
 * Counts a refused upload in the tenant's discarded metrics (one profile: a refused request
 * never got as far as its split into profiles and samples).
 */
export function countRefusal(tenant: string, err: unknown, bytes: number): void {
  if (!(err instanceof IngestError) || COUNTED_BY_DISPATCH.has(err.reason)) return;
  metricsBuffer.add(tenant, discarded(err.reason, 1, 0, bytes));
}

const CODE_BY_STATUS: Record<number, string> = {
  400: "invalid_argument",
  401: "unauthenticated",
  403: "permission_denied",
  404: "unimplemented",
  405: "unimplemented",
  408: "deadline_exceeded",
  412: "failed_precondition",
  413: "invalid_argument",
  415: "invalid_argument",
  422: "invalid_argument",
  429: "resource_exhausted",
  431: "resource_exhausted",
  499: "canceled",
  501: "unimplemented",
  502: "unavailable",
  503: "unavailable",
  504: "deadline_exceeded",
};

export function errorResponse(status: number, message: string, headers?: HeadersInit): Response {
  const h = new Headers(headers);
  h.set("Content-Type", "application/json");
  const code = CODE_BY_STATUS[status] ?? (status >= 500 ? "internal" : "unknown");
  return new Response(JSON.stringify({ code, message }), { status, headers: h });
}

/** The HTTP status of a refusal on the legacy /ingest path (spec §1.8). */
export function ingestStatus(err: IngestError): number {
  switch (err.kind) {
    case "bad_request":
      return 400;
    case "too_large":
      return 413;
    case "rate_limited":
      return 429;
    case "invalid":
      return 422;
  }
}

/** The Connect error of a refusal on Push (spec §2.6). */
export function toConnectError(err: unknown): ConnectError {
  if (err instanceof ConnectError) return err;
  if (err instanceof IngestError) {
    const code =
      err.kind === "too_large" || err.kind === "rate_limited" ? Code.ResourceExhausted : Code.InvalidArgument;
    return new ConnectError(err.message, code);
  }
  console.error("internal error:", err);
  return new ConnectError("internal error while storing the profiles; retry the request", Code.Internal);
}
