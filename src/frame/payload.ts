// A message payload as the frame encoders take it: one byte array, or a few pieces that
// the frame writer copies into the send lease one after another. Pieces let the Connect
// layer hand a large `bytes` field to the frame as it is, without first concatenating it
// with the rest of the message in the JS heap (src/connect/encode.ts).

/** The pieces of one payload, in order. */
export class PayloadParts {
  readonly parts: readonly Uint8Array[];
  readonly byteLength: number;

  constructor(parts: readonly Uint8Array[]) {
    let n = 0;
    for (const p of parts) n += p.byteLength;
    this.parts = parts;
    this.byteLength = n;
  }
}

/** What a MESSAGE (or CALL_START, HEADERS, END with a message) carries. */
export type Payload = Uint8Array | PayloadParts;

