// Light and dark themes: the choice is `data-theme` on <html> (styles.css keys its variables off
// it), remembered in localStorage, and defaults to the system preference.

import { createContext } from "preact";
import { useContext, useState } from "preact/hooks";

export type Theme = "light" | "dark";

const KEY = "edge-pyroscope.theme";

export function initialTheme(): Theme {
  let saved: string | null = null;
  try {
    saved = window.localStorage.getItem(KEY);
  } catch {
    // storage disabled: fall back to the system preference
  }
  if (saved === "light" || saved === "dark") return saved;
  return window.matchMedia?.("(prefers-color-scheme: dark)").matches ? "dark" : "light";
}

export function applyTheme(theme: Theme): void {
  document.documentElement.dataset.theme = theme;
}

export function useThemeState(): [Theme, () => void] {
  const [theme, setTheme] = useState<Theme>(() => (document.documentElement.dataset.theme as Theme | undefined) ?? initialTheme());
  const toggle = () => {
    const next = theme === "dark" ? "light" : "dark";
    // Before the re-render, not in an effect: charts read the CSS variables in their own effects,
    // which run before the shell's.
    applyTheme(next);
    try {
      window.localStorage.setItem(KEY, next);
    } catch {
      // storage disabled: the theme lasts for this page only
    }
    setTheme(next);
  };
  return [theme, toggle];
}

/** Components drawing on canvas (flame graph, chart) need the theme as a value, not just CSS. */
export const ThemeContext = createContext<Theme>("light");

export function useTheme(): Theme {
  return useContext(ThemeContext);
}
