// Writes block objects: header, the deflated sections of each dataset, TOC and trailer. The byte
// layout is specified in README.md; readers live in decode.ts.

import { deflateSync } from "fflate";
import type { BlockBuilder } from "./builder";
import { writeIndices, writeNumbers, writeU64s } from "./codec";
import { crc32 } from "../util/crc32";
import { type DatasetEntry, MAGIC, REQUIRED_SECTIONS, SectionKind, type SectionEntry, VERSION } from "./format";
import { summarize } from "./summary";
import { writeTocAndTrailer } from "./toc";
import { ByteWriter, encodeUtf8 } from "./varint";

export interface BlockMeta {
  tenant: string;
  service: string;
  shard: number;
  blockId: string;
  createdAtMs: number;
}

export interface Dataset {
  service: string;
  builder: BlockBuilder;
}

// For flushed blocks: level 6 is within a few percent of 9 on these sections at a fraction of the CPU.
const DEFLATE_LEVEL: DeflateLevel = 6;

/** One block holding one dataset: `b` as service `meta.service`. */
export function encodeBlock(b: BlockBuilder, meta: BlockMeta, level: DeflateLevel = DEFLATE_LEVEL): Uint8Array {
  const { service, ...rest } = meta;
  return encodeDatasets(rest, [{ service, builder: b }], level);
}

/** Compresses one section to raw DEFLATE (RFC 1951), as the block reader inflates it. */
export type Deflate = (raw: Uint8Array) => Promise<Uint8Array>;

/**
 * encodeBlock with each section compressed by `deflate` and awaited: for flushes, where the
 * runtime's native compressor is about 1.75× as fast as fflate's in workerd, and the awaits between
 * sections let waiting requests run instead of stalling behind one long synchronous encode.
 */
export async function encodeBlockAsync(b: BlockBuilder, meta: BlockMeta, deflate: Deflate): Promise<Uint8Array> {
  const { service, ...rest } = meta;
  const writer = blockWriter(rest, [{ service, builder: b }]);
  let step = writer.next();
  while (!step.done) step = writer.next(await deflate(step.value));
  return step.value;
}

/** `deflate` for encodeBlockAsync: the runtime's CompressionStream (zlib's default level, 6). */
export async function nativeDeflate(raw: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([raw]).stream().pipeThrough(new CompressionStream("deflate-raw"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/**
 * DEFLATE level 0 to 9. Level 0 stores sections uncompressed (still valid DEFLATE, read by the same
 * reader): right for short-lived data such as a query's partial results, where compressing costs
 * more CPU than the bytes it saves are worth.
 */
export type DeflateLevel = 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9;

/** One block holding a dataset per service; datasets are stored sorted by service. */
export function encodeDatasets(
  meta: Omit<BlockMeta, "service">,
  datasets: Dataset[],
  level: DeflateLevel = DEFLATE_LEVEL,
): Uint8Array {
  const writer = blockWriter(meta, datasets);
  let step = writer.next();
  while (!step.done) step = writer.next(deflateSync(step.value, { level }));
  return step.value;
}

/**
 * Lays a block out: yields each section's raw bytes and takes back their DEFLATE form, so that
 * the sync and async encoders share one layout. Returns the finished block.
 */
function* blockWriter(meta: Omit<BlockMeta, "service">, datasets: Dataset[]): Generator<Uint8Array, Uint8Array, Uint8Array> {
  const sorted = [...datasets].sort((x, y) => (x.service < y.service ? -1 : x.service > y.service ? 1 : 0));
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i].service === sorted[i - 1].service) throw new Error(`encodeBlock: service ${JSON.stringify(sorted[i].service)} given twice`);
  }
  const w = new ByteWriter(64 * 1024);
  w.bytes(MAGIC);
  w.u16(VERSION);
  w.u16(0);
  const entries: DatasetEntry[] = [];
  for (const { service, builder: b } of sorted) {
    if (b.profileSampleStart.length !== b.profileCount + 1) throw new Error("encodeBlock: a profile is still open");
    const sections: SectionEntry[] = [];
    for (const kind of REQUIRED_SECTIONS) {
      const raw = SECTION_WRITERS[kind](b);
      const packed = yield raw;
      sections.push({ kind, offset: w.length, length: packed.length, rawLength: raw.length, crc32: crc32(packed) });
      w.bytes(packed);
    }
    entries.push({ service, ...summarize(b), sections });
  }
  writeTocAndTrailer(w, { version: VERSION, ...meta, datasets: entries });
  // An exact-size copy: callers may store `.buffer`, which must not carry the writer's slack.
  return w.finish().slice();
}

const SECTION_WRITERS: Record<SectionKind, (b: BlockBuilder) => Uint8Array> = {
  [SectionKind.Strings]: writeStrings,
  [SectionKind.Symbols]: writeSymbols,
  [SectionKind.Stacks]: writeStacks,
  [SectionKind.Series]: writeSeries,
  [SectionKind.Profiles]: writeProfiles,
  [SectionKind.Samples]: writeSamples,
};

function writeStrings(b: BlockBuilder): Uint8Array {
  const w = new ByteWriter();
  const n = b.strings.length;
  w.uvarint(n - 1);
  // Lengths in UTF-16 units and one UTF-8 blob: the reader decodes the blob in a single call and
  // slices, instead of one decoder call per string.
  for (let i = 1; i < n; i++) w.uvarint(b.strings[i].length);
  const blob = encodeUtf8(b.strings.slice(1).join(""));
  w.uvarint(blob.length);
  w.bytes(blob);
  return w.finish();
}

function writeSymbols(b: BlockBuilder): Uint8Array {
  const w = new ByteWriter();
  const nm = b.mappingCount;
  w.uvarint(nm - 1);
  writeU64s(w, b.mappingStart.view(), 1, nm, false);
  // Sizes rather than limits: a mapping's size is far shorter than its 64-bit end address.
  for (let i = 1; i < nm; i++) w.u64varint(BigInt.asUintN(64, b.mappingLimit.get(i) - b.mappingStart.get(i)));
  writeU64s(w, b.mappingOffset.view(), 1, nm, false);
  writeIndices(w, b.mappingFile.view(), 1, nm);
  writeIndices(w, b.mappingBuildId.view(), 1, nm);
  writeIndices(w, b.mappingFlags.view(), 1, nm);

  const nf = b.functionCount;
  w.uvarint(nf - 1);
  writeIndices(w, b.fnName.view(), 1, nf);
  writeIndices(w, b.fnSystemName.view(), 1, nf);
  writeIndices(w, b.fnFile.view(), 1, nf);
  writeNumbers(w, b.fnStartLine.view(), 1, nf, false);

  const nl = b.locationCount;
  w.uvarint(nl - 1);
  writeIndices(w, b.locMapping.view(), 1, nl);
  // Addresses of one binary cluster together, so differences are much shorter than 64 bits.
  writeU64s(w, b.locAddress.view(), 1, nl, true);
  for (let i = 1; i < nl; i++) {
    const [start, end] = b.locationLines(i);
    w.uvarint(end - start);
  }
  const nLines = b.lineFn.length;
  writeIndices(w, b.lineFn.view(), 0, nLines);
  writeNumbers(w, b.lineNo.view(), 0, nLines, false);
  return w.finish();
}

function writeStacks(b: BlockBuilder): Uint8Array {
  const w = new ByteWriter();
  const n = b.stackNodeCount;
  const parent = b.nodeParent.view();
  w.uvarint(n - 1);
  // A node's parent precedes it and is usually the node just before (a new stack's nodes are
  // created root to leaf), so node - parent is mostly 1.
  for (let i = 1; i < n; i++) w.uvarint(i - parent[i]);
  writeIndices(w, b.nodeLoc.view(), 1, n);
  return w.finish();
}

function writeSeries(b: BlockBuilder): Uint8Array {
  const w = new ByteWriter();
  const n = b.seriesCount;
  const start = b.seriesLabelStart.view();
  w.uvarint(n);
  writeIndices(w, b.seriesProfileType.view(), 0, n);
  for (let i = 0; i < n; i++) w.uvarint((start[i + 1] - start[i]) / 2);
  writeIndices(w, b.seriesLabels.view(), 0, b.seriesLabels.length);
  return w.finish();
}

function writeProfiles(b: BlockBuilder): Uint8Array {
  const w = new ByteWriter();
  const n = b.profileCount;
  const start = b.profileSampleStart.view();
  w.uvarint(n);
  writeIndices(w, b.profileSeries.view(), 0, n);
  // Profiles arrive roughly in time order: deltas of unix ms are small.
  writeNumbers(w, b.profileTime.view(), 0, n, true);
  writeNumbers(w, b.profileDuration.view(), 0, n, false);
  for (let i = 0; i < n; i++) w.uvarint(start[i + 1] - start[i]);
  return w.finish();
}

function writeSamples(b: BlockBuilder): Uint8Array {
  const w = new ByteWriter(b.sampleCount * 4 + 64);
  const n = b.sampleCount;
  w.uvarint(n);
  writeIndices(w, b.sampleNode.view(), 0, n);
  writeNumbers(w, b.sampleValue.view(), 0, n, false);
  writeIndices(w, b.sampleSpan.view(), 0, n);
  writeIndices(w, b.sampleTrace.view(), 0, n);
  return w.finish();
}
