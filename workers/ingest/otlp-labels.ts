// Series labels of OTLP profiles, as Pyroscope's receiver forms them (spec OTLP.md §4.3, §4.10,
// §4.11): attribute values as label strings, the service name from the resource, and the label
// set of one converted profile.

import type { AnyValue, KeyValue } from "../gen/opentelemetry/proto/common/v1/common_pb";
import { DELTA, METRIC_NAME, SERVICE_NAME, type Labels } from "./labels";

export const SERVICE_NAME_ATTRIBUTE = "service.name";
const EXECUTABLE_NAME_ATTRIBUTE = "process.executable.name";
const UNKNOWN_SERVICE = "unknown_service";

/**
 * An attribute value as a label value (§4.11): strings as they are, integers in base 10, a
 * one-element array as its element; "" (absent) for anything else.
 */
export function attributeString(v: AnyValue | undefined): string {
  const value = v?.value;
  switch (value?.case) {
    case "stringValue":
      return value.value;
    case "intValue":
      return value.value.toString();
    case "arrayValue": {
      const values = value.value.values;
      if (values.length !== 1) return "";
      const only = values[0].value;
      return only.case === "stringValue" || only.case === "intValue" ? only.value.toString() : "";
    }
    default:
      return "";
  }
}

/**
 * `service_name` from the resource (§4.3): `service.name` wherever it appears, else
 * `unknown_service` followed by `:<name>` for each `process.executable.name`.
 */
export function serviceNameOf(resource: readonly KeyValue[]): string {
  let fallback = UNKNOWN_SERVICE;
  for (const kv of resource) {
    const v = attributeString(kv.value);
    if (v === "") continue;
    if (kv.key === SERVICE_NAME_ATTRIBUTE) return v;
    if (kv.key === EXECUTABLE_NAME_ATTRIBUTE) fallback += `:${v}`;
  }
  return fallback;
}

/**
 * The resource then scope attributes as labels (§4.10 steps 4–5): keys verbatim, the first
 * non-empty value of a key wins, `__name__` is never taken from an attribute.
 */
export function attributeLabels(resource: readonly KeyValue[], scope: readonly KeyValue[]): Labels {
  const seen = new Set([METRIC_NAME]);
  const out: Labels = [];
  for (const kv of [...resource, ...scope]) {
    if (seen.has(kv.key)) continue;
    const v = attributeString(kv.value);
    if (v === "") continue;
    seen.add(kv.key);
    out.push([kv.key, v]);
  }
  return out;
}

/** The series labels of one converted profile (§4.10), unsorted: the push path sorts them. */
export function otlpSeriesLabels(name: string, attributes: Labels, serviceName: string): Labels {
  return [[DELTA, "false"], ["__otel__", "true"], [METRIC_NAME, name], ...attributes, [SERVICE_NAME, serviceName]];
}
