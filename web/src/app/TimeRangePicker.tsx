// The time range control: presets (15m … 7d) and a custom absolute range. It edits the URL's
// `from`/`until` strings; resolving them to instants is the view's job.

import { useEffect, useRef, useState } from "preact/hooks";
import { DEFAULT_UNTIL, fromDateTimeLocal, PRESETS, rangeLabel, resolveTime, toDateTimeLocal } from "./time";

export interface TimeRangePickerProps {
  from: string;
  until: string;
  onChange: (from: string, until: string) => void;
  testId?: string;
}

export function TimeRangePicker({ from, until, onChange, testId = "time-range" }: TimeRangePickerProps) {
  const [open, setOpen] = useState(false);
  const root = useRef<HTMLDivElement>(null);

  // Close on a click elsewhere or Escape, like any dropdown.
  useEffect(() => {
    if (!open) return;
    const onDown = (e: MouseEvent) => root.current && !root.current.contains(e.target as Node) && setOpen(false);
    const onKey = (e: KeyboardEvent) => e.key === "Escape" && setOpen(false);
    document.addEventListener("mousedown", onDown);
    document.addEventListener("keydown", onKey);
    return () => {
      document.removeEventListener("mousedown", onDown);
      document.removeEventListener("keydown", onKey);
    };
  }, [open]);

  const choose = (f: string, u: string) => {
    setOpen(false);
    onChange(f, u);
  };

  return (
    <div class="dropdown" ref={root}>
      <button type="button" class="btn" data-testid={testId} aria-expanded={open} onClick={() => setOpen(!open)} title="Time range">
        <span aria-hidden="true">◷</span> {rangeLabel(from, until)}
      </button>
      {open && (
        <div class="dropdown-panel time-panel">
          <ul class="preset-list">
            {PRESETS.map((p) => (
              <li key={p.from}>
                <button
                  type="button"
                  class={`preset ${p.from === from && until === DEFAULT_UNTIL ? "active" : ""}`}
                  data-testid={`preset-${p.from.slice(4)}`}
                  onClick={() => choose(p.from, DEFAULT_UNTIL)}
                >
                  {p.label}
                </button>
              </li>
            ))}
          </ul>
          <CustomRange from={from} until={until} onApply={choose} />
        </div>
      )}
    </div>
  );
}

function CustomRange({ from, until, onApply }: { from: string; until: string; onApply: (from: string, until: string) => void }) {
  const now = Date.now();
  const [start, setStart] = useState(toDateTimeLocal(resolveTime(from, now)));
  const [end, setEnd] = useState(toDateTimeLocal(resolveTime(until, now)));
  const startMs = fromDateTimeLocal(start);
  const endMs = fromDateTimeLocal(end);
  const problem = Number.isNaN(startMs) || Number.isNaN(endMs) ? "Enter both instants." : startMs >= endMs ? "The start must be before the end." : "";
  return (
    <form
      class="custom-range"
      onSubmit={(e) => {
        e.preventDefault();
        if (!problem) onApply(String(startMs), String(endMs));
      }}
    >
      <div class="field-label">Custom range</div>
      <label>
        From <input type="datetime-local" value={start} data-testid="custom-from" onInput={(e) => setStart(e.currentTarget.value)} />
      </label>
      <label>
        Until <input type="datetime-local" value={end} data-testid="custom-until" onInput={(e) => setEnd(e.currentTarget.value)} />
      </label>
      {problem && <div class="hint error-text">{problem}</div>}
      <button type="submit" class="btn btn-primary" disabled={Boolean(problem)} data-testid="custom-apply">
        Apply
      </button>
    </form>
  );
}
