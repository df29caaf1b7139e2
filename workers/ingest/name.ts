// The `name` query parameter of /ingest: `<app>[{k=v,...}]` (spec API.md §1.2). Pyroscope parses it
// with a four-state machine rather than a grammar, and clients depend on its leniency (values with
// `/`, `:` or spaces, empty values, unclosed braces), so this follows the same machine.

import { badRequest } from "./errors";

export interface ParsedName {
  app: string;
  /** In first-seen order; a repeated key keeps its first position and takes the last value. */
  labels: [string, string][];
}

/** The key under which Pyroscope keeps the app name; inside the braces it replaces the app. */
const APP_KEY = "__name__";
/** The only `__`-prefixed key that survives ingestion (Pyroscope `IsLabelAllowedForIngestion`). */
const SESSION_ID_KEY = "__session_id__";

/**
 * Parses `name`; an absent parameter is treated as empty. Throws `bad_request`
 * (`missing_labels` for an empty app name, `invalid_labels` for a bad character or empty key).
 */
export function parseName(name: string | null | undefined): ParsedName {
  let state: "app" | "key" | "value" | "done" = "app";
  let app = "";
  let key = "";
  let value = "";
  const labels = new Map<string, string>();

  // The trailing `{` ends the app name when there are no braces; with braces it falls into the
  // done state, or into an unclosed pair, which (as in Pyroscope) is then never stored.
  for (const ch of (name ?? "") + "{") {
    switch (state) {
      case "app":
        if (ch === "{") {
          app = checkApp(app.trim());
          state = "key";
        } else app += ch;
        break;
      case "key":
        if (ch === "}") state = "done";
        else if (ch === "=") {
          value = "";
          state = "value";
        } else key += ch;
        break;
      case "value":
        if (ch === "," || ch === "}") {
          const k = key.trim();
          const v = value.trim();
          if (k === APP_KEY) app = checkApp(v);
          else labels.set(checkKey(k), v);
          key = "";
          state = ch === "}" ? "done" : "key";
        } else value += ch;
        break;
    }
    if (state === "done") break;
  }

  return {
    app,
    labels: [...labels].filter(([k]) => !k.startsWith("__") || k === SESSION_ID_KEY),
  };
}

function checkApp(app: string): string {
  if (app === "") throw badRequest("missing_labels", "name: service name is required");
  const bad = firstDisallowed(app, /[A-Za-z0-9_.\-/]/);
  if (bad !== undefined) {
    throw badRequest(
      "invalid_labels",
      `name: invalid service name: ${app}: character is not allowed: ${quoteRune(bad)}`,
    );
  }
  return app;
}

function checkKey(key: string): string {
  if (key === "") throw badRequest("invalid_labels", "name: label name is required");
  const bad = firstDisallowed(key, /[A-Za-z0-9_.]/);
  if (bad !== undefined) {
    throw badRequest("invalid_labels", `name: invalid label name: ${key}: character is not allowed: ${quoteRune(bad)}`);
  }
  return key;
}

function firstDisallowed(s: string, allowed: RegExp): string | undefined {
  for (const ch of s) if (!allowed.test(ch)) return ch;
  return undefined;
}

/** Go's %q for a rune, so messages read like Pyroscope's: ' ', '\t', '\x00'. */
function quoteRune(ch: string): string {
  const escapes: Record<string, string> = { "'": "\\'", "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t" };
  if (escapes[ch]) return `'${escapes[ch]}'`;
  const code = ch.codePointAt(0) ?? 0;
  if (code < 0x20 || code === 0x7f) return `'\\x${code.toString(16).padStart(2, "0")}'`;
  return `'${ch}'`;
}
