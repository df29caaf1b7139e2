// The pure upload parsers of workers/ingest, on the real Node.js SDK captures plus hand-made
// hostile inputs (gzip bombs, truncation, corruption, malformed multipart).
import { Gunzip, Gzip, gzipSync } from "fflate";
import { describe, expect, it } from "vitest";
import { parseTimeMs } from "../workers/ingest/attime";
import { IngestError } from "../workers/ingest/errors";
import { gunzipAsync, gunzipBounded, humanBytes, isGzip, maybeGunzip, maybeGunzipAsync, readBodyCapped } from "../workers/ingest/gzip";
import { parseMultipart } from "../workers/ingest/multipart";
import { parseName } from "../workers/ingest/name";
import { isValidUtf8 } from "../workers/ingest/utf8";
import { concatBytes } from "../workers/util/bytes";
import { testdata, testdataList, testdataText } from "./setup/testdata";
import { refusal } from "./setup/refusal";

const MiB = 1024 * 1024;
const LIMIT = 4 * MiB;

interface Capture {
  rel: string;
  body: Uint8Array;
  meta: {
    bodyFile: string;
    contentType: string;
    query: [string, string][];
    parsedName: { appName: string; labels: Record<string, string> };
    multipart?: { parts: { name: string; filename: string; contentType: string; bytes: number }[] };
    pprof: { compressedBytes: number; uncompressedBytes: number };
  };
}

let loaded: Promise<Capture[]> | undefined;
const sdkCaptures = () => (loaded ??= loadCaptures());

async function loadCaptures(): Promise<Capture[]> {
  const out: Capture[] = [];
  for (const dir of (await testdataList("sdk-nodejs")).filter((d) => d.startsWith("v"))) {
    for (const file of (await testdataList(`sdk-nodejs/${dir}`)).filter((f) => f.endsWith(".json"))) {
      const meta = JSON.parse(await testdataText(`sdk-nodejs/${dir}/${file}`)) as Capture["meta"];
      out.push({ rel: `${dir}/${meta.bodyFile}`, meta, body: await testdata(`sdk-nodejs/${dir}/${meta.bodyFile}`) });
    }
  }
  return out;
}

async function asyncRefusal(p: Promise<unknown>): Promise<IngestError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(IngestError);
    return err as IngestError;
  }
  throw new Error("expected a refusal, but the call succeeded");
}

const enc = new TextEncoder();
const dec = new TextDecoder();

function cat(...parts: (Uint8Array | string)[]): Uint8Array {
  return concatBytes(parts.map((p) => (typeof p === "string" ? enc.encode(p) : p)));
}

/** Records how far into it any `subarray` view reached: how much input a decoder consumed. */
class ReadTracker extends Uint8Array {
  furthest = 0;
  override subarray(begin?: number, end?: number) {
    this.furthest = Math.max(this.furthest, Math.min(end ?? this.length, this.length));
    return super.subarray(begin, end);
  }
}

describe("SDK captures (sdk-nodejs)", () => {
  it("every multipart body has one gzip'd `profile` part of the recorded size", async () => {
    const captures = (await sdkCaptures()).filter((c) => c.meta.multipart);
    expect(captures.length).toBe(14);
    for (const { rel, body, meta } of captures) {
      const parts = parseMultipart(body, meta.contentType);
      const want = meta.multipart!.parts[0];
      expect(parts.length, rel).toBe(1);
      const [p] = parts;
      expect({ name: p.name, filename: p.filename, contentType: p.contentType }, rel).toEqual({
        name: want.name,
        filename: want.filename,
        contentType: want.contentType,
      });
      expect(p.data.length, rel).toBe(want.bytes);
      // A view into the request body, not a copy.
      expect(p.data.buffer, rel).toBe(body.buffer);
      expect(isGzip(p.data), rel).toBe(true);
      expect(gunzipBounded(p.data, LIMIT).length, rel).toBe(meta.pprof.uncompressedBytes);
    }
  });

  it("every raw 0.6.x body inflates to the recorded pprof size", async () => {
    const captures = (await sdkCaptures()).filter((c) => !c.meta.multipart);
    expect(captures.length).toBe(14);
    for (const { rel, body, meta } of captures) {
      expect(body.length, rel).toBe(meta.pprof.compressedBytes);
      expect(maybeGunzip(body, LIMIT).length, rel).toBe(meta.pprof.uncompressedBytes);
    }
  });

  it("every `name` parses to the recorded app and labels, in order", async () => {
    for (const { rel, meta } of await sdkCaptures()) {
      const name = meta.query.find(([k]) => k === "name")![1];
      expect(parseName(name), rel).toEqual({
        app: meta.parsedName.appName,
        labels: Object.entries(meta.parsedName.labels),
      });
    }
  });

  it("every `from`/`until` is whole seconds", async () => {
    const now = Date.UTC(2020, 0, 1);
    for (const { rel, meta } of await sdkCaptures()) {
      for (const [k, v] of meta.query.filter(([k]) => k === "from" || k === "until")) {
        expect(parseTimeMs(v, now), `${rel} ${k}`).toBe(Number(v) * 1000);
      }
    }
  });
});

describe("gzip", () => {
  it("sniffs gzip by magic bytes only", () => {
    expect(isGzip(new Uint8Array([0x1f, 0x8b]))).toBe(true);
    expect(isGzip(gzipSync(new Uint8Array(0)))).toBe(true);
    expect(isGzip(new Uint8Array([0x1f]))).toBe(false);
    expect(isGzip(new Uint8Array([0x8b, 0x1f, 0x08]))).toBe(false);
    expect(isGzip(enc.encode("foo;bar 1"))).toBe(false);
  });

  it("formats limits like go-humanize", () => {
    expect(humanBytes(4194304)).toBe("4.2 MB");
    expect(humanBytes(16 * MiB)).toBe("17 MB");
    expect(humanBytes(256 * MiB)).toBe("268 MB");
    expect(humanBytes(1024)).toBe("1.0 kB");
    expect(humanBytes(16_500_000)).toBe("16 MB"); // Go rounds the tie to even
    expect(humanBytes(7)).toBe("7 B");
  });

  it("inflates with native zlib exactly as fflate does, and refuses the same inputs", async () => {
    for (const f of ["heap", "heap.pb.gz", "profile_java", "cpu-exemplars.pb.gz", "cpu.pb.gz", "gotruncatefix/cpu_go_truncated_1.pb.gz"]) {
      const body = await testdata(`pprof/${f}`);
      expect([f, await maybeGunzipAsync(body, 4 << 20)]).toEqual([f, maybeGunzip(body, 4 << 20)]);
    }
    const big = gzipSync(new Uint8Array(1 << 20).fill(7));
    const lying = big.slice();
    lying[lying.length - 4] = 100;
    lying[lying.length - 3] = lying[lying.length - 2] = lying[lying.length - 1] = 0;
    await expect(maybeGunzipAsync(lying, 4 << 20)).rejects.toMatchObject({ reason: "malformed_profile" });
    const bomb = gzipSync(new Uint8Array(64 << 20));
    await expect(maybeGunzipAsync(bomb, 4 << 20)).rejects.toMatchObject({ reason: "profile_size_limit" });
    const cpu = await testdata("pprof/heap.pb.gz");
    await expect(maybeGunzipAsync(cpu.slice(0, cpu.length - 3), 4 << 20)).rejects.toMatchObject({ reason: "malformed_profile" });
    const two = concatBytes([big, big]);
    expect((await maybeGunzipAsync(two, 4 << 20)).length).toBe(2 << 20);
  });

  it("bounds the native path by the trailer: lying and huge claims cost no more than the limit", async () => {
    const bomb = gzipSync(new Uint8Array(64 << 20));
    const liar = bomb.slice();
    const n = liar.length;
    liar[n - 4] = 0xe8;
    liar[n - 3] = 0x03;
    liar[n - 2] = liar[n - 1] = 0;
    const err = await gunzipAsync(liar, 4 << 20).then(
      () => null,
      (e: IngestError) => e.reason,
    );
    expect(["profile_size_limit", "malformed_profile"]).toContain(err);
    // A 22-byte stream that claims 256 MiB: refused without allocating the claim.
    const tiny = gzipSync(new Uint8Array(4));
    const huge = tiny.slice();
    huge.set([0xff, 0xff, 0xff, 0x0f], huge.length - 4);
    await expect(gunzipAsync(huge, 256 << 20)).rejects.toMatchObject({ reason: "malformed_profile" });
  });

  it("does not trust a gzip trailer that understates the size", () => {
    const big = gzipSync(new Uint8Array(1 << 20).fill(7));
    const lying = big.slice();
    const n = lying.length;
    lying[n - 4] = 100;
    lying[n - 3] = lying[n - 2] = lying[n - 1] = 0;
    expect(refusal(() => gunzipBounded(lying, 4 << 20)).reason).toBe("malformed_profile");
    expect(gunzipBounded(big, 4 << 20).length).toBe(1 << 20);
  });

  it("refuses a gzip bomb with profile_size_limit after reading only its start", () => {
    // 64 MiB of zeros, compressed in 1 MiB steps so the test itself never holds 64 MiB.
    const compressed: Uint8Array[] = [];
    const gz = new Gzip({ level: 9 }, (chunk) => compressed.push(chunk));
    const zeros = new Uint8Array(MiB);
    for (let i = 0; i < 64; i++) gz.push(zeros, i === 63);
    const bomb = cat(...compressed);
    expect(bomb.length).toBeLessThan(128 * 1024);

    // It really is a bomb: a counting inflater (keeping nothing) sees 64 MiB come out.
    let inflated = 0;
    const counter = new Gunzip((chunk) => (inflated += chunk.length));
    counter.push(bomb, true);
    expect(inflated).toBe(64 * MiB);

    const tracked = new ReadTracker(bomb);
    const err = refusal(() => gunzipBounded(tracked, LIMIT));
    expect(err.kind).toBe("invalid");
    expect(err.reason).toBe("profile_size_limit");
    expect(err.message).toBe("uncompressed profile payload size exceeds limit of 4.2 MB");
    // DEFLATE yields at most 1032 bytes per input byte, so output stayed near the limit.
    expect(tracked.furthest).toBeGreaterThan(0);
    expect(tracked.furthest * 1032).toBeLessThan(3 * LIMIT);

    expect(refusal(() => maybeGunzip(bomb, LIMIT)).reason).toBe("profile_size_limit");
  });

  it("applies the limit exactly, and 0 means unlimited", () => {
    const data = new Uint8Array(1000).fill(7);
    const gz = gzipSync(data);
    expect(gunzipBounded(gz, 1000)).toEqual(data);
    expect(gunzipBounded(gz, 0)).toEqual(data);
    expect(refusal(() => gunzipBounded(gz, 999)).message).toBe(
      "uncompressed profile payload size exceeds limit of 999 B",
    );
  });

  it("refuses truncated gzip", async () => {
    const gz = await testdata("pprof/cpu.pb.gz");
    expect(gunzipBounded(gz, LIMIT).length).toBeGreaterThan(gz.length);
    for (const cut of [1, 2, 10, gz.length >> 1, gz.length - 9, gz.length - 8, gz.length - 4, gz.length - 1]) {
      const err = refusal(() => gunzipBounded(gz.subarray(0, cut), LIMIT));
      expect(err.reason, `cut at ${cut}`).toBe("malformed_profile");
      expect(err.message, `cut at ${cut}`).toMatch(/gzip/);
    }
  });

  it("refuses every single flipped byte after the header that changes the data", async () => {
    // Bytes 4..9 (mtime, flags, OS) are ignored by every gunzip, so flips start at the data.
    const gz = await testdata("pprof/cpu.pb.gz");
    const original = gunzipBounded(gz, LIMIT);
    let harmless = 0;
    for (let i = 10; i < gz.length; i++) {
      const bad = gz.slice();
      bad[i] ^= 0x55;
      try {
        // fflate does not check a stored block's NLEN (the complement of its length), so the
        // two NLEN bytes of the final empty stored block can flip without changing the data.
        expect(gunzipBounded(bad, LIMIT), `flip at ${i}`).toEqual(original);
        harmless++;
      } catch (err) {
        expect(err, `flip at ${i}`).toBeInstanceOf(IngestError);
        expect((err as IngestError).reason, `flip at ${i}`).toBe("malformed_profile");
      }
    }
    expect(harmless).toBeLessThanOrEqual(2);
  });

  it("refuses trailing garbage and an empty stream", async () => {
    const gz = await testdata("pprof/cpu.pb.gz");
    for (const tail of [[0], [0, 0, 0, 0], [0x1f, 0x8b, 0x08]]) {
      expect(refusal(() => gunzipBounded(cat(gz, new Uint8Array(tail)), LIMIT)).reason).toBe("malformed_profile");
    }
    expect(refusal(() => gunzipBounded(new Uint8Array(0), LIMIT)).reason).toBe("malformed_profile");
  });

  it("inflates multi-member gzip to the concatenation and checks every member", async () => {
    const a = enc.encode("first member ".repeat(50));
    const b = enc.encode("second");
    expect(dec.decode(gunzipBounded(cat(gzipSync(a), gzipSync(b)), LIMIT))).toBe(dec.decode(cat(a, b)));
    expect(gunzipBounded(cat(gzipSync(a), gzipSync(new Uint8Array(0)), gzipSync(b)), LIMIT).length).toBe(
      a.length + b.length,
    );

    const gz = await testdata("pprof/cpu.pb.gz");
    const one = gunzipBounded(gz, LIMIT);
    expect(gunzipBounded(cat(gz, gz), LIMIT)).toEqual(cat(one, one));
    // The limit spans all members.
    expect(refusal(() => gunzipBounded(cat(gz, gz), one.length + 1)).reason).toBe("profile_size_limit");

    // A bad CRC in the first member is caught at the member boundary.
    const first = gzipSync(a);
    first[first.length - 6] ^= 1;
    expect(refusal(() => gunzipBounded(cat(first, gzipSync(b)), LIMIT)).message).toMatch(/checksum/);
  });

  it("passes non-gzip through maybeGunzip, bounded by the same limit", () => {
    const raw = enc.encode("\x0a\x04\x08\x01\x10\x02 not gzip");
    expect(maybeGunzip(raw, LIMIT)).toBe(raw);
    expect(maybeGunzip(raw, 0)).toBe(raw);
    expect(refusal(() => maybeGunzip(raw, 4)).reason).toBe("profile_size_limit");
  });
});

describe("readBodyCapped", () => {
  it("reads a body within the cap", async () => {
    const body = new Uint8Array(5000).fill(1);
    const req = new Request("http://x/ingest", { method: "POST", body });
    expect(await readBodyCapped(req, 5000)).toEqual(body);
    expect(await readBodyCapped(null, 10)).toEqual(new Uint8Array(0));
    expect((await readBodyCapped(new Request("http://x/"), 10)).length).toBe(0);
  });

  it("refuses a declared Content-Length over the cap", async () => {
    // The declared length alone triggers the refusal: the 10-byte body would fit.
    const req = new Request("http://x/ingest", {
      method: "POST",
      body: new Uint8Array(10),
      headers: { "content-length": "1000" },
    });
    const err = await asyncRefusal(readBodyCapped(req, 99));
    expect(err.kind).toBe("too_large");
    expect(err.reason).toBe("body_size_limit_exceeded");
    expect(err.message).toBe("request body too large");
  });

  it("stops reading an endless stream once it has dropped as much again as the cap", async () => {
    let pulls = 0;
    let cancelled = false;
    const endless = new ReadableStream<Uint8Array>(
      {
        pull(controller) {
          pulls++;
          controller.enqueue(new Uint8Array(4096));
        },
        cancel() {
          cancelled = true;
        },
      },
      { highWaterMark: 0 },
    );
    const err = await asyncRefusal(readBodyCapped(endless, 10_000));
    expect(err.kind).toBe("too_large");
    // 10,000 bytes kept at most, then 10,000 more read and dropped: six chunks of 4096.
    expect(pulls).toBeLessThanOrEqual(Math.ceil(20_000 / 4096) + 2);
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(cancelled).toBe(true);
  });

  it("reads a body a little over the cap to its end before refusing it, and keeps none of it", async () => {
    let cancelled = false;
    const chunks = [new Uint8Array(6000), new Uint8Array(6000), new Uint8Array(6000)];
    const over = new ReadableStream<Uint8Array>({
      pull(controller) {
        const next = chunks.shift();
        if (next) controller.enqueue(next);
        else controller.close();
      },
      cancel() {
        cancelled = true;
      },
    });
    const err = await asyncRefusal(readBodyCapped(over, 10_000));
    expect(err.kind).toBe("too_large");
    expect(chunks).toEqual([]);
    expect(cancelled).toBe(false);
  });
});

describe("multipart", () => {
  const ct = (b: string) => `multipart/form-data; boundary=${b}`;

  it("parses the RFC 7578 framing with preamble, epilogue and several parts", () => {
    const body = cat(
      "preamble to ignore\r\n",
      "--XyZ  \r\n", // transport padding after the boundary
      'content-disposition: form-data; name="profile"; filename="a;b \\"q\\".pprof"\r\n',
      "CONTENT-TYPE: application/octet-stream\r\n",
      "\r\n",
      "line1\r\n--XyZ-not-a-delimiter\r\nline3",
      "\r\n--XyZ\r\n",
      "Content-Disposition: form-data; name=sample_type_config\r\n",
      "\r\n",
      '{"cpu":{}}',
      "\r\n--XyZ\r\n",
      'Content-Disposition: form-data; name="empty"\r\n',
      "\r\n",
      "\r\n--XyZ--\r\n",
      "epilogue\r\n--XyZ\r\nignored",
    );
    const parts = parseMultipart(body, ct('"XyZ"'));
    expect(parts.map((p) => ({ ...p, data: dec.decode(p.data) }))).toEqual([
      {
        name: "profile",
        filename: 'a;b "q".pprof',
        contentType: "application/octet-stream",
        data: "line1\r\n--XyZ-not-a-delimiter\r\nline3",
      },
      { name: "sample_type_config", data: '{"cpu":{}}' },
      { name: "empty", data: "" },
    ]);
    expect(parseMultipart(body, "Multipart/Form-Data; charset=utf-8; BOUNDARY=XyZ").length).toBe(3);
  });

  it("accepts bare-LF framing and an empty form", () => {
    const lf = cat("--b\n", 'Content-Disposition: form-data; name="profile"\n', "\n", "data\n", "--b--");
    expect(dec.decode(parseMultipart(lf, ct("b"))[0].data)).toBe("data");
    expect(parseMultipart(enc.encode("--b--\r\n"), ct("b"))).toEqual([]);
  });

  it("refuses malformed bodies with a clear message", () => {
    const good = 'Content-Disposition: form-data; name="p"\r\n\r\nx';
    const cases: [string, Uint8Array, string, RegExp][] = [
      ["no boundary", enc.encode("--b\r\n"), "multipart/form-data", /no boundary/],
      ["empty boundary", enc.encode("--b\r\n"), 'multipart/form-data; boundary=""', /no boundary/],
      ["no opening", enc.encode("just text"), ct("b"), /opening boundary/],
      ["wrong boundary", cat("--a\r\n", good, "\r\n--a--"), ct("b"), /opening boundary/],
      ["no closing", cat("--b\r\n", good), ct("b"), /closing boundary/],
      ["truncated", cat("--b\r\n", good, "\r\n--b\r\n", good), ct("b"), /closing boundary/],
      ["no blank line", cat("--b\r\n", 'Content-Disposition: form-data; name="p"', "\r\n--b--"), ct("b"), /blank line/],
      ["empty part", cat("--b\r\n", "--b--"), ct("b"), /blank line/],
      ["no headers at all", cat("--b\r\n", "\r\nx\r\n--b--"), ct("b"), /Content-Disposition/],
      ["no disposition", cat("--b\r\n", "Content-Type: x\r\n\r\nx\r\n--b--"), ct("b"), /Content-Disposition/],
      ["no field name", cat("--b\r\n", "Content-Disposition: form-data\r\n\r\nx\r\n--b--"), ct("b"), /field name/],
      ["bad header line", cat("--b\r\n", "not a header\r\n\r\nx\r\n--b--"), ct("b"), /malformed header/],
      ["data as headers", cat("--b\r\n", "x".repeat(20_000), "\r\n\r\nx\r\n--b--"), ct("b"), /header section/],
    ];
    for (const [what, body, type, message] of cases) {
      const err = refusal(() => parseMultipart(body, type));
      expect(err.kind, what).toBe("invalid");
      expect(err.reason, what).toBe("malformed_profile");
      expect(err.message, what).toMatch(message);
    }
  });
});

describe("name", () => {
  it.each([
    ["app", "app", []],
    ["my.app-1/x_y", "my.app-1/x_y", []],
    [" app { k = v , k2=v2 } ", "app", [["k", "v"], ["k2", "v2"]]],
    ["app{}", "app", []],
    ["app{k=1,j=2,k=3}", "app", [["k", "3"], ["j", "2"]]],
    ["app{k=}", "app", [["k", ""]]],
    ["app{k=a/b:c d=e}", "app", [["k", "a/b:c d=e"]]],
    ["app{x=1}junk=2}", "app", [["x", "1"]]],
    ["app{x=1,y=2", "app", [["x", "1"]]], // an unclosed pair is dropped
    ["app{novalue}", "app", []],
    ["app{__session_id__=abc,__private=1,k=v}", "app", [["__session_id__", "abc"], ["k", "v"]]],
    ["app{__name__=other,k=v}", "other", [["k", "v"]]],
  ] as [string, string, [string, string][]][])("%j", (input, app, labels) => {
    expect(parseName(input)).toEqual({ app, labels });
  });

  it.each([
    ["", "missing_labels", "name: service name is required"],
    ["   ", "missing_labels", "name: service name is required"],
    ["{k=v}", "missing_labels", "name: service name is required"],
    ["my app", "invalid_labels", "name: invalid service name: my app: character is not allowed: ' '"],
    ["app:1{k=v}", "invalid_labels", "name: invalid service name: app:1: character is not allowed: ':'"],
    ["app{bad-key=v}", "invalid_labels", "name: invalid label name: bad-key: character is not allowed: '-'"],
    ["app{=v}", "invalid_labels", "name: label name is required"],
    ["app{k=v,,j=1}", "invalid_labels", "name: invalid label name: ,j: character is not allowed: ','"],
    ["app{__name__=}", "missing_labels", "name: service name is required"],
  ])("refuses %j", (input, reason, message) => {
    const err = refusal(() => parseName(input));
    expect({ kind: err.kind, reason: err.reason, message: err.message }).toEqual({
      kind: "bad_request",
      reason,
      message,
    });
  });

  it("treats an absent name as empty", () => {
    expect(refusal(() => parseName(null)).reason).toBe("missing_labels");
  });
});

describe("attime", () => {
  const now = Date.UTC(2020, 0, 1); // 1577836800000
  const s = 1000;

  it.each([
    // absent, empty or unreadable: now
    [undefined, now],
    ["", now],
    ["   ", now],
    ["now", now],
    ["yesterday", now],
    // dates
    ["20200101", now],
    ["20240229", Date.UTC(2024, 1, 29)],
    ["20230229", 20230229 * s], // not a date: seconds
    ["19000101", 19000101 * s], // year must be after 1900
    // unix time by digit count
    ["0", 0],
    ["123", 123 * s],
    ["1577836800", now],
    [" 1_577_836_800 ", now],
    ["1,577,836,800", now],
    ["1577836800001", now + 1],
    ["1577836800000001", now],
    ["1577836800123999", now + 123],
    ["1577836800123456789", now + 123],
    ["1577836800999999999", now + 999], // beyond 2^53: exact only with BigInt
    ["12345678901", 12345678901 * s],
    // relative
    ["now-1s", now - 1 * s],
    ["now+1s", now + 1 * s],
    ["now-30m", now - 30 * 60 * s],
    ["now-1min", now - 60 * s],
    ["now-1h", now - 3600 * s],
    ["now-7d", now - 7 * 86400 * s],
    ["now-1w", now - 7 * 86400 * s],
    ["now-1mon", now - 30 * 86400 * s],
    ["now-1M", now - 30 * 86400 * s],
    ["now-1y", now - 365 * 86400 * s],
    ["now - 2 h", now - 2 * 3600 * s],
    ["-1h", now - 3600 * s],
    ["now-1h30m", now - 3600 * s], // only the first term counts
    ["now-1", now], // no unit
    ["now-1x", now], // unknown unit
    ["now-h", now], // no number
  ] as [string | undefined, number][])("%j", (input, want) => {
    expect(parseTimeMs(input, now)).toBe(want);
  });
});

describe("utf8", () => {
  const valid = ["", "plain ascii", "é", "€", "𝄞", "\u{10FFFF}", "\uD7FF", "\uE000", "mixed é € 𝄞 text"];
  it.each(valid)("accepts %j", (s) => {
    expect(isValidUtf8(enc.encode(s))).toBe(true);
  });

  it.each([
    ["stray continuation", [0x80]],
    ["overlong 2-byte", [0xc0, 0x80]],
    ["overlong 2-byte C1", [0xc1, 0xbf]],
    ["overlong 3-byte", [0xe0, 0x80, 0x80]],
    ["overlong 4-byte", [0xf0, 0x80, 0x80, 0x80]],
    ["surrogate", [0xed, 0xa0, 0x80]],
    ["above U+10FFFF", [0xf4, 0x90, 0x80, 0x80]],
    ["F5 lead", [0xf5, 0x80, 0x80, 0x80]],
    ["FF", [0xff]],
    ["truncated 3-byte", [0xe2, 0x82]],
    ["bad continuation", [0xe2, 0x28, 0xa1]],
    ["truncated at end", [0x61, 0xf0, 0x9d, 0x84]],
  ])("refuses %s", (_, bytes) => {
    expect(isValidUtf8(new Uint8Array(bytes))).toBe(false);
  });

  it("checks only the given range", () => {
    const bytes = enc.encode("a€b");
    expect(isValidUtf8(bytes, 1, 4)).toBe(true);
    expect(isValidUtf8(bytes, 1, 3)).toBe(false); // cuts the euro sign
    expect(isValidUtf8(bytes, 2, 5)).toBe(false); // starts inside it
    expect(isValidUtf8(new Uint8Array([0xff, 0x61, 0xff]), 1, 2)).toBe(true);
  });

  it("agrees with a fatal TextDecoder on random bytes", () => {
    const strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
    let seed = 12345;
    const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
    // Biased towards lead and continuation bytes so that valid sequences occur too.
    const pool = [0x41, 0x80, 0x9f, 0xa0, 0xbf, 0xc2, 0xdf, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xc0];
    for (let n = 0; n < 5000; n++) {
      const pick = () => (rand() & 1 ? pool[rand() % pool.length] : rand());
      const bytes = Uint8Array.from({ length: 1 + (rand() % 6) }, pick);
      let expected = true;
      try {
        strict.decode(bytes);
      } catch {
        expected = false;
      }
      expect(isValidUtf8(bytes), Array.from(bytes).join(",")).toBe(expected);
    }
  });
});
