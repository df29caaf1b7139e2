// querier.v1.QuerierService over Connect (spec API.md §3): maps protobuf requests to the query
// operations in query/api.ts and their results back to protobuf messages.

import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type ConnectRouter, type HandlerContext } from "@connectrpc/connect";
import {
  type FlameGraph,
  FlameGraphDiffSchema,
  FlameGraphSchema,
  HeatmapQueryType,
  ProfileFormat,
  QuerierService,
  type SelectMergeStacktracesRequest,
} from "../gen/querier/v1/querier_pb";
import { TimeSeriesAggregationType, ExemplarType, type StackTraceSelector } from "../gen/types/v1/types_pb";
import * as api from "../query/api";
import { toFlameGraph, toFlameGraphDiff, toTreeBytes, type FlameGraphData } from "../query/flamegraph";
import { resolveMaxNodes } from "../query/limits";
import { toPprof } from "../query/pprof-out";
import type { Exemplar, ReadStats } from "../query/spec";
import type { FrameTree } from "../query/tree";
import { focusCallSite } from "../query/focus";
import { parseProfileTypeId } from "../query/selector";
import { toDot } from "../render/dot";
import { requestContext } from "./connect";

function queryContext(ctx: HandlerContext): api.QueryContext {
  const { env, config, tenants } = requestContext(ctx);
  return { env, config, tenants, nowMs: Date.now() };
}

/** Clients opt into UTF-8 label names with an `Accept` capability (spec §3.2). */
function utf8Names(ctx: HandlerContext): boolean {
  return (ctx.requestHeader.get("Accept") ?? "").includes("allow-utf8-labelnames=true");
}

function flameGraphMessage(fg: FlameGraphData): FlameGraph {
  return create(FlameGraphSchema, {
    names: fg.names,
    levels: fg.levels.map((values) => ({ values: values.map((v) => BigInt(v)) })),
    total: BigInt(fg.total),
    maxSelf: BigInt(fg.maxSelf),
  });
}

/** What a query read, for operators and `npm run bench` (blocks, bytes, invocations, peak memory). */
function reportStats(ctx: HandlerContext, stats: ReadStats): void {
  ctx.responseHeader.set("X-Query-Stats", JSON.stringify(stats));
}

interface BucketedRequest {
  profileTypeID: string;
  labelSelector: string;
  start: bigint;
  end: bigint;
  step: number;
  groupBy: string[];
  limit?: bigint;
  exemplarType: ExemplarType;
}

/** SelectSeries and SelectHeatmap requests as the query operations take them. */
function bucketedQuery(req: BucketedRequest): api.BucketedQuery {
  if (req.exemplarType === ExemplarType.SPAN) {
    throw new ConnectError("exemplar type EXEMPLAR_TYPE_SPAN is not supported", Code.Unimplemented);
  }
  return {
    profileTypeId: req.profileTypeID,
    labelSelector: req.labelSelector,
    start: Number(req.start),
    end: Number(req.end),
    step: req.step,
    groupBy: req.groupBy,
    limit: req.limit ? Number(req.limit) : 0,
    exemplars: req.exemplarType === ExemplarType.INDIVIDUAL,
  };
}

function exemplarMessage(e: Exemplar) {
  return {
    timestamp: BigInt(e.timeMs),
    profileId: e.profileId,
    value: BigInt(Math.round(e.value)),
    labels: e.labels.map(([name, value]) => ({ name, value })),
  };
}

interface MergeRequest {
  profileTypeID: string;
  labelSelector: string;
  start: bigint;
  end: bigint;
  spanSelector?: string[];
  traceIdSelector?: string[];
  profileIdSelector?: string[];
  stackTraceSelector?: StackTraceSelector;
}

function selectionOf(r: MergeRequest): api.Selection {
  return {
    profileTypeId: r.profileTypeID,
    labelSelector: r.labelSelector,
    start: Number(r.start),
    end: Number(r.end),
    spans: r.spanSelector,
    traces: r.traceIdSelector,
    profileIds: r.profileIdSelector,
  };
}

async function mergedTree(q: api.QueryContext, r: MergeRequest, ctx: HandlerContext): Promise<FrameTree> {
  const { tree, stats } = await api.mergeTree(q, selectionOf(r));
  reportStats(ctx, stats);
  const callSite = r.stackTraceSelector?.goPgo ? [] : (r.stackTraceSelector?.callSite ?? []).map((l) => l.name);
  return callSite.length > 0 ? focusCallSite(tree, callSite) : tree;
}

/**
 * Blocks keep no period, so the merged pprof gets the one Pyroscope's query path derives from the
 * profile name: CPU profiles are in nanoseconds (1e9 per second), Go heap samples every 512 KiB.
 */
function periodOf(name: string): bigint {
  if (name === "process_cpu") return 1_000_000_000n;
  if (name === "memory") return 524_288n;
  return 1n;
}

/** The merged selection as a pprof message (SelectMergeProfile, PROFILE_FORMAT_PPROF, render?format=pprof). */
export async function mergeProfile(q: api.QueryContext, r: MergeRequest, maxNodes: number) {
  const { profile, type, range } = await api.mergeProfile(q, selectionOf(r));
  const endMs = range?.endMs ?? Number(r.end);
  const startMs = range?.startMs ?? Number(r.start);
  return toPprof(profile, {
    sampleType: type.sampleType,
    sampleUnit: type.sampleUnit,
    periodType: type.periodType,
    periodUnit: type.periodUnit,
    period: periodOf(type.name),
    timeNanos: BigInt(Math.max(0, endMs)) * 1_000_000n,
    durationNanos: BigInt(Math.max(0, endMs - startMs)) * 1_000_000n,
    maxNodes,
  });
}

async function selectMergeStacktraces(q: api.QueryContext, r: SelectMergeStacktracesRequest, ctx: HandlerContext) {
  if (r.format === ProfileFormat.PPROF) {
    return { pprof: { profile: await mergeProfile(q, r, r.maxNodes ? Number(r.maxNodes) : 0) } };
  }
  if (r.format === ProfileFormat.DOT) {
    const maxNodes = resolveMaxNodes(r.maxNodes, q.config, q.config.DOT_NODES_DEFAULT);
    const tree = await mergedTree(q, r, ctx);
    const type = parseProfileTypeId(r.profileTypeID);
    return { dot: toDot(tree, { maxNodes, unit: type.sampleUnit, title: type.id }) ?? undefined };
  }
  const maxNodes = resolveMaxNodes(r.maxNodes, q.config);
  const tree = await mergedTree(q, r, ctx);
  if (r.format === ProfileFormat.TREE) return { tree: toTreeBytes(tree, maxNodes) };
  return { flamegraph: flameGraphMessage(toFlameGraph(tree, maxNodes)) };
}

export function registerQuerier(router: ConnectRouter): void {
  router.service(QuerierService, {
    async profileTypes(req, ctx) {
      const types = await api.profileTypes(queryContext(ctx), Number(req.start), Number(req.end));
      return {
        profileTypes: types.map((t) => ({
          ID: t.id,
          name: t.name,
          sampleType: t.sampleType,
          sampleUnit: t.sampleUnit,
          periodType: t.periodType,
          periodUnit: t.periodUnit,
        })),
      };
    },

    async labelNames(req, ctx) {
      return { names: await api.labelNames(queryContext(ctx), req.matchers, Number(req.start), Number(req.end), utf8Names(ctx)) };
    },

    async labelValues(req, ctx) {
      return { names: await api.labelValues(queryContext(ctx), req.name, req.matchers, Number(req.start), Number(req.end)) };
    },

    async series(req, ctx) {
      const sets = await api.seriesLabels(queryContext(ctx), req.matchers, req.labelNames, Number(req.start), Number(req.end), utf8Names(ctx));
      return { labelsSet: sets.map((labels) => ({ labels: labels.map(([name, value]) => ({ name, value })) })) };
    },

    async selectMergeStacktraces(req, ctx) {
      return selectMergeStacktraces(queryContext(ctx), req, ctx);
    },

    async selectMergeSpanProfile(req, ctx) {
      const q = queryContext(ctx);
      const maxNodes = resolveMaxNodes(req.maxNodes, q.config);
      const tree = await mergedTree(q, req, ctx);
      if (req.format === ProfileFormat.TREE) return { tree: toTreeBytes(tree, maxNodes) };
      return { flamegraph: flameGraphMessage(toFlameGraph(tree, maxNodes)) };
    },

    async selectMergeProfile(req, ctx) {
      // Not defaulted nor capped here (spec §3.7): unset or 0 means the whole profile.
      const maxNodes = req.maxNodes ? Number(req.maxNodes) : 0;
      if (maxNodes < 0) throw new ConnectError("max_nodes must not be negative", Code.InvalidArgument);
      return mergeProfile(queryContext(ctx), req, maxNodes);
    },

    async selectSeries(req, ctx) {
      const { series, stats } = await api.selectSeries(queryContext(ctx), {
        ...bucketedQuery(req),
        average: req.aggregation === TimeSeriesAggregationType.AVERAGE,
      });
      reportStats(ctx, stats);
      return {
        series: series.map((s) => ({
          labels: s.labels.map(([name, value]) => ({ name, value })),
          points: s.points.map((p) => ({
            value: p.value,
            timestamp: BigInt(p.timestamp),
            exemplars: p.exemplar ? [exemplarMessage(p.exemplar)] : [],
          })),
        })),
      };
    },

    async selectHeatmap(req, ctx) {
      // UNSPECIFIED is the proto3 default of clients that leave the field out: one point per profile.
      if (req.queryType === HeatmapQueryType.SPAN) {
        throw new ConnectError("heatmap query type HEATMAP_QUERY_TYPE_SPAN is not supported; use HEATMAP_QUERY_TYPE_INDIVIDUAL", Code.Unimplemented);
      }
      const { yMin, series, stats } = await api.selectHeatmap(queryContext(ctx), bucketedQuery(req));
      reportStats(ctx, stats);
      return {
        series: series.map((s) => ({
          labels: s.labels.map(([name, value]) => ({ name, value })),
          slots: s.slots.map((slot) => ({
            timestamp: BigInt(slot.timestamp),
            yMin,
            counts: slot.counts,
            exemplars: (slot.exemplars ?? []).map(exemplarMessage),
          })),
        })),
      };
    },

    async diff(req, ctx) {
      const q = queryContext(ctx);
      const left = req.left;
      const right = req.right;
      if (!left || !right) throw new ConnectError("left and right are required", Code.InvalidArgument);
      const max = (a?: bigint, b?: bigint) => ((a ?? 0n) > (b ?? 0n) ? a : b);
      const maxNodes = resolveMaxNodes(max(left.maxNodes, right.maxNodes), q.config);
      const [l, r] = await Promise.all([mergedTree(q, left, ctx), mergedTree(q, right, ctx)]);
      const d = toFlameGraphDiff(l, r, maxNodes);
      return {
        flamegraph: create(FlameGraphDiffSchema, {
          names: d.names,
          levels: d.levels.map((values) => ({ values: values.map((v) => BigInt(v)) })),
          total: BigInt(d.total),
          maxSelf: BigInt(d.maxSelf),
          leftTicks: BigInt(d.leftTicks),
          rightTicks: BigInt(d.rightTicks),
        }),
      };
    },

    async getProfileStats(_req, ctx) {
      const stats = await api.profileStats(queryContext(ctx));
      if (!stats) return { dataIngested: false, oldestProfileTime: 9223372036854775807n, newestProfileTime: -9223372036854775808n };
      return { dataIngested: true, oldestProfileTime: BigInt(stats.oldest), newestProfileTime: BigInt(stats.newest) };
    },

    async analyzeQuery(req, ctx) {
      const a = await api.analyze(queryContext(ctx), req.query, Number(req.start), Number(req.end));
      return {
        queryScopes: [
          {
            componentType: "Ingesters (not yet flushed)",
            componentCount: BigInt(a.ingesters),
          },
          {
            componentType: "Object storage (R2 blocks)",
            componentCount: 1n,
            blockCount: BigInt(a.blocks),
            seriesCount: BigInt(a.series),
            profileCount: BigInt(a.profiles),
            sampleCount: BigInt(a.samples),
            profileBytes: BigInt(a.blockBytes),
          },
        ],
        queryImpact: { totalBytesInTimeRange: BigInt(a.blockBytes), totalQueriedSeries: BigInt(a.series) },
      };
    },
  });
}
