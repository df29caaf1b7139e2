// FNV-1a over UTF-16 code units: stable across isolates and releases, cheap, and good enough to
// spread series over shards (the catalog keys series with SHA-256, where collisions would matter).

export function fnv1a32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}
