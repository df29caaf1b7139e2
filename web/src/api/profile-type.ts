// Profile type ids (`name:sampleType:sampleUnit:periodType:periodUnit`) carry everything the
// dashboard needs to label a type and format its values, so the catalog's ids suffice and no
// ProfileTypes call is needed just to learn a unit.

export interface ProfileType {
  id: string;
  name: string;
  sampleType: string;
  sampleUnit: string;
  periodType: string;
  periodUnit: string;
}

export function parseProfileType(id: string): ProfileType {
  const [name = id, sampleType = "", sampleUnit = "", periodType = "", periodUnit = ""] = id.split(":");
  return { id, name, sampleType, sampleUnit, periodType, periodUnit };
}

/** `process_cpu · cpu`, as Pyroscope's pickers show it. */
export function profileTypeLabel(id: string): string {
  const t = parseProfileType(id);
  return t.sampleType ? `${t.name} · ${t.sampleType}` : t.name;
}

/** The type to open first: CPU when the service has it (what people look at first), else the first. */
export function preferredProfileType(ids: readonly string[]): string | undefined {
  return ids.find((id) => parseProfileType(id).sampleType === "cpu") ?? ids.find((id) => id.startsWith("process_cpu:")) ?? ids[0];
}
