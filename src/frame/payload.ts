// A message payload as the frame encoders take it: one byte array, or a message that
// writes itself into the frame (src/connect/encode.ts: the in-place protobuf encoder, or
// its toBinary fallback). The frame knows only this interface, so the layers stay
// downward: frame never imports the encoder.

/** A payload that measures itself first and is written straight into the send lease. */
export interface PayloadWriter {
  /** Exact bytes writeTo() writes. */
  readonly byteLength: number;
  /** Writes the payload at bytes[offset..]; returns the end offset (offset + byteLength). */
  writeTo(bytes: Uint8Array, offset: number): number;
  /**
   * The frame waits in the send queue for region space: capture the message now (the
   * application may change it before the frame is written). Idempotent. A frame waiting
   * for flow-control credit does not detach: the Connect layer's send loops do not resume
   * the handler's or the caller's iterator until the send is accepted.
   */
  detach(): void;
}

/** What a MESSAGE (or CALL_START, HEADERS, END with a message) carries. */
export type Payload = Uint8Array | PayloadWriter;

/** Lets a queued frame's payload capture its message (see PayloadWriter.detach). */
export function detachPayload(payload: Payload | undefined): void {
  if (payload !== undefined && !(payload instanceof Uint8Array)) payload.detach();
}
