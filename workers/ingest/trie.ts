// The "trie" binary format of /ingest (spec API.md §1.5.4): a byte-prefix trie of `;`-joined
// stacks in pre-order, each node `uvarint chunkLength, chunk, uvarint value, uvarint childCount`.
// A node's key is the concatenation of the chunks from the root down; a node with a value > 0
// counts its key as a stack. Chunks may split a frame name, or a UTF-8 sequence, anywhere.

import { ByteReader, decodeUtf8 } from "../block/varint";
import type { AssembledProfile } from "./assemble";
import { legacyProfile, type LegacyMeta, type StackCounts } from "./legacy-labels";
import { binaryInput } from "./tree";

/**
 * An empty body is an empty trie. The trie must end where its bytes do: a truncated one (even at
 * a node boundary, which Pyroscope would take as the end) or one followed by more bytes is refused.
 */
export function decodeTrie(body: Uint8Array, meta: LegacyMeta): AssembledProfile[] {
  const stacks: StackCounts = new Map();
  if (body.length > 0) binaryInput(() => readTrie(new ByteReader(body, "trie"), stacks));
  return legacyProfile(stacks, meta);
}

function readTrie(r: ByteReader, stacks: StackCounts): void {
  let key: Uint8Array = new Uint8Array(256);
  let keyLength = 0;
  // Per node whose children are being read: how many are left, and its chunk's length.
  const left: number[] = [];
  const chunkLength: number[] = [];
  do {
    const chunk = r.bytes(r.uvarint());
    if (keyLength + chunk.length > key.length) key = grow(key, keyLength + chunk.length);
    key.set(chunk, keyLength);
    keyLength += chunk.length;
    const value = r.uvarint();
    const children = r.uvarint();
    if (value > 0) {
      const stack = decodeUtf8(key.subarray(0, keyLength), r);
      stacks.set(stack, (stacks.get(stack) ?? 0) + value);
    }
    if (children > 0) {
      left.push(children);
      chunkLength.push(chunk.length);
      continue;
    }
    keyLength -= chunk.length;
    // A finished node may finish its parent, and so on up.
    while (left.length > 0 && --left[left.length - 1] === 0) {
      left.pop();
      keyLength -= chunkLength.pop()!;
    }
  } while (left.length > 0);
  r.done();
}

function grow(key: Uint8Array, need: number): Uint8Array {
  const bigger = new Uint8Array(Math.max(need, key.length * 2));
  bigger.set(key);
  return bigger;
}
