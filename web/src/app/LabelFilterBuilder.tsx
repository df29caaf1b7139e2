// Builds label filters (`env="prod"`, `region=~"eu-.*"`) from the names and values the API knows
// for the current selection. Existing filters are chips; a chip's × removes it.

import { useState } from "preact/hooks";
import { labelValues, type TimeRange } from "../api/querier";
import { useLoad } from "./data";
import { formatMatcher, MATCH_OPS, type MatchOp, type Matcher } from "./selector";

export interface LabelFilterBuilderProps {
  filters: readonly Matcher[];
  onChange: (filters: Matcher[]) => void;
  /** Label names to offer (already without `__*` and the service label). */
  names: readonly string[];
  /** Selector the offered values are scoped to: the current service, type and filters. */
  scope: string;
  range: TimeRange;
  testId?: string;
}

export function LabelFilterBuilder({ filters, onChange, names, scope, range, testId = "label-filter" }: LabelFilterBuilderProps) {
  const [name, setName] = useState("");
  const [op, setOp] = useState<MatchOp>("=");
  const [value, setValue] = useState("");
  const values = useLoad(name ? JSON.stringify([name, scope, range]) : null, (signal) => labelValues(name, scope, range, signal));
  const listId = `${testId}-values`;

  const add = (e: Event) => {
    e.preventDefault();
    if (!name || (value === "" && (op === "=~" || op === "!~"))) return;
    onChange([...filters, { name, op, value }]);
    setName("");
    setOp("=");
    setValue("");
  };

  return (
    <form class="filter-builder" data-testid={testId} onSubmit={add}>
      {filters.map((f, i) => (
        <span class="chip" key={`${i}-${formatMatcher(f)}`} data-testid="filter-chip">
          <code>{formatMatcher(f)}</code>
          <button
            type="button"
            class="chip-remove"
            aria-label={`Remove filter ${formatMatcher(f)}`}
            onClick={() => onChange(filters.filter((_, j) => j !== i))}
          >
            ×
          </button>
        </span>
      ))}
      <select
        class="input"
        value={name}
        data-testid={`${testId}-name`}
        aria-label="Label name"
        onChange={(e) => {
          setName(e.currentTarget.value);
          setValue("");
        }}
      >
        <option value="">+ label filter…</option>
        {names.map((n) => (
          <option key={n} value={n}>
            {n}
          </option>
        ))}
      </select>
      {name && (
        <>
          <select class="input op" value={op} aria-label="Operator" data-testid={`${testId}-op`} onChange={(e) => setOp(e.currentTarget.value as MatchOp)}>
            {MATCH_OPS.map((o) => (
              <option key={o} value={o}>
                {o}
              </option>
            ))}
          </select>
          <input
            class="input"
            list={listId}
            value={value}
            placeholder={values.status === "loading" ? "loading values…" : op.endsWith("~") ? "regex" : "value"}
            aria-label="Label value"
            data-testid={`${testId}-value`}
            onInput={(e) => setValue(e.currentTarget.value)}
          />
          <datalist id={listId}>{values.status === "ok" && values.data.map((v) => <option key={v} value={v} />)}</datalist>
          <button type="submit" class="btn" data-testid={`${testId}-add`}>
            Add
          </button>
          {values.status === "error" && <span class="error-text">{values.error.message}</span>}
        </>
      )}
    </form>
  );
}
