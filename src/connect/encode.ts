// The message encoder: protobuf-es `toBinary`, except that large `bytes` fields at the
// top level of a message are not copied into the encoder's buffer. They go to the frame
// as pieces of the payload (frame/payload.ts), and the frame writer copies each byte
// once, from where the application keeps it straight into the send lease.
//
// Why: toBinary grows a buffer by doubling and then slices the result, so a 64 KiB
// field cost 192 KiB of fresh, zeroed JS-heap memory and three copies per message; at
// tens of thousands of messages per second that garbage drove major GCs.
//
// The payload is still one valid protobuf message: the spliced fields are left out of
// the toBinary part and follow it as `tag, length, bytes`. Parsers accept fields in any
// order, and for a singular field the last occurrence wins. Only singular top-level
// `bytes` fields outside oneofs are spliced; everything else is toBinary's.

import { ScalarType, toBinary } from "@bufbuild/protobuf";
import type { BinaryWriteOptions, DescField, DescMessage, MessageShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { PayloadParts } from "../frame/payload.js";
import type { Payload } from "../frame/payload.js";

/** `bytes` values at least this long are spliced rather than copied by toBinary. */
export const SPLICE_MIN_BYTES = 1024;

// google.protobuf.FeatureSet.FieldPresence
const IMPLICIT = 2;
const LEGACY_REQUIRED = 3;
const WIRE_TYPE_LENGTH_DELIMITED = 2;
const EMPTY = new Uint8Array(0);

/** Encodes a message for a frame; the frame writer copies it into a lease once. */
export function encodeMessage<D extends DescMessage>(
  schema: D,
  message: MessageShape<D>,
  options?: Partial<BinaryWriteOptions>,
): Payload {
  try {
    const fields = spliceableFieldsOf(schema);
    return fields.length === 0 ? toBinary(schema, message, options) : encodeSpliced(schema, message, fields, options);
  } catch (e) {
    throw new ConnectError(`serialize binary: ${e instanceof Error ? e.message : String(e)}`, Code.Internal);
  }
}

function encodeSpliced<D extends DescMessage>(
  schema: D,
  message: MessageShape<D>,
  fields: readonly DescField[],
  options: Partial<BinaryWriteOptions> | undefined,
): Payload {
  let rest: Record<string, unknown> | undefined;
  let tail: Uint8Array[] | undefined;
  const source = message as Record<string, unknown>;
  for (const field of fields) {
    const value = source[field.localName];
    if (!(value instanceof Uint8Array) || value.byteLength < SPLICE_MIN_BYTES) continue;
    if (field.presence !== IMPLICIT && !Object.prototype.hasOwnProperty.call(source, field.localName)) continue;
    // A shallow copy keeps the prototype (proto2 defaults live there); the caller's
    // message is never changed.
    rest ??= Object.assign(Object.create(Object.getPrototypeOf(source) as object) as Record<string, unknown>, source);
    if (field.presence === IMPLICIT || field.presence === LEGACY_REQUIRED) rest[field.localName] = EMPTY;
    else delete rest[field.localName];
    (tail ??= []).push(lengthDelimitedKey(field.number, value.byteLength), value);
  }
  if (rest === undefined || tail === undefined) return toBinary(schema, message, options);
  return new PayloadParts([toBinary(schema, rest as MessageShape<D>, options), ...tail]);
}

/** The varint tag (field number, wire type 2) and the varint length of a field. */
function lengthDelimitedKey(fieldNumber: number, length: number): Uint8Array {
  const out = new Uint8Array(10);
  let at = writeVarint(out, 0, fieldNumber * 8 + WIRE_TYPE_LENGTH_DELIMITED);
  at = writeVarint(out, at, length);
  return out.subarray(0, at);
}

function writeVarint(out: Uint8Array, at: number, value: number): number {
  while (value > 0x7f) {
    out[at++] = (value % 0x80) | 0x80;
    value = Math.floor(value / 0x80);
  }
  out[at++] = value;
  return at;
}

const spliceable = new WeakMap<DescMessage, readonly DescField[]>();

/** Singular `bytes` fields of a message type, outside oneofs. */
function spliceableFieldsOf(desc: DescMessage): readonly DescField[] {
  let fields = spliceable.get(desc);
  if (fields === undefined) {
    fields = desc.fields.filter((f) => f.fieldKind === "scalar" && f.scalar === ScalarType.BYTES && f.oneof === undefined);
    spliceable.set(desc, fields);
  }
  return fields;
}
