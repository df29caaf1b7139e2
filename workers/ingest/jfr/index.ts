// JFR uploads (spec API.md §1.5.7): a recording, made of one or more self-contained chunks, plus
// the agent's optional LabelsSnapshot → one pprof per kind of profile found in it.
//
// Per chunk: the header, the metadata event (the type system), one pass over the checkpoint
// chain that only notes where constants start, then one pass over the events, which go straight
// into per-profile sums; stack traces are decoded from the constant pools once per key, on first
// use. Memory is bounded by the distinct stacks, frames and label sets, not by the event count.

import type { Config } from "../../config";
import type { AssembledProfile } from "../assemble";
import type { Labels } from "../labels";
import { type ChunkHeader, readChunkHeader } from "./chunk";
import { indexConstantPools } from "./constants";
import { readEvents } from "./events";
import { decodeLabelsSnapshot, LabelSets } from "./labels";
import { readMetadata } from "./metadata";
import { JfrProfiles } from "./profiles";
import { type BigKeys, JfrReader, malformed } from "./reader";
import { CLASS, FrameTable, METHOD, STACK_TRACE, STRING, StackResolver, SYMBOL, THREAD_STATE } from "./stacks";
import { Layouts } from "./values";

export interface JfrInput {
  /** The app name of `name`. */
  appName: string;
  /** The `name` labels without the app name. */
  nameLabels: Labels;
  spyName: string;
  /** The request's `from` and `until`, unix ms. */
  fromMs: number;
  untilMs: number;
  nowMs: number;
  config: Config;
}

/** The constant pools stack resolution reads. */
const POOLS = [STACK_TRACE, METHOD, CLASS, SYMBOL, STRING, THREAD_STATE];

/** One JFR recording (and its optional LabelsSnapshot) → one profile per event kind (spec §1.5.7). */
export function decodeJfr(jfr: Uint8Array, labels: Uint8Array | undefined, input: JfrInput): AssembledProfile[] {
  if (jfr.length === 0) throw malformed("the recording is empty");
  const frames = new FrameTable();
  const labelSets = new LabelSets(decodeLabelsSnapshot(labels));
  const profiles = new JfrProfiles(frames, labelSets);
  const bigKeys: BigKeys = new Map();
  for (let at = 0; at < jfr.length; ) {
    const chunk = readChunkHeader(jfr, at);
    decodeChunk(jfr, chunk, bigKeys, frames, labelSets, profiles);
    at = chunk.end;
  }
  return profiles.finish({
    appName: input.appName,
    nameLabels: input.nameLabels,
    spyName: input.spyName,
    timeNanos: BigInt(Math.round(input.fromMs)) * 1_000_000n,
    durationNanos: BigInt(Math.max(0, Math.round(input.untilMs - input.fromMs))) * 1_000_000n,
  });
}

function decodeChunk(buf: Uint8Array, chunk: ChunkHeader, bigKeys: BigKeys, frames: FrameTable, labelSets: LabelSets, profiles: JfrProfiles): void {
  const r = new JfrReader(buf, chunk.compressed, bigKeys);
  const metadata = readMetadata(r.at(chunk.metadata, chunk.end));
  const layouts = new Layouts(metadata, chunk.compressed);
  const wanted: number[] = [];
  for (const name of POOLS) {
    const cls = metadata.byName.get(name);
    if (cls) wanted.push(cls.id);
  }
  const pools = indexConstantPools(r, chunk, metadata, layouts, wanted);
  const stacks = new StackResolver(new JfrReader(buf, chunk.compressed, bigKeys), chunk.end, metadata, layouts, pools, frames);
  readEvents(r, chunk, metadata, layouts, stacks, labelSets, profiles);
  profiles.endChunk();
}
