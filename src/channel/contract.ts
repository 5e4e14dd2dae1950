// What every engine's channel shares of the contract in channel.ts: the argument checks,
// the errors (code, class and message the same on every engine) and the close drain.
// The space waiter every Region-backed channel uses is region-space.ts; the memory engine
// waits on its own pool. test/channel/contract-tests.ts asserts these on every engine.
import { codedError, type CodedError } from "../errors.js";

/**
 * How long a graceful channel close() lets frames already sent leave before the
 * connection is cut: a peer that stops reading cannot hold it open longer
 * (docs/LIMITS.md, "close drain").
 */
export const CLOSE_DRAIN_MS = 5000;

/** allocate/send/waitForSpace on a closed channel. */
export function channelClosedError(): CodedError {
  return codedError("ERR_CHANNEL_CLOSED", "channel is closed");
}

/** connect/listen on a closed engine. */
export function engineClosedError(): CodedError {
  return codedError("ERR_ENGINE_CLOSED", "engine is closed");
}

/** A frame length allocate() or waitForSpace() takes: an integer in [0, maxFrameBytes] (RangeError). */
export function checkFrameLength(byteLength: number, maxFrameBytes: number): void {
  if (!Number.isInteger(byteLength) || byteLength < 0 || byteLength > maxFrameBytes) {
    throw new RangeError(`frame length ${byteLength} is outside [0, maxFrameBytes=${maxFrameBytes}]`);
  }
}

/** send(lease, byteLength): a prefix of the lease (RangeError). */
export function checkSendLength(byteLength: number, leaseBytes: number): void {
  if (!Number.isInteger(byteLength) || byteLength < 0 || byteLength > leaseBytes) {
    throw new RangeError(`send length ${byteLength} is outside the lease (${leaseBytes} bytes)`);
  }
}

/** hold() of anything but the frame of the onFrame() call in progress (native engines: or a second time). */
export function holdMisuseError(): RangeError {
  return new RangeError("hold() takes the frame of the onFrame() call in progress");
}
