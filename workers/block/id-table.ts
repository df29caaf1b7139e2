// An open-addressing hash index from content to row id for the builder's numeric tables
// (functions, locations, stack nodes). It stores ids only; the caller compares contents, so no key
// strings are built and interning allocates nothing. Probe loop, allocation-free:
//
//   let slot = t.first(hash);
//   for (let id = t.at(slot); id !== -1; id = t.at((slot = t.next(slot)))) if (same(id)) return id;
//   t.put(slot, newId);

/** A one-slot table holding "empty", shared by every index that has no id yet: probes end at once. */
const NONE = new Int32Array(1).fill(-1);
const INITIAL_SLOTS = 1024;

export class IdTable {
  private slots = NONE;
  private mask = 0;
  private count = 0;

  /** `hashOf(id)` must give the hash the row was put with: growing re-places every id. */
  constructor(private readonly hashOf: (id: number) => number) {}

  first(hash: number): number {
    return hash & this.mask;
  }
  next(slot: number): number {
    return (slot + 1) & this.mask;
  }
  /** The id in `slot`, or -1 when the slot is empty (the end of the probe). */
  at(slot: number): number {
    return this.slots[slot];
  }
  /** Puts `id` into the empty `slot` that ended a probe. */
  put(slot: number, id: number): void {
    if (this.slots === NONE) {
      // The first id: the probe ran over the shared table, so place it by its hash in a real one.
      this.slots = new Int32Array(INITIAL_SLOTS).fill(-1);
      this.mask = INITIAL_SLOTS - 1;
      slot = this.hashOf(id) & this.mask;
    }
    this.slots[slot] = id;
    if (++this.count * 2 > this.slots.length) this.grow();
  }
  /** Adds `id` without a prior probe (for rebuilding an index); keeps the first of equal rows. */
  add(hash: number, id: number, same: (other: number) => boolean): void {
    let slot = this.first(hash);
    for (let other = this.at(slot); other !== -1; other = this.at((slot = this.next(slot)))) if (same(other)) return;
    this.put(slot, id);
  }

  private grow(): void {
    const old = this.slots;
    this.slots = new Int32Array(old.length * 2).fill(-1);
    this.mask = this.slots.length - 1;
    for (const id of old) {
      if (id === -1) continue;
      let slot = this.hashOf(id) & this.mask;
      while (this.slots[slot] !== -1) slot = (slot + 1) & this.mask;
      this.slots[slot] = id;
    }
  }
}

/** Mixes `v` into running hash `h` (murmur3-style), so low bits depend on every input bit. */
export function mix(h: number, v: number): number {
  let k = Math.imul(v | 0, 0xcc9e2d51);
  k = Math.imul((k << 15) | (k >>> 17), 0x1b873593);
  h ^= k;
  return Math.imul((h << 13) | (h >>> 19), 5) + 0xe6546b64;
}

/** Final avalanche of a mixed hash. */
export function finish(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}
