// Explore: one selection (profile type, service, label filters, time range) as a time series
// (optionally grouped by a label) and a merged flame graph beside its top functions table, with a
// pprof download. Everything it shows is determined by the URL.

import { useEffect, useState } from "preact/hooks";
import { parseProfileType, preferredProfileType } from "../../api/profile-type";
import { labelNames, type Selection, selectMergeStacktraces, selectSeries, type TimeRange } from "../../api/querier";
import { FlameGraph, TopTable } from "../../flamegraph";
import { useCatalog } from "../catalog";
import { useLoad, useTimeRange } from "../data";
import { downloadPprof, pprofFileName } from "../download";
import { LabelFilterBuilder } from "../LabelFilterBuilder";
import { compareHref, currentSelection } from "../links";
import { ProfileTypePicker, ServicePicker } from "../pickers";
import { type Route, updateParams } from "../router";
import { formatSelector, type Matcher, parseSelector, serviceSelector } from "../selector";
import { Empty, ErrorState, Loading, NoTypeYet } from "../states";
import { useTheme } from "../theme";
import { DEFAULT_FROM, DEFAULT_UNTIL, stepSeconds } from "../time";
import { TimeRangePicker } from "../TimeRangePicker";
import { TimeSeriesChart } from "../TimeSeriesChart";

export function ExploreView({ route }: { route: Route }) {
  const p = route.params;
  const service = p.get("service") ?? "";
  const type = p.get("type") ?? "";
  const from = p.get("from") ?? DEFAULT_FROM;
  const until = p.get("until") ?? DEFAULT_UNTIL;
  const query = p.get("query") ?? "";
  const catalog = useCatalog();
  const range = useTimeRange(from, until);
  const filters = parseSelector(query);

  // A bare #/explore (the nav link, a first visit) opens the first service at its preferred type.
  useEffect(() => {
    if (catalog.status !== "ok") return;
    const svc = service || [...catalog.data.keys()][0];
    const t = type || preferredProfileType(catalog.data.get(svc ?? "") ?? []);
    if (svc && t && (svc !== service || t !== type)) updateParams(route, { service: svc, type: t }, { replace: true });
  }, [catalog, service, type]);

  const set = (changes: Record<string, string | undefined>, replace = false) => updateParams(route, changes, { replace });

  const toolbar = (
    <div class="toolbar">
      <h1 class="view-title">Explore</h1>
      <ProfileTypePicker types={catalog.status === "ok" ? (catalog.data.get(service) ?? []) : []} value={type} onChange={(t) => set({ type: t })} />
      <ServicePicker
        services={catalog.status === "ok" ? [...catalog.data.keys()] : []}
        value={service}
        onChange={(s) => {
          // keep the profile type when the new service has it, as switching between pods of one app does
          const types = catalog.status === "ok" ? (catalog.data.get(s) ?? []) : [];
          set({ service: s, type: types.includes(type) ? type : preferredProfileType(types) });
        }}
      />
      <TimeRangePicker from={from} until={until} onChange={(f, u) => set({ from: f, until: u })} />
      <span class="spacer" />
      <a class="btn" href={compareHref(currentSelection(route))} data-testid="open-compare">
        Compare…
      </a>
    </div>
  );

  let body;
  if (catalog.status === "loading") body = <Loading what="services" />;
  else if (catalog.status === "error") body = <ErrorState what="services" error={catalog.error} />;
  else if (catalog.data.size === 0 && !service) body = <Empty>No services yet: nothing to explore until profiles arrive.</Empty>;
  else if (range instanceof Error) body = <ErrorState what="the time range" error={range} />;
  else if (filters === null) body = <ErrorState what="the label filters" error={new Error(`cannot parse ${query}; expected {name="value", …}`)} />;
  else if (!service || !type) body = <NoTypeYet service={service} types={catalog.data} />;
  else body = <ExploreBody route={route} service={service} type={type} filters={filters} range={range} />;

  return (
    <section class="view" data-testid="explore">
      {toolbar}
      {body}
    </section>
  );
}

interface BodyProps {
  route: Route;
  service: string;
  type: string;
  filters: Matcher[];
  range: TimeRange;
}

function ExploreBody({ route, service, type, filters, range }: BodyProps) {
  const p = route.params;
  const groupBy = p.get("groupBy") ?? "";
  const search = p.get("search") ?? "";
  const selected = p.get("fn");
  const unit = parseProfileType(type).sampleUnit;
  const set = (changes: Record<string, string | undefined>, replace = false) => updateParams(route, changes, { replace });
  const theme = useTheme();

  const sel: Selection = { profileTypeID: type, labelSelector: serviceSelector(service, filters), ...range };
  const selKey = JSON.stringify(sel);
  // Label names and values are those of the selected type and filters, so every suggestion matches data.
  const scope = formatSelector([{ name: "service_name", op: "=", value: service }, { name: "__profile_type__", op: "=", value: type }, ...filters]);
  const names = useLoad(JSON.stringify([scope, range]), (signal) => labelNames(scope, range, signal));
  const nameList = names.status === "ok" ? names.data.filter((n) => n !== "service_name") : [];
  const series = useLoad(JSON.stringify([selKey, groupBy]), (signal) =>
    selectSeries(sel, stepSeconds(range.start, range.end), groupBy ? [groupBy] : [], signal),
  );
  const flame = useLoad(selKey, (signal) => selectMergeStacktraces(sel, signal));

  return (
    <>
      <div class="toolbar">
        <LabelFilterBuilder
          filters={filters}
          names={nameList}
          scope={scope}
          range={range}
          onChange={(next) => set({ query: next.length ? formatSelector(next) : undefined })}
        />
        {names.status === "error" && <span class="error-text">label names: {names.error.message}</span>}
      </div>

      <div class="panel">
        <div class="panel-header">
          <h2>Time series</h2>
          <label class="field inline">
            <span class="field-label">Group by</span>
            <select class="input" value={groupBy} data-testid="group-by" onChange={(e) => set({ groupBy: e.currentTarget.value })}>
              <option value="">none</option>
              {(groupBy && !nameList.includes(groupBy) ? [groupBy, ...nameList] : nameList).map((n) => (
                <option key={n} value={n}>
                  {n}
                </option>
              ))}
            </select>
          </label>
          <span class="muted hint">drag across the chart to zoom in</span>
        </div>
        <div class="chart-box" data-testid="timeseries">
          {series.status === "loading" && <Loading what="the time series" />}
          {series.status === "error" && <ErrorState what="the time series" error={series.error} />}
          {series.status === "ok" && series.data.length === 0 && <Empty>No profiles for this selection in this time range.</Empty>}
          {series.status === "ok" && series.data.length > 0 && (
            <TimeSeriesChart
              series={series.data}
              unit={unit}
              start={range.start}
              end={range.end}
              onSelectRange={(f, u) => set({ from: String(f), until: String(u) })}
            />
          )}
        </div>
      </div>

      <div class="panel">
        <div class="panel-header">
          <h2>Flame graph</h2>
          <input
            class="input search"
            type="search"
            placeholder="Search functions…"
            value={search}
            data-testid="search"
            onInput={(e) => set({ search: e.currentTarget.value }, true)}
          />
          <span class="spacer" />
          <DownloadButton sel={sel} service={service} type={type} disabled={flame.status !== "ok" || flame.data.total === 0} />
        </div>
        {flame.status === "loading" && <Loading what="the flame graph" />}
        {flame.status === "error" && <ErrorState what="the flame graph" error={flame.error} />}
        {flame.status === "ok" && flame.data.total === 0 && <Empty>No profiles for this selection in this time range.</Empty>}
        {flame.status === "ok" && flame.data.total > 0 && (
          <div class="profile-split">
            <div class="profile-table">
              <TopTable
                data={flame.data}
                unit={unit}
                search={search}
                selectedName={selected}
                // a second click on the selected row clears the selection
                onSelectName={(n) => set({ fn: n === selected ? undefined : n }, true)}
              />
            </div>
            <div class="profile-flame">
              <FlameGraph
                data={flame.data}
                unit={unit}
                search={search}
                selectedName={selected}
                onSelectName={(n) => set({ fn: n }, true)}
                theme={theme}
              />
            </div>
          </div>
        )}
      </div>
    </>
  );
}

function DownloadButton({ sel, service, type, disabled }: { sel: Selection; service: string; type: string; disabled: boolean }) {
  const [state, setState] = useState<{ busy: boolean; error?: string }>({ busy: false });
  const download = async () => {
    setState({ busy: true });
    try {
      await downloadPprof(sel, pprofFileName(service, parseProfileType(type).sampleType, sel.start));
      setState({ busy: false });
    } catch (err) {
      setState({ busy: false, error: (err as Error).message });
    }
  };
  return (
    <>
      {state.error && (
        <span class="error-text" data-testid="download-error">
          {state.error}
        </span>
      )}
      <button type="button" class="btn" data-testid="download-pprof" disabled={disabled || state.busy} onClick={download} title="Download the merged profile as pprof (.pb.gz)">
        {state.busy ? "Downloading…" : "⤓ pprof"}
      </button>
    </>
  );
}
