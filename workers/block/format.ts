// Constants and table-of-contents types of the block object format (see README.md in this folder).

/** "EPYB": Edge PYroscope Block, at both ends of the object. */
export const MAGIC = Uint8Array.of(0x45, 0x50, 0x59, 0x42);
/** Bumped on any change an existing reader would misread; readers refuse other versions. */
export const VERSION = 1;
/** Magic (4), version u16, reserved u16. */
export const HEADER_SIZE = 8;
/** TOC offset u64, TOC length u32, TOC CRC-32 u32, version u16, reserved u16, magic (4). */
export const TRAILER_SIZE = 24;
/** A first suffix read of this many bytes holds the whole TOC of any ordinary block. */
export const DEFAULT_TAIL_BYTES = 16 * 1024;
/** Deflate cannot expand one input byte into more than 1032 output bytes (258 per 2 bits). */
export const MAX_INFLATE_RATIO = 1032;

export const SectionKind = {
  Strings: 1,
  Symbols: 2,
  Stacks: 3,
  Series: 4,
  Profiles: 5,
  Samples: 6,
} as const;
export type SectionKind = (typeof SectionKind)[keyof typeof SectionKind];

/**
 * The sections every v1 dataset holds, in the order the writer lays them out: strings, series and
 * profiles are adjacent so that label and series queries fetch them with one range read.
 */
export const REQUIRED_SECTIONS: readonly SectionKind[] = [
  SectionKind.Symbols,
  SectionKind.Stacks,
  SectionKind.Strings,
  SectionKind.Series,
  SectionKind.Profiles,
  SectionKind.Samples,
];

export interface SectionEntry {
  kind: number;
  /** Absolute byte offset of the compressed section in the object. */
  offset: number;
  /** Compressed length in bytes. */
  length: number;
  /** Length after inflating. */
  rawLength: number;
  /** CRC-32 of the compressed bytes. */
  crc32: number;
}

export interface TypeSummary {
  profileType: string;
  profiles: number;
  samples: number;
  /** Σ sample values of this type. */
  total: number;
}

export interface DatasetSummary {
  /** Unix ms of the earliest and latest profile; both 0 when there are no profiles. */
  minTimeMs: number;
  maxTimeMs: number;
  series: number;
  profiles: number;
  samples: number;
  /** Sorted by profile type id. */
  types: TypeSummary[];
}

export interface DatasetEntry extends DatasetSummary {
  service: string;
  sections: SectionEntry[];
}

export interface Toc {
  version: number;
  tenant: string;
  blockId: string;
  shard: number;
  createdAtMs: number;
  /** Sorted by service, at most one per service. */
  datasets: DatasetEntry[];
}

/** The dataset's section of `kind`; the TOC reader guarantees required kinds exist. */
export function sectionOf(d: DatasetEntry, kind: SectionKind): SectionEntry {
  const s = d.sections.find((e) => e.kind === kind);
  if (!s) throw new Error(`block: dataset ${JSON.stringify(d.service)} has no section of kind ${kind}`);
  return s;
}
