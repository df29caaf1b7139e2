// The active-series index of one tenant, in memory: each series' last-seen time (as stored), and
// counts per service, so that the limit check of a push looks up only that push's series. Reading
// every active row for each push cost about 40 ms with 20,000 series, which is all of a Tenant
// object's time at 25 pushes per second.

import type { SeriesCounts } from "./series-limit";

const id = (service: string, key: string) => `${service}\u0000${key}`;

export class ActiveSeries {
  /** Series → last seen, in insertion order, which is the order of last seen (see add). */
  private readonly seen = new Map<string, number>();
  private readonly perService = new Map<string, number>();

  /**
   * Records `service`/`key` as seen at `atMs`. Callers add in non-decreasing time (rows loaded in
   * order of seen, then the pushes' clocks), so that expiry can stop at the first live series; a
   * clock that steps back only keeps a series counted a little longer.
   */
  add(service: string, key: string, atMs: number): void {
    const k = id(service, key);
    if (this.seen.delete(k) === false) this.perService.set(service, (this.perService.get(service) ?? 0) + 1);
    this.seen.set(k, atMs);
  }

  seenAt(service: string, key: string): number | undefined {
    return this.seen.get(id(service, key));
  }

  /** Forgets the series last seen before `sinceMs`; returns them as [service, key]. */
  expire(sinceMs: number): [string, string][] {
    const out: [string, string][] = [];
    for (const [k, at] of this.seen) {
      if (at >= sinceMs) break;
      this.seen.delete(k);
      const cut = k.indexOf("\u0000");
      const service = k.slice(0, cut);
      const left = (this.perService.get(service) ?? 1) - 1;
      if (left > 0) this.perService.set(service, left);
      else this.perService.delete(service);
      out.push([service, k.slice(cut + 1)]);
    }
    return out;
  }

  counts(): SeriesCounts {
    return { tenant: this.seen.size, byService: this.perService };
  }
}
