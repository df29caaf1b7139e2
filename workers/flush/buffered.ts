// What an ingester's buffered generation will add to the catalog once flushed, in the shape the
// services API merges with the catalog's figures. It comes from the same FlushStats the flush
// commits, so a generation counted from its ingester before the flush and from D1 after it adds
// the same figures.

import type { FlushStats } from "./stats";

export interface BufferedGeneration {
  /** The block this generation becomes: while it is not committed, D1 holds none of these figures. */
  blockId: string;
  profileTypes: string[];
  spyNames: string[];
  sdkVersions: string[];
  /** Earliest and latest profile time (unix ms), as the flush records first and last seen. */
  minTime: number;
  maxTime: number;
  profiles: number;
  ingestedBytes: number;
  /** Bytes per hour start (unix ms), as label_stats counts them for the service_name label. */
  hourlyBytes: { hour: number; bytes: number }[];
}

export function bufferedGeneration(blockId: string, stats: FlushStats): BufferedGeneration {
  const hourly = new Map<number, number>();
  for (const l of stats.labels.values()) {
    if (l.name === "service_name") hourly.set(l.hour, (hourly.get(l.hour) ?? 0) + l.bytes);
  }
  const svc = stats.service;
  return {
    blockId,
    profileTypes: [...svc.profileTypes],
    spyNames: [...svc.spyNames],
    sdkVersions: [...svc.sdkVersions],
    minTime: stats.minTime,
    maxTime: stats.maxTime,
    profiles: svc.profiles,
    ingestedBytes: svc.ingestedBytes,
    hourlyBytes: [...hourly].sort((a, b) => a[0] - b[0]).map(([hour, bytes]) => ({ hour, bytes })),
  };
}
