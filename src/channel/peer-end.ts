// What every byte-stream channel does when its peer ends its side (a half-close, the
// contract of channel.ts): the owner's onEnd() decides when to close; an owner without
// one gets close() at once (queued frames still leave). A throwing onEnd fails the channel.
import type { ChannelEvents } from "./channel.js";

/** Hands the peer's half-close to the owner, or closes where the owner has no onEnd. */
export function notifyPeerEnd(events: ChannelEvents | undefined, close: () => void, fail: (error: Error) => void): void {
  if (events?.onEnd === undefined) {
    close();
    return;
  }
  try {
    events.onEnd();
  } catch (error) {
    fail(error instanceof Error ? error : new Error(String(error)));
  }
}
