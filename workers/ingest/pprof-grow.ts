// Geometric growth for typed arrays filled while decoding, where the final count is only known at
// the end. Doubling keeps the copies amortised O(1) per entry, and since every entry consumes at
// least one input byte the capacity stays within twice what the input can hold.

type Growable = Int32Array | Float64Array | BigUint64Array;

/** `a` when it holds at least `n` entries, else a zero-padded copy at least twice as large. */
export function room<T extends Growable>(a: T, n: number): T {
  if (n <= a.length) return a;
  let size = Math.max(16, a.length * 2);
  while (size < n) size *= 2;
  const grown = new (a.constructor as new (size: number) => T)(size);
  (grown as { set(a: T): void }).set(a);
  return grown;
}
