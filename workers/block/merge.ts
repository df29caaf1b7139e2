// Appends one builder's profiles to another, re-interning everything through the target so both
// share one set of tables. One forward pass per table: linear in the size of the source.

import type { BlockBuilder } from "./builder";

export function mergeInto(target: BlockBuilder, source: BlockBuilder): void {
  if (source.profileSampleStart.length !== source.profileCount + 1) throw new Error("mergeInto: the source has an open profile");

  const strings = new Int32Array(source.strings.length);
  for (let i = 1; i < source.strings.length; i++) strings[i] = target.string(source.strings[i]);

  const mappings = new Int32Array(source.mappingCount);
  for (let i = 1; i < source.mappingCount; i++) {
    mappings[i] = target.mapping({
      memoryStart: source.mappingStart.get(i),
      memoryLimit: source.mappingLimit.get(i),
      fileOffset: source.mappingOffset.get(i),
      filename: source.strings[source.mappingFile.get(i)],
      buildId: source.strings[source.mappingBuildId.get(i)],
      flags: source.mappingFlags.get(i),
    });
  }

  const fns = new Int32Array(source.functionCount);
  for (let i = 1; i < source.functionCount; i++) {
    fns[i] = target.func(
      strings[source.fnName.get(i)],
      strings[source.fnSystemName.get(i)],
      strings[source.fnFile.get(i)],
      source.fnStartLine.get(i),
    );
  }

  const locs = new Int32Array(source.locationCount);
  let lineFns = new Int32Array(16);
  let lineNos = new Float64Array(16);
  for (let i = 1; i < source.locationCount; i++) {
    const [start, end] = source.locationLines(i);
    const n = end - start;
    if (n > lineFns.length) {
      lineFns = new Int32Array(n * 2);
      lineNos = new Float64Array(n * 2);
    }
    for (let k = 0; k < n; k++) {
      lineFns[k] = fns[source.lineFn.get(start + k)];
      lineNos[k] = source.lineNo.get(start + k);
    }
    locs[i] = target.location(mappings[source.locMapping.get(i)], source.locAddress.get(i), lineFns, lineNos, n);
  }

  // Parents precede children, so each parent is already mapped when its children are reached.
  const nodes = new Int32Array(source.stackNodeCount);
  for (let i = 1; i < source.stackNodeCount; i++) {
    nodes[i] = target.stackNode(nodes[source.nodeParent.get(i)], locs[source.nodeLoc.get(i)]);
  }

  const series = new Int32Array(source.seriesCount);
  for (let s = 0; s < source.seriesCount; s++) {
    series[s] = target.series(source.seriesLabelsOf(s), source.strings[source.seriesProfileType.get(s)]);
  }

  for (let p = 0; p < source.profileCount; p++) {
    target.beginProfile(series[source.profileSeries.get(p)], source.profileTime.get(p), source.profileDuration.get(p));
    const [start, end] = source.profileSamples(p);
    for (let i = start; i < end; i++) {
      target.addSample(nodes[source.sampleNode.get(i)], source.sampleValue.get(i), strings[source.sampleSpan.get(i)], strings[source.sampleTrace.get(i)]);
    }
    target.endProfile();
  }
}
