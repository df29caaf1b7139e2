// Id → position lookups for pprof's mappings, locations and functions. Samples reference
// locations millions of times per upload, and most producers number entities 1…n, so small ids
// are looked up in a flat table and only the rest (address-like or above 2^53) in a Map.

export class IdIndex {
  /** Position + 1 of small ids, 0 = none. */
  private readonly direct: Int32Array;
  private readonly others = new Map<number, number>();

  /** When an id repeats, the last entity with it wins. */
  constructor(ids: Float64Array) {
    const limit = ids.length * 4 + 64;
    let max = -1;
    for (let i = 0; i < ids.length; i++) if (ids[i] < limit && ids[i] > max) max = ids[i];
    this.direct = new Int32Array(max + 1);
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (id >= 0 && id <= max) this.direct[id] = i + 1;
      else this.others.set(id, i);
    }
  }

  /** The position of the entity with `id`, -1 when there is none. */
  get(id: number): number {
    if (id >= 0 && id < this.direct.length) return this.direct[id] - 1;
    return this.others.get(id) ?? -1;
  }
}
