// The pprof download: the merged profile of the selection (or of the profiles picked in it) with
// full symbols, gzipped in the browser into the `.pb.gz` that `go tool pprof` and Pyroscope read.

import { selectMergeProfile, type Selection } from "../api/querier";

export async function downloadPprof(sel: Selection, fileName: string, profileIds: string[] = []): Promise<void> {
  const raw = await selectMergeProfile(sel, undefined, profileIds);
  const gz = await new Response(new Blob([raw]).stream().pipeThrough(new CompressionStream("gzip"))).blob();
  const url = URL.createObjectURL(gz);
  try {
    const a = document.createElement("a");
    a.href = url;
    a.download = fileName;
    document.body.append(a);
    a.click();
    a.remove();
  } finally {
    // the click has started the download synchronously; the URL is no longer needed after this turn
    setTimeout(() => URL.revokeObjectURL(url), 0);
  }
}

/** `checkout.cpu.2024-05-01T10-00.pb.gz`: service, sample type and start, safe on every file system. */
export function pprofFileName(service: string, sampleType: string, startMs: number): string {
  const when = new Date(startMs).toISOString().slice(0, 16).replace(/:/g, "-");
  return `${[service, sampleType, when].map((p) => p.replace(/[^\w.-]+/g, "_")).join(".")}.pb.gz`;
}
