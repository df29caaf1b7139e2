// POST /ingest and /pyroscope/ingest: the legacy ingestion endpoint the Go, Java, Node.js and old
// Python/Ruby/.NET SDKs use (spec API.md §1). Thin shell: read the body within its limit, pick the
// format, decode into builders, then hand them to the ingesters.

import type { Config } from "../config";
import type { Env } from "../env";
import type { AssembledProfile } from "../ingest/assemble";
import { parseTimeMs } from "../ingest/attime";
import { decodeStage, IngestError, invalid } from "../ingest/errors";
import { decodeFolded, decodeLines } from "../ingest/folded";
import { maybeGunzipAsync, readBodyCapped } from "../ingest/gzip";
import { decodeJfr } from "../ingest/jfr";
import { parseSampleRate, type LegacyMeta } from "../ingest/legacy-labels";
import { parseMultipart, type Part } from "../ingest/multipart";
import { parseName } from "../ingest/name";
import { decodePprof, normalizePprof, type SampleTypeConfig } from "../ingest/pprof";
import { decodeSpeedscope } from "../ingest/speedscope";
import { decodeTree } from "../ingest/tree";
import { decodeTrie } from "../ingest/trie";
import { Dispatch } from "../route/dispatch";
import { countRefusal, errorResponse, ingestStatus } from "./errors";
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
    // The request's declared size: the body may not have been read, or not decompressed.
    countRefusal(tenant, err, Number(request.headers.get("Content-Length")) || 0);
    if (err instanceof IngestError) return errorResponse(ingestStatus(err), err.message);
    console.error("ingest: internal error", err);
    return errorResponse(500, "internal error while storing the profile; retry the upload");
  }
}

async function ingest(request: Request, env: Env, config: Config, tenant: string): Promise<Response> {
  // The body is read before anything is refused: one left unread would hold up the next request
  // on a keep-alive connection.
  const body = await readBodyCapped(request, config.INGESTION_BODY_LIMIT_BYTES);
  const url = new URL(request.url);
  const q = url.searchParams;
  const nowMs = Date.now();
  const { app, labels } = parseName(q.get("name") ?? "");
  const fromMs = parseTimeMs(q.get("from"), nowMs);
  const untilMs = parseTimeMs(q.get("until"), nowMs);
  const format = (q.get("format") ?? "").toLowerCase();
  const contentType = request.headers.get("content-type") ?? "";
  const spyName = q.get("spyName") || "unknown";
  const kind = bodyFormat(format, contentType);

  const timer = new PhaseTimer();
  const dispatch = new Dispatch(env, config, tenant);
  // Every profile of the request is decoded and written into the dispatch builders before any
  // is sent, so a refusal anywhere leaves storage untouched.
  const decoded = await decodeStage("ingest", async (): Promise<Uint8Array | undefined> => {
    if (kind === "pprof") {
      const pprof = await pprofInput(body, contentType, config);
      if (pprof === undefined) return undefined;
      normalizePprof(
        decodePprof(pprof.raw),
        { mode: "ingest", appName: app, nameLabels: labels, spyName, sampleTypeConfig: pprof.sampleTypeConfig, fromMs, nowMs, config },
        dispatch.sink,
      );
      return pprof.raw;
    }
    if (kind === "jfr") {
      const jfr = await jfrInput(body, contentType, config);
      const profiles = decodeJfr(jfr.recording, jfr.labels, { appName: app, nameLabels: labels, spyName, fromMs, untilMs, nowMs, config });
      storeAll(profiles, jfr.recording, nowMs, config, dispatch);
      return jfr.recording;
    }
    const meta: LegacyMeta = { appName: app, nameLabels: labels, spyName, sampleRate: parseSampleRate(q.get("sampleRate")), fromMs, untilMs };
    const profiles = decodeLegacy(kind, body, meta, config);
    asPushRefusal(() => storeAll(profiles, body, nowMs, config, dispatch));
    return body;
  });
  // Pyroscope accepts a multipart upload without a profile as a no-op.
  if (decoded === undefined) return new Response(null, { status: 200 });
  timer.end("decode");
  await dispatch.send({
    receivedAtMs: nowMs,
    bytes: decoded.length + labelBytes(labels) + app.length,
    spyName,
    sdk: sdkOf(labels, request.headers),
  });
  timer.end("store");
  return new Response(null, { status: 200, headers: { "Server-Timing": timer.header() } });
}

/** The pprof of a raw or multipart upload, inflated; undefined for a multipart without one. */
async function pprofInput(
  body: Uint8Array,
  contentType: string,
  config: Config,
): Promise<{ raw: Uint8Array; sampleTypeConfig?: SampleTypeConfig } | undefined> {
  if (!contentType.includes("multipart/form-data")) return { raw: await maybeGunzipAsync(body, config.MAX_PROFILE_SIZE_BYTES) };
  const parts = parseMultipart(body, contentType);
  const prev = part(parts, "prev_profile");
  if (prev && prev.data.length > 0) {
    throw invalid(
      "unsupported_client",
      "unsupported client version. Please update github.com/grafana/pyroscope-go to the latest version",
    );
  }
  const stc = part(parts, "sample_type_config");
  const sampleTypeConfig = stc && stc.data.length > 0 ? parseSampleTypeConfig(stc.data) : undefined;
  const p = part(parts, "profile");
  if (!p || p.data.length === 0) return undefined;
  return { raw: await maybeGunzipAsync(p.data, config.MAX_PROFILE_SIZE_BYTES), sampleTypeConfig };
}

/**
 * A JFR upload (spec §1.5.7): the recording as the body, or multipart parts `jfr` (required) and
 * `labels` (optional). Each may be gzipped, and is bounded by MAX_PROFILE_SIZE_BYTES once inflated.
 */
async function jfrInput(body: Uint8Array, contentType: string, config: Config): Promise<{ recording: Uint8Array; labels?: Uint8Array }> {
  if (!contentType.includes("multipart/form-data")) return { recording: await jfrPart(body, config) };
  const parts = parseMultipart(body, contentType);
  const jfr = part(parts, "jfr");
  if (!jfr) throw invalid("malformed_profile", "jfr field is required");
  const labels = part(parts, "labels");
  return { recording: await jfrPart(jfr.data, config), labels: labels && (await jfrPart(labels.data, config)) };
}

async function jfrPart(data: Uint8Array, config: Config): Promise<Uint8Array> {
  try {
    return await maybeGunzipAsync(data, config.MAX_PROFILE_SIZE_BYTES);
  } catch (e) {
    // Pyroscope's JFR path words the limit its own way.
    if (e instanceof IngestError && e.reason === "profile_size_limit") {
      throw invalid(e.reason, `decompressed size exceeds maximum allowed size of ${config.MAX_PROFILE_SIZE_BYTES} bytes`);
    }
    throw e;
  }
}

/** The text and tree formats (spec §1.5.1–§1.5.5, §1.5.8); parse errors are 422. */
function decodeLegacy(kind: string, body: Uint8Array, meta: LegacyMeta, config: Config): AssembledProfile[] {
  switch (kind) {
    case "trie":
      return decodeTrie(body, meta, config);
    case "tree":
      return decodeTree(body, meta, config);
    case "lines":
      return decodeLines(body, meta, config);
    case "speedscope":
      return decodeSpeedscope(body, meta, config);
    default:
      return decodeFolded(body, meta, config);
  }
}

/** Runs each profile through the push pipeline into the dispatch builders; `bytes` is what the size limit measures. */
function storeAll(profiles: AssembledProfile[], bytes: Uint8Array, nowMs: number, config: Config, dispatch: Dispatch): void {
  for (const { labels, profile } of profiles) {
    normalizePprof({ profile, bytes }, { mode: "push", seriesLabels: labels, nowMs, config }, dispatch.sink);
  }
}

/**
 * On the text and tree paths Pyroscope converts first and then pushes, and a refusal of the push
 * step keeps the push status: 400 rather than the 422 of a conversion error (spec §1.8).
 */
function asPushRefusal(store: () => void): void {
  try {
    store();
  } catch (e) {
    if (e instanceof IngestError && e.kind === "invalid") throw new IngestError("bad_request", e.reason, e.message);
    throw e;
  }
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
