// Letting the event loop turn in the middle of a stream. A stream whose messages are all
// accepted at once (the flow-control window and the region have room) would otherwise be
// produced in microtasks only, for a whole window, before the loop ran again: nothing is
// written to the socket meanwhile (sends go out when the loop turns), the peer idles, and
// other calls and timers of the process wait. Both stream senders (server-call.ts for
// responses, transport.ts for requests) let the loop turn after this many bytes.

/** Bytes a stream sends between two turns of the event loop, at most. */
export const YIELD_EVERY_BYTES = 64 * 1024;

/** Resolves after the event loop turned once (I/O polled, sends flushed). */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
