// The isolate-wide cache of decoded block sections: bounded by its byte limit whatever the number
// of Merger objects using it, least recently used out first, and only as deep as it was filled.

import { describe, expect, it } from "vitest";
import { BlockCache } from "../workers/query/block-cache";
import type { BlockView } from "../workers/query/view";

function view(memoryBytes: number): BlockView {
  return { memoryBytes } as BlockView;
}

describe("BlockCache", () => {
  it("evicts the least recently used views to stay within its limit", () => {
    const cache = new BlockCache();
    const a = view(40);
    expect(cache.put("a", a, "stacks", 100)).toBe(true);
    expect(cache.put("b", view(40), "stacks", 100)).toBe(true);
    expect(cache.get("a", "stacks")).toBe(a);
    expect(cache.put("c", view(40), "stacks", 100)).toBe(true);
    expect(cache.bytes).toBe(80);
    expect(cache.get("b", "stacks")).toBeNull();
    expect(cache.get("a", "stacks")).toBe(a);
  });

  it("refuses a view larger than half its limit", () => {
    const cache = new BlockCache();
    expect(cache.put("big", view(51), "stacks", 100)).toBe(false);
    expect(cache.bytes).toBe(0);
  });

  it("serves a shallower read from a deeper view, never the reverse", () => {
    const cache = new BlockCache();
    cache.put("s", view(10), "series", 100);
    expect(cache.get("s", "series")).not.toBeNull();
    expect(cache.get("s", "stacks")).toBeNull();
    cache.put("s", view(20), "stacks", 100);
    expect(cache.get("s", "samples")).not.toBeNull();
    expect(cache.bytes).toBe(20);
  });
});
