// ChannelEvents that record what a channel received, for tests: copies of frames
// (a frame view is valid only during onFrame), every onClose call, and promises to
// await the next frame or the close, each bounded by a timeout so that no test hangs.

import type { Channel, ChannelEvents, Lease } from "../../../src/channel/channel.js";

export type FrameHook = (frame: Uint8Array, channel: Channel | undefined) => void;

/** Records frames and closes of one channel. */
export class Inbox implements ChannelEvents {
  readonly frames: Uint8Array[] = [];
  readonly closes: (Error | undefined)[] = [];
  /** Set to run code inside onFrame (zero-copy and hold() checks). */
  hook: FrameHook | undefined;
  channel: Channel | undefined;
  #taken = 0;
  #waiters = new Set<() => void>();

  onFrame(frame: Uint8Array): void {
    this.hook?.(frame, this.channel);
    this.frames.push(frame.slice());
    this.#wakeAll();
  }

  onClose(error: Error | undefined): void {
    this.closes.push(error);
    this.#wakeAll();
  }

  /** The next frame not yet taken. */
  async next(timeoutMs = 10_000): Promise<Uint8Array> {
    await this.#until(() => this.frames.length > this.#taken || this.closes.length > 0, timeoutMs, "a frame");
    if (this.frames.length <= this.#taken) {
      throw new Error(`channel closed (${String(this.closes[0]?.message ?? "cleanly")}) while a frame was expected`);
    }
    return this.frames[this.#taken++]!;
  }

  /** Resolves once `count` frames arrived in total. */
  async count(count: number, timeoutMs = 20_000): Promise<void> {
    await this.#until(() => this.frames.length >= count || this.closes.length > 0, timeoutMs, `${count} frames (have ${this.frames.length})`);
    if (this.frames.length < count) throw new Error(`channel closed after ${this.frames.length} of ${count} frames: ${String(this.closes[0]?.message)}`);
  }

  /** Resolves with the first onClose argument; then waits a little for a (wrong) second call. */
  async closed(timeoutMs = 10_000): Promise<Error | undefined> {
    await this.#until(() => this.closes.length > 0, timeoutMs, "onClose");
    await new Promise((resolve) => setTimeout(resolve, 20));
    return this.closes[0];
  }

  #until(done: () => boolean, timeoutMs: number, what: string): Promise<void> {
    if (done()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(wake);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      const wake = (): void => {
        if (!done()) return;
        clearTimeout(timer);
        this.#waiters.delete(wake);
        resolve();
      };
      this.#waiters.add(wake);
    });
  }

  #wakeAll(): void {
    for (const wake of [...this.#waiters]) wake();
  }
}

/** A lease of `bytes.byteLength` bytes holding `bytes`, waiting for region room when full. */
export async function leaseWith(channel: Channel, bytes: Uint8Array, timeoutMs = 10_000): Promise<Lease> {
  for (;;) {
    try {
      const lease = channel.allocate(bytes.byteLength);
      lease.bytes.set(bytes);
      return lease;
    } catch (error) {
      if ((error as { code?: string }).code !== "ERR_REGION_FULL") throw error;
      await channel.waitForSpace(bytes.byteLength, timeoutMs);
    }
  }
}

/** Sends a copy of `bytes` as one frame. */
export async function sendBytes(channel: Channel, bytes: Uint8Array): Promise<void> {
  channel.send(await leaseWith(channel, bytes));
}
