// OTLP profiles ingestion (spec OTLP.md §1): OTLP/HTTP at POST /v1development/profiles, binary
// protobuf or OTLP/JSON, gzip or not, and ProfilesService/Export over Connect. OTLP/gRPC needs
// HTTP/2 end to end with trailers, which a Worker's fetch handler cannot serve (§1.4).
//
// The request is converted and every converted profile validated before anything is stored, so
// a refused request leaves storage unchanged. Status codes follow Pyroscope for valid requests
// and push refusals (400/413/429), but malformed input is always 400, never Pyroscope's 500.

import type { ConnectRouter } from "@connectrpc/connect";
import type { Config } from "../config";
import type { Env } from "../env";
import type { ExportProfilesServiceRequest } from "../gen/opentelemetry/proto/collector/profiles/v1development/profiles_service_pb";
import { ProfilesService } from "../gen/opentelemetry/proto/collector/profiles/v1development/profiles_service_pb";
import { BODY_SIZE_LIMIT, decodeStage, IngestError } from "../ingest/errors";
import { maybeGunzipAsync, readBodyCapped } from "../ingest/gzip";
import { convertExport } from "../ingest/otlp";
import { decodeOtlpRequest, type OtlpEncoding } from "../ingest/otlp-decode";
import { normalizePprof } from "../ingest/pprof";
import { Dispatch } from "../route/dispatch";
import { requestContext } from "./connect";
import { countRefusal, toConnectError } from "./errors";
import { labelBytes } from "./meta";
import { PhaseTimer } from "./timing";

interface ExportContext {
  env: Env;
  config: Config;
  tenant: string;
  headers: Headers;
}

export async function handleOtlp(request: Request, env: Env, config: Config, tenant: string): Promise<Response> {
  const contentType = request.headers.get("content-type") ?? "";
  const encoding = encodingOf(contentType);
  const contentEncoding = (request.headers.get("content-encoding") ?? "").trim().toLowerCase();
  let received = 0;
  try {
    // The body is read before anything is refused: one left unread would hold up the next
    // request on a keep-alive connection.
    const raw = await readBodyCapped(request, config.INGESTION_BODY_LIMIT_BYTES);
    received = raw.length;
    if (encoding === undefined) return plain(415, `Unsupported Content-Type: ${contentType}`);
    if (!CONTENT_ENCODINGS.includes(contentEncoding)) {
      return plain(415, `Unsupported Content-Encoding: ${contentEncoding}; supported encodings: gzip, identity`);
    }
    const body = await decodeStage("otlp", () => inflate(raw, config.INGESTION_BODY_LIMIT_BYTES));
    received = body.length;
    const req = decodeOtlpRequest(body, encoding);
    const timing = await exportProfiles(req, { env, config, tenant, headers: request.headers }, body.length);
    // The empty ExportProfilesServiceResponse in the request's encoding (Pyroscope always
    // answers protobuf, which OTLP/JSON clients cannot parse).
    const headers = { "Content-Type": encoding === "json" ? "application/json" : "application/x-protobuf", "Server-Timing": timing };
    return new Response(encoding === "json" ? "{}" : null, { status: 200, headers });
  } catch (err) {
    countRefusal(tenant, err, received);
    if (err instanceof IngestError) return plain(statusOf(err), err.message);
    console.error("otlp: internal error", err);
    return plain(500, "internal error while storing the profiles; retry the request");
  }
}

export function registerOtlp(router: ConnectRouter): void {
  router.service(ProfilesService, {
    async export(req, ctx) {
      const { env, config, tenants, request } = requestContext(ctx);
      try {
        // Connect has decoded the body already; its transfer size stands in for the payload size.
        const received = Number(request.headers.get("content-length")) || 0;
        const timing = await exportProfiles(req, { env, config, tenant: tenants[0], headers: request.headers }, received);
        ctx.responseHeader.set("Server-Timing", timing);
        return {};
      } catch (err) {
        countRefusal(tenants[0], err, Number(request.headers.get("content-length")) || 0);
        throw toConnectError(err);
      }
    },
  });
}

/**
 * Converted profiles have no encoding to measure: the converter applies max_profile_size_bytes
 * to its estimate while building each one, so validation is given no bytes.
 */
const SIZE_CHECKED = new Uint8Array(0);

/** Converts, validates and stores one request; returns the Server-Timing phases. */
async function exportProfiles(req: ExportProfilesServiceRequest, ctx: ExportContext, payloadBytes: number): Promise<string> {
  const nowMs = Date.now();
  const timer = new PhaseTimer();
  const dispatch = new Dispatch(ctx.env, ctx.config, ctx.tenant);
  let bytes = payloadBytes;
  await decodeStage("otlp", () => {
    for (const { labels, profile } of convertExport(req, ctx.config)) {
      bytes += labelBytes(labels);
      normalizePprof({ profile, bytes: SIZE_CHECKED }, { mode: "push", seriesLabels: labels, nowMs, config: ctx.config }, dispatch.sink);
    }
  });
  timer.end("decode");
  await dispatch.send({ receivedAtMs: nowMs, bytes, spyName: "", sdk: ctx.headers.get("user-agent") ?? "" });
  timer.end("store");
  return timer.header();
}

/** `Content-Encoding`s of OTLP/HTTP ("" = none). */
const CONTENT_ENCODINGS = ["", "identity", "gzip"];

/**
 * The body, inflated when gzipped (recognised by its magic bytes, so a missing Content-Encoding
 * does not matter: no protobuf or JSON body starts with them). Both the raw and the inflated
 * size are held to the body limit, as Pyroscope does (§1.3 step 2).
 */
async function inflate(body: Uint8Array, limit: number): Promise<Uint8Array> {
  try {
    return await maybeGunzipAsync(body, limit);
  } catch (err) {
    if (err instanceof IngestError && err.reason === "profile_size_limit") {
      throw new IngestError("too_large", BODY_SIZE_LIMIT, err.message);
    }
    throw err;
  }
}

/**
 * Pyroscope compares the whole header with the three media types (§1.2); parameters such as
 * `; charset=utf-8` are accepted here as well.
 */
function encodingOf(contentType: string): OtlpEncoding | undefined {
  const media = contentType.split(";")[0].trim().toLowerCase();
  if (media === "application/json") return "json";
  if (media === "application/x-protobuf" || media === "application/protobuf") return "protobuf";
  return undefined;
}

function statusOf(err: IngestError): number {
  if (err.kind === "too_large") return 413;
  if (err.kind === "rate_limited") return 429;
  return 400;
}

/** Pyroscope's error bodies on this path: text/plain, the message and a newline (Go's http.Error). */
function plain(status: number, message: string): Response {
  return new Response(`${message}\n`, { status, headers: { "Content-Type": "text/plain; charset=utf-8" } });
}
