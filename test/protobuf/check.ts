// The one comparison every encoder test makes: encodedSize and encodeInto against
// toBinary byte for byte (at an offset, with guard bytes on both sides that must stay
// untouched), then a round trip: fromBinary of those bytes, encoded again without a
// preceding encodedSize, must give the same bytes.

import { fromBinary, toBinary } from "@bufbuild/protobuf";
import type { DescMessage, Message } from "@bufbuild/protobuf";
import { encodedSize, encodeInto } from "../../src/protobuf/index.js";

export const GUARD = 0xa5;

const hex = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");

/** Whether two byte ranges are equal. */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

/** Checks one message; throws with both encodings when they differ. Returns toBinary's bytes. */
export function checkEncoding(schema: DescMessage, message: Message, offset = 3): Uint8Array {
  const expected = toBinary(schema, message);
  const size = encodedSize(schema, message as never);
  if (size !== expected.length) throw new Error(`${schema.typeName}: encodedSize ${size}, toBinary ${expected.length} bytes`);
  const buffer = new Uint8Array(offset + size + 4).fill(GUARD);
  const end = encodeInto(schema, message as never, buffer, offset);
  const actual = buffer.subarray(offset, offset + size);
  if (end !== offset + size || !sameBytes(actual, expected)) {
    throw new Error(`${schema.typeName}: encodeInto (end ${end}, expected ${offset + size})\n  ours   ${hex(actual)}\n  theirs ${hex(expected)}`);
  }
  if (buffer.subarray(0, offset).some((b) => b !== GUARD) || buffer.subarray(end).some((b) => b !== GUARD)) {
    throw new Error(`${schema.typeName}: bytes written outside [offset, end)`);
  }
  const decoded = fromBinary(schema, expected, { recursionLimit: 10_000 });
  const again = new Uint8Array(size);
  const againEnd = encodeInto(schema, decoded as never, again, 0);
  if (againEnd !== size || !sameBytes(again, expected)) {
    throw new Error(`${schema.typeName}: round trip through fromBinary\n  ours   ${hex(again)}\n  before ${hex(expected)}`);
  }
  return expected;
}

/** Checks that toBinary refuses a message and the encoder refuses it with the same words, writing nothing. */
export function checkRefused(schema: DescMessage, message: Message): string {
  const theirs = failure(() => toBinary(schema, message));
  if (theirs === undefined) throw new Error(`${schema.typeName}: toBinary accepted the message`);
  const ours = failure(() => encodedSize(schema, message as never));
  const buffer = new Uint8Array(64).fill(GUARD);
  const oursInto = failure(() => encodeInto(schema, message as never, buffer, 0));
  if (ours !== theirs || oursInto !== theirs) {
    throw new Error(`${schema.typeName}: refused with other words\n  toBinary:    ${theirs}\n  encodedSize: ${ours}\n  encodeInto:  ${oursInto}`);
  }
  if (buffer.some((b) => b !== GUARD)) throw new Error(`${schema.typeName}: encodeInto wrote before refusing`);
  return theirs;
}

function failure(run: () => unknown): string | undefined {
  try {
    run();
    return undefined;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}
