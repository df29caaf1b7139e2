// Pyroscope's default ingestion relabel rules (spec API.md §2.5), applied to every split profile's
// labels before validation. There are no tenant rules here, so nothing is ever dropped.

import { DELTA, METRIC_NAME, type LabelsBuilder } from "./labels";

const NAME_REPLACED = "__name_replaced__";
// Prometheus relabel regexes are anchored and let `.` match newlines.
const GODELTAPROF = /^godeltaprof_(.*)$/s;

export function applyDefaultRelabelRules(b: LabelsBuilder): void {
  // Old Alloy/agent scrape jobs name delta profiles godeltaprof_memory|mutex|block.
  const name = b.get(METRIC_NAME);
  const delta = GODELTAPROF.exec(name);
  if (delta) {
    b.set(NAME_REPLACED, name);
    b.set(DELTA, "false");
    b.set(METRIC_NAME, delta[1]);
  }
  // A wall profile's CPU sample type is CPU time; only fires when the sender set __type__.
  if (`${b.get(METRIC_NAME)}/${b.get("__type__")}` === "wall/cpu") {
    b.set(NAME_REPLACED, "wall");
    b.set(METRIC_NAME, "process_cpu");
  }
}
