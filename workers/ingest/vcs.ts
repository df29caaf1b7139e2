// Source-code links (spec API.md §2.2 step 9): when a profile names its repository, git ref or
// root path in labels, every mapping's build id becomes a JSON object carrying them, which is
// what Pyroscope's UI reads to link frames to source files.

import { labelValue, type Labels } from "./labels";
import type { PprofProfile } from "./pprof-decode";

const VCS_LABELS = ["service_repository", "service_git_ref", "service_root_path"] as const;

export function applyVcsInfo(p: PprofProfile, labels: Labels): void {
  if (!VCS_LABELS.some((name) => labels.some(([n]) => n === name))) return;
  const [repository, gitRef, rootPath] = VCS_LABELS.map((name) => labelValue(labels, name));
  const rewritten = new Map<number, number>();
  for (let m = 0; m < p.mappingBuildId.length; m++) {
    const old = p.mappingBuildId[m];
    let id = rewritten.get(old);
    if (id === undefined) {
      const info = { repository, git_ref: gitRef, build_id: p.strings[old] ?? "", root_path: rootPath };
      id = p.strings.push(JSON.stringify(info)) - 1;
      rewritten.set(old, id);
    }
    p.mappingBuildId[m] = id;
  }
}
