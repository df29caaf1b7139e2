// Reads files of the shared corpus (../shared/testdata) through the TESTDATA service binding.
import { env } from "cloudflare:workers";
import { gunzipSync } from "fflate";
import { isGzip } from "../../workers/ingest/gzip";

export async function testdata(rel: string): Promise<Uint8Array> {
  const res = await env.TESTDATA.fetch(`http://testdata/${rel}`);
  if (!res.ok) throw new Error(`testdata ${rel}: ${res.status} ${await res.text()}`);
  return new Uint8Array(await res.arrayBuffer());
}

export async function testdataText(rel: string): Promise<string> {
  return new TextDecoder().decode(await testdata(rel));
}

export async function testdataList(dir: string): Promise<string[]> {
  const res = await env.TESTDATA.fetch(`http://testdata/${dir}`);
  if (!res.ok) throw new Error(`testdata ${dir}: ${res.status}`);
  return (await res.json()) as string[];
}

/**
 * Bytes as a pprof decoder wants them: gunzipped when the magic bytes say gzip (file names do not).
 * Uses fflate directly, so tests check the product's own inflate against an independent one.
 */
export function plain(bytes: Uint8Array): Uint8Array {
  return isGzip(bytes) ? gunzipSync(bytes) : bytes;
}

/** A corpus file, gunzipped when it is gzip. */
export async function testdataPlain(rel: string): Promise<Uint8Array> {
  return plain(await testdata(rel));
}
