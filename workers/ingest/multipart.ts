// multipart/form-data bodies (RFC 7578 on RFC 2046 framing), as the Go, Node (undici and
// axios/form-data) and Java SDKs send them to /ingest. Part data are views into the body, never
// copies: a profile part can be megabytes and is only read once.
//
// Failures are profile conversion errors in Pyroscope (422 on /ingest, spec API.md §1.5.6, §1.8).

import { invalid } from "./errors";

export interface Part {
  /** Form field name from Content-Disposition. */
  name: string;
  filename?: string;
  /** The part's Content-Type as sent; only informative (Node sends `text/json` for gzip'd pprof). */
  contentType?: string;
  data: Uint8Array;
}

/** Go's default part cap (`multipartmaxparts`); real clients send one to three parts. */
const MAX_PARTS = 1000;
/** Header sections are a few short lines; a long one means binary data where headers belong. */
const MAX_HEADER_BYTES = 16 * 1024;
const CR = 0x0d;
const LF = 0x0a;
const DASH = 0x2d;
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Splits `body` into its parts; `contentType` is the request's header value carrying the boundary. */
export function parseMultipart(body: Uint8Array, contentType: string): Part[] {
  const boundary = headerParams(contentType).get("boundary");
  if (!boundary) throw malformed("no boundary parameter in Content-Type");
  const dashBoundary = encoder.encode(`--${boundary}`);

  // The first delimiter either opens the body or follows a preamble line.
  const opening =
    (startsWithAt(body, dashBoundary, 0) ? delimiterLine(body, dashBoundary.length) : undefined) ??
    findDelimiter(body, prefixed([LF], dashBoundary), 0)?.line;
  if (!opening) throw malformed("opening boundary not found");
  if (opening.close) return [];

  // Lines end with whatever the first delimiter line used: CRLF per RFC 2046, bare LF tolerated
  // as Go's reader does.
  const newline = body[opening.next - 2] === CR ? [CR, LF] : [LF];
  const delimiter = prefixed(newline, dashBoundary);
  const parts: Part[] = [];
  let partStart = opening.next;
  for (;;) {
    // Searching from before partStart lets an empty part (no headers) end at the next delimiter.
    const found = findDelimiter(body, delimiter, partStart - newline.length);
    if (!found) throw malformed("closing boundary not found (body truncated?)");
    if (parts.length === MAX_PARTS) throw malformed(`more than ${MAX_PARTS} parts`);
    parts.push(parsePart(body.subarray(partStart, Math.max(partStart, found.at)), parts.length + 1));
    if (found.line.close) return parts; // anything after the close delimiter is epilogue
    partStart = found.line.next;
  }
}

/** The first `delimiter` at or after `from` that really is a delimiter line. */
function findDelimiter(body: Uint8Array, delimiter: Uint8Array, from: number) {
  for (let at = indexOfBytes(body, delimiter, from); at >= 0; at = indexOfBytes(body, delimiter, at + 1)) {
    const line = delimiterLine(body, at + delimiter.length);
    if (line) return { at, line };
  }
  return undefined;
}

interface DelimiterLine {
  /** Offset just past the delimiter line. */
  next: number;
  /** `--boundary--`: no more parts. */
  close: boolean;
}

/**
 * What follows a matched `--boundary`: `--` closes, optional transport padding then a line break
 * opens a part. Anything else means the bytes only start like a delimiter and are part data.
 */
function delimiterLine(body: Uint8Array, at: number): DelimiterLine | undefined {
  if (body[at] === DASH && body[at + 1] === DASH) return { next: at + 2, close: true };
  let i = at;
  while (body[i] === 0x20 || body[i] === 0x09) i++;
  if (body[i] === CR && body[i + 1] === LF) return { next: i + 2, close: false };
  if (body[i] === LF) return { next: i + 1, close: false };
  return undefined;
}

/** A part is header lines, a blank line, then data; `index` (1-based) is only for messages. */
function parsePart(content: Uint8Array, index: number): Part {
  const headers = new Map<string, string>();
  let lineStart = 0;
  for (;;) {
    const lf = content.indexOf(LF, lineStart);
    if (lf < 0) throw malformed(`part ${index}: headers are not followed by a blank line`);
    if (lf > MAX_HEADER_BYTES) throw malformed(`part ${index}: header section over ${MAX_HEADER_BYTES} bytes`);
    const lineEnd = lf > lineStart && content[lf - 1] === CR ? lf - 1 : lf;
    if (lineEnd === lineStart) {
      lineStart = lf + 1;
      break;
    }
    const text = decoder.decode(content.subarray(lineStart, lineEnd));
    const colon = text.indexOf(":");
    const headerName = colon < 0 ? "" : text.slice(0, colon);
    if (!HEADER_NAME.test(headerName)) throw malformed(`part ${index}: malformed header line ${JSON.stringify(text)}`);
    // The first occurrence wins, like Go's Header.Get.
    const key = headerName.toLowerCase();
    if (!headers.has(key)) headers.set(key, text.slice(colon + 1).trim());
    lineStart = lf + 1;
  }

  const disposition = headers.get("content-disposition");
  if (disposition === undefined) throw malformed(`part ${index}: no Content-Disposition header`);
  const params = headerParams(disposition);
  const name = params.get("name");
  if (!name) throw malformed(`part ${index}: Content-Disposition has no field name`);
  const part: Part = { name, data: content.subarray(lineStart) };
  const filename = params.get("filename");
  if (filename !== undefined) part.filename = filename;
  const contentType = headers.get("content-type");
  if (contentType !== undefined) part.contentType = contentType;
  return part;
}

/**
 * The `; key=value` parameters after a header's main value, keys lower-cased, values unquoted
 * (a backslash escapes the next character inside quotes). The first occurrence of a key wins.
 */
function headerParams(value: string): Map<string, string> {
  const params = new Map<string, string>();
  let i = value.indexOf(";");
  while (i >= 0) {
    const eq = value.indexOf("=", i + 1);
    const semi = value.indexOf(";", i + 1);
    if (eq < 0 || (semi >= 0 && semi < eq)) {
      i = semi; // a bare token without a value
      continue;
    }
    const key = value.slice(i + 1, eq).trim().toLowerCase();
    let j = eq + 1;
    while (value[j] === " " || value[j] === "\t") j++;
    let v = "";
    if (value[j] === '"') {
      for (j++; j < value.length && value[j] !== '"'; j++) {
        if (value[j] === "\\" && j + 1 < value.length) j++;
        v += value[j];
      }
      i = value.indexOf(";", j);
    } else {
      i = value.indexOf(";", j);
      v = value.slice(j, i < 0 ? undefined : i).trim();
    }
    if (key !== "" && !params.has(key)) params.set(key, v);
  }
  return params;
}

function malformed(detail: string) {
  return invalid("malformed_profile", `multipart: ${detail}`);
}

/** Native indexOf finds candidates for the first byte; the rest is compared by hand. */
function indexOfBytes(hay: Uint8Array, needle: Uint8Array, from: number): number {
  const first = needle[0];
  const last = hay.length - needle.length;
  for (let i = hay.indexOf(first, Math.max(0, from)); i >= 0 && i <= last; i = hay.indexOf(first, i + 1)) {
    if (startsWithAt(hay, needle, i)) return i;
  }
  return -1;
}

function startsWithAt(hay: Uint8Array, needle: Uint8Array, at: number): boolean {
  if (at + needle.length > hay.length) return false;
  for (let k = 0; k < needle.length; k++) if (hay[at + k] !== needle[k]) return false;
  return true;
}

function prefixed(head: number[], tail: Uint8Array): Uint8Array {
  const out = new Uint8Array(head.length + tail.length);
  out.set(head);
  out.set(tail, head.length);
  return out;
}
