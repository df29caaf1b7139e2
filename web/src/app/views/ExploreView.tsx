// Explore: one selection (profile type, service, label filters, time range) as a time series
// (optionally grouped by a label) and a merged flame graph beside its top functions table, with a
// pprof download. A click on the chart narrows the flame graph to the greatest profile of that
// point (`profile` in the URL). Everything it shows is determined by the URL.

import { useEffect, useState } from "preact/hooks";
import { parseProfileType, preferredProfileType } from "../../api/profile-type";
import { type Exemplar, labelNames, type Selection, selectMergeStacktraces, selectSeries, type TimeRange } from "../../api/querier";
import { FlameGraph, formatValue, TopTable } from "../../flamegraph";
import { useCatalog } from "../catalog";
import { useLoad, useTimeRange } from "../data";
import { downloadPprof, pprofFileName } from "../download";
import { exemplarById, greatestExemplarAt } from "../exemplars";
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
  // A new selection no longer holds the profile picked in the old one.
  const choose = (changes: Record<string, string | undefined>) => set({ ...changes, profile: undefined });

  const toolbar = (
    <div class="toolbar">
      <h1 class="view-title">Explore</h1>
      <ProfileTypePicker types={catalog.status === "ok" ? (catalog.data.get(service) ?? []) : []} value={type} onChange={(t) => choose({ type: t })} />
      <ServicePicker
        services={catalog.status === "ok" ? [...catalog.data.keys()] : []}
        value={service}
        onChange={(s) => {
          // keep the profile type when the new service has it, as switching between pods of one app does
          const types = catalog.status === "ok" ? (catalog.data.get(s) ?? []) : [];
          choose({ service: s, type: types.includes(type) ? type : preferredProfileType(types) });
        }}
      />
      <TimeRangePicker from={from} until={until} onChange={(f, u) => choose({ from: f, until: u })} />
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
  const profile = p.get("profile") ?? "";
  const unit = parseProfileType(type).sampleUnit;
  const set = (changes: Record<string, string | undefined>, replace = false) => updateParams(route, changes, { replace });
  const choose = (changes: Record<string, string | undefined>) => set({ ...changes, profile: undefined });
  const theme = useTheme();

  const sel: Selection = { profileTypeID: type, labelSelector: serviceSelector(service, filters), ...range };
  const selKey = JSON.stringify(sel);
  // Label names and values are those of the selected type and filters, so every suggestion matches data.
  const scope = formatSelector([{ name: "service_name", op: "=", value: service }, { name: "__profile_type__", op: "=", value: type }, ...filters]);
  const names = useLoad(JSON.stringify([scope, range]), (signal) => labelNames(scope, range, signal));
  const nameList = names.status === "ok" ? names.data.filter((n) => n !== "service_name") : [];
  const series = useLoad(JSON.stringify([selKey, groupBy]), (signal) =>
    selectSeries(sel, stepSeconds(range.start, range.end), groupBy ? [groupBy] : [], signal, true),
  );
  const profileIds = profile ? [profile] : [];
  const flame = useLoad(JSON.stringify([selKey, profile]), (signal) => selectMergeStacktraces(sel, signal, profileIds));
  const picked = profile && series.status === "ok" ? exemplarById(series.data, profile) : undefined;

  return (
    <>
      <div class="toolbar">
        <LabelFilterBuilder
          filters={filters}
          names={nameList}
          scope={scope}
          range={range}
          onChange={(next) => choose({ query: next.length ? formatSelector(next) : undefined })}
        />
        {names.status === "error" && <span class="error-text">label names: {names.error.message}</span>}
      </div>

      <div class="panel">
        <div class="panel-header">
          <h2>Time series</h2>
          <label class="field inline">
            <span class="field-label">Group by</span>
            <select class="input" value={groupBy} data-testid="group-by" onChange={(e) => choose({ groupBy: e.currentTarget.value })}>
              <option value="">none</option>
              {(groupBy && !nameList.includes(groupBy) ? [groupBy, ...nameList] : nameList).map((n) => (
                <option key={n} value={n}>
                  {n}
                </option>
              ))}
            </select>
          </label>
          <span class="muted hint">drag across the chart to zoom in, click a point to see its largest profile</span>
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
              onSelectRange={(f, u) => choose({ from: String(f), until: String(u) })}
              onPickTime={(t) => {
                const e = greatestExemplarAt(series.data, t);
                if (e) set({ profile: e.profileId });
              }}
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
          {profile && <PickedProfile profileId={profile} exemplar={picked} unit={unit} onClear={() => set({ profile: undefined })} />}
          <span class="spacer" />
          <DownloadButton sel={sel} profileIds={profileIds} service={service} type={type} disabled={flame.status !== "ok" || flame.data.total === 0} />
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

/** The profile the flame graph is narrowed to, described by its exemplar once the series has loaded. */
interface PickedProfileProps {
  profileId: string;
  exemplar: Exemplar | undefined;
  unit: string;
  onClear: () => void;
}

function PickedProfile({ profileId, exemplar, unit, onClear }: PickedProfileProps) {
  const labels = exemplar?.labels.map((l) => `${l.name}=${l.value}`).join(", ");
  return (
    <span class="chip" data-testid="picked-profile" data-profile-id={profileId}>
      {exemplar ? `one profile: ${new Date(exemplar.timestamp).toLocaleString()} · ${formatValue(exemplar.value, unit)}${labels ? ` · ${labels}` : ""}` : "one profile"}
      <button type="button" class="chip-remove" data-testid="picked-profile-clear" title="Show every profile of the selection" onClick={onClear}>
        ×
      </button>
    </span>
  );
}

interface DownloadProps {
  sel: Selection;
  profileIds: string[];
  service: string;
  type: string;
  disabled: boolean;
}

function DownloadButton({ sel, profileIds, service, type, disabled }: DownloadProps) {
  const [state, setState] = useState<{ busy: boolean; error?: string }>({ busy: false });
  const download = async () => {
    setState({ busy: true });
    try {
      await downloadPprof(sel, pprofFileName(service, parseProfileType(type).sampleType, sel.start), profileIds);
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
