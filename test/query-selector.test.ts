// The label-selector module of workers/query: Prometheus selector syntax, anchored regexes,
// missing-label semantics, profile type ids and the legacy render `query` param.
import { RE2JS } from "re2js";
import { describe, expect, it } from "vitest";
import {
  type Matcher,
  matchesLabels,
  matchesValue,
  compileMatcher,
  parseMatchers,
  parseProfileTypeId,
  parseQuery,
  parseSelector,
  SelectorError,
} from "../workers/query/selector";

/** Runs `fn` and returns the message it threw, asserting it was a SelectorError. */
function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(SelectorError);
    return (err as SelectorError).message;
  }
  throw new Error("expected a SelectorError, but the call succeeded");
}

/** name/op/value triples, without the compiled regexes. */
const triples = (ms: readonly Matcher[]) => ms.map((m) => [m.name, m.op, m.value]);

const labelsOf = (labels: Record<string, string>) => (name: string) => labels[name];

function selects(selector: string, labels: Record<string, string>): boolean {
  return matchesLabels(parseSelector(selector), labelsOf(labels));
}

describe("parseSelector", () => {
  it("parses {} to no matchers", () => {
    expect(parseSelector("{}")).toEqual([]);
    expect(parseSelector("  { }  ")).toEqual([]);
  });

  it("parses every operator", () => {
    expect(triples(parseSelector(`{a="1", b!="2", c=~"3", d!~"4"}`))).toEqual([
      ["a", "=", "1"],
      ["b", "!=", "2"],
      ["c", "=~", "3"],
      ["d", "!~", "4"],
    ]);
  });

  it("compiles regexes only for =~ and !~", () => {
    const [eq, neq, re, nre] = parseSelector(`{a="x", b!="x", c=~"x", d!~"x"}`);
    expect(eq.re).toBeUndefined();
    expect(neq.re).toBeUndefined();
    expect(re.re).toBeInstanceOf(RE2JS);
    expect(nre.re).toBeInstanceOf(RE2JS);
  });

  it("accepts whitespace anywhere between tokens and a trailing comma", () => {
    expect(triples(parseSelector(` {\n\ta = "1" ,\r\n b !~ "2" , } `))).toEqual([
      ["a", "=", "1"],
      ["b", "!~", "2"],
    ]);
    expect(triples(parseSelector(`{a="1",}`))).toEqual([["a", "=", "1"]]);
  });

  it("turns a metric-name prefix into a trailing __name__ equality matcher", () => {
    expect(triples(parseSelector(`cpu{service_name="x"}`))).toEqual([
      ["service_name", "=", "x"],
      ["__name__", "=", "cpu"],
    ]);
    expect(triples(parseSelector("cpu"))).toEqual([["__name__", "=", "cpu"]]);
    expect(triples(parseSelector(" cpu {} "))).toEqual([["__name__", "=", "cpu"]]);
  });

  it("accepts a profile type id as metric name (colons allowed)", () => {
    expect(triples(parseSelector(`process_cpu:cpu:nanoseconds:cpu:nanoseconds{service_name="x"}`))).toEqual([
      ["service_name", "=", "x"],
      ["__name__", "=", "process_cpu:cpu:nanoseconds:cpu:nanoseconds"],
    ]);
    expect(triples(parseSelector("memory:alloc_in_new_tlab_bytes:bytes::"))).toEqual([
      ["__name__", "=", "memory:alloc_in_new_tlab_bytes:bytes::"],
    ]);
  });

  it("accepts keywords of PromQL as names", () => {
    expect(triples(parseSelector(`sum{by="x", offset!="y"}`))).toEqual([
      ["by", "=", "x"],
      ["offset", "!=", "y"],
      ["__name__", "=", "sum"],
    ]);
  });

  it("accepts quoted UTF-8 label names", () => {
    expect(triples(parseSelector(`{"otel.scope.name"="x", 'service.name'=~"a.*", \`k-8\`!="z"}`))).toEqual([
      ["otel.scope.name", "=", "x"],
      ["service.name", "=~", "a.*"],
      ["k-8", "!=", "z"],
    ]);
    expect(triples(parseSelector(`{"名前"="値"}`))).toEqual([["名前", "=", "値"]]);
  });

  it("reads a quoted name alone in the braces as the metric name (Prometheus 3)", () => {
    expect(triples(parseSelector(`{"metric.name", a="b"}`))).toEqual([
      ["__name__", "=", "metric.name"],
      ["a", "=", "b"],
    ]);
    expect(triples(parseSelector(`{a="b", "process_cpu:cpu:nanoseconds:cpu:nanoseconds"}`))).toEqual([
      ["a", "=", "b"],
      ["__name__", "=", "process_cpu:cpu:nanoseconds:cpu:nanoseconds"],
    ]);
  });

  it("decodes Go escapes in double- and single-quoted strings", () => {
    const value = (s: string) => parseSelector(`{a=${s}}`)[0].value;
    expect(value(String.raw`"q\"b\\s\n\t\r"`)).toBe('q"b\\s\n\t\r');
    expect(value(String.raw`"\a\b\f\v"`)).toBe("\x07\b\f\v");
    expect(value(String.raw`"\x41\101\u00e9\U0001F525"`)).toBe("AAé🔥");
    expect(value(String.raw`"\xc3\xa9"`)).toBe("é"); // bytes, joined into UTF-8 as in Go
    expect(value(String.raw`'it\'s "quoted"'`)).toBe(`it's "quoted"`);
    expect(value(`"ünïcödé 🔥"`)).toBe("ünïcödé 🔥");
  });

  it("takes backtick strings raw, newlines included", () => {
    expect(parseSelector("{a=`C:\\dir\\n\n\"x\"`}")[0].value).toBe('C:\\dir\\n\n"x"');
    expect(parseSelector("{a=~`\\d+`}")[0].value).toBe("\\d+");
  });

  it("rejects escapes Go rejects", () => {
    expect(refusal(() => parseSelector(String.raw`{a="\q"}`))).toBe("parse error at char 5: unknown escape sequence \\q");
    expect(refusal(() => parseSelector(String.raw`{a="\'"}`))).toMatch(/unknown escape sequence \\'/);
    expect(refusal(() => parseSelector(String.raw`{a='\"'}`))).toMatch(/unknown escape sequence \\"/);
    expect(refusal(() => parseSelector(String.raw`{a="\xZZ"}`))).toMatch(/unexpected identifier "ZZ" in escape sequence, expected a hex digit/);
    expect(refusal(() => parseSelector(String.raw`{a="\777"}`))).toMatch(/escape sequence value out of range/);
    expect(refusal(() => parseSelector(String.raw`{a="\18"}`))).toMatch(/expected an octal digit/);
    expect(refusal(() => parseSelector(String.raw`{a="\ud800"}`))).toMatch(/invalid Unicode code point/);
    expect(refusal(() => parseSelector(String.raw`{a="\U00110000"}`))).toMatch(/out of range/);
    expect(refusal(() => parseSelector(`{a="x\ny"}`))).toBe("parse error at char 4: unterminated quoted string");
  });

  it("refuses malformed selectors with a position and what was expected", () => {
    const cases: [string, string][] = [
      ["", 'parse error at char 1: empty selector (use "{}" to select all series)'],
      ["  \n ", 'parse error at char 5: empty selector (use "{}" to select all series)'],
      ["{", 'parse error at char 2: unexpected end of input in label matching, expected label name'],
      ["{a}", 'parse error at char 3: unexpected "}" in label matching, expected label matching operator ("=", "!=", "=~" or "!~")'],
      ["{a=}", 'parse error at char 4: unexpected "}" in label matching, expected string'],
      ['{a="x"', 'parse error at char 7: unexpected end of input in label matching, expected "," or "}"'],
      ['{a="x}', "parse error at char 4: unterminated quoted string"],
      ["{a=`x}", "parse error at char 4: unterminated raw string"],
      ['{1a="x"}', 'parse error at char 2: unexpected "1" in label matching, expected label name'],
      ['{a=="x"}', 'parse error at char 4: unexpected "=" in label matching, expected string'],
      ['{a:b="x"}', 'parse error at char 3: unexpected ":" in label matching, expected label matching operator ("=", "!=", "=~" or "!~")'],
      ['{a~="x"}', 'parse error at char 3: unexpected "~" in label matching, expected label matching operator ("=", "!=", "=~" or "!~")'],
      ['{a="x" b="y"}', 'parse error at char 8: unexpected identifier "b" in label matching, expected "," or "}"'],
      ['{a="x",,}', 'parse error at char 8: unexpected "," in label matching, expected label name'],
      ['{a="x"} b', 'parse error at char 9: unexpected identifier "b", expected end of input'],
      ['{a="x"}}', 'parse error at char 8: unexpected "}", expected end of input'],
      ["{}{}", 'parse error at char 3: unexpected "{", expected end of input'],
      ["cpu bar", 'parse error at char 5: unexpected identifier "bar", expected "{" or end of input'],
      ['1cpu{a="x"}', 'parse error at char 1: unexpected "1", expected a metric name or "{"'],
      ['"cpu"', 'parse error at char 1: unexpected string, expected a metric name or "{"'],
      ["cpu-x", 'parse error at char 4: unexpected "-", expected "{" or end of input'],
      ['{a=x}', 'parse error at char 4: unexpected identifier "x" in label matching, expected string'],
    ];
    for (const [input, message] of cases) {
      expect(refusal(() => parseSelector(input)), JSON.stringify(input)).toBe(message);
    }
  });

  it("refuses an invalid regex, naming the label and the regex error", () => {
    const message = refusal(() => parseSelector(`{service_name="x", a=~"("}`));
    expect(message).toMatch(/^parse error at char 20: invalid regular expression "\(" for label "a": /);
    expect(message).toMatch(/missing closing \)/);
    // RE2's (Go's) reasons, as Pyroscope gives them.
    expect(refusal(() => parseSelector(`{a!~"x**"}`))).toBe(
      'parse error at char 2: invalid regular expression "x**" for label "a": invalid nested repetition operator: `**`',
    );
    expect(refusal(() => parseSelector(`{a=~"x{1001}"}`))).toMatch(/invalid repeat count/);
    // Balanced only with our wrapper: must not be allowed to escape the anchors.
    expect(refusal(() => parseSelector(`{a=~"x)|(y"}`))).toMatch(/invalid regular expression/);
    expect(refusal(() => parseSelector(`{a=~"x\\\\"}`))).toMatch(/invalid regular expression/);
  });
});

describe("regex matching", () => {
  const re = (pattern: string, value: string) => selects(`{a=~${JSON.stringify(pattern)}}`, { a: value });

  it("is fully anchored", () => {
    expect(re("a", "a")).toBe(true);
    expect(re("a", "ab")).toBe(false);
    expect(re("a", "ba")).toBe(false);
    expect(re("a.*", "ab")).toBe(true);
    expect(re("a|b", "b")).toBe(true);
    expect(re("a|b", "ab")).toBe(false);
    expect(re("", "")).toBe(true);
    expect(re("", "x")).toBe(false);
  });

  it("treats a leading (?i) / (?s) / (?is) as flags", () => {
    expect(re("(?i)abc", "AbC")).toBe(true);
    expect(re("abc", "AbC")).toBe(false);
    expect(re("(?is)a.c", "A\nC")).toBe(true);
    expect(re("(?si)a.c", "A\nC")).toBe(true);
    expect(re("(?s)a.c", "a\nc")).toBe(true);
    expect(re("(?i)a|b", "B")).toBe(true);
  });

  it("lets . match a newline, as Prometheus' ^(?s:re)$ does", () => {
    expect(re("a.c", "a\nc")).toBe(true);
    expect(re(".*", "multi\nline")).toBe(true);
  });

  it("accepts RE2 identity escapes of punctuation", () => {
    expect(re("a\\-b\\_c", "a-b_c")).toBe(true);
    expect(re("[\\w-]+\\.go", "main-x.go")).toBe(true);
  });

  it("takes inline flags anywhere, as RE2 does", () => {
    expect(re("a(?i)bc", "aBC")).toBe(true);
    expect(re("a(?i)bc", "ABC")).toBe(false);
    expect(re("(?i:a)b", "Ab")).toBe(true);
    expect(re("(?i:a)b", "AB")).toBe(false);
    // `(?-s)` turns the `(?s:…)` Prometheus wraps patterns in off again.
    expect(re("(?-s)a.c", "a\nc")).toBe(false);
    expect(re("(?U)a+", "aaa")).toBe(true);
  });

  it("matches RE2's syntax: classes, Unicode groups, non-greedy repeats", () => {
    expect(re("[[:digit:]]+", "123")).toBe(true);
    expect(re("\\pL+", "ünï")).toBe(true);
    expect(re("\\p{Greek}+", "αβγ")).toBe(true);
    expect(re("\\d+", "١٢")).toBe(false); // \d is ASCII in RE2
    expect(re("a.*?b", "axxb")).toBe(true);
    expect(re("(?P<x>a)b", "ab")).toBe(true);
    expect(re(".", "🔥")).toBe(true);
    expect(re("a{2,3}", "aaaa")).toBe(false);
  });

  it("refuses backreferences and lookaround, saying RE2 has none", () => {
    const cases: [string, RegExp][] = [
      ["(a)\\1", /invalid escape sequence: `\\1` \(backreferences are not supported: selectors use RE2 syntax/],
      ["(?=a)a", /\(lookahead and lookbehind are not supported: selectors use RE2 syntax/],
      ["(?!a)b", /\(lookahead and lookbehind are not supported/],
      ["(?<=a)b", /\(lookahead and lookbehind are not supported/],
      ["(?<!a)b", /\(lookahead and lookbehind are not supported/],
    ];
    for (const [pattern, message] of cases) {
      expect(refusal(() => parseSelector(`{a=~${JSON.stringify(pattern)}}`)), pattern).toMatch(message);
    }
    // An escaped backslash before a digit is no backreference.
    expect(re("a\\\\1", "a\\1")).toBe(true);
  });

  it("answers a pattern that backtracking engines take exponential time for", () => {
    // `(a+)+b` against a long run of a's: JavaScript's RegExp needs time doubling with each
    // character (seconds at 28); RE2 answers in time linear in the value.
    for (const n of [28, 2048, 100_000]) {
      expect(re("(a+)+b", "a".repeat(n))).toBe(false);
      expect(re("(a+)+b", `${"a".repeat(n)}b`)).toBe(true);
      expect(re("(a|aa)+c", "a".repeat(n))).toBe(false);
    }
  });

  it("negates with !~", () => {
    expect(selects(`{a!~"x.*"}`, { a: "xyz" })).toBe(false);
    expect(selects(`{a!~"x.*"}`, { a: "yx" })).toBe(true);
    expect(selects(`{a!~"x"}`, { a: "xx" })).toBe(true);
  });
});

describe("matchesLabels", () => {
  const labels = { service_name: "checkout", env: "prod" };

  it("ANDs all matchers", () => {
    expect(selects(`{service_name="checkout", env="prod"}`, labels)).toBe(true);
    expect(selects(`{service_name="checkout", env="dev"}`, labels)).toBe(false);
    expect(selects(`{service_name!="checkout"}`, labels)).toBe(false);
    expect(selects(`{env!="dev"}`, labels)).toBe(true);
    expect(selects("{}", labels)).toBe(true);
  });

  it("treats a missing label as the empty string", () => {
    expect(selects(`{region=""}`, labels)).toBe(true);
    expect(selects(`{region!=""}`, labels)).toBe(false);
    expect(selects(`{env!=""}`, labels)).toBe(true);
    expect(selects(`{env=""}`, labels)).toBe(false);
    expect(selects(`{region=~".*"}`, labels)).toBe(true);
    expect(selects(`{region=~".+"}`, labels)).toBe(false);
    expect(selects(`{region!~"x"}`, labels)).toBe(true);
    expect(selects(`{region="x"}`, labels)).toBe(false);
    expect(selects(`{region!="x"}`, labels)).toBe(true);
  });

  it("compiles the regex of a hand-built matcher lacking one", () => {
    expect(matchesValue({ name: "a", op: "=~", value: "x.+" }, "xy")).toBe(true);
    expect(matchesValue({ name: "a", op: "!~", value: "x.+" }, "xy")).toBe(false);
    expect(matchesValue(compileMatcher("a", "=~", "(?i)X"), "x")).toBe(true);
    expect(() => compileMatcher("a", "=~", "[")).toThrow(SelectorError);
  });
});

describe("matcher limit", () => {
  it("refuses the matcher past the limit, before reading it", () => {
    expect(parseSelector(`{a="1", b="2"}`, 2)).toHaveLength(2);
    expect(refusal(() => parseSelector(`{a="1", b="2", c="3"}`, 2))).toBe("too many matchers in the selector: the limit is 2 (MAX_QUERY_MATCHERS)");
    // The one past the limit is refused even when it would not parse.
    expect(refusal(() => parseSelector(`{a="1", b="2", c=~"("}`, 2))).toMatch(/^too many matchers/);
    // A metric-name prefix is a matcher too.
    expect(refusal(() => parseSelector(`cpu{a="1", b="2"}`, 2))).toMatch(/^too many matchers/);
  });

  it("counts the matchers of all selectors together", () => {
    expect(parseMatchers([`{a="1"}`, `{b="2"}`], 2)).toHaveLength(2);
    expect(refusal(() => parseMatchers([`{a="1"}`, `{b="2"}`, `{}`, `{c="3"}`], 2))).toMatch(/^too many matchers/);
    const many = `{${Array.from({ length: 6000 }, (_, i) => `l${i}=~"v.*"`).join(",")}}`;
    expect(refusal(() => parseSelector(many, 100))).toBe("too many matchers in the selector: the limit is 100 (MAX_QUERY_MATCHERS)");
  });
});

describe("parseMatchers", () => {
  it("flattens several selectors into one AND", () => {
    expect(parseMatchers([])).toEqual([]);
    const ms = parseMatchers([`{a="1"}`, `{}`, `{b=~"2.*"}`]);
    expect(triples(ms)).toEqual([
      ["a", "=", "1"],
      ["b", "=~", "2.*"],
    ]);
    expect(matchesLabels(ms, labelsOf({ a: "1", b: "23" }))).toBe(true);
    expect(matchesLabels(ms, labelsOf({ a: "1", b: "3" }))).toBe(false);
  });

  it("refuses an empty selector among them", () => {
    expect(refusal(() => parseMatchers([`{a="1"}`, ""]))).toMatch(/empty selector/);
  });
});

describe("parseProfileTypeId", () => {
  const form = "profile-type selection must be of the form <name>:<sample-type>:<sample-unit>:<period-type>:<period-unit>(:delta)";

  it("splits a 5-part id", () => {
    expect(parseProfileTypeId("process_cpu:cpu:nanoseconds:cpu:nanoseconds")).toEqual({
      id: "process_cpu:cpu:nanoseconds:cpu:nanoseconds",
      name: "process_cpu",
      sampleType: "cpu",
      sampleUnit: "nanoseconds",
      periodType: "cpu",
      periodUnit: "nanoseconds",
    });
    expect(parseProfileTypeId("memory:alloc_in_new_tlab_bytes:bytes::")).toMatchObject({ periodType: "", periodUnit: "" });
  });

  it("accepts a legacy 6th part and keeps the 5-part id", () => {
    expect(parseProfileTypeId("process_cpu:cpu:nanoseconds:cpu:nanoseconds:delta")).toMatchObject({
      id: "process_cpu:cpu:nanoseconds:cpu:nanoseconds",
      periodUnit: "nanoseconds",
    });
  });

  it("refuses other part counts with Pyroscope's message", () => {
    expect(refusal(() => parseProfileTypeId("memory:alloc_space:bytes:space"))).toBe(
      `${form}, got(4): "memory:alloc_space:bytes:space"`,
    );
    expect(refusal(() => parseProfileTypeId("memory:alloc_space:bytes:space:bytes:extra:part"))).toBe(
      `${form}, got(7): "memory:alloc_space:bytes:space:bytes:extra:part"`,
    );
    expect(refusal(() => parseProfileTypeId(""))).toBe(`${form}, got(1): ""`);
  });
});

describe("parseQuery", () => {
  it("splits the profile type from the remaining matchers", () => {
    const q = parseQuery(`process_cpu:cpu:nanoseconds:cpu:nanoseconds{service_name="my_app", env=~"prod|staging"}`);
    expect(q.profileType.id).toBe("process_cpu:cpu:nanoseconds:cpu:nanoseconds");
    expect(q.profileType.sampleType).toBe("cpu");
    expect(triples(q.matchers)).toEqual([
      ["service_name", "=", "my_app"],
      ["env", "=~", "prod|staging"],
    ]);
    expect(parseQuery("memory:inuse_space:bytes:space:bytes").matchers).toEqual([]);
    expect(parseQuery("memory:inuse_space:bytes:space:bytes{}").matchers).toEqual([]);
  });

  it("takes the type from a __name__ matcher inside the braces too", () => {
    const q = parseQuery(`{__name__="memory:alloc_space:bytes:space:bytes", a="b"}`);
    expect(q.profileType.name).toBe("memory");
    expect(triples(q.matchers)).toEqual([["a", "=", "b"]]);
    expect(parseQuery(`{"memory:alloc_space:bytes:space:bytes"}`).profileType.sampleType).toBe("alloc_space");
  });

  it("refuses a query without a usable profile type", () => {
    expect(refusal(() => parseQuery(""))).toBe(`"query" is required`);
    expect(refusal(() => parseQuery(`{service_name="x"}`))).toBe(`"query" must contain a profile-type selection`);
    expect(refusal(() => parseQuery("{}", "leftQuery"))).toBe(`"leftQuery" must contain a profile-type selection`);
    expect(refusal(() => parseQuery(`{__name__=~"process_cpu.*"}`))).toMatch(/must select the profile type with "="/);
    expect(refusal(() => parseQuery(`process_cpu{service_name="x"}`))).toMatch(/got\(1\): "process_cpu"$/);
    expect(refusal(() => parseQuery(`a:b:c:d{x="y"}`))).toMatch(/got\(4\)/);
    expect(refusal(() => parseQuery(`a:b:c:d:e{x=}`))).toMatch(/^parse error at char 13: /);
  });
});

describe("robustness", () => {
  const valid = [
    `process_cpu:cpu:nanoseconds:cpu:nanoseconds{service_name="my_app", env!="dev"}`,
    `{"otel.scope.name"="x", 'a'=~'(?i)b.*', c!~\`d|e\`,}`,
    String.raw`{a="\x41\101\u00e9\U0001F525\"\\", b="ünï"}`,
    `{"metric.name", a="b"}`,
    `  cpu  {  a  =~  "[a-z]+"  }  `,
  ];

  it("either parses or throws SelectorError for every truncation of a valid selector", () => {
    for (const text of valid) {
      expect(parseSelector(text).length).toBeGreaterThan(0);
      for (let end = 0; end <= text.length; end++) {
        for (const input of [text.slice(0, end), text.slice(end)]) {
          try {
            parseSelector(input);
          } catch (err) {
            expect(err, JSON.stringify(input)).toBeInstanceOf(SelectorError);
          }
        }
      }
    }
  });

  it("either parses or throws SelectorError for random garbage", () => {
    // A fixed-seed generator keeps the test deterministic.
    let seed = 12345;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const alphabet = [..."{}=!~,\"'`\\ \n:a_Z1.()[]*+?|xu0é🔥"];
    for (let i = 0; i < 3000; i++) {
      const len = Math.floor(random() * 16);
      let input = "";
      for (let j = 0; j < len; j++) input += alphabet[Math.floor(random() * alphabet.length)];
      try {
        parseSelector(input);
      } catch (err) {
        expect(err, JSON.stringify(input)).toBeInstanceOf(SelectorError);
      }
    }
  });
});
