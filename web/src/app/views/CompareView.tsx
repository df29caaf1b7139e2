// Compare: two selections (different services or filters) or two time ranges of one profile type,
// side by side, and their diff flame graph coloured by relative change (baseline = left).

import { useEffect } from "preact/hooks";
import { parseProfileType, preferredProfileType } from "../../api/profile-type";
import { diff, labelNames, type Selection, selectMergeStacktraces, selectSeries, type TimeRange } from "../../api/querier";
import { FlameGraph, TopTable } from "../../flamegraph";
import { useCatalog } from "../catalog";
import { useLoad, useTimeRange } from "../data";
import { LabelFilterBuilder } from "../LabelFilterBuilder";
import { exploreHref, readSide, type SelectionParams, type Side, sideParams } from "../links";
import { ProfileTypePicker, ServicePicker } from "../pickers";
import { type Route, updateParams } from "../router";
import { formatSelector, type Matcher, parseSelector, serviceSelector } from "../selector";
import { Empty, ErrorState, Loading, NoTypeYet } from "../states";
import { useTheme } from "../theme";
import { DEFAULT_FROM, DEFAULT_UNTIL, splitRange, stepSeconds } from "../time";
import { TimeRangePicker } from "../TimeRangePicker";
import { TimeSeriesChart } from "../TimeSeriesChart";

const SIDE_TITLE: Record<Side, string> = { left: "Baseline", right: "Comparison" };

/** A side's selection with defaults applied. */
interface SideState {
  service: string;
  query: string;
  from: string;
  until: string;
}

export function CompareView({ route }: { route: Route }) {
  const catalog = useCatalog();
  const rawLeft = readSide(route.params, "left");
  const rawRight = readSide(route.params, "right");
  const type = route.params.get("type") ?? "";
  // Unset sides compare the first and the second half of the last hour of one service.
  const [firstHalf, secondHalf] = splitRange(DEFAULT_FROM, DEFAULT_UNTIL);
  const left = withDefaults(rawLeft, { from: firstHalf[0], until: firstHalf[1] });
  const right = withDefaults(rawRight, { service: left.service, query: left.query, from: secondHalf[0], until: secondHalf[1] });
  const leftRange = useTimeRange(left.from, left.until);
  const rightRange = useTimeRange(right.from, right.until);

  // A bare #/compare opens the first service at its preferred type, on both sides.
  useEffect(() => {
    if (catalog.status !== "ok") return;
    const svc = left.service || [...catalog.data.keys()][0];
    const t = type || preferredProfileType(catalog.data.get(svc ?? "") ?? []);
    if (svc && t && (svc !== left.service || t !== type)) {
      updateParams(route, { type: t, leftService: svc, rightService: right.service || svc }, { replace: true });
    }
  }, [catalog, left.service, right.service, type]);

  const set = (changes: Record<string, string | undefined>, replace = false) => updateParams(route, changes, { replace });
  const types = catalog.status === "ok" ? union(catalog.data.get(left.service), catalog.data.get(right.service)) : [];

  let body;
  if (catalog.status === "loading") body = <Loading what="services" />;
  else if (catalog.status === "error") body = <ErrorState what="services" error={catalog.error} />;
  else if (catalog.data.size === 0 && !left.service) body = <Empty>No services yet: nothing to compare until profiles arrive.</Empty>;
  else if (!left.service || !type) body = <NoTypeYet service={left.service} types={catalog.data} />;
  else {
    const sides = { left: { state: left, range: leftRange }, right: { state: right, range: rightRange } };
    const selections = {} as Record<Side, Selection | null>;
    for (const side of ["left", "right"] as const) {
      const { state, range } = sides[side];
      const filters = parseSelector(state.query);
      selections[side] = range instanceof Error || filters === null ? null : { profileTypeID: type, labelSelector: serviceSelector(state.service, filters), ...range };
    }
    body = (
      <>
        <div class="compare-sides">
          {(["left", "right"] as const).map((side) => (
            <SidePanel
              key={side}
              side={side}
              type={type}
              state={sides[side].state}
              range={sides[side].range}
              services={[...catalog.data.keys()]}
              onChange={(changes) => set(sideParams(side, { ...sides[side].state, ...changes }))}
            />
          ))}
        </div>
        <DiffPanel
          left={selections.left}
          right={selections.right}
          type={type}
          search={route.params.get("search") ?? ""}
          onSearch={(s) => set({ search: s }, true)}
          selected={route.params.get("fn")}
          onSelect={(n) => set({ fn: n ?? undefined }, true)}
        />
      </>
    );
  }

  return (
    <section class="view" data-testid="compare">
      <div class="toolbar">
        <h1 class="view-title">Compare</h1>
        <ProfileTypePicker types={types} value={type} onChange={(t) => set({ type: t })} />
        <span class="spacer" />
        <button
          type="button"
          class="btn"
          data-testid="swap-sides"
          title="Swap baseline and comparison"
          onClick={() => set({ ...sideParams("left", right), ...sideParams("right", left) })}
        >
          ⇄ Swap
        </button>
      </div>
      {body}
    </section>
  );
}

function withDefaults(raw: SelectionParams, fallback: { service?: string; query?: string; from: string; until: string }): SideState {
  return {
    service: raw.service ?? fallback.service ?? "",
    query: raw.query ?? fallback.query ?? "",
    from: raw.from ?? fallback.from,
    until: raw.until ?? fallback.until,
  };
}

function union(a: readonly string[] = [], b: readonly string[] = []): string[] {
  return [...new Set([...a, ...b])].sort();
}

interface SidePanelProps {
  side: Side;
  type: string;
  state: SideState;
  range: TimeRange | Error;
  services: string[];
  onChange: (changes: Partial<SideState>) => void;
}

/** One side: its own service, filters and range, with its time series and flame graph. */
function SidePanel({ side, type, state, range, services, onChange }: SidePanelProps) {
  const filters = parseSelector(state.query);
  return (
    <div class={`panel compare-side side-${side}`} data-testid={`compare-${side}`}>
      <div class="panel-header">
        <h2>
          <span class={`side-dot side-dot-${side}`} aria-hidden="true" /> {SIDE_TITLE[side]}
        </h2>
        <span class="spacer" />
        <a class="muted" href={exploreHref({ service: state.service, type, query: state.query, from: state.from, until: state.until })}>
          open in Explore
        </a>
      </div>
      <div class="toolbar">
        <ServicePicker services={services} value={state.service} onChange={(s) => onChange({ service: s })} testId={`${side}-service`} />
        <TimeRangePicker from={state.from} until={state.until} onChange={(from, until) => onChange({ from, until })} testId={`${side}-time-range`} />
      </div>
      {range instanceof Error ? (
        <ErrorState what="the time range" error={range} />
      ) : filters === null ? (
        <ErrorState what="the label filters" error={new Error(`cannot parse ${state.query}`)} />
      ) : (
        <SideData side={side} type={type} service={state.service} filters={filters} range={range} onChange={onChange} />
      )}
    </div>
  );
}

function SideData({
  side,
  type,
  service,
  filters,
  range,
  onChange,
}: {
  side: Side;
  type: string;
  service: string;
  filters: Matcher[];
  range: TimeRange;
  onChange: (changes: Partial<SideState>) => void;
}) {
  const theme = useTheme();
  const unit = parseProfileType(type).sampleUnit;
  const sel: Selection = { profileTypeID: type, labelSelector: serviceSelector(service, filters), ...range };
  const selKey = JSON.stringify(sel);
  const scope = formatSelector([{ name: "service_name", op: "=", value: service }, { name: "__profile_type__", op: "=", value: type }, ...filters]);
  const names = useLoad(JSON.stringify([scope, range]), (signal) => labelNames(scope, range, signal));
  const series = useLoad(selKey, (signal) => selectSeries(sel, stepSeconds(range.start, range.end), [], signal));
  const flame = useLoad(selKey, (signal) => selectMergeStacktraces(sel, signal));
  return (
    <>
      <div class="toolbar">
        <LabelFilterBuilder
          testId={`${side}-label-filter`}
          filters={filters}
          names={names.status === "ok" ? names.data.filter((n) => n !== "service_name") : []}
          scope={scope}
          range={range}
          onChange={(next) => onChange({ query: next.length ? formatSelector(next) : "" })}
        />
      </div>
      <div class="chart-box small">
        {series.status === "loading" && <Loading what="the time series" />}
        {series.status === "error" && <ErrorState what="the time series" error={series.error} />}
        {series.status === "ok" && series.data.length === 0 && <Empty>No profiles in this range.</Empty>}
        {series.status === "ok" && series.data.length > 0 && (
          <TimeSeriesChart
            series={series.data}
            unit={unit}
            start={range.start}
            end={range.end}
            height={130}
            onSelectRange={(f, u) => onChange({ from: String(f), until: String(u) })}
          />
        )}
      </div>
      {flame.status === "loading" && <Loading what="the flame graph" />}
      {flame.status === "error" && <ErrorState what="the flame graph" error={flame.error} />}
      {flame.status === "ok" && flame.data.total === 0 && <Empty>No profiles for this side.</Empty>}
      {flame.status === "ok" && flame.data.total > 0 && <FlameGraph data={flame.data} unit={unit} theme={theme} />}
    </>
  );
}

function DiffPanel({
  left,
  right,
  type,
  search,
  onSearch,
  selected,
  onSelect,
}: {
  left: Selection | null;
  right: Selection | null;
  type: string;
  search: string;
  onSearch: (s: string) => void;
  selected: string | null;
  onSelect: (name: string | null) => void;
}) {
  const theme = useTheme();
  const unit = parseProfileType(type).sampleUnit;
  const ready = left && right;
  const result = useLoad(ready ? JSON.stringify([left, right]) : null, (signal) => diff(left!, right!, signal));
  return (
    <div class="panel">
      <div class="panel-header">
        <h2>Diff</h2>
        <span class="muted hint">comparison against baseline, coloured by the change of each function's share</span>
        <input
          class="input search"
          type="search"
          placeholder="Search functions…"
          value={search}
          data-testid="search"
          onInput={(e) => onSearch(e.currentTarget.value)}
        />
      </div>
      {!ready && <Empty>Fix the selection of both sides to see their diff.</Empty>}
      {ready && result.status === "loading" && <Loading what="the diff" />}
      {ready && result.status === "error" && <ErrorState what="the diff" error={result.error} />}
      {ready && result.status === "ok" && result.data.leftTicks + result.data.rightTicks === 0 && <Empty>Neither side has profiles to compare.</Empty>}
      {ready && result.status === "ok" && result.data.leftTicks + result.data.rightTicks > 0 && (
        <div class="profile-split">
          <div class="profile-table">
            <TopTable data={result.data} diff unit={unit} search={search} selectedName={selected} onSelectName={(n) => onSelect(n === selected ? null : n)} />
          </div>
          <div class="profile-flame">
            <FlameGraph data={result.data} diff unit={unit} search={search} selectedName={selected} onSelectName={onSelect} theme={theme} />
          </div>
        </div>
      )}
    </div>
  );
}
