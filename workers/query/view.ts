// The decoded sections of one dataset that a query reads. A label or series query never inflates
// the symbols and stacks; a flame graph reads them all. Flushed blocks are read from R2 with two
// range reads (the tail holding the TOC, then one span covering the needed sections, which the
// writer lays out adjacently); buffered pushes are decoded from bytes already in memory.

import {
  decodeProfiles,
  decodeSamples,
  decodeSeries,
  decodeStacks,
  decodeStrings,
  decodeSymbols,
  inflateSection,
  readToc,
  type ProfilesSection,
  type SamplesSection,
  type SeriesSection,
  type StacksSection,
  type SymbolsSection,
} from "../block/decode";
import { checkColumns } from "../block/invariants";
import { decodePushFrame, isPushFrame } from "../block/push-frame";
import { DEFAULT_TAIL_BYTES, type DatasetEntry, REQUIRED_SECTIONS, SectionKind, type SectionEntry, sectionOf } from "../block/format";

/** How much of a dataset a query reads: each level includes the ones before it. */
export type Depth = "series" | "samples" | "stacks";

export interface BlockView {
  strings: string[];
  series: SeriesSection;
  profiles: ProfilesSection;
  samples: SamplesSection | null;
  symbols: SymbolsSection | null;
  stacks: StacksSection | null;
  /** Compressed bytes read for this view (for AnalyzeQuery and cache accounting). */
  bytesRead: number;
  /** What the decoded view holds in memory, roughly (typed arrays plus string characters). */
  memoryBytes: number;
}

const KINDS: Record<Depth, readonly SectionKind[]> = {
  series: [SectionKind.Strings, SectionKind.Series, SectionKind.Profiles],
  samples: [SectionKind.Strings, SectionKind.Series, SectionKind.Profiles, SectionKind.Samples],
  // A flame graph reads every section of the dataset.
  stacks: REQUIRED_SECTIONS,
};

export function depthCovers(have: Depth, want: Depth): boolean {
  return KINDS[have].length >= KINDS[want].length;
}

/** The byte span [start, end) of the object covering every section `depth` needs. */
export function sectionSpan(d: DatasetEntry, depth: Depth): { start: number; end: number } {
  let start = Infinity;
  let end = 0;
  for (const kind of KINDS[depth]) {
    const e = sectionOf(d, kind);
    start = Math.min(start, e.offset);
    end = Math.max(end, e.offset + e.length);
  }
  return { start, end };
}

/** Decodes the sections `depth` needs; `bytesAt(entry)` returns exactly that section's compressed bytes. */
export function decodeView(d: DatasetEntry, depth: Depth, bytesAt: (e: SectionEntry) => Uint8Array): BlockView {
  let bytesRead = 0;
  const raw = (kind: SectionKind): Uint8Array => {
    const e = sectionOf(d, kind);
    bytesRead += e.length;
    return inflateSection(bytesAt(e), e);
  };
  const deep = depth === "stacks";
  const view: BlockView = {
    strings: decodeStrings(raw(SectionKind.Strings)),
    series: decodeSeries(raw(SectionKind.Series)),
    profiles: decodeProfiles(raw(SectionKind.Profiles)),
    samples: depth === "series" ? null : decodeSamples(raw(SectionKind.Samples)),
    symbols: deep ? decodeSymbols(raw(SectionKind.Symbols)) : null,
    stacks: deep ? decodeStacks(raw(SectionKind.Stacks)) : null,
    bytesRead,
    memoryBytes: 0,
  };
  view.memoryBytes = memoryOf(view);
  if (view.profiles.profileSeries.length !== d.profiles || view.series.seriesProfileType.length !== d.series) {
    throw new Error(`block: dataset ${JSON.stringify(d.service)}: the TOC summary disagrees with the sections`);
  }
  return view;
}

/** A whole encoded block in memory (an ingester's buffered push) → the view of its only dataset. */
export function viewOfBytes(bytes: Uint8Array, depth: Depth): BlockView {
  const read = readToc(bytes, bytes.length);
  if (!read.complete) throw new Error("block: truncated TOC");
  if (read.toc.datasets.length !== 1) throw new Error(`block: expected one dataset, found ${read.toc.datasets.length}`);
  return decodeView(read.toc.datasets[0], depth, (e) => bytes.subarray(e.offset, e.offset + e.length));
}

/** An ingester's buffered push (a frame, or a block as older ingesters buffered them) → its view. */
export function viewOfPush(bytes: Uint8Array, depth: Depth): BlockView {
  if (!isPushFrame(bytes)) return viewOfBytes(bytes, depth);
  const c = decodePushFrame(bytes);
  // Query code indexes columns without bounds checks; the block decoder's views get the same check.
  checkColumns(c);
  const deep = depth === "stacks";
  let memoryBytes = 0;
  for (const s of c.strings) memoryBytes += s.length + 16;
  // The columns are views over `bytes`, which the caller holds already: only the strings are new.
  return {
    strings: c.strings,
    series: c,
    profiles: c,
    samples: depth === "series" ? null : c,
    symbols: deep ? c : null,
    stacks: deep ? c : null,
    bytesRead: bytes.length,
    memoryBytes,
  };
}

/** One flushed block in R2 → the view of `service`'s dataset; null if the object is gone. */
export async function viewOfObject(
  bucket: R2Bucket,
  key: string,
  service: string,
  depth: Depth,
): Promise<BlockView | null> {
  let tail = await readSuffix(bucket, key, DEFAULT_TAIL_BYTES);
  if (!tail) return null;
  let read = readToc(tail.bytes, tail.size);
  if (!read.complete) {
    tail = await readSuffix(bucket, key, read.needTailBytes);
    if (!tail) return null;
    read = readToc(tail.bytes, tail.size);
    if (!read.complete) throw new Error(`block ${key}: TOC still incomplete after reading ${tail.bytes.length} bytes`);
  }
  const d = read.toc.datasets.find((x) => x.service === service);
  if (!d) throw new Error(`block ${key}: no dataset for service ${JSON.stringify(service)}`);
  const { start, end } = sectionSpan(d, depth);
  // The span may already sit inside the tail that was read for the TOC (small blocks).
  const tailStart = tail.size - tail.bytes.length;
  let span: Uint8Array;
  let fetched = 0;
  if (start >= tailStart) {
    span = tail.bytes.subarray(start - tailStart, end - tailStart);
  } else {
    const obj = await bucket.get(key, { range: { offset: start, length: end - start } });
    if (!obj) return null;
    span = new Uint8Array(await obj.arrayBuffer());
    fetched = span.length;
  }
  if (span.length !== end - start) throw new Error(`block ${key}: short range read (${span.length} of ${end - start} bytes)`);
  const view = decodeView(d, depth, (e) => span.subarray(e.offset - start, e.offset - start + e.length));
  view.bytesRead = tail.bytes.length + fetched;
  return view;
}

function memoryOf(view: BlockView): number {
  let bytes = 0;
  for (const section of [view.series, view.profiles, view.samples, view.symbols, view.stacks]) {
    if (!section) continue;
    for (const column of Object.values(section) as ArrayBufferView[]) bytes += column.byteLength;
  }
  // V8 keeps one-byte strings at a byte per character plus a header of a few words.
  for (const s of view.strings) bytes += s.length + 16;
  return bytes;
}

async function readSuffix(bucket: R2Bucket, key: string, bytes: number): Promise<{ bytes: Uint8Array; size: number } | null> {
  const obj = await bucket.get(key, { range: { suffix: bytes } });
  if (!obj) return null;
  return { bytes: new Uint8Array(await obj.arrayBuffer()), size: obj.size };
}

/** Lines of location `loc` as [start, end) into lineFn/lineNo, innermost first. */
export function locationLines(s: SymbolsSection, loc: number): [number, number] {
  const start = s.locLineStart[loc];
  const end = loc + 1 < s.locLineStart.length ? s.locLineStart[loc + 1] : s.lineFn.length;
  return [start, end];
}
