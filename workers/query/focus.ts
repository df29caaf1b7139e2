// stack_trace_selector.call_site (spec API.md §3.5): keep only the stacks whose root-first prefix
// is the given call site. Applied to the merged tree, where a prefix is a path from the root.

import { FrameTree } from "./tree";

export function focusCallSite(tree: FrameTree, callSite: readonly string[]): FrameTree {
  const out = new FrameTree();
  const { names, parent, name, self } = tree.columns();
  // depth[i] = how many call-site frames the path to node i matches; -1 once it diverges.
  const depth = new Int32Array(parent.length);
  const mapped = new Int32Array(parent.length);
  for (let i = 1; i < parent.length; i++) {
    const d = depth[parent[i]];
    if (d < 0) {
      depth[i] = -1;
      continue;
    }
    if (d < callSite.length) {
      depth[i] = names[name[i]] === callSite[d] ? d + 1 : -1;
      if (depth[i] < callSite.length) continue;
      // The call site itself: its path is created only now, so no empty branch is left behind.
      let node = 0;
      for (const frame of callSite) node = out.child(node, out.intern(frame));
      mapped[i] = node;
    } else {
      depth[i] = d;
      mapped[i] = out.child(mapped[parent[i]], out.intern(names[name[i]]));
    }
    if (self[i] !== 0) out.addSelf(mapped[i], self[i]);
  }
  return out;
}
