// Reads block objects. A query reads the tail (readToc), then range-reads only the sections it
// needs and inflates and decodes each one; the ingester decodes whole objects (decodeBlock).
// Every count is checked against the bytes left before anything is allocated, and every failure
// is a thrown Error naming what was wrong.

import { inflateSync } from "fflate";
import { BlockBuilder, type BuilderColumns } from "./builder";
import { readIndices, readNumbers, readU64s } from "./codec";
import { crc32 } from "../util/crc32";
import { type DatasetEntry, MAGIC, MAX_INFLATE_RATIO, SectionKind, type SectionEntry, VERSION, sectionOf } from "./format";
import { readToc } from "./toc";
import { ByteReader, decodeUtf8 } from "./varint";

export { readToc, type TocRead } from "./toc";

export type SymbolsSection = Pick<
  BuilderColumns,
  | "mappingStart"
  | "mappingLimit"
  | "mappingOffset"
  | "mappingFile"
  | "mappingBuildId"
  | "mappingFlags"
  | "fnName"
  | "fnSystemName"
  | "fnFile"
  | "fnStartLine"
  | "locMapping"
  | "locAddress"
  | "locLineStart"
  | "lineFn"
  | "lineNo"
>;
export type StacksSection = Pick<BuilderColumns, "nodeParent" | "nodeLoc">;
export type SeriesSection = Pick<BuilderColumns, "seriesLabelStart" | "seriesLabels" | "seriesProfileType">;
export type ProfilesSection = Pick<BuilderColumns, "profileSeries" | "profileTime" | "profileDuration" | "profileSampleStart">;
export type SamplesSection = Pick<BuilderColumns, "sampleNode" | "sampleValue" | "sampleSpan" | "sampleTrace">;

// Bound for references into tables of other sections (anything an Int32Array holds);
// decodeBlock checks them precisely.
const ANY_INDEX = 2 ** 31;

/** Verifies and inflates the compressed bytes of one section (exactly entry.length bytes). */
export function inflateSection(packed: Uint8Array, entry: SectionEntry): Uint8Array {
  const what = `block: section of kind ${entry.kind}`;
  if (packed.length !== entry.length) throw new Error(`${what}: got ${packed.length} bytes, the TOC says ${entry.length}`);
  if (entry.rawLength > entry.length * MAX_INFLATE_RATIO + 1024) throw new Error(`${what}: implausible inflated size ${entry.rawLength}`);
  if (crc32(packed) !== entry.crc32) throw new Error(`${what}: checksum mismatch`);
  // One spare byte: fflate silently truncates to the buffer, so a stream longer than the TOC
  // claims shows up as a full buffer rather than going unnoticed.
  const out = new Uint8Array(entry.rawLength + 1);
  let raw: Uint8Array;
  try {
    raw = inflateSync(packed, { out });
  } catch (e) {
    throw new Error(`${what}: inflate failed: ${(e as Error).message}`);
  }
  if (raw.length !== entry.rawLength) throw new Error(`${what}: inflated to ${raw.length} bytes, the TOC says ${entry.rawLength}`);
  return raw;
}

export function decodeStrings(raw: Uint8Array): string[] {
  const r = new ByteReader(raw, "strings section");
  const n = r.count("string");
  const lengths = new Float64Array(n);
  let units = 0;
  for (let i = 0; i < n; i++) {
    lengths[i] = r.uvarint();
    units += lengths[i];
  }
  const blob = r.bytes(r.uvarint());
  r.done();
  const text = decodeUtf8(blob, r);
  if (text.length !== units) r.fail(`string lengths add up to ${units} but the text has ${text.length}`);
  const out: string[] = new Array(n + 1);
  out[0] = "";
  let at = 0;
  for (let i = 0; i < n; i++) {
    out[i + 1] = text.slice(at, at + lengths[i]);
    at += lengths[i];
  }
  return out;
}

export function decodeSymbols(raw: Uint8Array): SymbolsSection {
  const r = new ByteReader(raw, "symbols section");
  const nm = r.count("mapping", 6);
  const mappingStart = new BigUint64Array(nm + 1);
  const mappingLimit = new BigUint64Array(nm + 1);
  const mappingOffset = new BigUint64Array(nm + 1);
  const mappingFile = new Int32Array(nm + 1);
  const mappingBuildId = new Int32Array(nm + 1);
  const mappingFlags = new Int32Array(nm + 1);
  readU64s(r, nm, mappingStart, 1, false);
  for (let i = 1; i <= nm; i++) mappingLimit[i] = BigInt.asUintN(64, mappingStart[i] + r.u64varint());
  readU64s(r, nm, mappingOffset, 1, false);
  readIndices(r, nm, mappingFile, 1, ANY_INDEX, "mapping file");
  readIndices(r, nm, mappingBuildId, 1, ANY_INDEX, "mapping build id");
  readIndices(r, nm, mappingFlags, 1, ANY_INDEX, "mapping flags");

  const nf = r.count("function", 4);
  const fnName = new Int32Array(nf + 1);
  const fnSystemName = new Int32Array(nf + 1);
  const fnFile = new Int32Array(nf + 1);
  const fnStartLine = new Float64Array(nf + 1);
  readIndices(r, nf, fnName, 1, ANY_INDEX, "function name");
  readIndices(r, nf, fnSystemName, 1, ANY_INDEX, "function system name");
  readIndices(r, nf, fnFile, 1, ANY_INDEX, "function file");
  readNumbers(r, nf, fnStartLine, 1, false);

  const nl = r.count("location", 3);
  const locMapping = new Int32Array(nl + 1);
  const locAddress = new BigUint64Array(nl + 1);
  const locLineStart = new Int32Array(nl + 1);
  readIndices(r, nl, locMapping, 1, nm + 1, "location mapping");
  readU64s(r, nl, locAddress, 1, true);
  let nLines = 0;
  for (let i = 1; i <= nl; i++) {
    locLineStart[i] = nLines;
    nLines += r.uvarint();
    if (nLines * 2 > r.remaining) r.fail(`line count ${nLines} exceeds the remaining ${r.remaining} bytes`);
  }
  const lineFn = new Int32Array(nLines);
  const lineNo = new Float64Array(nLines);
  readIndices(r, nLines, lineFn, 0, nf + 1, "line function");
  readNumbers(r, nLines, lineNo, 0, false);
  r.done();
  return {
    mappingStart,
    mappingLimit,
    mappingOffset,
    mappingFile,
    mappingBuildId,
    mappingFlags,
    fnName,
    fnSystemName,
    fnFile,
    fnStartLine,
    locMapping,
    locAddress,
    locLineStart,
    lineFn,
    lineNo,
  };
}

export function decodeStacks(raw: Uint8Array): StacksSection {
  const r = new ByteReader(raw, "stacks section");
  const n = r.count("stack node", 2);
  const nodeParent = new Int32Array(n + 1);
  const nodeLoc = new Int32Array(n + 1);
  nodeParent[0] = -1;
  for (let i = 1; i <= n; i++) {
    const d = r.uvarint();
    if (d < 1 || d > i) r.fail(`stack node ${i} has parent offset ${d}`);
    nodeParent[i] = i - d;
  }
  readIndices(r, n, nodeLoc, 1, ANY_INDEX, "stack node location");
  r.done();
  return { nodeParent, nodeLoc };
}

export function decodeSeries(raw: Uint8Array): SeriesSection {
  const r = new ByteReader(raw, "series section");
  const n = r.count("series", 2);
  const seriesProfileType = new Int32Array(n);
  const seriesLabelStart = new Int32Array(n + 1);
  readIndices(r, n, seriesProfileType, 0, ANY_INDEX, "series profile type");
  let nLabels = 0;
  for (let i = 0; i < n; i++) {
    nLabels += 2 * r.uvarint();
    if (nLabels > r.remaining) r.fail(`label count ${nLabels} exceeds the remaining ${r.remaining} bytes`);
    seriesLabelStart[i + 1] = nLabels;
  }
  const seriesLabels = new Int32Array(nLabels);
  readIndices(r, nLabels, seriesLabels, 0, ANY_INDEX, "series label");
  r.done();
  return { seriesLabelStart, seriesLabels, seriesProfileType };
}

export function decodeProfiles(raw: Uint8Array): ProfilesSection {
  const r = new ByteReader(raw, "profiles section");
  const n = r.count("profile", 4);
  const profileSeries = new Int32Array(n);
  const profileTime = new Float64Array(n);
  const profileDuration = new Float64Array(n);
  const profileSampleStart = new Int32Array(n + 1);
  readIndices(r, n, profileSeries, 0, ANY_INDEX, "profile series");
  readNumbers(r, n, profileTime, 0, true);
  readNumbers(r, n, profileDuration, 0, false);
  let nSamples = 0;
  for (let i = 0; i < n; i++) {
    nSamples += r.uvarint();
    if (nSamples >= 2 ** 31) r.fail(`sample count ${nSamples} exceeds the Int32 range`);
    profileSampleStart[i + 1] = nSamples;
  }
  r.done();
  return { profileSeries, profileTime, profileDuration, profileSampleStart };
}

export function decodeSamples(raw: Uint8Array): SamplesSection {
  const r = new ByteReader(raw, "samples section");
  const n = r.count("sample", 4);
  const sampleNode = new Int32Array(n);
  const sampleValue = new Float64Array(n);
  const sampleSpan = new Int32Array(n);
  const sampleTrace = new Int32Array(n);
  readIndices(r, n, sampleNode, 0, ANY_INDEX, "sample stack node");
  readNumbers(r, n, sampleValue, 0, false);
  readIndices(r, n, sampleSpan, 0, ANY_INDEX, "sample span");
  readIndices(r, n, sampleTrace, 0, ANY_INDEX, "sample trace");
  r.done();
  return { sampleNode, sampleValue, sampleSpan, sampleTrace };
}

/**
 * A whole block object → a builder with the same contents. `service` picks the dataset; without
 * it the block must hold exactly one.
 */
export function decodeBlock(bytes: Uint8Array, service?: string, appendable = true): BlockBuilder {
  const read = readToc(bytes, bytes.length);
  if (!read.complete) throw new Error("block: truncated TOC");
  for (let k = 0; k < MAGIC.length; k++) if (bytes[k] !== MAGIC[k]) throw new Error("block: bad magic at the start of the object");
  const headerVersion = bytes[4] | (bytes[5] << 8);
  if (headerVersion !== VERSION) throw new Error(`block: header says version ${headerVersion}, trailer says ${VERSION}`);
  if (bytes[6] !== 0 || bytes[7] !== 0) throw new Error("block: reserved header field is not 0");
  const d = pickDataset(read.toc.datasets, service);
  const raw = (kind: SectionKind) => {
    const e = sectionOf(d, kind);
    return inflateSection(bytes.subarray(e.offset, e.offset + e.length), e);
  };
  const b = BlockBuilder.fromColumns({
    strings: decodeStrings(raw(SectionKind.Strings)),
    ...decodeSymbols(raw(SectionKind.Symbols)),
    ...decodeStacks(raw(SectionKind.Stacks)),
    ...decodeSeries(raw(SectionKind.Series)),
    ...decodeProfiles(raw(SectionKind.Profiles)),
    ...decodeSamples(raw(SectionKind.Samples)),
  }, appendable);
  if (b.seriesCount !== d.series || b.profileCount !== d.profiles || b.sampleCount !== d.samples) {
    throw new Error("block: the TOC summary disagrees with the sections");
  }
  return b;
}

function pickDataset(datasets: DatasetEntry[], service: string | undefined): DatasetEntry {
  if (service === undefined) {
    if (datasets.length !== 1) throw new Error(`block: holds ${datasets.length} datasets; name the service to decode`);
    return datasets[0];
  }
  const d = datasets.find((x) => x.service === service);
  if (!d) throw new Error(`block: no dataset for service ${JSON.stringify(service)}`);
  return d;
}
