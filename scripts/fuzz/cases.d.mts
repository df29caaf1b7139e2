// Types of cases.mjs for the TypeScript tests that regenerate fuzz cases (test/fuzz-regressions).

export interface FuzzLimits {
  INGESTION_BODY_LIMIT_BYTES: number;
  MAX_PROFILE_SIZE_BYTES: number;
}

export interface FuzzCase {
  seed: number;
  index: number;
  format: string;
  mutation: string;
  detail: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  body: Uint8Array;
  transport?: { kind: "understate"; declared: number } | { kind: "truncate"; sent: number } | { kind: "chunked" };
}

export const FILES: string[];
export const MUTATIONS: string[];
export const FORMATS: Record<string, string[]>;
export const PAIRS: [string, string][];
export function makeCase(seed: number, index: number, corpus: Map<string, Uint8Array>, limits: FuzzLimits): FuzzCase;
