// The decoder's read position and its primitive reads, with protobuf-es BinaryReader's
// rules exactly: every read is bounded by the end of the whole input (not of the message
// being read, which protobuf-es does not check either), a read past it throws "premature
// EOF" (a RangeError), varints are at most 10 bytes, tags at most 32 bits with a field
// number above 0 and a wire type up to 5. One cursor for the process: decoding is
// synchronous and runs no code of the caller, so it is never reentered.

import { WIRE_END_GROUP, WIRE_FIXED32, WIRE_FIXED64, WIRE_LENGTH_DELIMITED, WIRE_START_GROUP, WIRE_VARINT } from "./scalars.js";

export { WIRE_END_GROUP, WIRE_LENGTH_DELIMITED } from "./scalars.js";

const EMPTY: Uint8Array = new Uint8Array(0);

/** Copies made of `bytes` values and unknown fields (the receive path's counters). */
export interface CopyCount {
  copies: number;
  copiedBytes: number;
}

/** The state of the one decode under way. */
export const cursor = {
  buf: EMPTY,
  pos: 0,
  /** The input's length: the bound of every read. */
  len: 0,
  /** Low and high 32 bits of the last 64-bit varint read. */
  lo: 0,
  hi: 0,
  /** Message nesting depth, and the limit it may not pass. */
  depth: 0,
  recursionLimit: 100,
  readUnknownFields: true,
  /** "copy": bytes and unknown fields are copies (counted in `counts`); else views of buf. */
  copy: false,
  counts: undefined as CopyCount | undefined,
};

/** Points the cursor at an input. */
export function startCursor(buf: Uint8Array, copy: boolean, counts: CopyCount | undefined, recursionLimit: number, readUnknownFields: boolean): void {
  cursor.buf = buf;
  cursor.pos = 0;
  cursor.len = buf.length;
  cursor.depth = 0;
  cursor.recursionLimit = recursionLimit;
  cursor.readUnknownFields = readUnknownFields;
  cursor.copy = copy;
  cursor.counts = counts;
}

/** Lets go of the input (the cursor would otherwise keep it alive). */
export function endCursor(): void {
  cursor.buf = EMPTY;
  cursor.counts = undefined;
}

export function prematureEof(): never {
  throw new RangeError("premature EOF");
}

/** An unsigned 32-bit varint (up to 10 bytes, the high bits dropped), as BinaryReader.uint32. */
export function readUint32(): number {
  const buf = cursor.buf;
  const len = cursor.len;
  let p = cursor.pos;
  if (p >= len) prematureEof();
  let b = buf[p++];
  if (b < 0x80) {
    cursor.pos = p;
    return b;
  }
  let result = b & 0x7f;
  for (let shift = 7; shift < 28; shift += 7) {
    if (p >= len) prematureEof();
    b = buf[p++];
    result |= (b & 0x7f) << shift;
    if (b < 0x80) {
      cursor.pos = p;
      return result;
    }
  }
  if (p >= len) prematureEof();
  b = buf[p++];
  result |= (b & 0x0f) << 28;
  for (let n = 5; (b & 0x80) !== 0 && n < 10; n++) {
    if (p >= len) prematureEof();
    b = buf[p++];
  }
  if ((b & 0x80) !== 0) throw new Error("invalid varint");
  cursor.pos = p;
  return result >>> 0;
}

/** A tag, checked as BinaryReader.tag checks it; returns it whole (field number << 3 | wire type). */
export function readTag(): number {
  const start = cursor.pos;
  const buf = cursor.buf;
  // One-byte tags (field numbers 1-15) need none of the checks but the field number's.
  if (start < cursor.len) {
    const b = buf[start];
    if (b < 0x80 && b >= 8 && (b & 7) <= 5) {
      cursor.pos = start + 1;
      return b;
    }
  }
  const tag = readUint32();
  const n = cursor.pos - start;
  if (n > 5 || (n === 5 && buf[cursor.pos - 1] > 0x0f)) throw new Error("illegal tag: varint overflows uint32");
  const fieldNo = tag >>> 3;
  const wireType = tag & 7;
  if (fieldNo <= 0 || wireType > 5) throw new Error(`illegal tag: field no ${fieldNo} wire type ${wireType}`);
  return tag;
}

/** A 64-bit varint into cursor.lo / cursor.hi, as BinaryReader's varint64. */
export function readVarint64(): void {
  const buf = cursor.buf;
  const len = cursor.len;
  let p = cursor.pos;
  let lo = 0;
  let hi = 0;
  let b = 0;
  for (let shift = 0; shift < 28; shift += 7) {
    if (p >= len) prematureEof();
    b = buf[p++];
    lo |= (b & 0x7f) << shift;
    if ((b & 0x80) === 0) return done64(p, lo, hi);
  }
  if (p >= len) prematureEof();
  b = buf[p++];
  lo |= (b & 0x0f) << 28;
  hi = (b & 0x70) >> 4;
  if ((b & 0x80) === 0) return done64(p, lo, hi);
  for (let shift = 3; shift <= 31; shift += 7) {
    if (p >= len) prematureEof();
    b = buf[p++];
    hi |= (b & 0x7f) << shift;
    if ((b & 0x80) === 0) return done64(p, lo, hi);
  }
  throw new Error("invalid varint");
}

function done64(p: number, lo: number, hi: number): void {
  cursor.pos = p;
  cursor.lo = lo;
  cursor.hi = hi;
}

/** Four bytes little-endian as int32; "premature EOF" past the end. */
export function readFixed32(): number {
  const p = cursor.pos;
  if (p + 4 > cursor.len) prematureEof();
  const buf = cursor.buf;
  cursor.pos = p + 4;
  return buf[p] | (buf[p + 1] << 8) | (buf[p + 2] << 16) | (buf[p + 3] << 24);
}

/** Starts a length-delimited range: its start, with the cursor moved past its end; "premature EOF" past the input. */
export function skipLength(): number {
  const n = readUint32();
  const start = cursor.pos;
  cursor.pos = start + n;
  if (cursor.pos > cursor.len) prematureEof();
  return start;
}

/**
 * Skips one value of a wire type (a group up to its end tag, which must carry `fieldNo`,
 * nested groups counted against `budget`); returns where it started. As BinaryReader.skip.
 */
export function skipValue(wireType: number, fieldNo: number, budget: number): number {
  const start = cursor.pos;
  switch (wireType) {
    case WIRE_VARINT: {
      const buf = cursor.buf;
      const len = cursor.len;
      let p = start;
      for (;;) {
        if (p >= len) prematureEof();
        if ((buf[p++] & 0x80) === 0) break;
      }
      cursor.pos = p;
      return start;
    }
    case WIRE_FIXED64:
      cursor.pos = start + 8;
      break;
    case WIRE_FIXED32:
      cursor.pos = start + 4;
      break;
    case WIRE_LENGTH_DELIMITED:
      skipLength();
      return start;
    case WIRE_START_GROUP:
      if (budget <= 0) throw new Error("maximum recursion depth reached");
      for (;;) {
        const tag = readTag();
        if ((tag & 7) === WIRE_END_GROUP) {
          if (tag >>> 3 !== fieldNo) throw new Error("invalid end group tag");
          break;
        }
        skipValue(tag & 7, tag >>> 3, budget - 1);
      }
      break;
    default:
      throw new Error(`cant skip wire type ${wireType}`);
  }
  if (cursor.pos > cursor.len) prematureEof();
  return start;
}

/** The bytes start..end of the input: a view ("alias") or a counted copy ("copy"). */
export function takeBytes(start: number, end: number): Uint8Array {
  const buf = cursor.buf;
  if (!cursor.copy) return buf.subarray(start, end);
  const counts = cursor.counts;
  if (counts !== undefined) {
    counts.copies++;
    counts.copiedBytes += end - start;
  }
  return buf.slice(start, end);
}
