// Lowercase hex of bytes: ids, fingerprints and the bytes of refused strings in messages.

export function toHex(b: Uint8Array): string {
  let out = "";
  for (let i = 0; i < b.length; i++) out += b[i].toString(16).padStart(2, "0");
  return out;
}
