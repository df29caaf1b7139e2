// How to read a value of any class the metadata defines. Every event and constant pool entry is
// a sequence of field values laid out by its class; the decoder reads the few fields it needs and
// skips the rest, so each class is compiled once per chunk into a Layout that skips a value
// without looking at field names, and into Plans that also capture chosen fields. Skipping is
// most of the work (every constant must be stepped over to find the next), so scalar fields get
// a width, and values made only of scalars (stack frames) are skipped in one tight loop.

import type { JfrClass, Metadata } from "./metadata";
import { type JfrReader, malformed } from "./reader";

export const enum Kind {
  /** boolean, byte: one byte. */
  Byte,
  /** short, char: a varint, or 2 bytes. */
  Short,
  /** int: a varint, or 4 bytes. */
  Int,
  /** long, and every constant pool reference: a varint, or 8 bytes. */
  Long,
  Float,
  Double,
  String,
  /** A value of a class with fields, stored inline. */
  Struct,
}

const PRIMITIVES: Record<string, Kind> = {
  boolean: Kind.Byte,
  byte: Kind.Byte,
  short: Kind.Short,
  char: Kind.Short,
  int: Kind.Int,
  long: Kind.Long,
  float: Kind.Float,
  double: Kind.Double,
  "java.lang.String": Kind.String,
};

const MAX_NESTING = 32;

/** Field widths: a varint, or a value that is not one scalar (string, struct, array). */
const VARINT = 0;
const COMPOUND = -1;

export interface FieldLayout {
  name: string;
  kind: Kind;
  array: boolean;
  /** Bytes of a fixed-size scalar, VARINT or COMPOUND (every array is COMPOUND). */
  width: number;
  /** The width of one value: of the field itself, or of each element of an array. */
  elementWidth: number;
  /** The fields of a Struct value. */
  struct: Layout | undefined;
  /** The fewest bytes one (non-array) value takes; 0 for a struct without fields. */
  minBytes: number;
}

export interface Layout {
  cls: JfrClass;
  fields: FieldLayout[];
  minBytes: number;
  /** The field widths when every field is a scalar, for skipScalars. */
  scalars: Int8Array | undefined;
}

/** Compiles layouts on demand for one chunk's metadata. */
export class Layouts {
  private readonly done = new Map<number, Layout>();
  private readonly compiling = new Set<number>();

  constructor(
    private readonly metadata: Metadata,
    /** The chunk's compressed-integers feature: integers are varints. */
    private readonly compressed: boolean,
  ) {}

  private width(kind: Kind): number {
    switch (kind) {
      case Kind.Byte:
        return 1;
      case Kind.Short:
        return this.compressed ? VARINT : 2;
      case Kind.Int:
        return this.compressed ? VARINT : 4;
      case Kind.Long:
        return this.compressed ? VARINT : 8;
      case Kind.Float:
        return 4;
      case Kind.Double:
        return 8;
      default:
        return COMPOUND;
    }
  }

  of(cls: JfrClass): Layout {
    let layout = this.done.get(cls.id);
    if (layout) return layout;
    // A class holding itself by value would describe an infinitely large value.
    if (this.compiling.has(cls.id)) throw malformed(`class ${cls.name} contains itself by value`);
    // Reading follows the nesting recursively: keep it far from the call stack's limit.
    if (this.compiling.size >= MAX_NESTING) throw malformed(`classes nested by value deeper than ${MAX_NESTING}`);
    this.compiling.add(cls.id);
    // A value of a primitive class (in a constant pool: the JDK pools java.lang.String) is the
    // primitive itself.
    const primitive = PRIMITIVES[cls.name];
    const scalarField = (name: string, kind: Kind, array: boolean): FieldLayout => {
      const width = this.width(kind);
      return { name, kind, array, width: array ? COMPOUND : width, elementWidth: width, struct: undefined, minBytes: Math.max(1, width) };
    };
    const fields =
      primitive !== undefined
        ? [scalarField("", primitive, false)]
        : cls.fields.map((f): FieldLayout => {
            const type = this.metadata.classes.get(f.type)!;
            const scalar = f.constantPool ? Kind.Long : PRIMITIVES[type.name];
            if (scalar !== undefined) return scalarField(f.name, scalar, f.array);
            const struct = this.of(type);
            return { name: f.name, kind: Kind.Struct, array: f.array, width: COMPOUND, elementWidth: COMPOUND, struct, minBytes: struct.minBytes };
          });
    this.compiling.delete(cls.id);
    let minBytes = 0;
    for (const f of fields) minBytes += f.array ? 1 : f.minBytes;
    const scalars = fields.every((f) => f.width !== COMPOUND) ? Int8Array.from(fields, (f) => f.width) : undefined;
    layout = { cls, fields, minBytes, scalars };
    this.done.set(cls.id, layout);
    return layout;
  }
}

/** Skips one value of `layout`. */
export function skipValue(r: JfrReader, layout: Layout): void {
  if (layout.scalars) r.skipScalars(layout.scalars);
  else for (const f of layout.fields) skipField(r, f);
}

export function skipField(r: JfrReader, f: FieldLayout): void {
  if (!f.array) {
    skipOne(r, f);
    return;
  }
  const n = r.count(`${f.name} array element`, Math.max(1, f.minBytes));
  // Elements that take no bytes (structs without fields) need no loop, however many are claimed.
  if (f.minBytes === 0) return;
  // Fixed-width elements (the JDK's byte arrays, such as the chunk header it pools) in one step.
  if (f.elementWidth > 0) r.skip(n * f.elementWidth);
  else for (let i = 0; i < n; i++) skipOne(r, f);
}

function skipOne(r: JfrReader, f: FieldLayout): void {
  if (f.kind === Kind.Struct) skipValue(r, f.struct!);
  else if (f.kind === Kind.String) r.skipString();
  else r.skipScalar(f.elementWidth);
}

/**
 * Reads values of one class, capturing the named scalar fields into slots: integers as two 32-bit
 * halves (`hi`, `lo`), strings decoded (`str`). A wanted field the class lacks, or whose shape
 * differs from what the decoder expects (an array, a struct, a string where an integer is wanted),
 * is skipped, and its slot keeps reading as zero or "" (nothing else writes a plan's slots).
 */
export class Plan {
  readonly hi: Uint32Array;
  readonly lo: Uint32Array;
  readonly str: string[];
  private readonly slots: Int32Array;

  constructor(
    readonly layout: Layout,
    /** Field name → slot, for integer fields (and constant pool references). */
    integers: Record<string, number>,
    /** Field name → slot, for string fields. */
    strings: Record<string, number> = {},
  ) {
    const size = Math.max(0, ...Object.values(integers), ...Object.values(strings)) + 1;
    this.hi = new Uint32Array(size);
    this.lo = new Uint32Array(size);
    this.str = new Array<string>(size).fill("");
    this.slots = Int32Array.from(layout.fields, (f) => {
      if (f.array) return -1;
      const integer = integers[f.name];
      if (integer !== undefined && f.kind >= Kind.Short && f.kind <= Kind.Long) return integer;
      const string = strings[f.name];
      if (string !== undefined && f.kind === Kind.String) return string;
      return -1;
    });
  }

  /** Reads one value; `pooled` resolves strings that refer to the string constant pool. */
  read(r: JfrReader, pooled: (key: number) => string): void {
    const fields = this.layout.fields;
    for (let i = 0; i < fields.length; i++) {
      const slot = this.slots[i];
      const f = fields[i];
      if (slot < 0) {
        if (f.width === COMPOUND) skipField(r, f);
        else r.skipScalar(f.width);
      } else if (f.kind === Kind.String) this.str[slot] = r.string(pooled);
      else if (f.kind === Kind.Long) {
        r.long();
        this.hi[slot] = r.hi;
        this.lo[slot] = r.lo;
      } else {
        this.lo[slot] = r.int(f.kind === Kind.Short ? 2 : 4) >>> 0;
      }
    }
  }

  /** A captured integer as a number (exact up to 2^53). */
  number(slot: number): number {
    return this.hi[slot] * 4294967296 + this.lo[slot];
  }
}
