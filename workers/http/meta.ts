// Push metadata the catalog keeps per service: which client sent it and how many bytes.

import type { Labels } from "../block/builder";

/** Σ(len(name)+len(value)): the label part of Pyroscope's ingested-bytes measure. */
export function labelBytes(labels: Labels): number {
  let n = 0;
  for (const [k, v] of labels) n += k.length + v.length;
  return n;
}

/**
 * The client that sent a push: the SDKs' `otel.scope.name`/`otel.scope.version` labels when present
 * (Go, Java, Node.js, pyroscope-rs and .NET send them), else the User-Agent.
 */
export function sdkOf(labels: Labels, headers: Headers): string {
  let name = "";
  let version = "";
  for (const [k, v] of labels) {
    if (k === "otel.scope.name") name = v;
    else if (k === "otel.scope.version") version = v;
  }
  if (name) return version ? `${name}/${version}` : name;
  return headers.get("user-agent") ?? "";
}
