// The table of contents and the fixed trailer at the end of a block object: writing them, and
// reading them back from a suffix of the object with every offset checked against its size.

import { crc32 } from "../util/crc32";
import {
  type DatasetEntry,
  HEADER_SIZE,
  MAGIC,
  MAX_INFLATE_RATIO,
  REQUIRED_SECTIONS,
  type SectionEntry,
  type Toc,
  TRAILER_SIZE,
  type TypeSummary,
  VERSION,
} from "./format";
import { ByteReader, ByteWriter } from "./varint";

/** Appends the TOC and the trailer; the TOC starts at the writer's current length. */
export function writeTocAndTrailer(w: ByteWriter, toc: Toc): void {
  const tocOffset = w.length;
  const t = new ByteWriter(4096);
  t.string(toc.tenant);
  t.string(toc.blockId);
  t.uvarint(toc.shard);
  t.f64(toc.createdAtMs);
  t.uvarint(toc.datasets.length);
  for (const d of toc.datasets) {
    t.string(d.service);
    t.f64(d.minTimeMs);
    t.f64(d.maxTimeMs);
    t.uvarint(d.series);
    t.uvarint(d.profiles);
    t.uvarint(d.samples);
    t.uvarint(d.types.length);
    for (const ty of d.types) {
      t.string(ty.profileType);
      t.uvarint(ty.profiles);
      t.uvarint(ty.samples);
      t.f64(ty.total);
    }
    t.uvarint(d.sections.length);
    for (const s of d.sections) {
      t.uvarint(s.kind);
      t.uvarint(s.offset);
      t.uvarint(s.length);
      t.uvarint(s.rawLength);
      t.u32(s.crc32);
    }
  }
  const body = t.finish();
  w.bytes(body);
  w.u64(tocOffset);
  w.u32(body.length);
  w.u32(crc32(body));
  w.u16(toc.version);
  w.u16(0);
  w.bytes(MAGIC);
}

export type TocRead =
  | { complete: true; toc: Toc; tocOffset: number }
  /** The tail was too short: read (at least) this many final bytes of the object and retry. */
  | { complete: false; needTailBytes: number };

/**
 * Parses the trailer and TOC from `tail`, the final tail.length bytes of an object of
 * `objectSize` bytes (the whole object works too).
 */
export function readToc(tail: Uint8Array, objectSize: number): TocRead {
  if (objectSize < HEADER_SIZE + TRAILER_SIZE) throw new Error(`block: object of ${objectSize} bytes is too small`);
  if (tail.length > objectSize) throw new Error(`block: tail of ${tail.length} bytes exceeds the object size ${objectSize}`);
  if (tail.length < TRAILER_SIZE) return { complete: false, needTailBytes: TRAILER_SIZE };

  const magicAt = tail.length - MAGIC.length;
  for (let k = 0; k < MAGIC.length; k++) {
    if (tail[magicAt + k] !== MAGIC[k]) throw new Error("block: bad magic at the end of the object (not a block, or truncated)");
  }
  const r = new ByteReader(tail, "block trailer", tail.length - TRAILER_SIZE);
  const tocOffset = r.u64();
  const tocLength = r.u32();
  const tocCrc = r.u32();
  const version = r.u16();
  const reserved = r.u16();
  if (version !== VERSION) throw new Error(`block: unsupported format version ${version} (this reader knows ${VERSION})`);
  if (reserved !== 0) throw new Error(`block: reserved trailer field is ${reserved}, not 0`);
  if (tocOffset < HEADER_SIZE || tocOffset + tocLength + TRAILER_SIZE !== objectSize) {
    throw new Error(`block: TOC at ${tocOffset}+${tocLength} does not end at the trailer of a ${objectSize}-byte object`);
  }
  if (tail.length < tocLength + TRAILER_SIZE) return { complete: false, needTailBytes: tocLength + TRAILER_SIZE };

  const body = tail.subarray(tail.length - TRAILER_SIZE - tocLength, tail.length - TRAILER_SIZE);
  if (crc32(body) !== tocCrc) throw new Error("block: TOC checksum mismatch");
  const toc = parseToc(new ByteReader(body, "block TOC"), version);
  checkLayout(toc, tocOffset);
  return { complete: true, toc, tocOffset };
}

function parseToc(r: ByteReader, version: number): Toc {
  const tenant = r.string();
  const blockId = r.string();
  const shard = r.uvarint();
  const createdAtMs = r.f64();
  const datasets: DatasetEntry[] = [];
  const nDatasets = r.count("dataset", 22);
  for (let i = 0; i < nDatasets; i++) {
    const service = r.string();
    const minTimeMs = r.f64();
    const maxTimeMs = r.f64();
    const series = r.uvarint();
    const profiles = r.uvarint();
    const samples = r.uvarint();
    const types: TypeSummary[] = [];
    const nTypes = r.count("profile type", 11);
    for (let k = 0; k < nTypes; k++) {
      types.push({ profileType: r.string(), profiles: r.uvarint(), samples: r.uvarint(), total: r.f64() });
    }
    const sections: SectionEntry[] = [];
    const nSections = r.count("section", 8);
    for (let k = 0; k < nSections; k++) {
      sections.push({ kind: r.uvarint(), offset: r.uvarint(), length: r.uvarint(), rawLength: r.uvarint(), crc32: r.u32() });
    }
    datasets.push({ service, minTimeMs, maxTimeMs, series, profiles, samples, types, sections });
  }
  r.done();
  return { version, tenant, blockId, shard, createdAtMs, datasets };
}

/**
 * Sections must tile the bytes between the header and the TOC in TOC order, so a length that lies
 * shows up here, before any range read, rather than as a confusing inflate error later.
 */
function checkLayout(toc: Toc, tocOffset: number): void {
  let expect = HEADER_SIZE;
  let prevService: string | undefined;
  for (const d of toc.datasets) {
    if (prevService !== undefined && !(prevService < d.service)) {
      throw new Error(`block: datasets are not sorted and unique by service (${JSON.stringify(d.service)})`);
    }
    prevService = d.service;
    for (const kind of REQUIRED_SECTIONS) {
      const n = d.sections.filter((s) => s.kind === kind).length;
      if (n !== 1) throw new Error(`block: dataset ${JSON.stringify(d.service)} has ${n} sections of kind ${kind}`);
    }
    for (const s of d.sections) {
      if (s.offset !== expect) throw new Error(`block: section of kind ${s.kind} starts at ${s.offset}, expected ${expect}`);
      if (s.rawLength > s.length * MAX_INFLATE_RATIO + 1024) {
        throw new Error(`block: section of kind ${s.kind} claims ${s.rawLength} bytes from ${s.length} compressed`);
      }
      expect += s.length;
    }
  }
  if (expect !== tocOffset) throw new Error(`block: sections end at ${expect} but the TOC starts at ${tocOffset}`);
}
