// The in-place protobuf encoder for protobuf-es v2 messages: the encoded size of a
// message, and the message written straight into a caller's buffer at an offset,
// byte-for-byte what toBinary returns; and the plan-based decoder, equal to fromBinary
// (docs/ENCODING.md). Self-contained: it imports only @bufbuild/protobuf.

import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import { encoderFor } from "./encoder.js";

export { encoderFor } from "./encoder.js";
export type { MessageEncoder } from "./encoder.js";
export { encoderCoverage } from "./coverage.js";
export type { EncoderCoverage } from "./coverage.js";
export { EncodeRangeError, FieldValueError } from "./errors.js";

/** Encoded size in bytes; remembers nested lengths so the next encodeInto of the same message is linear. */
export function encodedSize<D extends DescMessage>(schema: D, message: MessageShape<D>): number {
  return encoderFor(schema).size(message);
}

/**
 * Writes the message at target[offset..]; returns the end offset. Equal byte-for-byte to
 * toBinary(schema, message). If the message does not fit, throws EncodeRangeError (naming
 * the bytes needed and available) and writes nothing.
 */
export function encodeInto<D extends DescMessage>(schema: D, message: MessageShape<D>, target: Uint8Array, offset: number): number {
  return encoderFor(schema).write(message, target, offset);
}

export { decodeFrom } from "./decoder.js";
export { copyUnknown } from "./decode-plan.js";
export type { CopyCount, DecodeMode, DecodeOptions } from "./decoder.js";
export { decoderCoverage } from "./coverage.js";
export type { DecoderCoverage } from "./coverage.js";
