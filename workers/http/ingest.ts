// POST /ingest and /pyroscope/ingest: the legacy ingestion endpoint the Go, Java, Node.js and old
// Python/Ruby/.NET SDKs use (spec API.md §1). Thin shell: read the body within its limit, pick the
// format, decode into builders, then hand them to the ingesters.

import type { Config } from "../config";
import type { Env } from "../env";
import { parseTimeMs } from "../ingest/attime";
import { IngestError, invalid } from "../ingest/errors";
import { maybeGunzipAsync, readBodyCapped } from "../ingest/gzip";
import { parseMultipart, type Part } from "../ingest/multipart";
import { parseName } from "../ingest/name";
import { decodePprof, normalizePprof, type SampleTypeConfig } from "../ingest/pprof";
import { Dispatch } from "../route/dispatch";
import { errorResponse, ingestStatus } from "./errors";
import { labelBytes, sdkOf } from "./meta";
import { PhaseTimer } from "./timing";

/**
 * The body format, in the order of spec §1.4 (first match wins). Anything that is neither pprof
 * nor multipart is collapsed text ("groups"), whatever `format` says.
 */
function bodyFormat(format: string, contentType: string): string {
  if (format === "trie" || contentType === "binary/octet-stream+trie") return "trie";
  if (format === "tree" || contentType === "binary/octet-stream+tree") return "tree";
  if (format === "lines" || format === "jfr" || format === "pprof" || format === "speedscope") return format;
  return contentType.includes("multipart/form-data") ? "pprof" : "folded";
}

export async function handleIngest(request: Request, env: Env, config: Config, tenant: string): Promise<Response> {
  try {
    return await ingest(request, env, config, tenant);
  } catch (err) {
    if (err instanceof IngestError) return errorResponse(ingestStatus(err), err.message);
    console.error("ingest: internal error", err);
    return errorResponse(500, "internal error while storing the profile; retry the upload");
  }
}

async function ingest(request: Request, env: Env, config: Config, tenant: string): Promise<Response> {
  const url = new URL(request.url);
  const q = url.searchParams;
  const nowMs = Date.now();
  const { app, labels } = parseName(q.get("name") ?? "");
  const fromMs = parseTimeMs(q.get("from"), nowMs);
  const format = (q.get("format") ?? "").toLowerCase();
  const contentType = request.headers.get("content-type") ?? "";
  const spyName = q.get("spyName") || "unknown";

  const multipart = contentType.includes("multipart/form-data");
  const kind = bodyFormat(format, contentType);
  if (kind !== "pprof") {
    // 4xx, not 5xx: the Java agent retries 5xx for ever (spec §1.8). Issue #4 adds these formats.
    throw invalid("unsupported_format", `${kind} uploads are not supported yet; send pprof (raw with format=pprof, or multipart)`);
  }

  const body = await readBodyCapped(request, config.INGESTION_BODY_LIMIT_BYTES);
  let profile: Uint8Array;
  let sampleTypeConfig: SampleTypeConfig | undefined;
  if (multipart) {
    const parts = parseMultipart(body, contentType);
    const prev = part(parts, "prev_profile");
    if (prev && prev.data.length > 0) {
      throw invalid(
        "unsupported_client",
        "unsupported client version. Please update github.com/grafana/pyroscope-go to the latest version",
      );
    }
    const stc = part(parts, "sample_type_config");
    if (stc && stc.data.length > 0) sampleTypeConfig = parseSampleTypeConfig(stc.data);
    const p = part(parts, "profile");
    // Pyroscope accepts a multipart upload without a profile as a no-op.
    if (!p || p.data.length === 0) return new Response(null, { status: 200 });
    profile = p.data;
  } else {
    profile = body;
  }
  const timer = new PhaseTimer();
  const raw = await maybeGunzipAsync(profile, config.MAX_PROFILE_SIZE_BYTES);
  const dispatch = new Dispatch(env, config, tenant);
  normalizePprof(
    decodePprof(raw),
    { mode: "ingest", appName: app, nameLabels: labels, spyName, sampleTypeConfig, fromMs, nowMs, config },
    dispatch.sink,
  );
  timer.end("decode");
  await dispatch.send({
    receivedAtMs: nowMs,
    bytes: raw.length + labelBytes(labels) + app.length,
    spyName,
    sdk: sdkOf(labels, request.headers),
  });
  timer.end("store");
  return new Response(null, { status: 200, headers: { "Server-Timing": timer.header() } });
}

function part(parts: Part[], name: string): Part | undefined {
  return parts.find((p) => p.name === name);
}

function parseSampleTypeConfig(bytes: Uint8Array): SampleTypeConfig {
  try {
    const v = JSON.parse(new TextDecoder().decode(bytes)) as unknown;
    if (v && typeof v === "object" && !Array.isArray(v)) return v as SampleTypeConfig;
  } catch {
    // fall through to the refusal below
  }
  throw invalid("malformed_profile", "sample_type_config is not a JSON object of sample type settings");
}
