import { exports } from "cloudflare:workers";
import { expect, it } from "vitest";
import { testdata } from "./setup/testdata";

it("serves /ready and reads the corpus", async () => {
  const res = await exports.default.fetch("http://x/ready");
  expect(await res.text()).toBe("ready");
  const bytes = await testdata("pprof/cpu.pb.gz");
  expect(bytes.length).toBe(1185);
});
