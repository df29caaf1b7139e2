// Structural checks of a builder's columns: equal lengths per table, the null rows, and every
// reference pointing inside its table. Decoded blocks pass through here, so code reading a builder
// may index its tables without bounds checks.

import type { BuilderColumns } from "./builder";

function fail(msg: string): never {
  throw new Error(`block columns: ${msg}`);
}

function sameLength(table: string, n: number, cols: ArrayLike<unknown>[]): void {
  for (const c of cols) if (c.length !== n) fail(`${table} columns differ in length (${c.length} vs ${n})`);
}

function refs(label: string, col: ArrayLike<number>, from: number, bound: number): void {
  for (let i = from; i < col.length; i++) {
    const v = col[i];
    if (!(v >= 0 && v < bound)) fail(`${label}[${i}] = ${v} is out of range (< ${bound})`);
  }
}

/** Offsets [start[0] = 0, …, start[n]] that never decrease and end at `total`. */
function offsets(label: string, start: ArrayLike<number>, total: number): void {
  if (start.length === 0 || start[0] !== 0) fail(`${label} must start at 0`);
  for (let i = 1; i < start.length; i++) if (start[i] < start[i - 1]) fail(`${label}[${i}] decreases`);
  if (start[start.length - 1] > total) fail(`${label} runs past its ${total} rows`);
}

export function checkColumns(c: BuilderColumns): void {
  const nStrings = c.strings.length;
  if (nStrings === 0 || c.strings[0] !== "") fail("string 0 must be the empty string");

  const nMappings = c.mappingFile.length;
  if (nMappings === 0) fail("the null mapping is missing");
  sameLength("mapping", nMappings, [c.mappingStart, c.mappingLimit, c.mappingOffset, c.mappingBuildId, c.mappingFlags]);
  refs("mappingFile", c.mappingFile, 0, nStrings);
  refs("mappingBuildId", c.mappingBuildId, 0, nStrings);

  const nFns = c.fnName.length;
  if (nFns === 0) fail("the null function is missing");
  sameLength("function", nFns, [c.fnSystemName, c.fnFile, c.fnStartLine]);
  refs("fnName", c.fnName, 0, nStrings);
  refs("fnSystemName", c.fnSystemName, 0, nStrings);
  refs("fnFile", c.fnFile, 0, nStrings);

  const nLocs = c.locMapping.length;
  if (nLocs === 0) fail("the null location is missing");
  sameLength("location", nLocs, [c.locAddress, c.locLineStart]);
  sameLength("line", c.lineFn.length, [c.lineNo]);
  refs("locMapping", c.locMapping, 0, nMappings);
  offsets("locLineStart", c.locLineStart, c.lineFn.length);
  if ((nLocs > 1 ? c.locLineStart[1] : c.lineFn.length) !== 0) fail("the null location has lines");
  refs("lineFn", c.lineFn, 0, nFns);

  const nNodes = c.nodeParent.length;
  if (nNodes === 0 || c.nodeParent[0] !== -1) fail("the root stack node is missing");
  sameLength("stack node", nNodes, [c.nodeLoc]);
  // Parents precede children: this keeps the tree acyclic and lets merges walk it forwards.
  for (let i = 1; i < nNodes; i++) {
    const p = c.nodeParent[i];
    if (!(p >= 0 && p < i)) fail(`nodeParent[${i}] = ${p} does not precede the node`);
  }
  refs("nodeLoc", c.nodeLoc, 1, nLocs);

  const nSeries = c.seriesProfileType.length;
  if (c.seriesLabelStart.length !== nSeries + 1) fail("seriesLabelStart needs one entry per series plus one");
  offsets("seriesLabelStart", c.seriesLabelStart, c.seriesLabels.length);
  if (c.seriesLabelStart[nSeries] !== c.seriesLabels.length) fail("seriesLabels has rows no series owns");
  for (let i = 0; i <= nSeries; i++) if (c.seriesLabelStart[i] % 2 !== 0) fail("a series has an unpaired label");
  refs("seriesLabels", c.seriesLabels, 0, nStrings);
  refs("seriesProfileType", c.seriesProfileType, 0, nStrings);

  const nProfiles = c.profileSeries.length;
  sameLength("profile", nProfiles, [c.profileTime, c.profileDuration]);
  if (c.profileSampleStart.length !== nProfiles + 1) fail("profileSampleStart needs one entry per profile plus one");
  refs("profileSeries", c.profileSeries, 0, nSeries);

  const nSamples = c.sampleNode.length;
  sameLength("sample", nSamples, [c.sampleValue, c.sampleSpan, c.sampleTrace]);
  offsets("profileSampleStart", c.profileSampleStart, nSamples);
  if (c.profileSampleStart[nProfiles] !== nSamples) fail("samples exist that no profile owns");
  refs("sampleNode", c.sampleNode, 0, nNodes);
  refs("sampleSpan", c.sampleSpan, 0, nStrings);
  refs("sampleTrace", c.sampleTrace, 0, nStrings);
}
