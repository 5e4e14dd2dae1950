// Message size limits of servers and transports, with connect-es's names and meanings:
// readMaxBytes (the largest message a side accepts; announced to the peer in HELLO) and
// writeMaxBytes (the largest it sends), `maxMessageBytes` as a shorthand for both, and
// the ResourceExhausted errors a message over either limit fails with.

import { Code, ConnectError } from "@connectrpc/connect";
import { DEFAULT_MAX_MESSAGE_BYTES } from "../frame/constants.js";

/** connect-es's largest (and default) limit, ~4 GiB; also what a HELLO's u32 can carry. */
export const MAX_LIMIT_BYTES = 0xffff_ffff;

/** The message size options servers and transports share. */
export interface MessageLimitOptions {
  /**
   * Largest message received, in bytes (each message, not a stream's total); one byte
   * more fails the call with ResourceExhausted and the connection stays. Announced to the
   * peer, whose sends fail locally instead. Default: `maxMessageBytes`, else 4 MiB
   * (connect-es: ~4 GiB; here every byte a peer sends is untrusted, docs/LIMITS.md).
   */
  readMaxBytes?: number;
  /**
   * Largest message sent, in bytes; a larger one fails its call with ResourceExhausted
   * before anything is sent, as does one above the peer's `readMaxBytes`. Default:
   * `maxMessageBytes`, else ~4 GiB (connect-es's), i.e. the peer's `readMaxBytes` decides.
   */
  writeMaxBytes?: number;
  /** Shorthand for `readMaxBytes` and `writeMaxBytes` both; each one given explicitly overrides it. */
  maxMessageBytes?: number;
}

/** Resolved limits. */
export interface MessageLimits {
  readMaxBytes: number;
  writeMaxBytes: number;
}

/** The limits of `options` with their defaults; RangeError for a limit outside 1 … 2^32 − 1. */
export function resolveMessageLimits(options: MessageLimitOptions): MessageLimits {
  const both = checked("maxMessageBytes", options.maxMessageBytes);
  return {
    readMaxBytes: checked("readMaxBytes", options.readMaxBytes ?? both ?? DEFAULT_MAX_MESSAGE_BYTES),
    writeMaxBytes: checked("writeMaxBytes", options.writeMaxBytes ?? both ?? MAX_LIMIT_BYTES),
  };
}

function checked<T extends number | undefined>(name: string, value: T): T {
  if (value !== undefined && (!Number.isInteger(value) || value < 1 || value > MAX_LIMIT_BYTES)) {
    throw new RangeError(`${name} must be an integer from 1 to ${MAX_LIMIT_BYTES}, got ${value}`);
  }
  return value;
}

/**
 * Throws ResourceExhausted when a message of `byteLength` bytes may not be sent: above
 * this side's writeMaxBytes, or above the readMaxBytes the peer announced (if known).
 */
export function checkWriteSize(byteLength: number, writeMaxBytes: number, peerReadMaxBytes: number | undefined): void {
  if (byteLength > writeMaxBytes) {
    throw new ConnectError(`message size ${byteLength} is larger than configured writeMaxBytes ${writeMaxBytes}`, Code.ResourceExhausted);
  }
  if (peerReadMaxBytes !== undefined && byteLength > peerReadMaxBytes) {
    throw new ConnectError(`message size ${byteLength} is larger than the peer's readMaxBytes ${peerReadMaxBytes} (announced in its handshake)`, Code.ResourceExhausted);
  }
}

/** The error of a received message above readMaxBytes (connect-es's wording). */
export function readLimitError(byteLength: number, readMaxBytes: number): ConnectError {
  return new ConnectError(`message size ${byteLength} is larger than configured readMaxBytes ${readMaxBytes}`, Code.ResourceExhausted);
}
