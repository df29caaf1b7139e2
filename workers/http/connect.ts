// Serves Connect RPCs (binary protobuf and JSON, unary) from fetch Requests with
// @connectrpc/connect's universal handlers. Per-request state (bindings, tenant) reaches the
// implementations through context values, so the routers are built once per isolate.

import {
  type ConnectRouter,
  createConnectRouter,
  createContextKey,
  createContextValues,
  type HandlerContext,
} from "@connectrpc/connect";
import type { Compression, UniversalHandler } from "@connectrpc/connect/protocol";
import { createFetchHandler } from "@connectrpc/connect/protocol";
import { Code, ConnectError } from "@connectrpc/connect";
import { gzipSync } from "fflate";
import type { Config } from "../config";
import type { Env } from "../env";
import { gunzipAsync, readBodyCapped } from "../ingest/gzip";
import { IngestError } from "../ingest/errors";
import { acceptsGzip, clientAcceptEncoding } from "./encoding";
import { errorResponse } from "./errors";

export interface RequestContext {
  env: Env;
  config: Config;
  /** One for writes; reads may name several (`X-Scope-OrgID: a|b`). */
  tenants: string[];
  request: Request;
}

const REQUEST_CONTEXT = createContextKey<RequestContext | null>(null);

export function requestContext(ctx: HandlerContext): RequestContext {
  const rc = ctx.values.get(REQUEST_CONTEXT);
  if (!rc) throw new ConnectError("request context missing", Code.Internal);
  return rc;
}

/** gzip for request bodies (pyroscope-rs gzips every Push) and, when the client accepts it, responses; a bounded inflate. */
const gzip: Compression = {
  name: "gzip",
  compress: async (bytes) => gzipSync(bytes, { level: 1 }) as Uint8Array<ArrayBuffer>,
  decompress: async (bytes, readMaxBytes) => {
    if (bytes.length === 0) return new Uint8Array(0);
    try {
      return (await gunzipAsync(bytes, readMaxBytes)) as Uint8Array<ArrayBuffer>;
    } catch (err) {
      if (err instanceof IngestError) {
        const code = err.reason === "profile_size_limit" ? Code.ResourceExhausted : Code.InvalidArgument;
        throw new ConnectError(`request body: ${err.message}`, code);
      }
      throw err;
    }
  },
};

export class ConnectService {
  private readonly handlers = new Map<string, UniversalHandler>();
  /** Requests `buffer` made, so that serving one does not read it again. */
  private readonly buffered = new WeakSet<Request>();

  constructor(
    register: (router: ConnectRouter) => void,
    private readonly readMaxBytes: number,
  ) {
    const router = createConnectRouter({
      connect: true,
      grpc: false,
      grpcWeb: false,
      acceptCompression: [gzip],
      readMaxBytes,
      requireConnectProtocolHeader: false,
      jsonOptions: { ignoreUnknownFields: true },
    });
    register(router);
    for (const h of router.handlers) this.handlers.set(h.requestPath, h);
  }

  /**
   * The procedure a URL path names, or undefined. Clients may put the API under a path prefix
   * (Grafana's datasource URL, pyroscope-rs and .NET append to theirs), so only the last two
   * segments, `/<package>.<Service>/<Method>`, count.
   */
  resolve(pathname: string): string | undefined {
    const cut = pathname.lastIndexOf("/", pathname.lastIndexOf("/") - 1);
    const path = cut >= 0 ? pathname.slice(cut) : pathname;
    return this.handlers.has(path) ? path : undefined;
  }

  /**
   * The request with its body read, within readMaxBytes, into memory, or the refusal of a body
   * that is too large or cut short (a client's failure: 400, not an internal error). Connect must
   * see a read body: it refuses some requests (an unsupported Content-Encoding) without reading
   * theirs, which then held up the next request on the keep-alive connection.
   */
  async buffer(request: Request): Promise<Request | Response> {
    if (this.buffered.has(request)) return request;
    let body: Uint8Array;
    try {
      body = await readBodyCapped(request, this.readMaxBytes);
    } catch (err) {
      // Connect's own readMaxBytes refusal is resource_exhausted (429).
      if (err instanceof IngestError) return errorResponse(err.kind === "too_large" ? 429 : 400, err.message);
      throw err;
    }
    const headers = new Headers(request.headers);
    headers.delete("content-length");
    headers.delete("transfer-encoding");
    // Connect picks the response's compression from Accept-Encoding, which the runtime reports as
    // "br, gzip" whatever the client sent: it gets the client's own choice instead.
    headers.set("Accept-Encoding", acceptsGzip(clientAcceptEncoding(request)) ? "gzip" : "identity");
    const hasBody = request.method !== "GET" && request.method !== "HEAD";
    const buffered = new Request(request.url, { method: request.method, headers, body: hasBody ? body : undefined });
    this.buffered.add(buffered);
    return buffered;
  }

  /** Serves one RPC; `path` must come from `resolve`. */
  async serve(path: string, request: Request, rc: RequestContext): Promise<Response> {
    const h = this.handlers.get(path)!;
    const buffered = await this.buffer(request);
    if (buffered instanceof Response) return buffered;
    const res = await createFetchHandler((ureq) =>
      h({ ...ureq, contextValues: createContextValues().set(REQUEST_CONTEXT, rc) }),
    )(buffered);
    if (res.status === 415) {
      // connect-go names the codecs it accepts (spec §4.1); connect-es leaves the header out.
      res.headers.set("Accept-Post", "application/json, application/proto");
      return res;
    }
    if (res.status === 500) return undecodableAsInvalid(res);
    if (res.headers.get("Content-Encoding") === "gzip") {
      // Connect has gzipped the body already; without "manual" the runtime, seeing the header,
      // would gzip it a second time.
      return new Response(res.body, { status: res.status, headers: res.headers, encodeBody: "manual" });
    }
    return res;
  }
}

/**
 * connect-es reports an undecodable binary request as `internal`; connect-go, which Pyroscope's
 * clients are written against, says `invalid_argument` (the client's fault, not to be retried).
 */
async function undecodableAsInvalid(res: Response): Promise<Response> {
  const text = await res.text();
  let err: { code?: string; message?: string } = {};
  try {
    err = JSON.parse(text) as typeof err;
  } catch {
    // not a Connect error body: pass it on unchanged
  }
  if (err.code === "internal" && err.message?.startsWith("parse binary:")) {
    return Response.json({ code: "invalid_argument", message: `request is not a valid protobuf message: ${err.message}` }, { status: 400 });
  }
  return new Response(text, res);
}
