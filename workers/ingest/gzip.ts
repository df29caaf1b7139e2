// Bounded gzip handling for uploaded profiles and bounded body reading. Pure: runs in workerd and Node.
//
// A gzip bomb must be refused without being inflated: output is counted as it streams out of the
// inflater and the work stops at the first chunk past the limit (spec API.md §2.2, §7.2).

import { Gunzip, gunzipSync } from "fflate";
import { MAX_INFLATE_RATIO } from "../block/format";
import { concatBytes } from "../util/bytes";
import { crc32, CRC32_INIT, crc32Finish, crc32Update } from "../util/crc32";
import { BODY_SIZE_LIMIT, badRequest, IngestError, invalid } from "./errors";

const MAX_CHUNK = 64 * 1024;
const MIN_CHUNK = 1024;
const TRAILER_BYTES = 8;

/** gzip is recognised by its magic bytes only; names, Content-Type and Content-Encoding are ignored. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/**
 * Inflates a gzip stream (one or more concatenated members, as gzip(1) and Go's reader accept).
 * `maxBytes` caps the inflated size (0 = no limit): past it, `profile_size_limit`. Bad or
 * truncated data, trailing garbage, or a CRC-32/ISIZE mismatch: `malformed_profile`.
 */
export function gunzipBounded(bytes: Uint8Array, maxBytes: number): Uint8Array {
  if (bytes.length === 0) throw malformed("empty input");
  return gunzipStreaming(bytes, maxBytes);
}

/**
 * The inflated size a stream's trailer declares when the stream looks like one member whose claim
 * is plausible: within the limit, within DEFLATE's best ratio of the input, and with no bytes that
 * could start a second member (`1f 8b 08` after the first header; a chance match in compressed
 * data only costs the slower path). Undefined otherwise. Nothing is allocated from the claim.
 */
function plausibleSize(bytes: Uint8Array, maxBytes: number): number | undefined {
  const n = bytes.length;
  if (n < 18) return undefined;
  const size = (bytes[n - 4] | (bytes[n - 3] << 8) | (bytes[n - 2] << 16) | (bytes[n - 1] << 24)) >>> 0;
  if ((maxBytes > 0 && size > maxBytes) || size > (n - 18) * MAX_INFLATE_RATIO) return undefined;
  for (let at = bytes.indexOf(0x1f, 10); at >= 0 && at < n - 2; at = bytes.indexOf(0x1f, at + 1)) {
    if (bytes[at + 1] === 0x8b && bytes[at + 2] === 0x08) return undefined;
  }
  return size;
}

function gunzipStreaming(bytes: Uint8Array, maxBytes: number): Uint8Array {
  const chunks: Uint8Array[] = [];
  let total = 0;
  let memberCrc = CRC32_INIT;
  let memberSize = 0;

  // The inflater cannot tell "input ended after the last block" from "input cut at a block
  // boundary", so each member's trailer is checked here; a truncated stream fails this check.
  const checkTrailer = (end: number) => {
    if (end < TRAILER_BYTES) throw malformed("truncated data");
    const t = bytes.subarray(end - TRAILER_BYTES, end);
    const crc = (t[0] | (t[1] << 8) | (t[2] << 16) | (t[3] << 24)) >>> 0;
    const size = (t[4] | (t[5] << 8) | (t[6] << 16) | (t[7] << 24)) >>> 0;
    if (crc !== crc32Finish(memberCrc) || size !== memberSize >>> 0) {
      throw malformed("checksum mismatch (data is truncated or corrupt)");
    }
  };

  const inflater = new Gunzip((data) => {
    total += data.length;
    if (maxBytes > 0 && total > maxBytes) throw profileTooLarge(maxBytes);
    if (data.length === 0) return;
    chunks.push(data);
    memberCrc = crc32Update(memberCrc, data);
    memberSize += data.length;
  });
  // Called once the next member's header is parsed, after all of the previous member's output.
  inflater.onmember = (offset) => {
    checkTrailer(offset);
    memberCrc = CRC32_INIT;
    memberSize = 0;
  };

  // Small enough that one push cannot inflate much more than the limit itself.
  const chunk = maxBytes > 0 ? clamp(Math.floor(maxBytes / MAX_INFLATE_RATIO), MIN_CHUNK, MAX_CHUNK) : MAX_CHUNK;
  try {
    for (let at = 0; at < bytes.length; at += chunk) {
      inflater.push(bytes.subarray(at, at + chunk), at + chunk >= bytes.length);
    }
  } catch (err) {
    if (err instanceof IngestError) throw err;
    throw malformed(describeFlateError(err));
  }
  checkTrailer(bytes.length);
  return concatBytes(chunks, total);
}

/** Inflates gzip payloads; passes anything else through after checking it against the same limit. */
export function maybeGunzip(bytes: Uint8Array, maxBytes: number): Uint8Array {
  if (isGzip(bytes)) return gunzipBounded(bytes, maxBytes);
  if (maxBytes > 0 && bytes.length > maxBytes) throw profileTooLarge(maxBytes);
  return bytes;
}

/** Below this, a native stream's set-up costs more than fflate's whole inflate (PLATFORM.md §3). */
const NATIVE_MIN_BYTES = 8 * 1024;

/**
 * gunzipBounded, inflating larger single-member streams with the runtime's native zlib
 * (DecompressionStream, 1.7x fflate in workerd; it checks the CRC and length itself). Its output
 * is read chunk by chunk and abandoned as soon as it passes the size the trailer declared, so a
 * bomb or a lying trailer costs at most that much. Anything the native path does not accept
 * cleanly goes to the streaming path, which decides and words the refusal.
 */
export async function gunzipAsync(bytes: Uint8Array, maxBytes: number): Promise<Uint8Array> {
  const size = plausibleSize(bytes, maxBytes);
  if (size !== undefined) {
    const out =
      bytes.length < NATIVE_MIN_BYTES || typeof DecompressionStream !== "function"
        ? inflateSmall(bytes, size)
        : await inflateNative(bytes, size).catch(() => undefined);
    if (out) return out;
  }
  return gunzipBounded(bytes, maxBytes);
}

/**
 * One-shot fflate inflate into a buffer of the size the trailer declares, for inputs too small to
 * be worth a native stream (2x the streaming inflater on them). Output past the buffer is dropped
 * rather than grown into, and the input is under NATIVE_MIN_BYTES, so a lying trailer costs at
 * most NATIVE_MIN_BYTES × MAX_INFLATE_RATIO bytes of inflate work; the trailer's CRC then tells
 * whether what was kept is the whole stream. Undefined for anything else.
 */
function inflateSmall(bytes: Uint8Array, size: number): Uint8Array | undefined {
  if (bytes.length >= NATIVE_MIN_BYTES) return undefined;
  let out: Uint8Array;
  try {
    out = gunzipSync(bytes, { out: new Uint8Array(size) });
  } catch {
    return undefined;
  }
  const n = bytes.length;
  const crc = (bytes[n - 8] | (bytes[n - 7] << 8) | (bytes[n - 6] << 16) | (bytes[n - 5] << 24)) >>> 0;
  return out.length === size && crc32(out) === crc ? out : undefined;
}

/** maybeGunzip with gunzipAsync. */
export async function maybeGunzipAsync(bytes: Uint8Array, maxBytes: number): Promise<Uint8Array> {
  return isGzip(bytes) ? gunzipAsync(bytes, maxBytes) : maybeGunzip(bytes, maxBytes);
}

async function inflateNative(bytes: Uint8Array, size: number): Promise<Uint8Array | undefined> {
  const out = await readUpTo(new Response(bytes).body!.pipeThrough(new DecompressionStream("gzip")), size);
  return out?.length === size ? out : undefined;
}

/**
 * Reads a stream whole, or undefined as soon as it passes `cap` bytes: the stream is then
 * cancelled (not awaited, so a stalled source cannot delay the caller) and nothing past the cap
 * is kept.
 */
async function readUpTo(
  stream: ReadableStream<Uint8Array>,
  cap: number,
  idleMs = Infinity,
  drainBytes = 0,
): Promise<Uint8Array | undefined> {
  const reader = stream.getReader();
  const read = () => (idleMs === Infinity ? reader.read() : readWithin(reader, idleMs));
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await read();
    if (done) break;
    total += value.length;
    if (total > cap) {
      // Past the cap, up to drainBytes more are read and dropped, keeping nothing.
      for (let dropped = total - cap; dropped <= drainBytes; ) {
        const next = await read();
        if (next.done) return undefined;
        dropped += next.value.length;
      }
      reader.cancel().catch(() => {});
      return undefined;
    }
    chunks.push(value);
  }
  return concatBytes(chunks, total);
}

/**
 * A body over its limit by at most this many times the limit is read to its end (and dropped)
 * before the refusal: an answer sent over an unread body leaves the connection unusable (the next
 * request on it hangs) and makes a forwarding proxy (wrangler dev's) answer 503 instead of the 413.
 * A larger one is cut off at once; its connection is lost either way.
 */
const DRAIN_FACTOR = 1;

/** Thrown when a body stops arriving: no byte for BODY_IDLE_MS. */
class BodyStalled extends Error {}

/** The next chunk, or BodyStalled (the stream then cancelled) when none comes within `ms`. */
async function readWithin<T>(reader: ReadableStreamDefaultReader<T>, ms: number): Promise<ReadableStreamReadResult<T>> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const stalled = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new BodyStalled(`no byte arrived for ${ms / 1000} s`)), ms);
  });
  try {
    return await Promise.race([reader.read(), stalled]);
  } catch (err) {
    if (err instanceof BodyStalled) reader.cancel().catch(() => {});
    throw err;
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}

/**
 * How long a request body may pause: Pyroscope's HTTP server gives a whole request 30 s to be read
 * (http_server_read_timeout); here the 30 s are between chunks, so a slow but steady upload of a
 * large body still arrives.
 */
const BODY_IDLE_MS = 30_000;

/**
 * Reads a whole body, refusing it (`too_large`) once it passes `maxBytes` (0 = no limit): nothing
 * past the cap is kept, and the rest is read and dropped up to DRAIN_FACTOR × the cap (a declared
 * Content-Length beyond that is refused before reading). The body is always streamed:
 * memory follows the bytes that arrive, never the Content-Length a client claims. A body that ends
 * before its declared length (the connection closed mid-upload), or that stops arriving for
 * `idleMs` (a Content-Length larger than what is sent), is the client's failure, refused with 400
 * rather than reported as an internal error or waited for without end.
 */
export async function readBodyCapped(
  source: Request | ReadableStream<Uint8Array> | null,
  maxBytes: number,
  idleMs = BODY_IDLE_MS,
): Promise<Uint8Array> {
  let stream = source;
  let declared: string | null = null;
  if (stream instanceof Request) {
    declared = stream.headers.get("content-length");
    if (maxBytes > 0 && Number(declared) > maxBytes * (1 + DRAIN_FACTOR)) {
      stream.body?.cancel().catch(() => {});
      throw bodyTooLarge();
    }
    stream = stream.body;
  }
  if (stream === null) return new Uint8Array(0);
  let body: Uint8Array | undefined;
  try {
    body = await readUpTo(stream, maxBytes > 0 ? maxBytes : Infinity, idleMs, maxBytes * DRAIN_FACTOR);
  } catch (err) {
    const claimed = declared === null ? "" : ` (Content-Length: ${declared})`;
    const what = err instanceof BodyStalled ? "stalled" : "was cut short";
    throw badRequest(
      "malformed_profile",
      `the request body ${what}${claimed}: ${err instanceof Error ? err.message : String(err)}; send the whole body`,
    );
  }
  if (body === undefined) throw bodyTooLarge();
  return body;
}

/** Pyroscope's wording, including go-humanize's decimal units ("4.2 MB" for 4 MiB). */
function profileTooLarge(maxBytes: number): IngestError {
  return invalid("profile_size_limit", `uncompressed profile payload size exceeds limit of ${humanBytes(maxBytes)}`);
}

function bodyTooLarge(): IngestError {
  return new IngestError("too_large", BODY_SIZE_LIMIT, "request body too large");
}

function malformed(detail: string): IngestError {
  return invalid("malformed_profile", `invalid gzip data: ${detail}`);
}

/** fflate's messages are terse ("unexpected EOF", "invalid distance"); say which input was at fault. */
function describeFlateError(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  if (message === "unexpected EOF") return "truncated data (unexpected end of input)";
  if (message === "invalid gzip data") return "bad gzip header or trailing garbage after a member";
  return `corrupt deflate stream (${message})`;
}

/** go-humanize `Bytes`: SI units, one decimal below 10, rounded to whole units above. */
export function humanBytes(n: number): string {
  if (n < 10) return `${n} B`;
  const units = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
  const e = Math.floor(Math.log(n) / Math.log(1000));
  const val = Math.floor((n / 1000 ** e) * 10 + 0.5) / 10;
  return val < 10 ? `${val.toFixed(1)} ${units[e]}` : `${roundHalfEven(val)} ${units[e]}`;
}

/** Go's %.0f rounds ties to even; JavaScript's toFixed rounds them up. */
function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return r - v === 0.5 && r % 2 === 1 ? r - 1 : r;
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, v));
}

