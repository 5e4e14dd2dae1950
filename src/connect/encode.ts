// The send side's message encoding: a message becomes a payload that knows its exact size
// (the in-place encoder's size pass, which also serves the message limits) and writes
// itself straight into the send lease (src/protobuf): no intermediate buffer, no copy.
//
// Fallbacks, each counted in stats() as encodeFallbacks and its copy in copies: a
// message type the encoder does not cover (encoderCoverage), and writeOptions with
// `writeUnknownFields: false` (the encoder always writes unknown fields). They are
// toBinary'd here and copied into the lease once, as before.
//
// A frame that must wait in the send queue for region space detaches its payload: the
// message is encoded into a buffer of its own at once, since the application may change
// it while the frame waits (a unary caller holds only a promise); that buffer is copied
// into the lease later (a copy). A stream message waiting for flow-control credit is not
// detached: server-call.ts and transport.ts pull the next message from the handler's or
// caller's iterator only once the send was accepted.

import { toBinary } from "@bufbuild/protobuf";
import type { BinaryWriteOptions, DescMessage, MessageShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { PayloadWriter } from "../frame/payload.js";
import { encoderCoverage, encoderFor } from "../protobuf/index.js";
import type { MessageEncoder } from "../protobuf/index.js";

/** Counters the send side updates. */
export interface SendCounters {
  copies: number;
  copiedBytes: number;
  /** The copies made on send (a part of `copies`). */
  sendCopies: number;
  /** Messages toBinary'd because the in-place encoder could not write them. */
  encodeFallbacks: number;
}

/** A message on its way into a frame: measured now, written into the lease later. */
export class EncodedMessage implements PayloadWriter {
  readonly byteLength: number;
  readonly #message: unknown;
  readonly #encoder: MessageEncoder | undefined;
  readonly #counters: SendCounters;
  /** The encoded bytes, when written outside the lease (a fallback or a detached payload). */
  #bytes: Uint8Array | undefined;

  constructor(message: unknown, encoder: MessageEncoder | undefined, bytes: Uint8Array | undefined, counters: SendCounters) {
    this.#message = message;
    this.#encoder = encoder;
    this.#bytes = bytes;
    this.#counters = counters;
    if (bytes !== undefined) {
      this.byteLength = bytes.byteLength;
      return;
    }
    try {
      this.byteLength = (encoder as MessageEncoder).size(message as never);
    } catch (e) {
      throw serializeError(e);
    }
  }

  /** True when writeTo() encodes in place (no copy). */
  get inPlace(): boolean {
    return this.#bytes === undefined;
  }

  writeTo(bytes: Uint8Array, offset: number): number {
    const own = this.#bytes;
    if (own === undefined) {
      try {
        return (this.#encoder as MessageEncoder).write(this.#message as never, bytes, offset);
      } catch (e) {
        throw serializeError(e);
      }
    }
    bytes.set(own, offset);
    const counters = this.#counters;
    counters.copies++;
    counters.sendCopies++;
    counters.copiedBytes += own.byteLength;
    return offset + own.byteLength;
  }

  detach(): void {
    if (this.#bytes !== undefined) return;
    const own = new Uint8Array(this.byteLength);
    this.writeTo(own, 0);
    this.#bytes = own;
  }
}

/** The in-place encoder of each message type, or null when it is not covered. */
const encoders = new WeakMap<DescMessage, MessageEncoder | null>();

function inPlaceEncoder(schema: DescMessage): MessageEncoder | null {
  let encoder = encoders.get(schema);
  if (encoder === undefined) {
    encoder = encoderCoverage(schema).covered ? encoderFor(schema) : null;
    encoders.set(schema, encoder);
  }
  return encoder;
}

/** The payload of `message`: in place when the encoder covers it, else toBinary (a fallback). */
export function encodeMessage<D extends DescMessage>(
  schema: D,
  message: MessageShape<D>,
  options: Partial<BinaryWriteOptions> | undefined,
  counters: SendCounters,
): EncodedMessage {
  const encoder = options?.writeUnknownFields === false ? null : inPlaceEncoder(schema);
  if (encoder !== null) return new EncodedMessage(message, encoder, undefined, counters);
  counters.encodeFallbacks++;
  let bytes: Uint8Array;
  try {
    bytes = toBinary(schema, message, options);
  } catch (e) {
    throw serializeError(e);
  }
  return new EncodedMessage(message, undefined, bytes, counters);
}

/** What an encoding step threw, as connect-es's Internal "serialize binary" error. */
function serializeError(e: unknown): ConnectError {
  if (e instanceof ConnectError) return e;
  return new ConnectError(`serialize binary: ${e instanceof Error ? e.message : String(e)}`, Code.Internal);
}
