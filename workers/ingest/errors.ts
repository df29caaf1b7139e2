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
