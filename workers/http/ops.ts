// Operational endpoints (spec API.md §8): build info, the Connect version and health services.
// None of them reveals tenant data, so none needs credentials.

import type { ConnectRouter } from "@connectrpc/connect";
import pkg from "../../package.json";
import { Health, HealthCheckResponse_ServingStatus } from "../gen/grpc/health/v1/health_pb";
import { Version } from "../gen/version/v1/version_pb";

/** The querier API generation Pyroscope reports (spec §3.16). */
const QUERIER_API = 1n;

export function buildInfo(): Response {
  return Response.json({
    status: "success",
    data: { version: pkg.version, revision: "", branch: "", buildUser: "", buildDate: "", goVersion: "" },
  });
}

export function registerOps(router: ConnectRouter): void {
  router.service(Version, { version: () => ({ QuerierAPI: QUERIER_API }) });
  router.service(Health, { check: () => ({ status: HealthCheckResponse_ServingStatus.SERVING }) });
}
