// A received frame the application keeps past onFrame (Channel.hold()): the Lease every
// engine over a Region returns; release() runs the engine's own give-back once (a
// receive slot back to the kernel, a reassembly lease back to the region).
import { codedError } from "../errors.js";
import type { Lease } from "./channel.js";

/** A received frame that the application keeps (hold()); release() drops it. */
export class HeldFrame implements Lease {
  #bytes: Uint8Array | undefined;
  #onRelease: (() => void) | undefined;

  constructor(bytes: Uint8Array, onRelease: (() => void) | undefined) {
    this.#bytes = bytes;
    this.#onRelease = onRelease;
  }

  get bytes(): Uint8Array {
    if (!this.#bytes) throw codedError("ERR_LEASE_RELEASED", "Lease was released");
    return this.#bytes;
  }

  get released(): boolean {
    return this.#bytes === undefined;
  }

  release(): void {
    if (!this.#bytes) return;
    this.#bytes = undefined;
    const onRelease = this.#onRelease;
    this.#onRelease = undefined;
    onRelease?.();
  }
}
