// The dashboard build: a single-page app from web/ into web/dist, which the Worker serves as static
// assets (wrangler.toml [assets]) and which deploys unchanged to Pages.
import { defineConfig } from "vite";

export default defineConfig({
  base: "./",
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  build: { outDir: "dist", emptyOutDir: true, target: "es2022" },
});
