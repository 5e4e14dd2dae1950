// Unknown fields ($unknown) and with them extensions, which protobuf-es v2 keeps there:
// each written after the known fields as its tag and the raw bytes kept for it, in array
// order, as toBinary writes them (its writeUnknownFields option defaults to true).

import type { UnknownField } from "@bufbuild/protobuf";
import { tagOf } from "./values.js";
import { varint32Size, writeVarint32 } from "./varint.js";

/** Bytes of a message's unknown fields. */
export function unknownFieldsSize(fields: readonly UnknownField[]): number {
  let n = 0;
  for (let i = 0; i < fields.length; i++) {
    const field = fields[i];
    n += varint32Size(tagOf(field.no, field.wireType)) + field.data.length;
  }
  return n;
}

/** Writes a message's unknown fields; returns the end. */
export function writeUnknownFields(fields: readonly UnknownField[], target: Uint8Array, pos: number): number {
  for (let i = 0; i < fields.length; i++) {
    const field = fields[i];
    pos = writeVarint32(target, pos, tagOf(field.no, field.wireType));
    target.set(field.data, pos);
    pos += field.data.length;
  }
  return pos;
}
