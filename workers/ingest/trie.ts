// The "trie" binary format of /ingest (spec API.md §1.5.4): a byte-prefix trie of `;`-joined
// stacks in pre-order, each node `uvarint chunkLength, chunk, uvarint value, uvarint childCount`.
// A node's key is the concatenation of the chunks from the root down; a node with a value > 0
// counts its key as a stack. Chunks may split a frame name, or a UTF-8 sequence, anywhere.

import { ByteReader, decodeUtf8 } from "../block/varint";
import type { AssembledProfile } from "./assemble";
import { badRequest } from "./errors";
import { legacyProfile, type LegacyMeta } from "./legacy-labels";
import { StackTree, type StackLimits } from "./stack-tree";
import { binaryInput } from "./tree";

const SEMICOLON = 0x3b;

/**
 * An empty body is an empty trie. The trie must end where its bytes do: a truncated one (even at
 * a node boundary, which Pyroscope would take as the end) or one followed by more bytes is refused.
 */
export function decodeTrie(body: Uint8Array, meta: LegacyMeta, limits: StackLimits): AssembledProfile[] {
  const stacks = new StackTree(limits);
  if (body.length > 0) binaryInput(() => readTrie(new ByteReader(body, "trie"), stacks, body.length));
  return legacyProfile(stacks, meta);
}

/**
 * The key is read as it grows: each `;` completes a frame, a child of the frames before it, so a
 * key is never decoded whole. Only the frame still open at the key's end (the text after its last
 * `;`) is decoded again by each node that ends in it or adds to it (siblings that complete it
 * with their first byte share one decode); those bytes are held to the body's size plus
 * MAX_PROFILE_SIZE_BYTES, which a real trie (whose keys diverge at frame ends) never comes near,
 * so that a long open frame under many nodes cannot cost its length times theirs.
 */
function readTrie(r: ByteReader, stacks: StackTree, bodyBytes: number): void {
  const maxSize = stacks.limits.MAX_PROFILE_SIZE_BYTES;
  let budget = maxSize > 0 ? bodyBytes + maxSize : Infinity;
  const decode = (from: number, to: number) => {
    budget -= to - from;
    if (budget < 0) {
      throw badRequest("profile_size_limit", `the trie's frame names add up to more than ${bodyBytes + maxSize} bytes once its keys are expanded`);
    }
    return decodeUtf8(key.subarray(from, to), r);
  };

  let key: Uint8Array = new Uint8Array(256);
  let keyLength = 0;
  // The frames completed so far and where the open one starts in `key`.
  let node = StackTree.ROOT;
  let open = 0;
  // Per node whose children are being read: how many are left, and the key's state before its chunk.
  const left: number[] = [];
  const saved: number[] = [];
  // Per level: the node of the open frame completed right where the level's nodes start (their
  // chunk starting with `;`), once one of them has completed it, or -1; siblings share it.
  const completed: number[] = [-1];
  do {
    const level = left.length;
    const chunk = r.bytes(r.uvarint());
    const [keyBefore, nodeBefore, openBefore] = [keyLength, node, open];
    if (keyLength + chunk.length > key.length) key = grow(key, keyLength + chunk.length);
    key.set(chunk, keyLength);
    for (let i = 0; i < chunk.length; i++) {
      if (chunk[i] !== SEMICOLON) continue;
      if (i > 0) node = stacks.child(node, decode(open, keyLength + i));
      else if (completed[level] >= 0) node = completed[level];
      else node = completed[level] = stacks.child(node, decode(open, keyLength));
      open = keyLength + i + 1;
    }
    keyLength += chunk.length;
    const value = r.uvarint();
    const children = r.uvarint();
    if (value > 0) stacks.add(stacks.child(node, decode(open, keyLength)), value);
    if (children > 0) {
      left.push(children);
      saved.push(keyBefore, nodeBefore, openBefore);
      completed[left.length] = -1;
      continue;
    }
    [keyLength, node, open] = [keyBefore, nodeBefore, openBefore];
    // A finished node may finish its parent, and so on up.
    while (left.length > 0 && --left[left.length - 1] === 0) {
      left.pop();
      open = saved.pop()!;
      node = saved.pop()!;
      keyLength = saved.pop()!;
    }
  } while (left.length > 0);
  r.done();
}

function grow(key: Uint8Array, need: number): Uint8Array {
  const bigger = new Uint8Array(Math.max(need, key.length * 2));
  bigger.set(key);
  return bigger;
}
