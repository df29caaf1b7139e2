// Which response encodings a client accepts. Workers see every request as accepting "br, gzip"
// (Cloudflare's edge, and wrangler dev after it, compress answers for the client themselves); the
// client's own header is `request.cf.clientAcceptEncoding`. A body compressed by this code goes out
// as it is, so it may be compressed only for a client that asked: curl without --compressed, and
// scripts reading the bytes, get identity.

/**
 * The Accept-Encoding the client sent: behind the edge (a request with `cf`), `cf.clientAcceptEncoding`,
 * its absence meaning none (the header is the edge's then, and gzip for a client that cannot read it
 * breaks the client, while identity only costs bytes); without `cf` (a direct call), the header.
 */
export function clientAcceptEncoding(request: Request): string | null {
  const cf = request.cf as { clientAcceptEncoding?: unknown } | undefined;
  if (cf === undefined || cf === null) return request.headers.get("Accept-Encoding");
  return typeof cf.clientAcceptEncoding === "string" ? cf.clientAcceptEncoding : null;
}

/**
 * Whether an Accept-Encoding value (RFC 9110 §12.5.3) admits gzip: a `gzip` (or `x-gzip`) entry,
 * else a `*` entry, with a weight above zero. No header, an empty one or a malformed weight means
 * identity only: compressing is never required, so doubt falls on the side that always works.
 */
export function acceptsGzip(acceptEncoding: string | null): boolean {
  if (!acceptEncoding) return false;
  let gzip: number | undefined;
  let any: number | undefined;
  for (const entry of acceptEncoding.split(",")) {
    const [coding, ...params] = entry.split(";").map((s) => s.trim().toLowerCase());
    let q = 1;
    for (const p of params) {
      if (!p.startsWith("q=")) continue;
      const v = p.slice(2);
      q = /^(0(\.\d{0,3})?|1(\.0{0,3})?)$/.test(v) ? Number(v) : 0;
    }
    if (coding === "gzip" || coding === "x-gzip") gzip = Math.max(gzip ?? 0, q);
    else if (coding === "*") any = q;
  }
  return (gzip ?? any ?? 0) > 0;
}
