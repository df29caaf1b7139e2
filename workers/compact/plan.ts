// Which level-0 blocks of one shard to merge. Pure: the compactor passes the catalog rows and the
// time, and gets back groups of blocks that each become one level-1 block.
//
// A block belongs to the window of its earliest profile, so a window's blocks cover that window
// (plus whatever a backfill put in the same flush), and a day's query reads one block per window
// and shard instead of one per flush. Blocks are grouped in order of their earliest profile, cut
// where the group would exceed the byte or block budget; a group of one block is left as it is.

import { toHex } from "../util/hex";

export interface CompactionCandidate {
  id: string;
  objectKey: string;
  minTime: number;
  maxTime: number;
  sizeBytes: number;
  createdAt: number;
}

export interface CompactionGroup {
  windowStartMs: number;
  blocks: CompactionCandidate[];
}

export interface CompactionLimits {
  COMPACTION_WINDOW_MS: number;
  COMPACTION_DELAY_MS: number;
  COMPACTION_MAX_INPUT_BYTES: number;
  COMPACTION_MAX_BLOCKS: number;
}

export interface CompactionPlan {
  groups: CompactionGroup[];
  /** When a block that is not due yet becomes due; null when none is waiting. */
  nextDueMs: number | null;
}

/** When a block may be merged: its window has ended and it was flushed, both COMPACTION_DELAY_MS ago. */
export function dueAt(b: Pick<CompactionCandidate, "minTime" | "createdAt">, limits: CompactionLimits): number {
  const windowEnd = (Math.floor(b.minTime / limits.COMPACTION_WINDOW_MS) + 1) * limits.COMPACTION_WINDOW_MS;
  return Math.max(windowEnd, b.createdAt) + limits.COMPACTION_DELAY_MS;
}

export function planCompaction(candidates: readonly CompactionCandidate[], nowMs: number, limits: CompactionLimits): CompactionPlan {
  if (limits.COMPACTION_WINDOW_MS <= 0) return { groups: [], nextDueMs: null };
  let nextDueMs: number | null = null;
  const windows = new Map<number, CompactionCandidate[]>();
  for (const b of candidates) {
    const due = dueAt(b, limits);
    if (due > nowMs) {
      nextDueMs = nextDueMs === null ? due : Math.min(nextDueMs, due);
      continue;
    }
    const start = Math.floor(b.minTime / limits.COMPACTION_WINDOW_MS) * limits.COMPACTION_WINDOW_MS;
    const list = windows.get(start);
    if (list) list.push(b);
    else windows.set(start, [b]);
  }

  const maxBlocks = Math.max(2, Math.floor(limits.COMPACTION_MAX_BLOCKS));
  const groups: CompactionGroup[] = [];
  for (const start of [...windows.keys()].sort((a, b) => a - b)) {
    const blocks = windows.get(start)!.sort((a, b) => a.minTime - b.minTime || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    let group: CompactionCandidate[] = [];
    let bytes = 0;
    const close = () => {
      if (group.length >= 2) groups.push({ windowStartMs: start, blocks: group });
      group = [];
      bytes = 0;
    };
    for (const b of blocks) {
      if (group.length > 0 && (group.length >= maxBlocks || bytes + b.sizeBytes > limits.COMPACTION_MAX_INPUT_BYTES)) close();
      group.push(b);
      bytes += b.sizeBytes;
    }
    close();
  }
  return { groups, nextDueMs };
}

/**
 * The id of the block a group becomes: derived from its sources' ids (unique across the
 * service), so a retried compaction of the same group writes the same object and commits once.
 */
export async function groupBlockId(group: CompactionGroup): Promise<string> {
  const ids = group.blocks.map((b) => b.id).sort();
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(ids.join("\n"))));
  return `c1-${group.windowStartMs}-${toHex(digest.subarray(0, 16))}`;
}
