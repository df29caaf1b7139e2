// The "tree" binary format of /ingest (spec API.md §1.5.5, Pyroscope's DeserializeNoDict): a frame
// tree in pre-order, each node `uvarint nameLength, name, uvarint self, uvarint childCount`. The
// first node is the root, which is not a frame; every other node with self > 0 counts its
// root→node path as a stack. Same-named siblings add up, as they merge in Pyroscope's tree. A
// node's name is one frame even if it holds a `;` (Pyroscope's IterateStacks does not split it).

import type { Config } from "../config";
import { ByteReader, decodeUtf8 } from "../block/varint";
import type { AssembledProfile } from "./assemble";
import { IngestError, invalid } from "./errors";
import { legacyProfile, type LegacyMeta } from "./legacy-labels";
import { StackTree, type StackLimits } from "./stack-tree";

export type TreeLimits = StackLimits & Pick<Config, "MAX_PROFILE_SYMBOL_VALUE_LENGTH">;

/**
 * Node names longer than MAX_PROFILE_SYMBOL_VALUE_LENGTH and child counts above
 * MAX_PROFILE_STACKTRACE_SAMPLES are refused (0 = no limit). The tree must end where its bytes do.
 */
export function decodeTree(body: Uint8Array, meta: LegacyMeta, limits: TreeLimits): AssembledProfile[] {
  const stacks = new StackTree(limits);
  binaryInput(() => readTree(new ByteReader(body, "tree"), stacks, limits));
  return legacyProfile(stacks, meta);
}

/** Runs a binary reader; its Errors (truncation, bad lengths, bad UTF-8) refuse the upload (422). */
export function binaryInput(read: () => void): void {
  try {
    read();
  } catch (e) {
    if (e instanceof IngestError) throw e;
    throw invalid("malformed_profile", e instanceof Error ? e.message : String(e));
  }
}

function readTree(r: ByteReader, stacks: StackTree, limits: TreeLimits): void {
  const maxName = limits.MAX_PROFILE_SYMBOL_VALUE_LENGTH;
  const maxChildren = limits.MAX_PROFILE_STACKTRACE_SAMPLES;
  const name = () => {
    const length = r.uvarint();
    if (maxName > 0 && length > maxName) r.fail(`node name length ${length} exceeds maximum ${maxName}`);
    return decodeUtf8(r.bytes(length), r);
  };
  const childCount = () => {
    const n = r.uvarint();
    if (maxChildren > 0 && n > maxChildren) r.fail(`node children count ${n} exceeds maximum ${maxChildren}`);
    return n;
  };

  name();
  r.uvarint(); // the root's self: not a stack
  const rootChildren = childCount();
  // Per open node, the root included: children left to read. `parent` is the innermost one.
  const left: number[] = rootChildren > 0 ? [rootChildren] : [];
  let parent = StackTree.ROOT;
  while (left.length > 0) {
    const node = stacks.child(parent, name());
    const self = r.uvarint();
    const children = childCount();
    if (self > 0) stacks.add(node, self);
    if (children > 0) {
      left.push(children);
      parent = node;
      continue;
    }
    // A finished node may finish its parent, and so on up.
    while (left.length > 0 && --left[left.length - 1] === 0) {
      left.pop();
      parent = stacks.parentOf(parent);
    }
  }
  r.done();
}
