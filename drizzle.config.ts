import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "sqlite",
  schema: "./workers/catalog/schema.ts",
  out: "./migrations",
});
