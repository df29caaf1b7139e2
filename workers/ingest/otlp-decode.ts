// Decodes an OTLP ExportProfilesServiceRequest from its two OTLP/HTTP encodings (spec OTLP.md
// §1.3 step 3, §3): binary protobuf and OTLP/JSON. OTLP/JSON is protobuf JSON except that
// `traceId`/`spanId` are hex, so those are turned into the base64 protobuf JSON expects before
// decoding; base64 ids (what plain protojson writers such as Go's produce) still decode.

import { fromBinary, fromJson, type JsonObject, type JsonValue } from "@bufbuild/protobuf";
import {
  type ExportProfilesServiceRequest,
  ExportProfilesServiceRequestSchema,
} from "../gen/opentelemetry/proto/collector/profiles/v1development/profiles_service_pb";
import { badRequest } from "./errors";

export type OtlpEncoding = "protobuf" | "json";

/** Undecodable bytes are refused as `bad_request` with the decoder's reason. */
export function decodeOtlpRequest(bytes: Uint8Array, encoding: OtlpEncoding): ExportProfilesServiceRequest {
  if (encoding === "protobuf") {
    try {
      // Unknown fields are skipped, not kept: nothing reads them and they would cost memory.
      return fromBinary(ExportProfilesServiceRequestSchema, bytes, { readUnknownFields: false });
    } catch (err) {
      throw badRequest("malformed_profile", `Failed to parse protobuf request: ${reason(err)}`);
    }
  }
  try {
    const json = JSON.parse(new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes)) as JsonValue;
    hexIdsToBase64(json);
    // The OTLP spec says receivers must ignore unknown fields (Pyroscope refuses them).
    return fromJson(ExportProfilesServiceRequestSchema, json, { ignoreUnknownFields: true });
  } catch (err) {
    throw badRequest("malformed_profile", `Failed to parse JSON request: ${reason(err)}`);
  }
}

const HEX_TRACE_ID = /^[0-9a-fA-F]{32}$/;
const HEX_SPAN_ID = /^[0-9a-fA-F]{16}$/;

/**
 * Rewrites hex link ids in place. Base64 of 16 and 8 bytes is 24 and 12 characters long, so a
 * string of 32 or 16 hex digits can only be hex (spec OTLP.md §3). Both JSON key spellings are
 * accepted by the decoder, so both are rewritten.
 */
function hexIdsToBase64(json: JsonValue): void {
  const dictionary = field(json, "dictionary");
  const links = field(dictionary, "linkTable") ?? field(dictionary, "link_table");
  if (!Array.isArray(links)) return;
  for (const link of links) {
    if (!isObject(link)) continue;
    for (const key of ["traceId", "trace_id"]) rewriteHex(link, key, HEX_TRACE_ID);
    for (const key of ["spanId", "span_id"]) rewriteHex(link, key, HEX_SPAN_ID);
  }
}

function rewriteHex(obj: JsonObject, key: string, pattern: RegExp): void {
  const v = obj[key];
  if (typeof v !== "string" || !pattern.test(v)) return;
  let binary = "";
  for (let i = 0; i < v.length; i += 2) binary += String.fromCharCode(parseInt(v.slice(i, i + 2), 16));
  obj[key] = btoa(binary);
}

function field(v: JsonValue | undefined, key: string): JsonValue | undefined {
  return isObject(v) ? v[key] : undefined;
}

function isObject(v: JsonValue | undefined): v is JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function reason(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
