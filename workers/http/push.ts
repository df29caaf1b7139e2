// push.v1.PusherService/Push over Connect (spec API.md §2): what Alloy, pyroscope-rs (Python, Ruby,
// Rust) and .NET send. Every sample of every series is decoded and validated before anything is
// stored, so a refused request leaves storage unchanged.

import type { ConnectRouter } from "@connectrpc/connect";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Labels } from "../block/builder";
import { PusherService } from "../gen/push/v1/push_pb";
import { BODY_SIZE_LIMIT, decodeStage, invalid } from "../ingest/errors";
import { humanBytes, maybeGunzipAsync } from "../ingest/gzip";
import { labelValue } from "../ingest/labels";
import { decodePprof, normalizePprof } from "../ingest/pprof";
import { Dispatch } from "../route/dispatch";
import { requestContext } from "./connect";
import { countRefusal, toConnectError } from "./errors";
import { labelBytes, sdkOf } from "./meta";
import { PhaseTimer } from "./timing";

export function registerPush(router: ConnectRouter): void {
  router.service(PusherService, {
    async push(req, ctx) {
      const { env, config, tenants, request } = requestContext(ctx);
      const tenant = tenants[0];
      // Uncompressed bytes decoded so far: what a refusal counts as discarded.
      let bytes = 0;
      try {
        if (req.series.length === 0 || req.series.every((s) => s.samples.length === 0)) {
          throw new ConnectError("no profiles received", Code.InvalidArgument);
        }
        const nowMs = Date.now();
        const timer = new PhaseTimer();
        const dispatch = new Dispatch(env, config, tenant);
        let spyName = "";
        let sdk = "";
        await decodeStage("push", async () => {
          for (const series of req.series) {
            const labels: Labels = series.labels.map((l) => [l.name, l.value]);
            spyName ||= labelValue(labels, "pyroscope_spy") || labelValue(labels, "spy_name");
            sdk ||= sdkOf(labels, request.headers);
            for (const sample of series.samples) {
              const raw = await maybeGunzipAsync(sample.rawProfile, config.MAX_PROFILE_SIZE_BYTES);
              bytes += raw.length + labelBytes(labels);
              if (config.INGESTION_BODY_LIMIT_BYTES > 0 && bytes > config.INGESTION_BODY_LIMIT_BYTES) {
                throw invalid(
                  BODY_SIZE_LIMIT,
                  `uncompressed batched profile payload size exceeds limit of ${humanBytes(config.INGESTION_BODY_LIMIT_BYTES)}`,
                );
              }
              normalizePprof(decodePprof(raw), { mode: "push", seriesLabels: labels, nowMs, config }, dispatch.sink);
            }
          }
        });
        timer.end("decode");
        await dispatch.send({ receivedAtMs: nowMs, bytes, spyName, sdk });
        timer.end("store");
        ctx.responseHeader.set("Server-Timing", timer.header());
        return {};
      } catch (err) {
        countRefusal(tenant, err, bytes);
        throw toConnectError(err);
      }
    },
  });
}
