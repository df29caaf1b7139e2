// Facts from ../shared/testdata/MANIFEST.md, parsed rather than copied, so the tests follow the
// corpus: per pprof file its per-type totals, the profile type ids and /ingest settings it names.

import { testdataText } from "./testdata";

export interface PprofFacts {
  file: string;
  gz: boolean;
  /** `type/unit` → total, in the uploaded order. */
  totals: Map<string, number>;
  /** Profile type ids the MANIFEST says /ingest must produce (may be empty). */
  profileTypes: string[];
  /** The sample-type config the MANIFEST uploads with it, if any. */
  sampleTypeConfig?: string;
  spyName?: string;
  /** The bullet text for the file, for expectations not parsed here. */
  notes: string;
}

const TYPE_ID = /^[A-Za-z_]+:[A-Za-z_]+:[A-Za-z_]+:[A-Za-z_]*:[A-Za-z_]*$/;

export async function pprofFacts(): Promise<PprofFacts[]> {
  const md = await testdataText("MANIFEST.md");
  const section = md.slice(md.indexOf("## pprof (`pprof/`)"), md.indexOf("## JFR (`jfr/`)"));
  const facts: PprofFacts[] = [];
  for (const line of section.split("\n")) {
    const cells = line.split("|").map((c) => c.trim());
    if (cells.length < 8 || !cells[1].startsWith("`")) continue;
    const file = cells[1].replace(/`/g, "");
    const totals = new Map<string, number>();
    for (const t of cells[5].split(";")) {
      const m = /^\s*([^=]*?)\s*=\s*([\d_]+)\s*$/.exec(t);
      if (m) totals.set(m[1], Number(m[2].replace(/_/g, "")));
    }
    facts.push({ file, gz: cells[2] === "yes", totals, profileTypes: [], notes: "" });
  }
  for (const f of facts) {
    const start = section.indexOf(`* **\`${f.file}\`**`);
    if (start < 0) continue;
    const next = section.indexOf("\n* **", start + 1);
    const notes = section.slice(start, next < 0 ? undefined : next);
    f.notes = notes;
    const types = new Set<string>();
    for (const m of notes.matchAll(/`([^`]+)`/g)) if (TYPE_ID.test(m[1])) types.add(m[1]);
    f.profileTypes = [...types];
    f.sampleTypeConfig = /with (\S+?\.st\.json)/.exec(notes)?.[1];
    f.spyName = /spyName=`?([A-Za-z0-9_]+)`?/.exec(notes)?.[1];
  }
  return facts;
}

/** A pprof's total of one `type/unit`, e.g. ("cpu-exemplars.pb.gz", "cpu/nanoseconds"). */
export async function pprofTotal(file: string, typeUnit: string): Promise<number> {
  const total = (await pprofFacts()).find((f) => f.file === file)?.totals.get(typeUnit);
  if (total === undefined) throw new Error(`MANIFEST.md has no ${typeUnit} total for ${file}`);
  return total;
}

/** The MANIFEST's split of cpu-exemplars.pb.gz's cpu total by the label `function`. */
export async function cpuExemplarsSplit(): Promise<{ slow: number; fast: number; none: number }> {
  const md = await testdataText("MANIFEST.md");
  const m = /split by label `function` into slow ([\d_]+) \/ fast ([\d_]+) \/ none ([\d_]+)/.exec(md);
  if (!m) throw new Error("MANIFEST.md no longer states the function split of cpu-exemplars.pb.gz");
  const n = (s: string) => Number(s.replace(/_/g, ""));
  return { slow: n(m[1]), fast: n(m[2]), none: n(m[3]) };
}
