// Active-series limits per tenant and per service (Pyroscope's max_global_series_per_tenant,
// discard reason `series_limit`): a push that would make more series active than the limit is
// refused whole; series already active always pass. A series is active while it received a
// profile in the last SERIES_ACTIVE_MS, as a Pyroscope ingester holds a series in its head block.

export const SERIES_ACTIVE_MS = 3_600_000;

export interface SeriesLimits {
  /** 0 = unlimited. */
  perTenant: number;
  perService: number;
}

export interface SeriesCounts {
  tenant: number;
  byService: ReadonlyMap<string, number>;
}

/** Why `fresh` (series not active yet, by service) cannot be admitted, or null when they can. */
export function seriesRefusal(active: SeriesCounts, fresh: ReadonlyMap<string, number>, limits: SeriesLimits): string | null {
  let added = 0;
  for (const [service, n] of fresh) {
    added += n;
    const now = active.byService.get(service) ?? 0;
    if (limits.perService > 0 && now + n > limits.perService) {
      return `per-service series limit of ${limits.perService} exceeded for service ${JSON.stringify(service)} (${now} active, ${n} new); reduce the label cardinality or ask for a higher MAX_SERIES_PER_SERVICE`;
    }
  }
  if (limits.perTenant > 0 && active.tenant + added > limits.perTenant) {
    return `per-tenant series limit of ${limits.perTenant} exceeded (${active.tenant} active, ${added} new); reduce the label cardinality or ask for a higher MAX_SERIES_PER_TENANT`;
  }
  return null;
}
