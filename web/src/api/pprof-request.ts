// SelectMergeProfileRequest in protobuf binary: the pprof download must be a real pprof file, and a
// Connect server answers in the codec of the request, so the request has to be binary too. Only
// five fields are needed, which does not justify a protobuf runtime in the dashboard bundle.
//
//   message SelectMergeProfileRequest {
//     string profile_typeID = 1; string label_selector = 2; int64 start = 3; int64 end = 4; ...
//     repeated string profile_id_selector = 7; ... }

const WIRE_VARINT = 0;
const WIRE_LEN = 2;

export interface MergeProfileRequest {
  profileTypeID: string;
  labelSelector: string;
  /** Unix ms. */
  start: number;
  /** Unix ms. */
  end: number;
  /** Only these profiles of the selection (exemplar ids); empty = all. */
  profileIds?: readonly string[];
}

export function encodeSelectMergeProfileRequest(req: MergeProfileRequest): Uint8Array<ArrayBuffer> {
  const out: number[] = [];
  writeString(out, 1, req.profileTypeID);
  writeString(out, 2, req.labelSelector);
  writeInt(out, 3, req.start);
  writeInt(out, 4, req.end);
  for (const id of req.profileIds ?? []) writeString(out, 7, id);
  return new Uint8Array(out);
}

function writeString(out: number[], field: number, value: string): void {
  if (value === "") return; // proto3 default: omitted on the wire
  const bytes = new TextEncoder().encode(value);
  writeVarint(out, (field << 3) | WIRE_LEN);
  writeVarint(out, bytes.length);
  for (const b of bytes) out.push(b);
}

function writeInt(out: number[], field: number, value: number): void {
  if (value === 0) return;
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`cannot encode ${value} as a timestamp`);
  writeVarint(out, (field << 3) | WIRE_VARINT);
  writeVarint(out, value);
}

/** Base-128 varint of a non-negative safe integer; arithmetic, not bit operators, which stop at 32 bits. */
function writeVarint(out: number[], value: number): void {
  let v = value;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
}
