// One codec per protobuf scalar type: the wire type, the size of a value and the writer
// of a value (no tag), with the checks toBinary makes (same values refused, same words),
// and the zero test of implicit presence exactly as toBinary tests it. Both passes check
// and convert a value the same way, so a value given as a string (accepted by toBinary
// for numeric fields) is written as it was measured.

import { ScalarType } from "@bufbuild/protobuf";
import { int64Halves, splitInt64, splitUint64 } from "./int64.js";
import { nextLength, lengths, reserveLength } from "./lengths.js";
import { messageChanged } from "./errors.js";
import { writeDouble, writeFixed32, writeFixed64, writeFloat } from "./fixed.js";
import { utf8Length, writeUtf8 } from "./utf8.js";
import { int32Size, varint32Size, varint64Size, writeInt32, writeVarint32, writeVarint64 } from "./varint.js";

/** Sizes and writes the values of one scalar type. */
export interface ScalarCodec {
  /** The wire type of a value outside packed lists. */
  readonly wireType: number;
  /** Bytes of the value (no tag); throws for a value toBinary refuses. */
  size(value: unknown): number;
  /** Writes the value (no tag) at target[pos]; returns the end. */
  write(value: unknown, target: Uint8Array, pos: number): number;
}

export const WIRE_VARINT = 0;
export const WIRE_FIXED64 = 1;
export const WIRE_LENGTH_DELIMITED = 2;
export const WIRE_START_GROUP = 3;
export const WIRE_END_GROUP = 4;
export const WIRE_FIXED32 = 5;

const INT32_MIN = -0x80000000;
const INT32_MAX = 0x7fffffff;
const UINT32_MAX = 0xffffffff;
const FLOAT32_MAX = 3.4028234663852886e38;
/** `bytes` values shorter than this are copied by a loop, longer ones by TypedArray.set. */
const BYTES_LOOP_MAX = 32;
const ZERO = BigInt(0);

/** An int32 value as a number; throws as toBinary does. */
export function int32Of(value: unknown): number {
  if (typeof value === "number" && (value | 0) === value) return value;
  const n = typeof value === "string" ? Number(value) : value;
  if (typeof n !== "number") throw new Error(`invalid int32: ${typeof value}`);
  if (!Number.isInteger(n) || n > INT32_MAX || n < INT32_MIN) throw new Error(`invalid int32: ${String(value)}`);
  return n;
}

/** A uint32 value as a number; throws as toBinary does. */
export function uint32Of(value: unknown): number {
  if (typeof value === "number" && value >>> 0 === value) return value;
  const n = typeof value === "string" ? Number(value) : value;
  if (typeof n !== "number") throw new Error(`invalid uint32: ${typeof value}`);
  if (!Number.isInteger(n) || n > UINT32_MAX || n < 0) throw new Error(`invalid uint32: ${String(value)}`);
  return n;
}

function floatOf(value: unknown): number {
  let n = value;
  if (typeof value === "string") {
    n = Number(value);
    if (Number.isNaN(n) && value !== "NaN") throw new Error(`invalid float32: ${value}`);
  } else if (typeof value !== "number") {
    throw new Error(`invalid float32: ${typeof value}`);
  }
  const f = n as number;
  if (Number.isFinite(f) && (f > FLOAT32_MAX || f < -FLOAT32_MAX)) throw new Error(`invalid float32: ${String(value)}`);
  return f;
}

/** A double as DataView.setFloat64 converts it (throws for a bigint, as it does). */
function doubleOf(value: unknown): number {
  return typeof value === "number" ? value : +(value as number);
}

function stringOf(value: unknown): string {
  return typeof value === "string" ? value : String(value);
}

function bytesOf(value: unknown): Uint8Array {
  if (value instanceof Uint8Array) return value;
  throw new Error(`invalid bytes: ${typeof value}`);
}

/** Zigzag of an int32 (as a uint32 number). */
function zigzag32(n: number): number {
  return ((n << 1) ^ (n >> 31)) >>> 0;
}

/** Zigzag of int64Halves, in place. */
function zigzag64Halves(): void {
  const lo = int64Halves[0];
  const hi = int64Halves[1];
  const sign = hi >> 31;
  int64Halves[0] = (lo << 1) ^ sign;
  int64Halves[1] = ((hi << 1) | (lo >>> 31)) ^ sign;
}

const double: ScalarCodec = {
  wireType: WIRE_FIXED64,
  size: (value) => (doubleOf(value), 8),
  write: (value, target, pos) => writeDouble(target, pos, doubleOf(value)),
};

const float: ScalarCodec = {
  wireType: WIRE_FIXED32,
  size: (value) => (floatOf(value), 4),
  write: (value, target, pos) => writeFloat(target, pos, floatOf(value)),
};

const int32: ScalarCodec = {
  wireType: WIRE_VARINT,
  size: (value) => int32Size(int32Of(value)),
  write: (value, target, pos) => writeInt32(target, pos, int32Of(value)),
};

const uint32: ScalarCodec = {
  wireType: WIRE_VARINT,
  size: (value) => varint32Size(uint32Of(value)),
  write: (value, target, pos) => writeVarint32(target, pos, uint32Of(value)),
};

const sint32: ScalarCodec = {
  wireType: WIRE_VARINT,
  size: (value) => varint32Size(zigzag32(int32Of(value))),
  write: (value, target, pos) => writeVarint32(target, pos, zigzag32(int32Of(value))),
};

const fixed32: ScalarCodec = {
  wireType: WIRE_FIXED32,
  size: (value) => (uint32Of(value), 4),
  write: (value, target, pos) => writeFixed32(target, pos, uint32Of(value)),
};

const sfixed32: ScalarCodec = {
  wireType: WIRE_FIXED32,
  size: (value) => (int32Of(value), 4),
  write: (value, target, pos) => writeFixed32(target, pos, int32Of(value)),
};

/** A 64-bit varint type: the value split (and zigzagged for sint64) in both passes. */
function varint64Codec(split: (value: unknown) => void, zigzag: boolean): ScalarCodec {
  const halves = (value: unknown) => {
    split(value);
    if (zigzag) zigzag64Halves();
  };
  return {
    wireType: WIRE_VARINT,
    size(value) {
      halves(value);
      return varint64Size(int64Halves[0], int64Halves[1]);
    },
    write(value, target, pos) {
      halves(value);
      return writeVarint64(target, pos, int64Halves[0], int64Halves[1]);
    },
  };
}

/** A 64-bit fixed type. */
function fixed64Codec(split: (value: unknown) => void): ScalarCodec {
  return {
    wireType: WIRE_FIXED64,
    size: (value) => (split(value), 8),
    write(value, target, pos) {
      split(value);
      return writeFixed64(target, pos, int64Halves[0], int64Halves[1]);
    },
  };
}

const int64 = varint64Codec(splitInt64, false);
const uint64 = varint64Codec(splitUint64, false);
const sint64 = varint64Codec(splitInt64, true);
const fixed64 = fixed64Codec(splitUint64);
const sfixed64 = fixed64Codec(splitInt64);

const bool: ScalarCodec = {
  wireType: WIRE_VARINT,
  size: () => 1,
  write(value, target, pos) {
    target[pos] = value ? 1 : 0;
    return pos + 1;
  },
};

/** Strings: the size pass keeps the UTF-8 length for the write pass. */
const string: ScalarCodec = {
  wireType: WIRE_LENGTH_DELIMITED,
  size(value) {
    const slot = reserveLength();
    const n = utf8Length(stringOf(value));
    lengths.slots[slot] = n;
    return varint32Size(n) + n;
  },
  write(value, target, pos) {
    const n = nextLength();
    const end = writeUtf8(target, writeVarint32(target, pos, n), stringOf(value), n);
    return end < 0 ? messageChanged() : end;
  },
};

const bytes: ScalarCodec = {
  wireType: WIRE_LENGTH_DELIMITED,
  size(value) {
    const n = bytesOf(value).length;
    return varint32Size(n) + n;
  },
  write(value, target, pos) {
    const data = bytesOf(value);
    const n = data.length;
    pos = writeVarint32(target, pos, n);
    if (n < BYTES_LOOP_MAX) {
      for (let i = 0; i < n; i++) target[pos + i] = data[i];
    } else {
      target.set(data, pos);
    }
    return pos + n;
  },
};

const codecs: Record<ScalarType, ScalarCodec> = {
  [ScalarType.DOUBLE]: double,
  [ScalarType.FLOAT]: float,
  [ScalarType.INT64]: int64,
  [ScalarType.UINT64]: uint64,
  [ScalarType.INT32]: int32,
  [ScalarType.FIXED64]: fixed64,
  [ScalarType.FIXED32]: fixed32,
  [ScalarType.BOOL]: bool,
  [ScalarType.STRING]: string,
  [ScalarType.BYTES]: bytes,
  [ScalarType.UINT32]: uint32,
  [ScalarType.SFIXED32]: sfixed32,
  [ScalarType.SFIXED64]: sfixed64,
  [ScalarType.SINT32]: sint32,
  [ScalarType.SINT64]: sint64,
};

/** The codec of a scalar type (enums are written as int32). */
export function scalarCodec(type: ScalarType): ScalarCodec | undefined {
  return codecs[type];
}

/** The codec enums use. */
export const enumCodec: ScalarCodec = int32;

/**
 * Whether a value of a field with implicit presence is written: not its zero value,
 * tested as toBinary tests it (Object.is for floats, so -0 is written; loose for
 * integers, so 0, 0n and "0" are all zero).
 */
export function implicitTest(type: ScalarType): (value: unknown) => boolean {
  switch (type) {
    case ScalarType.BOOL:
      return (value) => value !== false;
    case ScalarType.STRING:
      return (value) => value !== "";
    case ScalarType.BYTES:
      return (value) => !(value instanceof Uint8Array) || value.byteLength > 0;
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
      return (value) => !Object.is(value, 0);
    default:
      return (value) => (typeof value === "bigint" ? value !== ZERO : value != 0);
  }
}
