import { expect } from "vitest";
import { IngestError } from "../../workers/ingest/errors";

/** Runs `fn` and returns the IngestError it threw; fails the test on any other outcome. */
export function refusal(fn: () => unknown, accepted = "expected a refusal, but the call succeeded"): IngestError {
  try {
    fn();
  } catch (err) {
    expect(err, String(err)).toBeInstanceOf(IngestError);
    return err as IngestError;
  }
  throw new Error(accepted);
}
