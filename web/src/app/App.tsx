// The shell: header with navigation, refresh, theme and settings; the current view from the URL;
// and the token prompt when the API answers 401.

import { useEffect, useState } from "preact/hooks";
import { onUnauthorized } from "../api/client";
import { loadSettings } from "../api/settings";
import { RefreshContext } from "./data";
import { compareHref, currentSelection, exploreHref } from "./links";
import { href, type Route, useRoute, type View } from "./router";
import { SettingsDialog } from "./SettingsDialog";
import { ThemeContext, useThemeState } from "./theme";
import { CompareView } from "./views/CompareView";
import { ExploreView } from "./views/ExploreView";
import { ServicesView } from "./views/ServicesView";

export function App() {
  const route = useRoute();
  const [theme, toggleTheme] = useThemeState();
  const [refresh, setRefresh] = useState(0);
  const [dialog, setDialog] = useState<"closed" | "settings" | "unauthorized">("closed");

  useEffect(() => onUnauthorized(() => setDialog("unauthorized")), []);

  const { origin } = loadSettings();
  return (
    <ThemeContext.Provider value={theme}>
      <RefreshContext.Provider value={refresh}>
        <header class="topbar">
          <a class="brand" href={href("services")}>
            <span class="brand-mark" aria-hidden="true">▲</span> edge-pyroscope
          </a>
          <Nav route={route} />
          <span class="spacer" />
          {origin && (
            <span class="muted origin" title="API origin (Settings)">
              {origin}
            </span>
          )}
          <button type="button" class="btn icon" title="Refresh (re-evaluates relative times)" data-testid="refresh" onClick={() => setRefresh((n) => n + 1)}>
            ⟳
          </button>
          <button type="button" class="btn icon" title={`Switch to ${theme === "dark" ? "light" : "dark"} theme`} data-testid="theme-toggle" onClick={toggleTheme}>
            {theme === "dark" ? "☀" : "☾"}
          </button>
          <button type="button" class="btn icon" title="Settings: API origin, token, tenant" data-testid="settings-toggle" onClick={() => setDialog("settings")}>
            ⚙
          </button>
        </header>
        <main class="main">{view(route)}</main>
        {dialog !== "closed" && (
          <SettingsDialog
            unauthorized={dialog === "unauthorized"}
            onClose={() => setDialog("closed")}
            onSaved={() => {
              setDialog("closed");
              setRefresh((n) => n + 1);
            }}
          />
        )}
      </RefreshContext.Provider>
    </ThemeContext.Provider>
  );
}

function view(route: Route) {
  switch (route.view) {
    case "explore":
      return <ExploreView route={route} />;
    case "compare":
      return <CompareView route={route} />;
    case "services":
      return <ServicesView route={route} />;
  }
}

/**
 * Explore and Compare links carry the selection on screen, so switching views keeps context; the
 * current view's link keeps its whole state.
 */
function Nav({ route }: { route: Route }) {
  const sel = currentSelection(route);
  const links: [View, string, string][] = [
    ["services", "Services", href("services")],
    ["explore", "Explore", exploreHref(sel)],
    ["compare", "Compare", compareHref(sel)],
  ].map(([v, label, target]) => [v as View, label, v === route.view ? href(route.view, route.params) : target]);
  return (
    <nav class="nav">
      {links.map(([v, label, target]) => (
        <a key={v} href={target} class={route.view === v ? "active" : ""} aria-current={route.view === v ? "page" : undefined} data-testid={`nav-${v}`}>
          {label}
        </a>
      ))}
    </nav>
  );
}
