// The decoder's entry point: a message read straight from a Uint8Array by the plan of its
// type (decode-plan.ts), equal to what protobuf-es fromBinary returns, with the copy policy
// applied in the same pass (docs/ENCODING.md, "Decoding").

import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import { decodePlan } from "./decode-plan.js";
import { endCursor, startCursor } from "./read-cursor.js";
import type { CopyCount } from "./read-cursor.js";

export type { CopyCount } from "./read-cursor.js";

/** "alias": `bytes` fields and unknown fields are views of the input (as fromBinary gives them); "copy": fresh copies. */
export type DecodeMode = "alias" | "copy";

/** fromBinary's options, and where copies are counted. */
export interface DecodeOptions {
  /** Keep unknown fields in `$unknown` (default true). */
  readUnknownFields?: boolean;
  /** Deepest message nesting read (default 100, as fromBinary). */
  recursionLimit?: number;
  /** Counts the copies made under "copy" (one per `bytes` value, one per message's unknown fields). */
  counts?: CopyCount;
}

/**
 * Decodes a message. Equal to fromBinary(schema, bytes, options) (same object shape and
 * property order); throws where fromBinary throws (not always in the same words).
 */
export function decodeFrom<D extends DescMessage>(schema: D, bytes: Uint8Array, mode: DecodeMode = "alias", options?: DecodeOptions): MessageShape<D> {
  const plan = decodePlan(schema);
  const copy = mode === "copy";
  // A Buffer's slice() is a view: copies are taken from a plain Uint8Array view of it.
  const input = copy && bytes.constructor !== Uint8Array ? new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength) : bytes;
  startCursor(input, copy, options?.counts, options?.recursionLimit ?? 100, options?.readUnknownFields ?? true);
  try {
    const message = plan.create();
    plan.readFields(message, input.length, 0);
    return message as MessageShape<D>;
  } finally {
    endCursor();
  }
}
