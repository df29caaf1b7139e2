// Text formats of /ingest: "groups" (folded / collapsed, the default: `a;b;c 12` per line) and
// "lines" (one stack per line, each counting 1) (spec API.md §1.5.1, §1.5.2). Lines are read as
// Go's bufio.Scanner reads them, since that is what clients were written against: `\n` ends a
// line, one trailing `\r` is dropped, and a line of 64 KiB or more stops the scan.

import type { AssembledProfile } from "./assemble";
import { invalid } from "./errors";
import { legacyProfile, type LegacyMeta } from "./legacy-labels";
import { PprofReader, WireType } from "./pprof-wire";
import { StackTree, type StackLimits } from "./stack-tree";
import { utf8Length } from "./string-table";

/** bufio.MaxScanTokenSize: a line (its `\r` included) must be shorter, in bytes. */
const MAX_LINE_BYTES = 64 * 1024;
/** A UTF-16 code unit is at most 3 UTF-8 bytes: shorter lines need no byte count. */
const SAFE_LINE_CHARS = Math.floor((MAX_LINE_BYTES - 1) / 3);
/** Go's Atoi range ends below 2^63 (compared as doubles: the values just below it that round up are refused too). */
const INT64_LIMIT = 2 ** 63;

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * Folded text: each line is split at its last space into stack and count; lines without a space
 * are skipped, repeated stacks summed. A count that is not a non-negative integer refuses the
 * upload. A line that is too long silently ends the input, as in Pyroscope.
 */
export function decodeFolded(body: Uint8Array, meta: LegacyMeta, limits: StackLimits): AssembledProfile[] {
  const text = decodeText(body);
  const stacks = new StackTree(limits);
  let lineNo = 0;
  scanLines(text, (start, end) => {
    lineNo++;
    // A scan within the line: lastIndexOf would search on through every line before it.
    let space = end - 1;
    while (space >= start && text.charCodeAt(space) !== 0x20) space--;
    if (space < start) return;
    const count = parseCount(text, space + 1, end, lineNo);
    // A zero count stores nothing: its frames need no nodes.
    if (count > 0) stacks.add(stackOf(stacks, text, start, space), count);
  });
  return legacyProfile(stacks, meta);
}

/** One stack per non-empty line, each occurrence counting 1. A too-long line refuses the upload. */
export function decodeLines(body: Uint8Array, meta: LegacyMeta, limits: StackLimits): AssembledProfile[] {
  const text = decodeText(body);
  const stacks = new StackTree(limits);
  const complete = scanLines(text, (start, end) => {
    if (end > start) stacks.add(stackOf(stacks, text, start, end), 1);
  });
  if (!complete) throw invalid("malformed_profile", `a line is ${MAX_LINE_BYTES} bytes or longer (bufio.Scanner: token too long)`);
  return legacyProfile(stacks, meta);
}

/** The node of the `;`-separated frames in text[start, end), root first. */
function stackOf(stacks: StackTree, text: string, start: number, end: number): number {
  let node = StackTree.ROOT;
  let from = start;
  // A scan within the line: indexOf would search past its end, through the rest of the body.
  for (let i = start; i < end; i++) {
    if (text.charCodeAt(i) !== 0x3b /* ; */) continue;
    node = stacks.child(node, text.slice(from, i));
    from = i + 1;
  }
  return stacks.child(node, text.slice(from, end));
}

function decodeText(body: Uint8Array): string {
  try {
    return utf8.decode(body);
  } catch {
    throw invalid("malformed_profile", `the profile is not valid UTF-8 text: ${sniff(body)}`);
  }
}

/**
 * What a body that is not text looks like, and the `format` it probably needed: without one, an
 * upload is read as collapsed text, which is how a pprof sent by hand ends up here.
 */
function sniff(body: Uint8Array): string {
  const hint = "add format=pprof for a pprof profile or format=jfr for a JFR recording (without format= the body is read as collapsed text)";
  if (body[0] === 0x1f && body[1] === 0x8b) return `it starts like gzip data; ${hint}`;
  if (body[0] === 0x46 && body[1] === 0x4c && body[2] === 0x52 && body[3] === 0x00) return "it starts like a JFR recording; add format=jfr";
  if (isPprofShaped(body)) return `it starts like protobuf data (a pprof profile?); ${hint}`;
  return `it is binary data; ${hint}`;
}

/** Whether the body reads as a protobuf message of pprof's fields (1–14, varint or length-delimited) to its end. */
function isPprofShaped(body: Uint8Array): boolean {
  const r = new PprofReader(body);
  try {
    while (r.pos < body.length) {
      const field = r.field();
      if (field < 1 || field > 14) return false;
      if (r.wireType === WireType.LengthDelimited) r.pos = r.delimited(body.length);
      else if (r.wireType === WireType.Varint) r.skipVarint();
      else return false;
    }
    return true;
  } catch {
    // A tag, varint or length the body ends inside of, or one that runs past it.
    return false;
  }
}

/**
 * Calls `line` with the bounds of each line, `\n` and one trailing `\r` excluded. Returns false
 * when it stopped at a line of MAX_LINE_BYTES or more (that line is not passed on).
 */
function scanLines(text: string, line: (start: number, end: number) => void): boolean {
  let start = 0;
  while (start < text.length) {
    let next = text.indexOf("\n", start);
    if (next < 0) next = text.length;
    if (next - start > SAFE_LINE_CHARS && utf8Length(text.slice(start, next)) >= MAX_LINE_BYTES) return false;
    line(start, next > start && text.charCodeAt(next - 1) === 0x0d ? next - 1 : next);
    start = next + 1;
  }
  return true;
}

/** Go's strconv.Atoi on text[from, to), refusing negative counts too (Pyroscope would wrap them). */
function parseCount(text: string, from: number, to: number, lineNo: number): number {
  let i = from;
  const sign = from < to ? text.charCodeAt(from) : -1;
  if (sign === 0x2b /* + */ || sign === 0x2d /* - */) i++;
  if (i === to) throw badCount(text, from, to, lineNo, "invalid syntax");
  let value = 0;
  for (; i < to; i++) {
    const digit = text.charCodeAt(i) - 0x30;
    if (digit < 0 || digit > 9) throw badCount(text, from, to, lineNo, "invalid syntax");
    value = value * 10 + digit;
  }
  if (value >= INT64_LIMIT) throw badCount(text, from, to, lineNo, "value out of range");
  if (sign === 0x2d && value !== 0) throw badCount(text, from, to, lineNo, "negative count");
  return value;
}

function badCount(text: string, from: number, to: number, lineNo: number, why: string) {
  return invalid("malformed_profile", `line ${lineNo}: strconv.Atoi: parsing ${JSON.stringify(text.slice(from, to))}: ${why}`);
}
