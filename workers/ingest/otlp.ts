// OTLP profiles → the pprof pipeline (spec OTLP.md §4): each (resource, scope, profile) of an
// ExportProfilesServiceRequest becomes one profile per per-sample service name, with the series
// labels Pyroscope gives it, ready for normalizePprof in "push" mode.
//
// All or nothing: the first conversion error refuses the whole request (§4.1), and so does a
// converted profile over the size limit, checked while it is being built.

import type { Config } from "../config";
import type { ExportProfilesServiceRequest } from "../gen/opentelemetry/proto/collector/profiles/v1development/profiles_service_pb";
import type { Profile, ProfilesDictionary, Sample } from "../gen/opentelemetry/proto/profiles/v1development/profiles_pb";
import type { AssembledProfile } from "./assemble";
import { invalid } from "./errors";
import { formatLabels, pushSeriesLabels, type Labels } from "./labels";
import { conversionError, OtlpPprofBuilder, type BuilderShape } from "./otlp-builder";
import { attributeLabels, attributeString, otlpSeriesLabels, serviceNameOf, SERVICE_NAME_ATTRIBUTE } from "./otlp-labels";

/**
 * How sample values are converted (§4.5 table, §4.7 step 2): "multiply" = the first value ×
 * period (eBPF CPU samples count ticks of `period` nanoseconds), "sum" = all values summed into
 * one (eBPF off-CPU samples carry one value per timestamp), "none" = as sent.
 */
type ValueRule = "none" | "multiply" | "sum";

interface ProfileClass extends BuilderShape {
  name: string;
  rule: ValueRule;
  period: bigint;
}

type Limits = Pick<Config, "MAX_PROFILE_SIZE_BYTES">;

/** Converts a whole request; an empty result means there was nothing to store. */
export function convertExport(req: ExportProfilesServiceRequest, limits: Limits): AssembledProfile[] {
  const dict = req.dictionary;
  if (dict === undefined) throw invalid("malformed_profile", "missing profile metadata dictionary");
  if (req.resourceProfiles.length === 0) throw invalid("malformed_profile", "missing resource profiles");
  const out: AssembledProfile[] = [];
  for (const rp of req.resourceProfiles) {
    const resource = rp.resource?.attributes ?? [];
    const serviceName = serviceNameOf(resource);
    for (const sp of rp.scopeProfiles) {
      const attributes = attributeLabels(resource, sp.scope?.attributes ?? []);
      for (const p of sp.profiles) out.push(...convertProfile(p, dict, attributes, serviceName, limits));
    }
  }
  return out;
}

/** One profile per distinct per-sample `service.name`, in order of first use (§4.4). */
function convertProfile(
  p: Profile,
  dict: ProfilesDictionary,
  attributes: Labels,
  resourceServiceName: string,
  limits: Limits,
): AssembledProfile[] {
  if (p.samples.length === 0) return [];
  const groups = new Map<string, { labels: Labels; builder: OtlpPprofBuilder }>();
  let cls: ProfileClass | undefined;
  for (const s of p.samples) {
    const sampleService = sampleServiceName(s, dict);
    if (sampleService === undefined) return [];
    cls ??= classify(p, dict.stringTable);
    let group = groups.get(sampleService);
    if (group === undefined) {
      const labels = otlpSeriesLabels(cls.name, attributes, sampleService || resourceServiceName);
      group = { labels, builder: new OtlpPprofBuilder(dict, cls) };
      groups.set(sampleService, group);
    }
    group.builder.sample(s, sampleValues(s, cls, p.periodType !== undefined));
    const limit = limits.MAX_PROFILE_SIZE_BYTES;
    if (limit > 0 && group.builder.size > limit) {
      throw invalid(
        "profile_size_limit",
        `the profile with labels '${formatLabels(pushSeriesLabels(group.labels))}' exceeds the size limit (max_profile_size_byte, actual: more than ${limit}, limit: ${limit})`,
      );
    }
  }
  return [...groups.values()].map(({ labels, builder }) => ({ labels, profile: builder.finish() }));
}

/**
 * The sample's `service.name` attribute value, "" when it has none; undefined when an attribute
 * before it cannot be resolved, which makes Pyroscope drop the whole profile silently (§4.4).
 */
function sampleServiceName(s: Sample, dict: ProfilesDictionary): string | undefined {
  const { attributeTable, stringTable } = dict;
  for (const idx of s.attributeIndices) {
    if (idx < 0 || idx >= attributeTable.length) return undefined;
    const attr = attributeTable[idx];
    if (attr.keyStrindex < 0 || attr.keyStrindex >= stringTable.length) return undefined;
    if (stringTable[attr.keyStrindex] === SERVICE_NAME_ATTRIBUTE) return attributeString(attr.value);
  }
  return "";
}

/** Sample type, period type, `__name__` and value rule of a profile (§4.5, §4.6). */
function classify(p: Profile, strings: readonly string[]): ProfileClass {
  if (p.sampleType === undefined) throw conversionError("sample type is missing");
  const type = stringOf(strings, p.sampleType.typeStrindex, "could not process sample type: could not access type string");
  const unit = stringOf(strings, p.sampleType.unitStrindex, "could not process sample type: could not access unit string");
  const periodType: readonly [string, string] | undefined = p.periodType && [
    stringOf(strings, p.periodType.typeStrindex, "could not access type string"),
    stringOf(strings, p.periodType.unitStrindex, "could not access unit string"),
  ];
  // The period type takes part in the classification only with a period.
  const [ptype, punit] = periodType !== undefined && p.period !== 0n ? periodType : ["", ""];
  const key = `${type}:${unit}:${ptype}:${punit}`;
  const base = { periodType, timeNanos: p.timeUnixNano, durationNanos: p.durationNano, period: p.period };
  if (key === "samples:count:cpu:nanoseconds") {
    return { ...base, sampleType: ["cpu", "nanoseconds"], name: "process_cpu", rule: "multiply" };
  }
  if (key === "off_cpu:nanoseconds::") return { ...base, sampleType: [type, unit], name: "off_cpu", rule: "sum" };
  // Pyroscope names every other profile by the key's third field: the period type, not the
  // sample type, and "" without a period (refused later as an invalid metric name).
  return { ...base, sampleType: [type, unit], name: key.split(":")[2], rule: "none" };
}

function stringOf(strings: readonly string[], i: number, what: string): string {
  if (i < 0 || i >= strings.length) throw conversionError(`${what}: index ${i} out of bounds`);
  return strings[i];
}

/** A sample's values after the profile's rule (§4.7 steps 1–3). */
function sampleValues(s: Sample, cls: ProfileClass, hasPeriodType: boolean): number[] {
  // Timestamps without values count one each.
  const raw = s.values.length > 0 ? s.values : s.timestampsUnixNano.length > 0 ? [BigInt(s.timestampsUnixNano.length)] : [];
  if (raw.length === 0) throw conversionError("sample value is required");
  let values: number[];
  if (cls.rule === "multiply") values = [Number(raw[0] * cls.period), ...raw.slice(1).map(Number)];
  else if (cls.rule === "sum") values = [Number(raw.reduce((a, b) => a + b, 0n))];
  else values = raw.map(Number);
  if (cls.period !== 0n && hasPeriodType && values.length !== 1) {
    throw conversionError(`sample values length mismatch ${values.length} 1`);
  }
  return values;
}
