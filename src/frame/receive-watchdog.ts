// The receive watchdog of a session: a peer that stops in the middle of a frame holds what
// the frame is being reassembled into (io_uring: a lease of the region every connection of
// the engine shares; net: up to maxFrameBytes of heap) for as long as it stays silent. While
// the channel is mid-frame (channel.partialFrameBytes > 0), the bytes of that frame must
// grow; when they did not for `stallMs` (2 × sendTimeoutMs, as for write progress), the
// session is closed and the reassembly memory comes back (docs/LIMITS.md, "partial frame").
// The channel does not tell when bytes of a partial frame arrive (only whole frames cross
// into JS), so the watchdog looks 4 times per period; its timer is unref'd.

import type { Channel } from "../channel/channel.js";

const CHECKS_PER_PERIOD = 4;

/** Watches one channel's partial frames. */
export class ReceiveWatchdog {
  readonly #channel: Channel;
  readonly #stallMs: number;
  readonly #expired: (message: string) => void;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #lastPartial = 0;
  #lastFrames = 0;
  #lastProgress = 0;
  #lastCheck = 0;

  constructor(channel: Channel, stallMs: number, expired: (message: string) => void) {
    this.#channel = channel;
    this.#stallMs = stallMs;
    this.#expired = expired;
    const now = performance.now();
    this.#lastProgress = now;
    this.#lastCheck = now;
    this.#arm();
  }

  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #arm(): void {
    this.#timer = setTimeout(this.#check, Math.max(1, Math.ceil(this.#stallMs / CHECKS_PER_PERIOD)));
    this.#timer.unref?.();
  }

  readonly #check = (): void => {
    const channel = this.#channel;
    if (channel.closed) return;
    const now = performance.now();
    // A check that runs late means this process's own loop was stalled: not the peer's fault.
    const late = now - this.#lastCheck > (2 * this.#stallMs) / CHECKS_PER_PERIOD;
    this.#lastCheck = now;
    const partial = channel.partialFrameBytes;
    const frames = partial === 0 ? 0 : channel.stats().framesIn;
    if (partial === 0 || partial !== this.#lastPartial || frames !== this.#lastFrames || late) {
      this.#lastPartial = partial;
      this.#lastFrames = frames;
      this.#lastProgress = now;
    } else if (now - this.#lastProgress >= this.#stallMs) {
      this.#expired(
        `peer stopped in the middle of a frame: ${partial} bytes of it arrived, then nothing for ${Math.round(now - this.#lastProgress)} ms (2 × sendTimeoutMs)`,
      );
      return;
    }
    this.#arm();
  };
}
