import type { Env as AppEnv } from "../workers/env";

declare global {
  namespace Cloudflare {
    interface GlobalProps {
      mainModule: typeof import("../workers/index");
    }
    interface Env extends AppEnv {
      TEST_MIGRATIONS: import("cloudflare:test").D1Migration[];
      TESTDATA: Fetcher;
      JDK_JFR: Fetcher;
    }
  }
}
