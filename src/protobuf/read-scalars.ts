// One reader per protobuf scalar type, reading a value at the cursor as protobuf-es's
// BinaryReader does: int32 and enums as the low 32 bits of a varint, 64-bit integers as
// bigint (or decimal strings for jstype = JS_STRING), floats with their IEEE bits,
// strings as TextDecoder decodes them (U+FFFD for invalid UTF-8, or a TypeError where the
// field validates UTF-8; a leading U+FEFF kept), `bytes` as views or copies (cursor.copy).

import { ScalarType } from "@bufbuild/protobuf";
import { cursor, prematureEof, readFixed32, readUint32, readVarint64, skipLength, takeBytes } from "./read-cursor.js";

/** Reads one value at the cursor. */
export type ScalarReader = () => unknown;

const int64View = new DataView(new ArrayBuffer(8));
const floatBytes = new Uint8Array(8);
const float32 = new Float32Array(floatBytes.buffer, 0, 1);
const float64 = new Float64Array(floatBytes.buffer, 0, 1);
const lenient = new TextDecoder("utf-8", { ignoreBOM: true });
const strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
/** Strings up to this many bytes are tried as ASCII by a loop first. */
const ASCII_LOOP_MAX = 32;

/** A signed 64-bit value from two halves. */
export function int64Of(lo: number, hi: number): bigint {
  if (hi === 0 ? lo >= 0 : hi === -1 && lo < 0) return BigInt(lo);
  int64View.setInt32(0, lo, true);
  int64View.setInt32(4, hi, true);
  return int64View.getBigInt64(0, true);
}

/** An unsigned 64-bit value from two halves. */
export function uint64Of(lo: number, hi: number): bigint {
  if (hi === 0) return BigInt(lo >>> 0);
  int64View.setInt32(0, lo, true);
  int64View.setInt32(4, hi, true);
  return int64View.getBigUint64(0, true);
}

export const readInt32: ScalarReader = () => readUint32() | 0;

function readFloatBits(n: 4 | 8): void {
  const p = cursor.pos;
  if (p + n > cursor.len) prematureEof();
  const buf = cursor.buf;
  for (let i = 0; i < n; i++) floatBytes[i] = buf[p + i];
  cursor.pos = p + n;
}

function readInt64(): bigint {
  readVarint64();
  return int64Of(cursor.lo, cursor.hi);
}

function readUint64(): bigint {
  readVarint64();
  return uint64Of(cursor.lo, cursor.hi);
}

function readSint64(): bigint {
  readVarint64();
  const lo = cursor.lo;
  const hi = cursor.hi;
  const sign = -(lo & 1);
  return int64Of(((lo >>> 1) | ((hi & 1) << 31)) ^ sign, (hi >>> 1) ^ sign);
}

function readFixed64(): bigint {
  const lo = readFixed32();
  return uint64Of(lo, readFixed32());
}

function readSfixed64(): bigint {
  const lo = readFixed32();
  return int64Of(lo, readFixed32());
}

function readBool(): boolean {
  const p = cursor.pos;
  if (p < cursor.len) {
    const b = cursor.buf[p];
    if (b < 0x80) {
      cursor.pos = p + 1;
      return b !== 0;
    }
  }
  readVarint64();
  return cursor.lo !== 0 || cursor.hi !== 0;
}

function readBytes(): Uint8Array {
  const start = skipLength();
  return takeBytes(start, cursor.pos);
}

function stringReader(validate: boolean): ScalarReader {
  const decoder = validate ? strict : lenient;
  return () => {
    const start = skipLength();
    const end = cursor.pos;
    const buf = cursor.buf;
    if (end - start <= ASCII_LOOP_MAX) {
      let text = "";
      for (let i = start; i < end; i++) {
        const b = buf[i];
        if (b >= 0x80) return decoder.decode(buf.subarray(start, end));
        text += String.fromCharCode(b);
      }
      return text;
    }
    return decoder.decode(buf.subarray(start, end));
  };
}

function asString(read: () => bigint): ScalarReader {
  return () => String(read());
}

/** The reader of a scalar type; `validate`: invalid UTF-8 throws; `longAsString`: 64-bit values as strings. */
export function scalarReader(type: ScalarType, validate: boolean, longAsString: boolean): ScalarReader | undefined {
  switch (type) {
    case ScalarType.DOUBLE:
      return () => {
        readFloatBits(8);
        return float64[0];
      };
    case ScalarType.FLOAT:
      return () => {
        readFloatBits(4);
        return float32[0];
      };
    case ScalarType.INT64:
      return longAsString ? asString(readInt64) : readInt64;
    case ScalarType.UINT64:
      return longAsString ? asString(readUint64) : readUint64;
    case ScalarType.INT32:
      return readInt32;
    case ScalarType.FIXED64:
      return longAsString ? asString(readFixed64) : readFixed64;
    case ScalarType.FIXED32:
      return () => readFixed32() >>> 0;
    case ScalarType.BOOL:
      return readBool;
    case ScalarType.STRING:
      return stringReader(validate);
    case ScalarType.BYTES:
      return readBytes;
    case ScalarType.UINT32:
      return readUint32;
    case ScalarType.SFIXED32:
      return readFixed32;
    case ScalarType.SFIXED64:
      return longAsString ? asString(readSfixed64) : readSfixed64;
    case ScalarType.SINT32:
      return () => {
        const n = readUint32();
        return (n >>> 1) ^ -(n & 1);
      };
    case ScalarType.SINT64:
      return longAsString ? asString(readSint64) : readSint64;
    default:
      return undefined;
  }
}
