// The service and profile type selects shared by Explore and Compare.

import { profileTypeLabel } from "../api/profile-type";

export function ServicePicker({
  services,
  value,
  onChange,
  testId = "service",
}: {
  services: readonly string[];
  value: string;
  onChange: (service: string) => void;
  testId?: string;
}) {
  // A service from the URL that the catalog does not know (yet) stays selectable rather than vanishing.
  const options = services.includes(value) || !value ? services : [value, ...services];
  return (
    <label class="field">
      <span class="field-label">Service</span>
      <select class="input" value={value} data-testid={testId} onChange={(e) => onChange(e.currentTarget.value)}>
        {options.map((s) => (
          <option key={s} value={s}>
            {s}
          </option>
        ))}
      </select>
    </label>
  );
}

export function ProfileTypePicker({
  types,
  value,
  onChange,
  testId = "profile-type",
}: {
  types: readonly string[];
  value: string;
  onChange: (type: string) => void;
  testId?: string;
}) {
  const options = types.includes(value) || !value ? types : [value, ...types];
  return (
    <label class="field">
      <span class="field-label">Profile type</span>
      <select class="input" value={value} data-testid={testId} onChange={(e) => onChange(e.currentTarget.value)} title={value}>
        {options.map((t) => (
          <option key={t} value={t} title={t}>
            {profileTypeLabel(t)}
          </option>
        ))}
      </select>
    </label>
  );
}
