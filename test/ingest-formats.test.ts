// The non-pprof /ingest formats as units: folded text, lines, trie, tree and speedscope decoders,
// and the legacy put (spec API.md §1.5.1–§1.5.5, §1.5.8, §1.6.3). Each decoded profile is run
// through the push pipeline into a BlockBuilder, so what is checked is what would be stored.

import { describe, expect, it } from "vitest";
import { BlockBuilder } from "../workers/block/builder";
import { DEFAULTS } from "../workers/config";
import type { AssembledProfile } from "../workers/ingest/assemble";
import { decodeFolded, decodeLines } from "../workers/ingest/folded";
import { legacyProfile, parseSampleRate, type LegacyMeta } from "../workers/ingest/legacy-labels";
import { normalizePprof } from "../workers/ingest/pprof";
import { decodeSpeedscope } from "../workers/ingest/speedscope";
import { StackTree } from "../workers/ingest/stack-tree";
import { decodeTree } from "../workers/ingest/tree";
import { decodeTrie } from "../workers/ingest/trie";
import { collapsed } from "./setup/collapsed";
import { testdata } from "./setup/testdata";
import { refusal } from "./setup/refusal";

const CONFIG = { ...DEFAULTS, RETENTION_SECONDS: 0 };
const FROM_MS = Date.UTC(2024, 0, 1);
const enc = new TextEncoder();

function meta(appName: string, over: Partial<LegacyMeta> = {}): LegacyMeta {
  return { appName, nameLabels: [], spyName: "gospy", sampleRate: 100, fromMs: FROM_MS, untilMs: FROM_MS + 10_000, ...over };
}

interface Stored {
  profileType: string;
  labels: Record<string, string>;
  stacks: string;
}

/** What the pipeline stores for each profile: its profile type, series labels and stacks. */
function stored(profiles: AssembledProfile[]): Stored[] {
  return profiles.map(({ labels, profile }) => {
    const b = new BlockBuilder();
    normalizePprof({ profile, bytes: new Uint8Array(0) }, { mode: "push", seriesLabels: labels, nowMs: Date.now(), config: CONFIG }, () => b);
    if (b.profileCount === 0) return { profileType: "", labels: {}, stacks: "" };
    const series = b.profileSeries.get(0);
    const all = Object.fromEntries(b.seriesLabelsOf(series));
    const shown = Object.fromEntries(Object.entries(all).filter(([k]) => !k.startsWith("__") || k === "__name__"));
    return { profileType: b.strings[b.seriesProfileType.get(series)], labels: shown, stacks: collapsed(b) };
  });
}

const folded = (text: string, m = meta("app.alloc_objects")) => decodeFolded(enc.encode(text), m, CONFIG);

describe("sampleRate", () => {
  it("defaults to 100 when absent, not an integer or negative; 0 stays 0", () => {
    expect([null, "", "abc", "1.5", "1e3", "-5", " 100"].map(parseSampleRate)).toEqual([100, 100, 100, 100, 100, 100, 100]);
    expect(["0", "250", "+7", "97"].map(parseSampleRate)).toEqual([0, 250, 7, 97]);
  });
});

describe("legacy put (§1.6.3)", () => {
  const one = new StackTree(CONFIG);
  one.add(one.path(["main", "work"]), 3);
  const put = (appName: string, over: Partial<LegacyMeta> = {}) => stored(legacyProfile(one, meta(appName, over)))[0];

  it("maps the app-name suffix to the profile type", () => {
    const cases: [string, string, number][] = [
      ["app", "process_cpu:cpu:nanoseconds:cpu:nanoseconds", 30_000_000],
      ["app.cpu", "process_cpu:cpu:nanoseconds:cpu:nanoseconds", 30_000_000],
      ["app.itimer", "process_cpu:cpu:nanoseconds:cpu:nanoseconds", 30_000_000],
      ["app.wall", "wall:wall:nanoseconds:cpu:nanoseconds", 30_000_000],
      ["app.seconds", "wall:wall:nanoseconds:cpu:nanoseconds", 30_000_000],
      ["app.milliseconds", "wall:wall:nanoseconds:cpu:nanoseconds", 30_000_000],
      ["app.inuse_objects", "memory:inuse_objects:count::", 3],
      ["app.alloc_objects", "memory:alloc_objects:count::", 3],
      ["app.inuse_space", "memory:inuse_space:bytes::", 3],
      ["app.alloc_space", "memory:alloc_space:bytes::", 3],
      ["app.goroutines", "goroutine:goroutines:count::", 3],
      ["app.mutex_count", "mutex:contentions:count::", 3],
      ["app.mutex_duration", "mutex:delay:nanoseconds::", 3],
      ["app.block_count", "block:contentions:count::", 3],
      ["app.block_duration", "block:delay:nanoseconds::", 3],
      ["app.lock_count", "block:contentions:count::", 3],
      ["app.lock_duration", "block:delay:nanoseconds::", 3],
      ["app.alloc_in_new_tlab_objects", "memory:alloc_in_new_tlab_objects:count::", 3],
      ["app.alloc_outside_tlab_bytes", "memory:alloc_outside_tlab_bytes:bytes::", 3],
      ["app.live", "memory:live:count::", 3],
      ["app.exceptions", "exceptions:samples:count::", 3],
      ["app.bytes", "memory:samples:bytes::", 3],
    ];
    for (const [name, type, value] of cases) {
      const s = put(name);
      expect([name, s.profileType, s.stacks]).toEqual([name, type, `main;work ${value}\n`]);
      expect(s.labels.service_name).toBe("app");
    }
  });

  it("scales cpu and wall by Pyroscope's integer period, and leaves them as samples at rate 0", () => {
    expect(put("app.cpu", { sampleRate: 97 }).stacks).toBe(`main;work ${3 * 10_309_278}\n`);
    const raw = put("app.cpu", { sampleRate: 0 });
    expect([raw.profileType, raw.stacks]).toEqual(["process_cpu:samples:count::", "main;work 3\n"]);
    // Above 1 GHz the period is 0: nothing is left to store.
    expect(put("app.wall", { sampleRate: 2_000_000_000 }).stacks).toBe("");
  });

  it("splits the app name at its last dot and refuses an unknown suffix with 400", () => {
    expect(put("my.app.wall").labels.service_name).toBe("my.app");
    const err = refusal(() => legacyProfile(one, meta("my.python.app")));
    expect([err.kind, err.message]).toEqual(["bad_request", "unknown profile type: app"]);
  });

  it("labels the series with __name__, pyroscope_spy, the name labels and service_name or app_name", () => {
    expect(put("app.cpu", { nameLabels: [["env", "prod"]] }).labels).toEqual({
      __name__: "process_cpu",
      env: "prod",
      pyroscope_spy: "gospy",
      service_name: "app",
    });
    expect(put("app.cpu", { nameLabels: [["service_name", "svc"]] }).labels).toMatchObject({ service_name: "svc", app_name: "app" });
    expect(put("app.cpu", { nameLabels: [["service_name", "svc"], ["app_name", "mine"]] }).labels).toMatchObject({ app_name: "mine" });
  });

  it("treats an upload labelled with a profile_id as a no-op", () => {
    expect(legacyProfile(one, meta("app.cpu", { nameLabels: [["profile_id", "abc"]] }))).toEqual([]);
  });

  it("sets the profile time from `from` and the duration from until − from", () => {
    const [{ profile }] = legacyProfile(one, meta("app.cpu"));
    expect([profile.timeNanos, profile.durationNanos]).toEqual([BigInt(FROM_MS) * 1_000_000n, 10_000_000_000n]);
  });
});

describe("folded text (§1.5.1)", () => {
  it("parses the spec example, root first", () => {
    expect(stored(folded("foo;bar 100\nfoo;baz 200"))[0].stacks).toBe("foo;bar 100\nfoo;baz 200\n");
  });

  it("splits at the last space, sums repeated stacks, skips lines without a space, accepts CRLF", () => {
    const text = "a b;c d 5\r\nno-space-here\r\n\r\nx;y 1\r\nx;y +2\r\nx;y 0\r\n";
    expect(stored(folded(text))[0].stacks).toBe("a b;c d 5\nx;y 3\n");
  });

  it("refuses a bad count with 422", () => {
    for (const bad of ["a;b x", "a;b ", "a;b 1.5", "a;b -3", "a;b 99999999999999999999", "a;b 0x10"]) {
      const err = refusal(() => folded(`ok 1\n${bad}\n`));
      expect([bad, err.kind, err.message]).toEqual([bad, "invalid", expect.stringContaining("line 2: strconv.Atoi: parsing")]);
    }
  });

  it("stops at a line of 64 KiB or more and keeps the lines before it", () => {
    const long = `${"é".repeat(32_767)};x 1`; // 65_538 bytes but only 32_771 UTF-16 units
    expect(stored(folded(`a 1\n${long}\nb 2\n`))[0].stacks).toBe("a 1\n");
    const fits = `${"f".repeat(65_533)} 1`; // 65_535 bytes
    expect(stored(folded(`a 1\n${fits}\nb 2\n`))[0].stacks).toBe(`a 1\nb 2\n${"f".repeat(65_533)} 1\n`);
    // The \r counts towards the limit, as in Go's scanner.
    const withCr = `${"f".repeat(65_532)} 12\r`;
    expect(stored(folded(`a 1\n${withCr}\nb 2\n`))[0].stacks).toBe("a 1\n");
  });

  it("refuses text that is not UTF-8", () => {
    expect(refusal(() => decodeFolded(new Uint8Array([0x61, 0xff, 0x20, 0x31]), meta("app"), CONFIG)).kind).toBe("invalid");
  });

  it("reads a real file: the cortex cpu dump as app.cpu gives 478 samples × 10 ms over 316 stacks", async () => {
    const [s] = stored(decodeFolded(await testdata("folded/cortex-dev-01__kafka-0__cpu__0.cpu.folded"), meta("myapp.cpu"), CONFIG));
    const lines = s.stacks.trimEnd().split("\n");
    expect(lines.length).toBe(316);
    expect(lines.reduce((n, l) => n + Number(l.slice(l.lastIndexOf(" ") + 1)), 0)).toBe(4_780_000_000);
    expect(s.profileType).toBe("process_cpu:cpu:nanoseconds:cpu:nanoseconds");
  });
});

describe("lines (§1.5.2)", () => {
  it("counts every non-empty line once", () => {
    const profiles = decodeLines(enc.encode("a;b\na;c\r\n\na;b\na;b"), meta("app.alloc_objects"), CONFIG);
    expect(stored(profiles)[0].stacks).toBe("a;b 3\na;c 1\n");
  });

  it("refuses a line of 64 KiB or more", () => {
    expect(refusal(() => decodeLines(enc.encode(`a\n${"x".repeat(65_536)}\n`), meta("app"), CONFIG)).kind).toBe("invalid");
  });
});

/** Unsigned LEB128. */
function uvarint(v: number): number[] {
  const out: number[] = [];
  for (; v >= 0x80; v = Math.floor(v / 128)) out.push((v % 128) | 0x80);
  out.push(v);
  return out;
}

/** A node of either binary format: `uvarint length, bytes, uvarint value, uvarint childCount`. */
function node(name: string | number[], value: number, children: number): number[] {
  const bytes = typeof name === "string" ? [...enc.encode(name)] : name;
  return [...uvarint(bytes.length), ...bytes, ...uvarint(value), ...uvarint(children)];
}

describe("trie (§1.5.4)", () => {
  // Keys: "a;b" 2, "a;c" 1, "a;b;é" 4 — the last with "é" (c3 a9) split across two chunks.
  const trie = [
    ...node("", 0, 1),
    ...node("a;", 0, 2),
    ...node("b", 2, 1),
    ...node([0x3b, 0xc3], 0, 1),
    ...node([0xa9], 4, 0),
    ...node("c", 1, 0),
  ];

  it("joins the chunks from the root into keys", () => {
    expect(stored(decodeTrie(new Uint8Array(trie), meta("app.alloc_objects"), CONFIG))[0].stacks).toBe("a;b 2\na;b;é 4\na;c 1\n");
  });

  it("takes an empty body as an empty trie", () => {
    expect(stored(decodeTrie(new Uint8Array(0), meta("app.cpu"), CONFIG))[0].stacks).toBe("");
  });

  it("refuses truncated input, chunks past the end and trailing bytes", () => {
    for (const bad of [trie.slice(0, trie.length - 1), trie.slice(0, 9), [...trie, 0], [5, 0x61, 0, 0]]) {
      expect(refusal(() => decodeTrie(new Uint8Array(bad), meta("app"), CONFIG)).kind).toBe("invalid");
    }
  });
});

describe("tree (§1.5.5)", () => {
  // root → a(1) → {b(2) → c(3), b(5)}: the two b siblings add up.
  const tree = [...node("", 7, 1), ...node("a", 1, 2), ...node("b", 2, 1), ...node("c", 3, 0), ...node("b", 5, 0)];

  it("counts every non-root node's path by its self value", () => {
    expect(stored(decodeTree(new Uint8Array(tree), meta("app.alloc_objects"), CONFIG))[0].stacks).toBe("a 1\na;b 7\na;b;c 3\n");
  });

  it("refuses names and child counts over the limits, truncation and trailing bytes", () => {
    const limits = { ...CONFIG, MAX_PROFILE_SYMBOL_VALUE_LENGTH: 4, MAX_PROFILE_STACKTRACE_SAMPLES: 2 };
    const cases: [number[], string][] = [
      [[...node("", 0, 1), ...node("toolong", 1, 0)], "node name length 7 exceeds maximum 4"],
      [[...node("", 0, 3), ...node("a", 1, 0), ...node("b", 1, 0), ...node("c", 1, 0)], "node children count 3 exceeds maximum 2"],
      [tree.slice(0, tree.length - 2), "truncated"],
      [[], "truncated"],
      [[...tree, 0], "trailing bytes"],
    ];
    for (const [bytes, message] of cases) {
      const err = refusal(() => decodeTree(new Uint8Array(bytes), meta("app"), limits));
      expect([err.kind, err.message]).toEqual(["invalid", expect.stringContaining(message)]);
    }
  });
});

describe("speedscope (§1.5.8)", () => {
  const file = async (name: string) => testdata(`speedscope/${name}.speedscope.json`);
  const TREE = new Map([["a;b", 500], ["a;b;c", 500], ["a;b;d", 400]]);
  const scaled = (k: number) => [...TREE].map(([s, v]) => `${s} ${v * k}\n`).join("");

  it("simple: one evented input for app foo, profile_name=simple.txt, at the unit-none rate 10000", async () => {
    const s = stored(decodeSpeedscope(await file("simple"), meta("foo"), CONFIG));
    expect(s).toEqual([
      {
        profileType: "process_cpu:cpu:nanoseconds:cpu:nanoseconds",
        labels: { __name__: "process_cpu", profile_name: "simple.txt", pyroscope_spy: "gospy", service_name: "foo" },
        // The tree a;b 500, a;b;c 500, a;b;d 400 at 10000 Hz: × 100_000 ns.
        stacks: scaled(100_000),
      },
    ]);
  });

  it("two-sampled: two inputs foo.seconds{profile_name=one|two,x=y} at rate 100", async () => {
    const s = stored(decodeSpeedscope(await file("two-sampled"), meta("foo", { nameLabels: [["x", "y"]] }), CONFIG));
    expect(s.map((p) => [p.profileType, p.labels, p.stacks])).toEqual(
      ["one", "two"].map((name) => [
        "wall:wall:nanoseconds:cpu:nanoseconds",
        { __name__: "wall", profile_name: name, pyroscope_spy: "gospy", service_name: "foo", x: "y" },
        scaled(10_000_000),
      ]),
    );
  });

  it("two-sampled-bytes: foo.bytes is memory samples in bytes, unscaled", async () => {
    const s = stored(decodeSpeedscope(await file("two-sampled-bytes"), meta("foo"), CONFIG));
    expect(s.map((p) => [p.profileType, p.labels.profile_name, p.stacks])).toEqual([
      ["memory:samples:bytes::", "one", "a;b 5\na;b;c 5\na;b;d 4\n"],
      ["memory:samples:bytes::", "two", "a;b 5\na;b;c 5\na;b;d 4\n"],
    ]);
  });

  it("keeps a sampleRate the client set", async () => {
    expect(stored(decodeSpeedscope(await file("simple"), meta("foo", { sampleRate: 1000 }), CONFIG))[0].stacks).toBe(scaled(1_000_000));
  });

  const sampled = (profiles: object[], frames = [{ name: "a" }, { name: "b" }]) =>
    enc.encode(JSON.stringify({ $schema: "https://www.speedscope.app/file-format-schema.json", shared: { frames }, profiles }));
  const prof = (over: object = {}) => ({ type: "sampled", name: "p", unit: "milliseconds", startValue: 0, samples: [[0, 1], [0]], weights: [1.5, 0.25], ...over });

  it("merges profiles with equal name, type, unit and start value, and scales before rounding", () => {
    const s = stored(decodeSpeedscope(sampled([prof(), prof()]), meta("foo", { sampleRate: 0 }), CONFIG));
    // One input (so no unit suffix): (1.5 + 1.5) ms × 100 and (0.25 + 0.25) ms × 100.
    expect(s.map((p) => [p.profileType, p.labels.profile_name, p.stacks])).toEqual([["process_cpu:samples:count::", "p", "a 50\na;b 300\n"]]);
  });

  it("stores a profile without a name without a profile_name label", () => {
    const s = stored(decodeSpeedscope(sampled([prof({ name: undefined })]), meta("foo.alloc_objects"), CONFIG));
    expect([s[0].labels, s[0].stacks]).toEqual([{ __name__: "memory", pyroscope_spy: "gospy", service_name: "foo" }, "a 25\na;b 150\n"]);
  });

  it("gives frames with equal names one stack", () => {
    const s = stored(decodeSpeedscope(sampled([prof({ samples: [[0, 1], [0, 2]] })], [{ name: "a" }, { name: "b" }, { name: "b" }]), meta("foo.alloc_objects"), CONFIG));
    expect(s[0].stacks).toBe("a;b 175\n");
  });

  it("refuses malformed files with 422 and an unknown profile type with 400", () => {
    const evented = (events: object[]) => prof({ type: "evented", samples: undefined, weights: undefined, events });
    const cases: [Uint8Array, string][] = [
      [enc.encode("{not json"), "not a speedscope JSON file"],
      [enc.encode(JSON.stringify({ $schema: "x", profiles: [] })), "Unknown schema: x"],
      // String() of it would recurse past the stack.
      [enc.encode(`{"$schema":${"[".repeat(200_000)}${"]".repeat(200_000)}}`), "Unknown schema: a JSON array"],
      [sampled([prof({ unit: "furlongs" })]), "invalid profile unit: unknown unit furlongs"],
      [sampled([prof({ type: "flat" })]), "Profile type flat not supported"],
      [sampled([prof({ weights: [1] })]), "Unequal lengths of samples and weights: 2 != 1"],
      [sampled([prof({ weights: [1, -1] })]), "Negative weight -1"],
      [sampled([prof({ weights: [1, "x"] })]), "weight is not a number"],
      [sampled([prof({ samples: [[0, 2], [0]] })]), "Invalid frame 2"],
      [sampled([evented([{ type: "O", at: 2, frame: 0 }, { type: "C", at: 1, frame: 0 }])]), "Events out of order, 1 < 2"],
      [sampled([evented([{ type: "O", at: 0, frame: 0 }, { type: "C", at: 1, frame: 1 }])]), "Closing non-open frame 1"],
      [sampled([evented([{ type: "C", at: 1, frame: 0 }])]), "No stack to close at 1"],
      [sampled([evented([{ type: "X", at: 1, frame: 0 }])]), "Unknown event type X"],
    ];
    for (const [bytes, message] of cases) {
      const err = refusal(() => decodeSpeedscope(bytes, meta("foo"), CONFIG));
      expect([message, err.kind, err.message]).toEqual([message, "invalid", expect.stringContaining(message)]);
    }
    // Two profiles in unit "none" make the app foo.none, which no profile type matches.
    const err = refusal(() => decodeSpeedscope(sampled([prof({ unit: "none" }), prof({ unit: "none", name: "q" })]), meta("foo"), CONFIG));
    expect([err.kind, err.message]).toEqual(["bad_request", "unknown profile type: none"]);
  });
});
