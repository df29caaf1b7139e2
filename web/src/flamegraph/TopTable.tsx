// The top-functions table: one row per function with its self and total (recursion counted once, see
// functionStats), sortable, capped so that profiles with thousands of functions still render instantly.
import { useMemo, useState } from "preact/hooks";
import { formatChange, formatPercent, formatValue } from "./format";
import {
  functionStats,
  getModel,
  matchNames,
  relativeChange,
  type FlameGraphData,
  type FlameGraphDiffData,
} from "./model";
import "./flamegraph.css";

interface CommonProps {
  unit: string;
  selectedName?: string | null;
  onSelectName?: (name: string) => void;
  /** Shows only functions whose name contains this (case-insensitive), like the flame graph highlights them. */
  search?: string;
  /** Rows rendered at most (default 500); a note tells how many were left out. */
  maxRows?: number;
  class?: string;
}

/** For a diff, Self/Total are the comparison side and a Change column compares against the baseline. */
export type TopTableProps = CommonProps &
  ({ diff?: false; data: FlameGraphData } | { diff: true; data: FlameGraphDiffData });

export type SortKey = "self" | "total";
type Sort = { key: SortKey; ascending: boolean };

const DEFAULT_MAX_ROWS = 500;
/** Until a header is clicked rows are ordered by self, heaviest first, as in Pyroscope. */
const DEFAULT_SORT: Sort = { key: "self", ascending: false };

function SortHeader(props: { label: string; sortKey: SortKey; sort: Sort | null; onSort: (key: SortKey) => void }) {
  const active = props.sort?.key === props.sortKey;
  const arrow = active ? (props.sort?.ascending ? " ▲" : " ▼") : "";
  return (
    <th class="fg-num" aria-sort={active ? (props.sort?.ascending ? "ascending" : "descending") : undefined}>
      <button
        type="button"
        class="fg-sort"
        data-testid={`sort-${props.sortKey}`}
        onClick={() => props.onSort(props.sortKey)}
      >
        {props.label}
        {arrow}
      </button>
    </th>
  );
}

export function TopTable(props: TopTableProps) {
  const { data, unit, selectedName = null, onSelectName, search = "", maxRows = DEFAULT_MAX_ROWS } = props;
  const diff = props.diff === true;
  const model = useMemo(() => getModel(data, diff), [data, diff]);
  const stats = useMemo(() => functionStats(model), [model]);
  const matches = useMemo(() => matchNames(model, search), [model, search]);
  // null until the user sorts, so that the first click on either header always sorts descending.
  const [sort, setSort] = useState<Sort | null>(null);

  const sides = model.diff;
  const { baseline } = stats;
  const whole = sides ? sides.rightTicks : model.rootTotal;

  const rows = useMemo(() => {
    const { key, ascending } = sort ?? DEFAULT_SORT;
    const column = stats[key];
    const names: number[] = [];
    for (let i = 0; i < model.names.length; i++) {
      if (stats.present[i] === 1 && (matches === null || matches[i] === 1)) names.push(i);
    }
    const sign = ascending ? 1 : -1;
    // Ties by name, so equal rows keep a stable, predictable order.
    names.sort((a, b) => sign * (column[a] - column[b]) || (model.names[a] < model.names[b] ? -1 : 1));
    return names;
  }, [model, stats, matches, sort]);

  const onSort = (key: SortKey): void =>
    setSort((current) => ({ key, ascending: current?.key === key ? !current.ascending : false }));

  const shown = rows.length > maxRows ? rows.slice(0, maxRows) : rows;

  return (
    <div class={`fg-table-root${props.class ? ` ${props.class}` : ""}`} data-testid="top-table">
      <table class="fg-table">
        <thead>
          <tr>
            <th>Function</th>
            <SortHeader label="Self" sortKey="self" sort={sort} onSort={onSort} />
            <SortHeader label="Total" sortKey="total" sort={sort} onSort={onSort} />
            {sides && <th class="fg-num fg-change">Change</th>}
          </tr>
        </thead>
        <tbody>
          {shown.map((i) => {
            const name = model.names[i];
            const self = stats.self[i];
            const total = stats.total[i];
            const change = sides && baseline ? relativeChange(sides, baseline.total[i], total) : 0;
            // Unkeyed on purpose: a new search or sort then patches the existing rows' text in place instead
            // of replacing hundreds of DOM rows.
            return (
              <tr
                data-testid="top-row"
                data-name={name}
                data-self={String(self)}
                data-total={String(total)}
                data-left-self={baseline ? String(baseline.self[i]) : undefined}
                data-left-total={baseline ? String(baseline.total[i]) : undefined}
                class={name === selectedName ? "fg-selected" : undefined}
                onClick={() => onSelectName?.(name)}
              >
                <td class="fg-name" title={name}>
                  {name}
                </td>
                <td class="fg-num">
                  {formatValue(self, unit)} <span class="fg-muted">{formatPercent(self, whole)}</span>
                </td>
                <td class="fg-num">
                  {formatValue(total, unit)} <span class="fg-muted">{formatPercent(total, whole)}</span>
                </td>
                {sides && (
                  <td class={`fg-num fg-change ${change === null || change > 0 ? "fg-grew" : change < 0 ? "fg-shrank" : ""}`}>
                    {formatChange(change)}
                  </td>
                )}
              </tr>
            );
          })}
        </tbody>
      </table>
      {shown.length < rows.length && (
        <div class="fg-note" data-testid="top-table-note">
          Showing the top {shown.length} of {rows.length} functions.
        </div>
      )}
      {rows.length === 0 && <div class="fg-note">No functions{matches ? " match the search" : ""}.</div>}
    </div>
  );
}
