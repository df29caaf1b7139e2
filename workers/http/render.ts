// The legacy Pyroscope query API (spec API.md §5): /pyroscope/render, /render-diff,
// /label-values and /labels, as plain GET requests answered with flamebearer JSON (render also
// with DOT text or a pprof file). Used by Perses, older Grafana plugins and scripts; built on the
// same operations as querier.v1.

import { toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Config } from "../config";
import type { Env } from "../env";
import { parseTimeMs } from "../ingest/attime";
import * as api from "../query/api";
import { toFlameGraph, toFlameGraphDiff } from "../query/flamegraph";
import { resolveMaxNodes } from "../query/limits";
import { parseProfileTypeId, parseQuery, SelectorError } from "../query/selector";
import { toDot } from "../render/dot";
import { buildTimeline, calcPointIntervalSec, flamebearerMetadata, type FlamebearerProfile, type Timeline } from "../render/legacy";
import { ProfileSchema } from "../gen/google/v1/profile_pb";
import { errorResponse } from "./errors";
import { mergeProfile } from "./querier";

const HOUR_MS = 3_600_000;
const PROFILE_TYPE_LABEL = "__profile_type__";

/** Connect code → HTTP status (spec §4.4), for errors of the shared query operations. */
const STATUS_BY_CODE: Partial<Record<Code, number>> = {
  [Code.InvalidArgument]: 400,
  [Code.FailedPrecondition]: 400,
  [Code.OutOfRange]: 400,
  [Code.Unauthenticated]: 401,
  [Code.PermissionDenied]: 403,
  [Code.NotFound]: 404,
  [Code.ResourceExhausted]: 429,
  [Code.Unimplemented]: 501,
  [Code.Unavailable]: 503,
  [Code.DeadlineExceeded]: 504,
};

export async function handleLegacy(
  route: "render" | "render-diff" | "label-values" | "labels",
  req: Request,
  env: Env,
  config: Config,
  tenants: string[],
): Promise<Response> {
  const ctx: api.QueryContext = { env, config, tenants, nowMs: Date.now() };
  const params = new URL(req.url).searchParams;
  try {
    switch (route) {
      case "render":
        if (params.get("format") === "dot") return new Response(await renderDot(ctx, params), { headers: { "Content-Type": "text/plain; charset=utf-8" } });
        if (params.get("format") === "pprof") return await renderPprof(ctx, params);
        return Response.json(await render(ctx, params));
      case "render-diff":
        return Response.json(await renderDiff(ctx, params));
      case "label-values":
        return Response.json(await labelValues(ctx, params));
      case "labels": {
        const { start, end } = timeRange(params, "from", "until", ctx.nowMs);
        return Response.json(await api.labelNames(ctx, labelSelectors(params), start, end, false));
      }
    }
  } catch (err) {
    if (err instanceof ConnectError) return errorResponse(STATUS_BY_CODE[err.code] ?? 500, err.rawMessage);
    throw err;
  }
}

/** The furthest a JavaScript Date reaches either side of the epoch. */
const MAX_DATE_MS = 8.64e15;

function badRequest(message: string): ConnectError {
  return new ConnectError(message, Code.InvalidArgument);
}

/** `<profile type>{matchers}` → the profile type id and the selector text that follows it. */
function splitQuery(query: string | null, field: string): { profileTypeId: string; labelSelector: string } {
  if (!query) throw badRequest(`"${field}" is required`);
  try {
    const { profileType } = parseQuery(query, field);
    const brace = query.indexOf("{");
    return { profileTypeId: profileType.id, labelSelector: brace >= 0 ? query.slice(brace) : "{}" };
  } catch (err) {
    if (err instanceof SelectorError) throw badRequest(err.message);
    throw err;
  }
}

/**
 * `from` defaults to an hour ago (the OG UI's default) and `until` to now. Times past what a date
 * can hold (`now-1000000000000y`) are refused: the timeline is sized by the range.
 */
function timeRange(params: URLSearchParams, fromKey: string, untilKey: string, nowMs: number): { start: number; end: number } {
  const from = params.get(fromKey);
  const start = from ? parseTimeMs(from, nowMs) : nowMs - HOUR_MS;
  const end = parseTimeMs(params.get(untilKey), nowMs);
  for (const [key, ms] of [[fromKey, start], [untilKey, end]] as const) {
    if (!(Math.abs(ms) <= MAX_DATE_MS)) throw badRequest(`"${key}" is out of range: give a time between the years -271821 and 275760`);
  }
  return { start, end };
}

function maxNodesParam(params: URLSearchParams, config: Config, unset = config.MAX_FLAMEGRAPH_NODES_DEFAULT): number {
  const raw = params.get("maxNodes") ?? params.get("max-nodes");
  const n = raw === null ? 0 : Number.parseInt(raw, 10);
  return resolveMaxNodes(Number.isFinite(n) && n > 0 ? n : 0, config, unset);
}

/** `format=dot`: the call graph as Graphviz text; an empty body when nothing matched (spec §5.1). */
async function renderDot(ctx: api.QueryContext, params: URLSearchParams): Promise<string> {
  const { profileTypeId, labelSelector } = splitQuery(params.get("query"), "query");
  const maxNodes = maxNodesParam(params, ctx.config, ctx.config.DOT_NODES_DEFAULT);
  const { tree } = await api.mergeTree(ctx, { profileTypeId, labelSelector, ...timeRange(params, "from", "until", ctx.nowMs) });
  const type = parseProfileTypeId(profileTypeId);
  return toDot(tree, { maxNodes, unit: type.sampleUnit, title: type.id }) ?? "";
}

/**
 * `format=pprof` (an extension: Pyroscope's render has none): SelectMergeProfile's whole merged
 * profile as a gzipped pprof file, the form `go tool pprof` reads, for clients without a protobuf
 * encoder (a Connect JSON request gets the profile as JSON).
 */
async function renderPprof(ctx: api.QueryContext, params: URLSearchParams): Promise<Response> {
  const { profileTypeId, labelSelector } = splitQuery(params.get("query"), "query");
  const { start, end } = timeRange(params, "from", "until", ctx.nowMs);
  const profile = await mergeProfile(ctx, { profileTypeID: profileTypeId, labelSelector, start: BigInt(start), end: BigInt(end) }, 0);
  const gzipped = new Blob([toBinary(ProfileSchema, profile)]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Response(gzipped, {
    headers: { "Content-Type": "application/octet-stream", "Content-Disposition": 'attachment; filename="profile.pb.gz"' },
  });
}

async function render(ctx: api.QueryContext, params: URLSearchParams): Promise<FlamebearerProfile> {
  const { profileTypeId, labelSelector } = splitQuery(params.get("query"), "query");
  const { start, end } = timeRange(params, "from", "until", ctx.nowMs);
  const maxNodes = maxNodesParam(params, ctx.config);
  const groupBy = params.getAll("groupBy").filter((g) => g !== "");
  const stepSec = calcPointIntervalSec(start, end);
  const sel = { profileTypeId, labelSelector, start, end };
  const [{ tree }, { series }] = await Promise.all([
    api.mergeTree(ctx, sel),
    api.selectSeries(ctx, { ...sel, step: stepSec, groupBy, average: params.get("aggregation") === "avg", limit: 0, exemplars: false }),
  ]);
  const fg = toFlameGraph(tree, maxNodes);
  const timelineOf = (points: api.SeriesResult["points"]): Timeline => buildTimeline(points, start, end, stepSec);
  let groups: Record<string, Timeline> | null = null;
  if (groupBy.length > 0) {
    groups = {};
    for (const s of series) groups[s.labels.find(([n]) => n === groupBy[0])?.[1] ?? "*"] = timelineOf(s.points);
  }
  return {
    version: 1,
    flamebearer: { names: fg.names, levels: fg.levels, numTicks: fg.total, maxSelf: fg.maxSelf },
    metadata: flamebearerMetadata(profileTypeId, "single"),
    timeline: timelineOf(series.length === 1 ? series[0].points : []),
    groups,
    heatmap: null,
  };
}

async function renderDiff(ctx: api.QueryContext, params: URLSearchParams): Promise<FlamebearerProfile> {
  const left = splitQuery(params.get("leftQuery"), "leftQuery");
  const right = splitQuery(params.get("rightQuery"), "rightQuery");
  if (left.profileTypeId !== right.profileTypeId) throw badRequest("profile types must match");
  const maxNodes = maxNodesParam(params, ctx.config);
  const [l, r] = await Promise.all([
    api.mergeTree(ctx, { ...left, ...timeRange(params, "leftFrom", "leftUntil", ctx.nowMs) }),
    api.mergeTree(ctx, { ...right, ...timeRange(params, "rightFrom", "rightUntil", ctx.nowMs) }),
  ]);
  const d = toFlameGraphDiff(l.tree, r.tree, maxNodes);
  return {
    version: 1,
    flamebearer: { names: d.names, levels: d.levels, numTicks: d.total, maxSelf: d.maxSelf },
    metadata: flamebearerMetadata(left.profileTypeId, "double"),
    timeline: null,
    groups: null,
    heatmap: null,
    leftTicks: d.leftTicks,
    rightTicks: d.rightTicks,
  };
}

/**
 * `label=__name__` lists profile type ids; any other label its values. Both, like /labels, over
 * the series that match `query` and have profiles between `from` and `until` (OG Pyroscope's
 * parameters, read as render reads them: the last hour by default).
 */
async function labelValues(ctx: api.QueryContext, params: URLSearchParams): Promise<string[]> {
  const label = params.get("label");
  if (!label) throw badRequest("label parameter is required");
  const { start, end } = timeRange(params, "from", "until", ctx.nowMs);
  // A series' profile type id is its stored __profile_type__ label.
  return api.labelValues(ctx, label === "__name__" ? PROFILE_TYPE_LABEL : label, labelSelectors(params), start, end);
}

/**
 * `query` as label selectors: render's `<profile type>{matchers}`, narrowed to that type, or a bare
 * `{matchers}` over every type; absent or empty, every series.
 */
function labelSelectors(params: URLSearchParams): string[] {
  const query = params.get("query")?.trim();
  if (!query) return [];
  if (query.startsWith("{")) return [query];
  const { profileTypeId, labelSelector } = splitQuery(query, "query");
  return [`{${PROFILE_TYPE_LABEL}=${JSON.stringify(profileTypeId)}}`, labelSelector];
}
