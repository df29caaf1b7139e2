// Series label sets: how /ingest and Push form them (spec API.md §1.6.1, §2.2), Pyroscope's
// label-builder semantics used while splitting and relabeling (§2.3, §2.5), and series label
// validation with Pyroscope's reasons and messages (§7.1).

import type { Labels } from "../block/builder";
import type { Config } from "../config";
import { invalid } from "./errors";
import { utf8Length } from "./string-table";

export type { Labels };

export const METRIC_NAME = "__name__";
export const SERVICE_NAME = "service_name";
export const DELTA = "__delta__";
export const SESSION_ID = "__session_id__";
const PYROSCOPE_SPY = "pyroscope_spy";
const UNKNOWN_SERVICE = "unknown_service";

/** Orders by UTF-8 bytes, as Go compares strings; plain UTF-16 comparison differs above U+FFFF. */
function compareUtf8(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return codePointRank(x) - codePointRank(y);
  }
  return a.length - b.length;
}

// Surrogates (U+D800–DFFF) encode code points above every BMP character, so rank them last.
const codePointRank = (c: number) => (c < 0xd800 ? c : c < 0xe000 ? c + 0x2000 : c - 0x800);

/** Sorts by name in place (stable, so duplicates keep their order) and returns the same array. */
function sortLabels(labels: Labels): Labels {
  return labels.sort((x, y) => compareUtf8(x[0], y[0]));
}

/** The value of the first label called `name`, or "". */
export function labelValue(labels: Labels, name: string): string {
  for (const [n, v] of labels) if (n === name) return v;
  return "";
}

export function withoutLabel(labels: Labels, name: string): Labels {
  return labels.filter(([n]) => n !== name);
}

/** Pyroscope's LabelPairsString, used in every refusal message: `{a="x", b="y"}`. */
export function formatLabels(labels: Labels): string {
  return `{${labels.map(([n, v]) => `${n}=${goQuote(v)}`).join(", ")}}`;
}

const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u;
const SHORT_ESCAPES: Record<number, string> = { 7: "\\a", 8: "\\b", 9: "\\t", 10: "\\n", 11: "\\v", 12: "\\f", 13: "\\r" };

/** Go's strconv.Quote, so messages match Pyroscope's byte for byte. */
function goQuote(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.codePointAt(i)!;
    const ch = String.fromCodePoint(c);
    if (c > 0xffff) i++;
    if (c === 0x22) out += '\\"';
    else if (c === 0x5c) out += "\\\\";
    else if (c >= 0x20 && c < 0x7f) out += ch;
    else if (SHORT_ESCAPES[c]) out += SHORT_ESCAPES[c];
    else if (c < 0x20 || c === 0x7f) out += `\\x${hex(c, 2)}`;
    // A lone surrogate is what Go would see as three invalid bytes.
    else if (c >= 0xd800 && c <= 0xdfff) out += `\\x${hex(0xe0 | (c >> 12), 2)}\\x${hex(0x80 | ((c >> 6) & 0x3f), 2)}\\x${hex(0x80 | (c & 0x3f), 2)}`;
    else if (PRINTABLE.test(ch)) out += ch;
    else out += c > 0xffff ? `\\U${hex(c, 8)}` : `\\u${hex(c, 4)}`;
  }
  return out + '"';
}

const hex = (n: number, width: number) => n.toString(16).padStart(width, "0");

/** A JS string is valid UTF-8 once encoded unless it holds a lone surrogate. */
function isWellFormed(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0xd800 || c > 0xdfff) continue;
    if (c > 0xdbff || i + 1 >= s.length) return false;
    const d = s.charCodeAt(++i);
    if (d < 0xdc00 || d > 0xdfff) return false;
  }
  return true;
}

/**
 * A label set under edit with the semantics of Pyroscope's LabelsBuilder, which the split and
 * the relabel rules rely on: an empty value means "absent", so base labels with an empty value
 * are deleted by name, and setting "" deletes. Duplicate names in the base survive (so that
 * validation can refuse them) unless that name is edited.
 */
export class LabelsBuilder {
  private base: Labels = [];
  private readonly deleted: string[] = [];
  private readonly added: Labels = [];

  reset(base: Labels): this {
    this.base = base;
    this.deleted.length = 0;
    this.added.length = 0;
    for (const [n, v] of base) if (v === "") this.deleted.push(n);
    return this;
  }

  get(name: string): string {
    for (const [n, v] of this.added) if (n === name) return v;
    if (this.deleted.includes(name)) return "";
    return labelValue(this.base, name);
  }

  set(name: string, value: string): this {
    if (value === "") return this.delete(name);
    const at = this.added.findIndex(([n]) => n === name);
    if (at >= 0) this.added[at] = [name, value];
    else this.added.push([name, value]);
    return this;
  }

  delete(name: string): this {
    const at = this.added.findIndex(([n]) => n === name);
    if (at >= 0) this.added.splice(at, 1);
    this.deleted.push(name);
    return this;
  }

  /** The result, sorted by name; the base itself when nothing changed (it must be sorted). */
  labels(): Labels {
    if (this.deleted.length === 0 && this.added.length === 0) return this.base;
    const out: Labels = [];
    for (const l of this.base) {
      if (this.deleted.includes(l[0]) || this.added.some(([n]) => n === l[0])) continue;
      out.push(l);
    }
    for (const l of this.added) out.push(l);
    return sortLabels(out);
  }
}

/** Keys starting with `__` are reserved and dropped on /ingest, except the SDK session id. */
function isAllowedForIngestion(name: string): boolean {
  return !name.startsWith("__") || name === SESSION_ID;
}

/** Series labels of an /ingest pprof upload (§1.6.1), sorted. */
export function ingestSeriesLabels(input: {
  appName: string;
  /** The `name` labels, without the app name. */
  labels: Labels;
  spyName: string;
  metricName: string;
}): Labels {
  const out: Labels = [
    [METRIC_NAME, input.metricName],
    [DELTA, "false"],
    [PYROSCOPE_SPY, input.spyName],
  ];
  if (!input.labels.some(([n]) => n === SERVICE_NAME)) out.push([SERVICE_NAME, input.appName]);
  for (const [n, v] of input.labels) if (isAllowedForIngestion(n)) out.push([n, v]);
  return sortLabels(out);
}

/** Series labels of a Push series (§2.2 step 4), sorted. */
export function pushSeriesLabels(labels: Labels): Labels {
  const out: Labels = labels.map(([n, v]) => [n, v]);
  if (labelValue(out, SERVICE_NAME) === "") out.push([SERVICE_NAME, UNKNOWN_SERVICE]);
  return sortLabels(out);
}

export type LabelLimits = Pick<Config, "MAX_LABEL_NAMES_PER_SERIES" | "MAX_LABEL_NAME_LENGTH" | "MAX_LABEL_VALUE_LENGTH">;

/** Pyroscope's ValidateLabels (§7.1) over a sorted label set; throws the first violation. */
export function validateSeriesLabels(labels: Labels, limits: LabelLimits): void {
  if (labels.length === 0) throw invalid("missing_labels", "error at least one label pair is required per profile");
  const shown = () => formatLabels(labels);
  if (labels.length > limits.MAX_LABEL_NAMES_PER_SERIES) {
    throw invalid(
      "max_label_names_per_series",
      `profile series '${shown()}' has ${labels.length} label names; limit ${limits.MAX_LABEL_NAMES_PER_SERIES}`,
    );
  }
  const metric = labelValue(labels, METRIC_NAME);
  if (metric === "" || !isWellFormed(metric)) {
    throw invalid("invalid_labels", `invalid labels '${shown()}' with error: invalid metric name`);
  }
  if (labelValue(labels, SERVICE_NAME) === "") {
    throw invalid("missing_labels", `invalid labels '${shown()}' with error: service name is not provided`);
  }
  let last = "";
  for (const [n, v] of labels) {
    if (utf8Length(n) > limits.MAX_LABEL_NAME_LENGTH) {
      throw invalid("label_name_too_long", `profile with labels '${shown()}' has label name too long: '${n}'`);
    }
    if (utf8Length(v) > limits.MAX_LABEL_VALUE_LENGTH) {
      throw invalid("label_value_too_long", `profile with labels '${shown()}' has label value too long: '${v}'`);
    }
    if (n === "" || !isWellFormed(n)) {
      throw invalid("invalid_labels", `invalid labels '${shown()}' with error: invalid label name '${n}'`);
    }
    if (!isWellFormed(v)) {
      throw invalid("invalid_labels", `invalid labels '${shown()}' with error: invalid label value '${v}'`);
    }
    if (n === last) {
      throw invalid("duplicate_label_names", `profile with labels '${shown()}' has duplicate label name: '${n}'`);
    }
    last = n;
  }
}
