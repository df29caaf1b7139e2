// The fuzzer's own PRNG, so that a case depends only on (seed, index) and the corpus, never on
// Math.random or on the cases before it: sfc32 seeded by a splitmix32 hash of the pair.

function splitmix32(x) {
  x = (x + 0x9e3779b9) | 0;
  let z = x;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return [x, (z ^ (z >>> 16)) >>> 0];
}

export class Rng {
  constructor(seed, index) {
    let s = (seed >>> 0) ^ Math.imul(index >>> 0, 0x27d4eb2d);
    const words = [];
    for (let i = 0; i < 4; i++) {
      const [next, out] = splitmix32(s + i * 0x632be5ab);
      s = next;
      words.push(out);
    }
    [this.a, this.b, this.c, this.d] = words;
    for (let i = 0; i < 12; i++) this.u32();
  }

  u32() {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** An integer in [0, n). */
  int(n) {
    return n <= 0 ? 0 : Math.floor((this.u32() / 4294967296) * n);
  }

  /** An integer in [lo, hi]. */
  range(lo, hi) {
    return lo + this.int(hi - lo + 1);
  }

  /** An integer in [lo, hi], spread evenly over orders of magnitude (small values as often as large). */
  logRange(lo, hi) {
    const l = Math.log(Math.max(1, lo));
    return Math.min(hi, Math.max(lo, Math.round(Math.exp(l + (this.u32() / 4294967296) * (Math.log(hi) - l)))));
  }

  chance(p) {
    return this.u32() / 4294967296 < p;
  }

  pick(items) {
    return items[this.int(items.length)];
  }

  bytes(n) {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.u32() & 0xff;
    return out;
  }
}
