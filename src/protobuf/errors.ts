// The encoder's errors: a target too small for the message (EncodeRangeError), a field
// value toBinary would refuse (named after the field, in toBinary's words), and a message
// that changed between the size pass and the write pass.

/** Thrown by encodeInto when the message does not fit in the target from the offset. */
export class EncodeRangeError extends RangeError {
  /** Bytes the encoded message needs. */
  readonly needed: number;
  /** Bytes the target has from the offset on. */
  readonly available: number;

  constructor(needed: number, available: number) {
    super(`encodeInto: the message needs ${needed} bytes, the target has ${available} bytes from the offset`);
    this.name = "EncodeRangeError";
    this.needed = needed;
    this.available = available;
  }
}

/** A field whose value cannot be encoded; the message says which field, as toBinary does. */
export class FieldValueError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "FieldValueError";
  }
}

/** An error thrown by a value check, named after the field it came from. */
export function fieldValueError(cause: unknown, messageName: string, fieldName: string): unknown {
  if (cause instanceof FieldValueError || !(cause instanceof Error)) return cause;
  return new FieldValueError(`cannot encode field ${messageName}.${fieldName} to binary: ${cause.message}`);
}

/**
 * The write pass found a length other than the one the size pass measured: the message
 * was changed after encodedSize and before encodeInto.
 */
export function messageChanged(): never {
  throw new Error("encodeInto: the message changed after encodedSize measured it (measure it again)");
}
