// Value plans: one value of a field with its tag, for singular fields, list items and
// oneof members. Scalars and enums go through their codec; messages are length-delimited
// (a nested length from the size pass) or delimited by group tags (editions DELIMITED,
// proto2 groups), as toBinary writes them.

import type { ContentPlan } from "./content.js";
import { delimitedSize, writeDelimited } from "./content.js";
import type { ScalarCodec } from "./scalars.js";
import { WIRE_END_GROUP, WIRE_LENGTH_DELIMITED, WIRE_START_GROUP } from "./scalars.js";
import { varint32Size, writeVarint32 } from "./varint.js";

/** Sizes and writes one tagged value. */
export interface ValuePlan {
  size(value: unknown): number;
  write(value: unknown, target: Uint8Array, pos: number): number;
}

/** The tag of a field number and wire type, as a uint32. */
export function tagOf(fieldNumber: number, wireType: number): number {
  return ((fieldNumber << 3) | wireType) >>> 0;
}

/** A scalar or enum value with its tag. */
export function scalarValue(fieldNumber: number, codec: ScalarCodec): ValuePlan {
  const tag = tagOf(fieldNumber, codec.wireType);
  const tagSize = varint32Size(tag);
  return {
    size: (value) => tagSize + codec.size(value),
    write: (value, target, pos) => codec.write(value, target, writeVarint32(target, pos, tag)),
  };
}

/** A message (or message-like content) with its tag and length. */
export function delimitedValue(fieldNumber: number, content: ContentPlan): ValuePlan {
  const tag = tagOf(fieldNumber, WIRE_LENGTH_DELIMITED);
  const tagSize = varint32Size(tag);
  return {
    size: (value) => tagSize + delimitedSize(content, value),
    write: (value, target, pos) => writeDelimited(content, value, target, writeVarint32(target, pos, tag)),
  };
}

/** A message between a start-group and an end-group tag (no length). */
export function groupValue(fieldNumber: number, content: ContentPlan): ValuePlan {
  const start = tagOf(fieldNumber, WIRE_START_GROUP);
  const end = tagOf(fieldNumber, WIRE_END_GROUP);
  const tagsSize = varint32Size(start) + varint32Size(end);
  return {
    size: (value) => tagsSize + content.size(value),
    write: (value, target, pos) => writeVarint32(target, content.write(value, target, writeVarint32(target, pos, start)), end),
  };
}
