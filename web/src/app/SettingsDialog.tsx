// Where the API is and how to reach it: origin (for a dashboard deployed apart from its Worker),
// token (AUTH_MODE=required) and tenant (X-Scope-OrgID, open mode). Also shown, token first, when
// the API answers 401.

import { useState } from "preact/hooks";
import { type ApiSettings, loadSettings, normalizeOrigin, saveSettings } from "../api/settings";

export interface SettingsDialogProps {
  /** Opened because the API refused the credentials: lead with the token. */
  unauthorized: boolean;
  onClose: () => void;
  onSaved: () => void;
}

export function SettingsDialog({ unauthorized, onClose, onSaved }: SettingsDialogProps) {
  const [form, setForm] = useState<ApiSettings>(loadSettings);
  const [error, setError] = useState("");
  const field = (key: keyof ApiSettings) => ({
    value: form[key],
    onInput: (e: { currentTarget: HTMLInputElement }) => setForm({ ...form, [key]: e.currentTarget.value }),
  });

  const save = (e: Event) => {
    e.preventDefault();
    try {
      normalizeOrigin(form.origin);
    } catch (err) {
      setError((err as Error).message);
      return;
    }
    saveSettings(form);
    onSaved();
  };

  return (
    <div class="modal-backdrop" onMouseDown={(e) => e.target === e.currentTarget && onClose()}>
      <form class="modal" role="dialog" aria-modal="true" aria-labelledby="settings-title" data-testid={unauthorized ? "token-form" : "settings"} onSubmit={save}>
        <h2 id="settings-title">{unauthorized ? "Sign in" : "Settings"}</h2>
        {unauthorized && (
          <p class="muted">
            The API requires a token (<code>AUTH_MODE=required</code>). Paste a token with the <code>read</code> scope; it is kept in
            this browser's local storage.
          </p>
        )}
        <label class="field block">
          <span class="field-label">Token</span>
          <input class="input" type="password" autocomplete="off" data-testid="token-input" autoFocus={unauthorized} {...field("token")} />
        </label>
        <label class="field block">
          <span class="field-label">Tenant (X-Scope-OrgID, open mode only)</span>
          <input class="input" placeholder="anonymous" data-testid="tenant-input" {...field("tenant")} />
        </label>
        <label class="field block">
          <span class="field-label">API origin (empty = this site; or open the dashboard with ?api=https://…)</span>
          <input class="input" placeholder={window.location.origin} data-testid="api-origin-input" {...field("origin")} />
        </label>
        {error && <div class="error-text">{error}</div>}
        <div class="modal-actions">
          <button type="button" class="btn" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" class="btn btn-primary" data-testid="settings-save">
            Save
          </button>
        </div>
      </form>
    </div>
  );
}
