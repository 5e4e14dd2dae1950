// What sits inside a length-delimited or group field: a message, or a value protobuf-es
// keeps in another shape than a message (an unwrapped wrapper, a JSON Struct). Content
// plans are the unit nested length slots are kept for.

import { messageChanged } from "./errors.js";
import { lengths, nextLength, reserveLength } from "./lengths.js";
import { varint32Size, writeVarint32 } from "./varint.js";

/** Sizes and writes the bytes inside a message (no tag, no length). */
export interface ContentPlan {
  /** Bytes of the content; throws for what toBinary refuses. */
  size(value: unknown): number;
  /** Writes the content at target[pos]; returns the end. */
  write(value: unknown, target: Uint8Array, pos: number): number;
}

/** Length prefix plus content: the size pass keeps the length for the write pass. */
export function delimitedSize(content: ContentPlan, value: unknown): number {
  const slot = reserveLength();
  const n = content.size(value);
  lengths.slots[slot] = n;
  return varint32Size(n) + n;
}

/** Writes the length the size pass kept, then the content; checks the content still has it. */
export function writeDelimited(content: ContentPlan, value: unknown, target: Uint8Array, pos: number): number {
  const n = nextLength();
  const start = writeVarint32(target, pos, n);
  const end = content.write(value, target, start);
  return end - start === n ? end : messageChanged();
}
