// Refusals raised while reading, decoding or validating an upload. The transport decides the HTTP
// status: /ingest answers 422 for profile problems and Push answers 400 (spec API.md §1.8, §2.6).

export type RefusalKind =
  /** The profile or its labels are invalid: Push 400, /ingest 422 (400 for name/label syntax). */
  | "invalid"
  /** The request itself is malformed (bad name, bad query, unknown format): 400 everywhere. */
  | "bad_request"
  /** The HTTP body is larger than the body limit: 413 on /ingest, resource_exhausted on Push. */
  | "too_large"
  /** A rate or ingest limit: 429. */
  | "rate_limited";

export class IngestError extends Error {
  constructor(
    readonly kind: RefusalKind,
    /** Pyroscope's discard reason, e.g. `profile_size_limit`, `invalid_labels`. */
    readonly reason: string,
    message: string,
  ) {
    super(message);
    this.name = "IngestError";
  }
}

export const invalid = (reason: string, message: string) => new IngestError("invalid", reason, message);
export const badRequest = (reason: string, message: string) => new IngestError("bad_request", reason, message);

/** Pyroscope's discard reason for a request body (or a Push's decompressed batch) over the body limit. */
export const BODY_SIZE_LIMIT = "body_size_limit_exceeded";

/**
 * Runs the decode stage of an upload: reading, inflating, decoding, validating and converting the
 * client's bytes into in-memory builders. Nothing in it touches storage, so any exception it
 * raises that is not already a refusal (a RangeError or TypeError from a malformed structure,
 * "Invalid array length", a stack overflow on deep nesting) comes from the upload and refuses it
 * as `malformed_profile`, saying what went wrong, instead of a 5xx that clients would retry
 * forever. Storage calls stay outside, so a failing store is still a 5xx/503 for SDKs to retry.
 */
export async function decodeStage<T>(what: string, run: () => T | Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (err instanceof IngestError) throw err;
    console.warn(`${what}: refused an upload that failed to decode`, err);
    const detail = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    throw invalid("malformed_profile", `${what}: the upload could not be decoded (${detail})`);
  }
}
