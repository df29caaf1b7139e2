// Label selectors as Pyroscope reads them (spec API.md §3.0, §5.1): Prometheus metric-selector
// syntax, `name{l="v", l!="v", l=~"re", l!~"re"}`, where the legacy render API carries the profile
// type id as the metric name. Pure: no bindings, so the query paths and tests share it as is.

import { RE2JS, RE2JSException } from "re2js";

export type MatchOp = "=" | "!=" | "=~" | "!~";

export interface Matcher {
  readonly name: string;
  readonly op: MatchOp;
  readonly value: string;
  /** compiled, for =~ and !~ (matched against whole values) */
  readonly re?: RE2JS;
}

/** Every refusal of a selector, profile type id or render query; the transport answers 400. */
export class SelectorError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SelectorError";
  }
}

export interface ProfileTypeParts {
  /** The 5-part id, the value of the stored `__profile_type__` label (a legacy 6th part is dropped). */
  id: string;
  name: string;
  sampleType: string;
  sampleUnit: string;
  periodType: string;
  periodUnit: string;
}

/** The label a metric name (here: a profile type id or series name) stands for. */
const NAME_LABEL = "__name__";

/** Builds a matcher, compiling the regex of `=~` / `!~`; a bad regex throws SelectorError. */
export function compileMatcher(name: string, op: MatchOp, value: string): Matcher {
  return op === "=~" || op === "!~" ? { name, op, value, re: compileRegex(name, value) } : { name, op, value };
}

/**
 * Prometheus metric-selector syntax: `{}` or `{l="v", l!="v", l=~"re", l!~"re"}` with optional
 * metric-name prefix `name{...}` (→ an equality matcher on `__name__`), also a bare `name`.
 */
export function parseSelector(text: string, maxMatchers = Infinity, before = 0): Matcher[] {
  return new SelectorParser(text, maxMatchers, before).parse();
}

/**
 * Matchers of several selector strings ANDed (flattened), as Pyroscope v2 does for repeated
 * `matchers`; `maxMatchers` bounds them all together.
 */
export function parseMatchers(selectors: readonly string[], maxMatchers = Infinity): Matcher[] {
  const out: Matcher[] = [];
  for (const text of selectors) out.push(...parseSelector(text, maxMatchers, out.length));
  return out;
}

/** The refusal of a selector holding more than `max` matchers, naming the limit. */
export function tooManyMatchers(max: number): SelectorError {
  return new SelectorError(`too many matchers in the selector: the limit is ${max} (MAX_QUERY_MATCHERS)`);
}

/** `<name>:<sample-type>:<sample-unit>:<period-type>:<period-unit>`, or 6 parts with a legacy suffix. */
export function parseProfileTypeId(id: string): ProfileTypeParts {
  const parts = id.split(":");
  // Pyroscope accepts any 6th part (meant to be "delta") and ignores it when selecting.
  if (parts.length !== 5 && parts.length !== 6) {
    throw new SelectorError(
      "profile-type selection must be of the form <name>:<sample-type>:<sample-unit>:<period-type>:<period-unit>(:delta), " +
        `got(${parts.length}): ${JSON.stringify(id)}`,
    );
  }
  const [name, sampleType, sampleUnit, periodType, periodUnit] = parts;
  return { id: parts.slice(0, 5).join(":"), name, sampleType, sampleUnit, periodType, periodUnit };
}

/**
 * The legacy render `query` param, `<profile type id>{matchers}`. `field` names the parameter in
 * messages (render-diff has `leftQuery` / `rightQuery`). Returns the other matchers without `__name__`.
 */
export function parseQuery(query: string, field = "query"): { profileType: ProfileTypeParts; matchers: Matcher[] } {
  if (query === "") throw new SelectorError(`"${field}" is required`);
  const all = parseSelector(query);
  // As in Pyroscope, the last `__name__` matcher wins; with a `name{...}` prefix that is the prefix.
  const selection = all.filter((m) => m.name === NAME_LABEL).at(-1);
  if (selection === undefined) throw new SelectorError(`"${field}" must contain a profile-type selection`);
  if (selection.op !== "=") {
    throw new SelectorError(
      `"${field}" must select the profile type with "=", got ${NAME_LABEL}${selection.op}${JSON.stringify(selection.value)}`,
    );
  }
  return { profileType: parseProfileTypeId(selection.value), matchers: all.filter((m) => m.name !== NAME_LABEL) };
}

/** Whether `value` satisfies one matcher. */
export function matchesValue(m: Matcher, value: string): boolean {
  switch (m.op) {
    case "=":
      return value === m.value;
    case "!=":
      return value !== m.value;
    case "=~":
      return (m.re ?? compileRegex(m.name, m.value)).testExact(value);
    case "!~":
      return !(m.re ?? compileRegex(m.name, m.value)).testExact(value);
  }
}

/** Prometheus semantics: a label the set lacks has value "" (so `k=""` matches a missing label). */
export function matchesLabels(matchers: readonly Matcher[], get: (name: string) => string | undefined): boolean {
  return matchers.every((m) => matchesValue(m, get(m.name) ?? ""));
}

// Prometheus compiles `^(?s:re)$` with Go's RE2: whole-value matches, `.` matching "\n", inline
// flags such as `(?i)` anywhere, and matching in time linear in the value, whatever the pattern.
// re2js is a port of that engine; JavaScript's own backtracking one takes time exponential in the
// value for patterns such as `(a+)+b`. DOTALL stands for the `(?s:…)` group, and compiling the
// pattern alone (not inside a group) keeps `a)|(b` from escaping the anchors.
function compileRegex(label: string, source: string): RE2JS {
  try {
    return RE2JS.compile(source, RE2JS.DOTALL);
  } catch (err) {
    if (!(err instanceof RE2JSException)) throw err;
    // re2js says `error parsing regexp: <reason>: `<pattern>``, as Go does; the reason is what helps.
    const reason = err.message.replace(/^error parsing regexp: /, "");
    throw new SelectorError(`invalid regular expression ${JSON.stringify(source)} for label ${JSON.stringify(label)}: ${reason}${unsupported(source)}`);
  }
}

/** Why RE2 refuses a pattern that other engines accept, when it is one of the usual reasons. */
function unsupported(source: string): string {
  if (/\\[1-9]/.test(source.replaceAll("\\\\", ""))) return " (backreferences are not supported: selectors use RE2 syntax, which matches in linear time)";
  if (/\(\?<?[=!]/.test(source)) return " (lookahead and lookbehind are not supported: selectors use RE2 syntax, which matches in linear time)";
  return "";
}

const SPACE = /[ \t\n\r]*/y;
const LABEL_NAME = /[a-zA-Z_][a-zA-Z0-9_]*/y;
/** Metric names may also contain `:`, which is what lets a profile type id be one. */
const METRIC_NAME = /[a-zA-Z_:][a-zA-Z0-9_:]*/y;
const OPERATORS = ["=~", "!~", "!=", "="] as const satisfies readonly MatchOp[];
const SIMPLE_ESCAPES: Record<string, string | undefined> = {
  a: "\x07",
  b: "\b",
  f: "\f",
  n: "\n",
  r: "\r",
  t: "\t",
  v: "\v",
  "\\": "\\",
};
const utf8 = new TextDecoder();

const isQuote = (c: string) => c === '"' || c === "'" || c === "`";

class SelectorParser {
  private pos = 0;

  constructor(
    private readonly text: string,
    private readonly maxMatchers: number,
    /** Matchers of earlier selectors that count against the same limit. */
    private readonly before: number,
  ) {}

  parse(): Matcher[] {
    this.skipSpace();
    if (this.pos === this.text.length) this.fail('empty selector (use "{}" to select all series)');
    const name = this.take(METRIC_NAME);
    this.skipSpace();
    const hasBraces = this.peek() === "{";
    if (!hasBraces && name === undefined) this.unexpected(', expected a metric name or "{"');
    const matchers = hasBraces ? this.braces() : [];
    this.skipSpace();
    if (this.pos < this.text.length) this.unexpected(hasBraces ? ", expected end of input" : ', expected "{" or end of input');
    // Appended last, as Prometheus does, so that "the last __name__ matcher" is the prefix.
    if (name !== undefined) {
      if (this.before + matchers.length >= this.maxMatchers) throw tooManyMatchers(this.maxMatchers);
      matchers.push(compileMatcher(NAME_LABEL, "=", name));
    }
    return matchers;
  }

  private braces(): Matcher[] {
    this.pos++;
    const matchers: Matcher[] = [];
    for (;;) {
      this.skipSpace();
      if (this.peek() === "}") break;
      // Checked before the next one is read and its regex compiled.
      if (this.before + matchers.length >= this.maxMatchers) throw tooManyMatchers(this.maxMatchers);
      matchers.push(this.matcher());
      this.skipSpace();
      if (this.peek() === "}") break;
      if (this.peek() !== ",") this.unexpected(' in label matching, expected "," or "}"');
      this.pos++;
    }
    this.pos++;
    return matchers;
  }

  private matcher(): Matcher {
    const start = this.pos;
    let name = this.take(LABEL_NAME);
    if (name === undefined) {
      if (!isQuote(this.peek())) this.unexpected(" in label matching, expected label name");
      name = this.string();
      this.skipSpace();
      // Prometheus 3: a quoted name standing alone is the metric name.
      if (this.peek() === "," || this.peek() === "}") return compileMatcher(NAME_LABEL, "=", name);
    }
    this.skipSpace();
    const op = OPERATORS.find((o) => this.text.startsWith(o, this.pos));
    if (op === undefined) this.unexpected(' in label matching, expected label matching operator ("=", "!=", "=~" or "!~")');
    this.pos += op.length;
    this.skipSpace();
    if (!isQuote(this.peek())) this.unexpected(" in label matching, expected string");
    const value = this.string();
    try {
      return compileMatcher(name, op, value);
    } catch (err) {
      if (err instanceof SelectorError) this.fail(err.message, start);
      throw err;
    }
  }

  /** A quoted string with Go escapes, or a raw backtick string; the cursor is on the opening quote. */
  private string(): string {
    const start = this.pos;
    const quote = this.text[this.pos++];
    if (quote === "`") {
      const end = this.text.indexOf("`", this.pos);
      if (end < 0) this.fail("unterminated raw string", start);
      this.pos = end + 1;
      return this.text.slice(start + 1, end);
    }
    let out = "";
    // `\xNN` and octal escapes are bytes, as in Go; consecutive ones form UTF-8 (`"\xc3\xa9"` is é).
    let bytes: number[] = [];
    const flush = () => {
      if (bytes.length > 0) out += utf8.decode(Uint8Array.from(bytes));
      bytes = [];
    };
    for (;;) {
      const c = this.peek();
      if (c === "" || c === "\n") this.fail("unterminated quoted string", start);
      this.pos++;
      if (c === quote) break;
      if (c !== "\\") {
        flush();
        out += c;
        continue;
      }
      const e = this.peek();
      const simple = SIMPLE_ESCAPES[e];
      if (e === "") this.fail("escape sequence not terminated", start);
      if (e === quote || simple !== undefined) {
        this.pos++;
        flush();
        out += simple ?? quote;
      } else if (e >= "0" && e <= "7") {
        bytes.push(this.digits(3, 8, 0xff));
      } else if (e === "x") {
        this.pos++;
        bytes.push(this.digits(2, 16, 0xff));
      } else if (e === "u" || e === "U") {
        this.pos++;
        const at = this.pos;
        const code = this.digits(e === "u" ? 4 : 8, 16, 0x10ffff);
        if (code >= 0xd800 && code < 0xe000) this.fail("escape sequence is an invalid Unicode code point", at);
        flush();
        out += String.fromCodePoint(code);
      } else {
        this.fail(`unknown escape sequence \\${e}`, this.pos - 1);
      }
    }
    flush();
    return out;
  }

  private digits(count: number, base: number, max: number): number {
    const at = this.pos;
    let value = 0;
    for (let i = 0; i < count; i++) {
      const c = this.peek();
      const d = c === "" ? NaN : parseInt(c, base);
      if (Number.isNaN(d)) this.unexpected(` in escape sequence, expected ${base === 8 ? "an octal" : "a hex"} digit`);
      value = value * base + d;
      this.pos++;
    }
    if (value > max) this.fail("escape sequence value out of range", at);
    return value;
  }

  private peek(): string {
    return this.text.charAt(this.pos);
  }

  private take(re: RegExp): string | undefined {
    re.lastIndex = this.pos;
    const m = re.exec(this.text);
    if (m === null || m[0] === "") return undefined;
    this.pos += m[0].length;
    return m[0];
  }

  private skipSpace(): void {
    this.take(SPACE);
  }

  /** What sits at the cursor, in words for an error message. */
  private describe(): string {
    if (this.pos >= this.text.length) return "end of input";
    LABEL_NAME.lastIndex = this.pos;
    const word = LABEL_NAME.exec(this.text);
    if (word !== null) return `identifier ${JSON.stringify(word[0])}`;
    if (isQuote(this.peek())) return "string";
    return JSON.stringify(String.fromCodePoint(this.text.codePointAt(this.pos) ?? 0));
  }

  private unexpected(expectation: string): never {
    this.fail(`unexpected ${this.describe()}${expectation}`);
  }

  private fail(message: string, at = this.pos): never {
    throw new SelectorError(`parse error at char ${at + 1}: ${message}`);
  }
}
