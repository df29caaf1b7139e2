// Growable typed-array columns: hot paths append numbers without allocating per-row objects.

export type TypedArray = Int32Array | Float64Array | BigUint64Array;
type TypedCtor<T extends TypedArray> = { new (n: number): T };

export abstract class Column<T extends TypedArray, V> {
  protected data: T;
  length = 0;
  constructor(
    private readonly ctor: TypedCtor<T>,
    initial = 64,
  ) {
    this.data = new ctor(initial);
  }
  protected grow(min: number): void {
    let cap = this.data.length * 2;
    while (cap < min) cap *= 2;
    const next = new this.ctor(cap);
    (next as unknown as { set(a: T): void }).set(this.data);
    this.data = next;
  }
  push(v: V): number {
    if (this.length === this.data.length) this.grow(this.length + 1);
    (this.data as unknown as V[])[this.length] = v;
    return this.length++;
  }
  get(i: number): V {
    return (this.data as unknown as V[])[i];
  }
  set(i: number, v: V): void {
    (this.data as unknown as V[])[i] = v;
  }
  /** Appends values[start, end) in one copy. */
  append(values: T, start = 0, end = values.length): void {
    const n = end - start;
    if (this.length + n > this.data.length) this.grow(this.length + n);
    (this.data as unknown as { set(a: T, at: number): void }).set(values.subarray(start, end) as T, this.length);
    this.length += n;
  }
  /** Makes `values` the column's storage, without a copy: for columns that are only read. */
  adopt(values: T): void {
    this.data = values;
    this.length = values.length;
  }
  truncate(n: number): void {
    this.length = n;
  }
  /** A view of the filled part (shares memory). */
  view(): T {
    return this.data.subarray(0, this.length) as T;
  }
}

export class I32Column extends Column<Int32Array, number> {
  constructor(initial = 64) {
    super(Int32Array, initial);
  }
}
export class F64Column extends Column<Float64Array, number> {
  constructor(initial = 64) {
    super(Float64Array, initial);
  }
}
export class U64Column extends Column<BigUint64Array, bigint> {
  constructor(initial = 64) {
    super(BigUint64Array, initial);
  }
}
